"""``spark-submit pipelines/embed.py [run options]``: the batch job's entry file (the job itself
is ``pipelines.job``; this name stays because cluster scripts and saved commands use it)."""

import sys

from pipelines.job import main

if __name__ == "__main__":
    sys.exit(main())
