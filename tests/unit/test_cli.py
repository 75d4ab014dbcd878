"""The console command: help, version, dispatch, and the one-line model errors (no Spark)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from annotators.version import library_version
from pipelines import cli, export
from pipelines.arguments import parse_args

ROOT = Path(__file__).resolve().parents[2]


def test_no_arguments_print_the_help_and_exit_2(capsys) -> None:
    assert cli.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: spark-deberta [-h] [--version] COMMAND ...")
    assert "run " in err and "export " in err and "examples:" in err


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"]])
def test_help_prints_the_commands_and_examples(capsys, argv) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: spark-deberta [-h] [--version] COMMAND ...")
    for text in ("run the batch job", "export a Hugging Face", "spark-deberta help run"):
        assert text in out


@pytest.mark.parametrize("argv", [["help", "run"], ["run", "--help"], ["run", "-h"]])
def test_run_help_lists_its_options_and_examples(capsys, argv) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: spark-deberta run [-h]")
    assert "Run the batch job" in out and "examples:" in out and "exit codes:" in out
    assert "spark-submit --properties-file" in out
    for option in ("--max-sentence-length", "--spark-conf", "--zero-shot", "--set"):
        assert option in out
    assert "The job's command line" not in out  # not a module docstring


@pytest.mark.parametrize("argv", [["help", "export"], ["export", "--help"]])
def test_export_help_is_the_exporters(capsys, argv) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: spark-deberta export [-h] --checkpoint CHECKPOINT --out OUT")


def test_version_is_the_distributions(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"spark-deberta {metadata.version('spark-deberta')}\n"


def test_version_outside_an_install_is_pyprojects(monkeypatch) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    declared = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert declared is not None and library_version() == declared.group(1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["help", "bogus"], "invalid choice: 'bogus'"),
        (["run", "--batch-size", "many"], "invalid int value: 'many'"),
        (["export"], "the following arguments are required: --checkpoint, --out"),
    ],
)
def test_bad_command_lines_exit_2(capsys, argv, message) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_run_takes_the_same_options_as_spark_submit_embed_py() -> None:
    argv = [
        "--input", "in.txt", "--output", "out", "--format", "text", "--text-col", "body",
        "--id-col", "doc", "--mode", "overwrite", "--model", "m", "--lang", "ko",
        "--classifier", "c", "--ner", "n", "--zero-shot", "z", "--batch-size", "3",
        "--max-sentence-length", "64", "--precision", "int8", "--engine", "onnxruntime",
        "--spark-conf", "s.conf", "--config", "job.yaml", "--set", "a.b=1", "--set", "c.d=2",
    ]  # fmt: skip
    via_cli = vars(cli.build_parser().parse_args(["run", *argv]))
    assert via_cli.pop("command") == "run"
    assert via_cli == vars(parse_args(argv))


def test_run_dispatches_to_the_job(capsys, tmp_path) -> None:
    """A config error from the job itself: exit 2, one line, before Spark starts."""
    argv = ["run", "--input", "x.txt", "--output", str(tmp_path / "out")]
    assert cli.main([*argv, "--set", "embeddings.batchsize=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "spark-deberta run: embeddings.batchsize: DeBertaEmbeddings has no parameter 'batchsize'"
    )
    assert err.count("\n") == 1


# -- a model that is not there --------------------------------------------------------------


def model_error(capsys, tmp_path, *model: str) -> str:
    """The job's stderr for these model options: one line, exit code 2."""
    argv = ["run", "--input", "x.txt", "--output", str(tmp_path / "out"), *model]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("spark-deberta run: ")
    return err.removeprefix("spark-deberta run: ").strip()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(cache))
    monkeypatch.delenv("SPARK_DEBERTA_REMOTE", raising=False)
    return cache


@pytest.mark.parametrize("given", ["models/deberta_v3_xsmall_en", "./xsmall", "~/no/such/model"])
def test_a_missing_path_is_a_missing_folder(capsys, tmp_path, empty_cache, given) -> None:
    message = model_error(capsys, tmp_path, "--model", given)
    assert message.startswith(f"model folder not found: {given}")
    if not given.startswith("~"):
        assert f"(looked in {Path(given).absolute()})" in message
    assert "_en_en" not in message and "loadSavedModel" not in message


def test_a_folder_name_is_not_read_as_a_pretrained_name(capsys, tmp_path, empty_cache) -> None:
    message = model_error(capsys, tmp_path, "--model", "deberta_v3_xsmall_en")
    assert message.startswith("model folder not found: deberta_v3_xsmall_en")
    assert message.endswith(
        "for the pretrained model deberta_v3_xsmall (en), give the name without _en"
    )


def test_a_pretrained_name_not_cached_gets_the_export_into_the_cache(
    capsys, tmp_path, empty_cache
) -> None:
    message = model_error(capsys, tmp_path, "--model", "deberta_v3_xsmall", "--lang", "en")
    target = empty_cache / "deberta_v3_xsmall_en"
    assert message.startswith(f"model deberta_v3_xsmall (en) is not in the cache {empty_cache}")
    command = (
        f"spark-deberta export --checkpoint microsoft/deberta-v3-xsmall --out {target} "
        "--name deberta_v3_xsmall --lang en"
    )
    assert command in message
    # The command is one the exporter takes, and it fills the very folder looked up.
    parsed = export.parse_args(shlex.split(command)[2:])
    assert Path(parsed.out) == target and (parsed.name, parsed.lang) == ("deberta_v3_xsmall", "en")
    other = model_error(capsys, tmp_path, "--model", "my_model", "--lang", "ko")
    assert f"--checkpoint CHECKPOINT --out {empty_cache / 'my_model_ko'} --name my_model" in other


def checkpoint(folder: Path, model_type: str = "deberta-v2", weights: bool = True) -> Path:
    """A Hugging Face checkpoint's layout (the files' contents are not read)."""
    folder.mkdir(parents=True)
    config = {"model_type": model_type, "architectures": ["DebertaV2ForSequenceClassification"]}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "spm.model").write_bytes(b"")
    if weights:
        (folder / "model.safetensors").write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    ("option", "task"),
    [
        ("--model", "embeddings"),
        ("--classifier", "sequence-classification"),
        ("--ner", "token-classification"),
        ("--zero-shot", "zero-shot-classification"),
    ],
)
def test_a_checkpoint_folder_gets_its_export_command(capsys, tmp_path, option, task) -> None:
    folder = checkpoint(tmp_path / "hf" / "deberta v3")
    message = model_error(capsys, tmp_path, option, f"{folder}/")
    out = f"{folder}_onnx"
    command = f"spark-deberta export --checkpoint '{folder}' --out '{out}' --task {task}"
    assert message == (
        f"{folder}/ is a Hugging Face checkpoint (model_type deberta-v2), not an exported model "
        f"folder (no manifest.json); export it with: {command} (needs the export extra and "
        f"torch), then use {out}"
    )
    parsed = export.parse_args(shlex.split(command)[2:])
    assert (parsed.checkpoint, parsed.out, parsed.task) == (str(folder), out, task)


def test_a_checkpoint_under_home_gets_a_command_the_shell_can_run(
    capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = checkpoint(tmp_path / "ckpt")
    message = model_error(capsys, tmp_path, "--model", "~/ckpt")
    assert f"--checkpoint {folder} --out {folder}_onnx --task embeddings" in message


@pytest.mark.parametrize(("model_type", "weights"), [("bert", True), ("deberta-v2", False)])
def test_other_folders_without_a_manifest_keep_the_loaders_message(
    capsys, tmp_path, model_type, weights
) -> None:
    folder = checkpoint(tmp_path / "hf", model_type, weights)
    message = model_error(capsys, tmp_path, "--model", str(folder))
    assert message.startswith(f"model file manifest.json is missing in {folder}")


@pytest.mark.slow
def test_the_console_module_exits_with_one_line_and_no_traceback(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "pipelines.cli", "run", "--input", "x.txt",
            "--output", str(tmp_path / "out"), "--model", "models/not_here",
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"spark-deberta run: model folder not found: models/not_here "
        f"(looked in {ROOT / 'models' / 'not_here'})\n"
    )
