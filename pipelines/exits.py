"""The commands' one exit path: a refusal of the library's error family becomes one line on
stderr and the exit code its kind carries (``annotators.errors``: 2 for what was asked, 1 for
work that failed). Anything else is a bug, and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from annotators.errors import SparkDebertaError


def run_command(prog: str, command: Callable[[], int]) -> int:
    """``command()``'s exit code, or its refusal said in one line."""
    try:
        return command()
    except SparkDebertaError as refused:
        print(f"{prog}: {refused}", file=sys.stderr)
        return refused.exit_code
