"""Real Spark servers on 127.0.0.1 for tests: a standalone cluster, a Spark Connect server.

The pip PySpark has no start-master.sh, but ``bin/spark-class`` runs the Master and Worker
classes directly. ``hidden`` paths are made invisible to the worker and its executors: the worker
starts in a private mount namespace with an empty tmpfs over each, so a test can prove that
files reach executors through Spark and not through a shared disk. Only the processes this
helper starts are stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyspark

SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")
ROOT = Path(__file__).resolve().parents[1]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with this interpreter for the Python workers."""
    return {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        **(extra or {}),
    }


def submit(
    args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """spark-submit as users run it."""
    return subprocess.run(
        [SPARK_SUBMIT, *args],
        capture_output=True,
        text=True,
        env=environment(env),
        cwd=cwd,
        timeout=420,
    )


def summary_of(stdout: str) -> dict[str, str]:
    """The job's printed summary (``key: value`` lines)."""
    pairs = (line.split(":", 1) for line in stdout.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def can_hide_paths() -> bool:
    """Private mount namespaces need root (or user namespaces) and util-linux's unshare."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


def _wait_for(predicate, timeout: float, what: str, logs: Sequence[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tails = "\n".join(
        f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists()
    )
    raise TimeoutError(f"{what} did not happen within {timeout:.0f}s\n{tails}")


@contextmanager
def standalone_cluster(work: Path, hidden: Sequence[Path] = (), cores: int = 2) -> Iterator[str]:
    """Yield the master URL of a running master + worker; stop both afterwards."""
    spark_home = Path(pyspark.__file__).parent
    spark_class = str(spark_home / "bin" / "spark-class")
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
    }
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = work / "master.log", work / "worker.log"
    processes: list[subprocess.Popen] = []
    try:
        with open(master_log, "wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        spark_class,
                        "org.apache.spark.deploy.master.Master",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--webui-port",
                        str(ui_port),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        _wait_for(
            lambda: "I have been elected leader" in master_log.read_text(errors="replace"),
            60,
            "the master's start",
            [master_log],
        )
        worker = [
            spark_class,
            "org.apache.spark.deploy.worker.Worker",
            master_url,
            "--host",
            "127.0.0.1",
            "--cores",
            str(cores),
            "--memory",
            "2g",
            "--webui-port",
            str(worker_ui),
            "--work-dir",
            str(work / "worker"),
        ]
        if hidden:
            mounts = " && ".join(f"mount -t tmpfs tmpfs '{p}'" for p in hidden)
            quoted = " ".join(f"'{a}'" for a in worker)
            worker = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"{mounts} && exec {quoted}",
            ]
        with open(worker_log, "wb") as log:
            processes.append(
                subprocess.Popen(
                    worker, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            )
        _wait_for(
            lambda: "Successfully registered with master" in worker_log.read_text(errors="replace"),
            60,
            "the worker's registration",
            [master_log, worker_log],
        )
        yield master_url
    finally:
        stop_processes(processes)


def stop_processes(processes: Sequence[subprocess.Popen]) -> None:
    """Stop the process groups this helper started (SIGTERM, then SIGKILL), and only those."""
    for process in reversed(processes):
        with _ignore_missing():
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with _ignore_missing():
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def connect_server(
    work: Path, python: str = sys.executable, hidden: Sequence[Path] = ()
) -> Iterator[str]:
    """Yield the ``sc://`` URL of a Spark Connect server (local[2]) on 127.0.0.1; stop it after.

    ``python`` picks the interpreter, hence the PySpark (and its bundled connect jar) that runs
    the server and its Python workers. ``hidden`` paths are invisible to the server, as in
    ``standalone_cluster``: the client's files can then reach executors only through Spark.
    """
    spark_home = subprocess.run(
        [python, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = free_port()
    command = [
        str(Path(spark_home) / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.driver.memory=2g",
        "--conf",
        "spark.sql.session.timeZone=UTC",
    ]
    if hidden:
        mounts = " && ".join(f"mount -t tmpfs tmpfs '{p}'" for p in hidden)
        quoted = " ".join(f"'{a}'" for a in command)
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
        command.append(f"{mounts} && exec {quoted}")
    env = {
        **os.environ,
        "SPARK_HOME": spark_home,
        "PYSPARK_PYTHON": python,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    env.pop("SPARK_REMOTE", None)
    log_path = work / "connect-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        _wait_for(
            lambda: "Spark Connect server started" in log_path.read_text(errors="replace"),
            120,
            "the Spark Connect server's start",
            [log_path],
        )
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop_processes([process])


def _ignore_missing() -> contextlib.suppress:
    return contextlib.suppress(ProcessLookupError)


@contextmanager
def cluster_with_driver_only_model(
    work: Path, extra_models: tuple[Path, ...] = ()
) -> Iterator[tuple[str, Path, bool]]:
    """A standalone cluster and a copy of the bundled model (and of ``extra_models``, beside it
    under their own names) its worker cannot see.

    Yields (master URL, model folder, hidden): ``hidden`` is False where private mounts are not
    possible, and the worker then sees the folder too.
    """
    from annotators.deberta.pretrained import BUNDLED_DIR

    driver_only = work / "driver_only"
    model = driver_only / "model"
    shutil.copytree(BUNDLED_DIR / "deberta_v3_tiny_random_en", model)
    for extra in extra_models:
        shutil.copytree(extra, driver_only / extra.name)
    hidden = can_hide_paths()
    (work / "cluster").mkdir()
    with standalone_cluster(work / "cluster", hidden=[driver_only] if hidden else []) as master:
        yield master, model, hidden


#: The file ``external_data_model`` keeps the weights in.
EXTERNAL_DATA_FILE = "model.onnx.data"


def external_data_model(source: Path, target: Path) -> Path:
    """A copy of the model folder ``source`` at ``target`` whose ``model.onnx`` keeps every
    tensor in one external-data file (``EXTERNAL_DATA_FILE``, as onnx saves a model past 2 GB),
    the manifest listing it with its sha256. Needs ``onnx``."""
    import dataclasses
    import tempfile

    import onnx

    from annotators.deberta.manifest import (
        MODEL_FILE,
        file_entries,
        read_manifest,
        write_model_folder,
    )

    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    shutil.copytree(source, staged, dirs_exist_ok=True)
    onnx.save_model(
        onnx.load(str(source / MODEL_FILE)),
        str(staged / MODEL_FILE),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=EXTERNAL_DATA_FILE,
        size_threshold=0,
    )
    manifest = dataclasses.replace(read_manifest(source), files=file_entries(staged))
    return write_model_folder(staged, manifest, target)
