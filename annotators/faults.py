"""Fault injection for the fault-tolerance tests, in one grammar (a no-op unless asked for).

``SPARK_DEBERTA_FAULT=<place>[:<step>][:raise]`` names where a process dies (SIGKILL) or, with
``:raise``, fails with an ``OSError`` as a disk or network would:

- ``worker``: a Python worker, after answering its first Arrow batch (mid-partition);
- ``executor``: that worker's executor JVM, at the same moment;
- ``driver-jvm``: the driver's JVM, from that worker, at the same moment (local mode: what
  running out of driver memory looks like to the job);
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
        targets = {"executor": "CoarseGrainedExecutorBackend", "driver-jvm": "SparkSubmit"}
        pid = _ancestor_pid(targets[place]) if place in targets else os.getpid()
        os.kill(pid, signal.SIGKILL)


def _ancestor_pid(main_class: str) -> int:
    """The JVM above this Python worker whose command names ``main_class`` (worker -> daemon ->
    executor, or the driver's JVM in local mode)."""
    pid = os.getpid()
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if main_class.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise RuntimeError(f"{FAULT_ENV}: no {main_class} process above this worker")
