"""The commands' one exit path: a refusal of the library's error family becomes one line on
stderr and the exit code its kind carries (``annotators.errors``: 2 for what was asked, 1 for
work that failed), and so does a Spark driver JVM that stopped answering. Anything else is a
bug, and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from annotators.errors import JobError, SparkDebertaError

#: Said when the Spark driver's JVM stops answering mid-command (killed, or out of memory).
JVM_LOST = (
    "the Spark driver's JVM stopped answering ({reason}); it was killed or ran out of memory "
    "(raise spark.driver.memory in the --spark-conf file). Nothing was committed: the output "
    "is as it was, and the next run clears what this one left"
)


def jvm_lost(error: BaseException) -> bool:
    """Whether ``error`` is py4j losing its connection to the JVM (not an error the JVM sent)."""
    try:
        from py4j.protocol import Py4JNetworkError
    except ImportError:  # no PySpark here: nothing to lose
        return False
    return isinstance(error, (Py4JNetworkError, ConnectionRefusedError, ConnectionResetError))


def jvm_lost_error(error: BaseException) -> JobError | None:
    """The one-line ``JobError`` for a JVM that stopped answering, or None for any other error."""
    if not jvm_lost(error):
        return None
    reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return JobError(JVM_LOST.format(reason=reason))


def run_command(prog: str, command: Callable[[], int]) -> int:
    """``command()``'s exit code, or its refusal said in one line. A lost JVM is said in one
    line too: the command cannot go on and its traceback would only show py4j's plumbing."""
    try:
        return command()
    except SparkDebertaError as refused:
        print(f"{prog}: {refused}", file=sys.stderr)
        return refused.exit_code
    except Exception as error:
        lost = jvm_lost_error(error)
        if lost is None:
            raise
        print(f"{prog}: {lost}", file=sys.stderr)
        return lost.exit_code
