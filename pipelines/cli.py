"""``spark-deberta``: the console command (``run`` the job, ``export`` a checkpoint)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": "pipelines.embed", "export": "pipelines.export"}
    if not argv or argv[0] not in commands:
        print(
            f"usage: spark-deberta {{{','.join(commands)}}} [options]   (-h for help)",
            file=sys.stderr,
        )
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
