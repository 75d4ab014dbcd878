"""Fault injection for the fault-tolerance tests, in one grammar (a no-op unless asked for).

``SPARK_DEBERTA_FAULT=<place>[:<step>][:raise]`` names where a process dies (SIGKILL) or, with
``:raise``, fails with an ``OSError`` as a disk or network would:

- ``worker``: a Python worker, after answering its first Arrow batch (mid-partition);
- ``executor``: that worker's executor JVM, at the same moment;
- ``commit:<step>``: the driver at a step of the output commit (``pipelines.storage``);
- ``lease:renew``: the driver's renewal of its output lock's lease (with ``:raise``, every
  renewal fails, so the lease lapses under the running job).

With ``SPARK_DEBERTA_FAULT_ONCE`` naming a marker file, only the first process to create it
fires, so a retried task or job succeeds.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

FAULT_ENV = "SPARK_DEBERTA_FAULT"
FAULT_ONCE_ENV = "SPARK_DEBERTA_FAULT_ONCE"


def requested(place: str, step: str | None = None) -> str | None:
    """``"kill"`` or ``"raise"`` when the hook names this place (and step) and, with a marker,
    this process is the first to fire; else None."""
    value = os.environ.get(FAULT_ENV)
    if not value:
        return None
    parts = value.split(":")
    action = "raise" if parts[-1] == "raise" else "kill"
    if action == "raise":
        parts = parts[:-1]
    if parts != [place, *([step] if step else [])]:
        return None
    marker = os.environ.get(FAULT_ONCE_ENV)
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return None
    return action


def inject(place: str, step: str | None = None) -> None:
    """Die or fail here if the hook asks for this place and step."""
    action = requested(place, step)
    if action == "raise":
        raise OSError(f"injected fault at {place}" + (f" step {step}" if step else ""))
    if action == "kill":
        os.kill(_executor_pid() if place == "executor" else os.getpid(), signal.SIGKILL)


def _executor_pid() -> int:
    """The executor JVM above this Python worker (worker -> daemon -> executor)."""
    pid = os.getpid()
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if b"CoarseGrainedExecutorBackend" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise RuntimeError(f"{FAULT_ENV}=executor: no executor process above this worker")
