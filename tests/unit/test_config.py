"""Job configuration: every key checked, by name, before Spark starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from annotators.errors import ConfigError
from pipelines.arguments import job_config, parse_args
from pipelines.config import (
    WIRED_PARAMS,
    build_config,
    default_config_file,
    defaults,
    parse_override,
    stage_classes,
)
from pipelines.session import read_spark_conf
from pipelines.stages import build_pipeline

ROOT = Path(__file__).resolve().parents[2]
IO = [("input", "path", "in.txt"), ("output", "path", "out")]


def test_the_shipped_config_lists_every_stage_parameter_at_its_default() -> None:
    assert default_config_file() == ROOT / "conf" / "job.yaml"  # a checkout reads its own
    shipped = yaml.safe_load(default_config_file().read_text(encoding="utf-8"))
    built_in = defaults()
    for section, keys in built_in.items():
        if keys:  # plain sections: same keys, same defaults
            assert shipped[section] == keys, section
    for section, cls in stage_classes().items():
        stage = cls()
        names = {p.name for p in stage.params} - WIRED_PARAMS
        assert set(shipped[section]) == names, section
        for name, value in shipped[section].items():
            if value is not None:
                assert stage.getOrDefault(name) == value, (section, name)


def test_overrides_layer_over_the_file(tmp_path) -> None:
    file = tmp_path / "job.yaml"
    file.write_text("embeddings:\n  batchSize: 4\nsentence_detector:\n  useAbbreviations: false\n")
    config = build_config(file, [*IO, parse_override("embeddings.batchSize=16")])
    assert config["embeddings"]["batchSize"] == 16
    assert config["sentence_detector"]["useAbbreviations"] is False
    assert parse_override("tokenizer.exceptions=[New York, e-mail]") == (
        "tokenizer",
        "exceptions",
        ["New York", "e-mail"],
    )


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"embedding": {"batchSize": 2}}, "unknown section 'embedding'"),
        ({"embeddings": {"batchsize": 2}}, "embeddings.batchsize: DeBertaEmbeddings has no"),
        ({"embeddings": {"inputCols": ["a"]}}, "embeddings.inputCols: DeBertaEmbeddings has no"),
        ({"embeddings": {"batchSize": "eight"}}, "embeddings.batchSize: 'eight' is not accepted"),
        ({"embeddings": {"batchSize": True}}, "embeddings.batchSize: expected int, got bool"),
        ({"embeddings": {"maxSentenceLength": 513}}, "embeddings.maxSentenceLength: 513"),
        ({"embeddings": {"precision": "fp16"}}, "embeddings.precision: 'fp16'"),
        ({"sentence_detector": {"useAbbreviations": 1}}, "useAbbreviations: expected bool"),
        ({"document_assembler": {"cleanupMode": "tidy"}}, "cleanupMode: 'tidy'"),
        ({"classifier": {"threshold": "high"}}, "classifier.threshold: 'high'"),
        ({"output": {"mode": "append"}}, "output.mode: 'append' is not one of error, overwrite"),
        ({"output": {"finish": "yes"}}, "output.finish: expected bool, got str"),
        ({"input": {"colour": "red"}}, "input.colour: unknown key"),
        ({"input": {"path": None}}, "input.path is not set: give --input"),
        ({"input": {"partitions": 0}}, "input.partitions: 0 is not a number from 1 to 100000"),
        ({"input": {"partitions": 10**9}}, "input.partitions: 1000000000 is not a number from"),
        ({"output": {"lock_lease_s": float("nan")}}, "output.lock_lease_s: nan is not a number"),
        ({"job": {"progress_interval_s": -5}}, "job.progress_interval_s: -5 is not a number"),
        ({"sentence_detector": {"maxLength": 0}}, "sentence_detector.maxLength: 0 is not accepted"),
    ],
)
def test_bad_keys_and_values_are_refused_by_name(tmp_path, layer, message) -> None:
    file = tmp_path / "job.yaml"
    file.write_text(yaml.safe_dump(layer))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_config(file, [(s, k, v) for s, k, v in IO if s not in layer or k not in layer[s]])


def test_bad_files_and_overrides_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(tmp_path / "missing.yaml", IO)
    broken = tmp_path / "broken.yaml"
    broken.write_text("embeddings: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config(broken, IO)
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        parse_override("batchSize=3")


def test_stage_values_reach_the_stages() -> None:
    args = parse_args(
        [
            "--input", "x.txt", "--output", "out", "--batch-size", "3",
            "--set", "sentence_detector.splitLength=40",
            "--set", "tokenizer.exceptions=[New York]",
            "--set", "document_assembler.cleanupMode=shrink",
            "--set", "job.sentence_embeddings=true",
        ]
    )  # fmt: skip
    stages = build_pipeline(job_config(args)).getStages()
    assert stages[0].getCleanupMode() == "shrink"
    assert stages[1].getSplitLength() == 40
    assert stages[2].getExceptions() == ["New York"]
    assert stages[3].getBatchSize() == 3 and stages[3].getCaseSensitive() is True
    assert type(stages[4]).__name__ == "SentenceEmbeddings"


def test_a_bad_config_exits_before_spark_starts(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "pipelines.job", "--input", "x.txt",
            "--output", str(tmp_path / "out"), "--set", "embeddings.batchsize=3",
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "embeddings.batchsize: DeBertaEmbeddings has no parameter 'batchsize'" in done.stderr
    assert "SparkContext" not in done.stderr and "Spark" not in done.stdout
    missing = subprocess.run(
        [
            sys.executable, "-m", "pipelines.job", "--input", "x.txt",
            "--output", str(tmp_path / "out"), "--model", "no_such_model",
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"SPARK_DEBERTA_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert missing.returncode == 2 and "model no_such_model (en) is not in the cache" in (
        missing.stderr
    )
    # The command that fills the very folder the name is looked up in; one line, no traceback.
    assert f"--out {tmp_path / 'cache' / 'no_such_model_en'} --name no_such_model" in (
        missing.stderr
    )
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr


def test_spark_settings_files_parse(tmp_path) -> None:
    for name in ("local", "standalone", "databricks"):
        settings = read_spark_conf(str(ROOT / "conf" / "spark" / f"{name}.conf"))
        assert settings and all(key.startswith("spark.") for key in settings)
    assert read_spark_conf(str(ROOT / "conf" / "spark" / "local.conf"))["spark.master"] == (
        "local[*]"
    )
    bad = tmp_path / "bad.conf"
    bad.write_text("spark.master\n")
    with pytest.raises(ConfigError, match="bad.conf:1: expected 'spark.key value'"):
        read_spark_conf(str(bad))


@pytest.mark.slow
def test_an_installed_wheel_reads_its_own_job_config(tmp_path, project_wheel) -> None:
    """The wheel carries conf/ (data-files), and the installed job finds conf/job.yaml there
    instead of running on built-in defaults without saying so."""
    import sysconfig
    import zipfile

    wheel = project_wheel
    names = zipfile.ZipFile(wheel).namelist()
    data = "spark_deberta-0.1.0.data/data/share/spark-deberta/conf"
    assert f"{data}/job.yaml" in names and f"{data}/spark/local.conf" in names
    # Install by the wheel's own layout (what pip does): its .data/data/ tree under the
    # environment's prefix, the rest in site-packages. pip is not run here: pointed at another
    # prefix it would still uninstall the editable install of the environment running the tests.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    data_prefix = "spark_deberta-0.1.0.data/data/"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith("/"):
                continue
            target = (
                venv / member[len(data_prefix) :]
                if member.startswith(data_prefix)
                else (purelib / member)
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
    # The new environment has only the wheel; its dependencies come from this one's
    # site-packages (on PYTHONPATH, where the editable checkout's finder is not active).
    site_packages = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import pipelines.config as c; print(c.__file__); print(c.default_config_file())"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PYTHONPATH": site_packages, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    module, found = done.stdout.split()
    assert module.startswith(str(venv)) and not module.startswith(str(ROOT))
    assert found == str(venv / "share" / "spark-deberta" / "conf" / "job.yaml")
    assert Path(found).read_text() == (ROOT / "conf" / "job.yaml").read_text()
