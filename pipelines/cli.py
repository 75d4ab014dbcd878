"""``spark-deberta``: the console command (``run`` the job, ``export`` a checkpoint, ``publish``
model folders, ``help``).

``run`` takes the same options as ``spark-submit pipelines/embed.py`` (``pipelines.arguments``);
``export`` hands its options to ``pipelines.export``, which parses them itself; ``publish``
(``publish_parser``) needs no Spark either.
"""

from __future__ import annotations

import argparse
import json
import sys

from annotators.version import library_version

DESCRIPTION = """\
Spark NLP-compatible annotators running DeBERTa-v3 (ONNX) inside Spark.
`run` annotates documents in a Spark job and writes Parquet; `export` turns a
Hugging Face DeBERTa-v2/v3 checkpoint into the model folder that `run` reads;
`publish` zips model folders and writes the index.json that pretrained() downloads from.
"""

EPILOG = """\
examples:
  spark-deberta run --input data/sample/pride_and_prejudice.txt --output output/sample
  spark-deberta run --input docs.jsonl --output out --model models/deberta_v3_xsmall_en
  spark-deberta export --checkpoint microsoft/deberta-v3-xsmall \\
      --out models/deberta_v3_xsmall_en --quantize int8 --name deberta_v3_xsmall --lang en
  spark-deberta help run        the job's options (also: spark-deberta run --help)
  spark-deberta help export     the exporter's options
  spark-deberta publish models/deberta_v3_xsmall_en --out site/models

exit codes: 0 done, 1 the job or export failed, 2 bad command line, config or model.
"""

EXPORT_HELP = "export a Hugging Face DeBERTa-v2/v3 checkpoint to a model folder (ONNX)"
PUBLISH_HELP = "zip model folders and write the index.json that pretrained() reads"
PUBLISH_DESCRIPTION = """\
Zip each exported model folder into DIR as <name>_<lang>.zip and list it in DIR/index.json
(name, lang, file, sha256, bytes, unpacked_bytes): serve DIR over HTTP(S), or share it as a
folder, and point pretrained(name, lang, remote_loc=URL) or SPARK_DEBERTA_REMOTE at it.
Entries already in DIR/index.json for other models are kept; the same name and language
is replaced. Needs no Spark.
"""


def publish_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spark-deberta publish",
        description=PUBLISH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folders", nargs="+", metavar="FOLDER", help="exported model folders")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the zips and index go")
    return parser


def _publish(argv: list[str]) -> int:
    from annotators.deberta.pretrained import publish_models
    from pipelines.exits import run_command

    try:
        args = publish_parser().parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a bad option (2)
        return _code(exit_)

    def publish() -> int:
        index = publish_models(args.folders, args.out)
        for entry in json.loads(index.read_text(encoding="utf-8"))["models"]:
            print(f"{entry['file']}  {entry['name']} ({entry['lang']})  sha256 {entry['sha256']}")
        print(f"wrote {index}")
        return 0

    return run_command("spark-deberta publish", publish)


def spark_missing() -> str | None:
    """Why this Python cannot run the stages (no PySpark: the wheel does not require one), or
    None. The package says it, in one place, when a stage is named (``annotators/__init__.py``)."""
    from annotators.errors import SparkMissingError

    try:
        from annotators import DocumentAssembler  # noqa: F401
    except SparkMissingError as missing:
        return str(missing)
    return None


def build_parser() -> argparse.ArgumentParser:
    """The command with its subcommands: each has its own help (``spark-deberta help run``)."""
    from pipelines.arguments import RUN_DESCRIPTION, RUN_EPILOG, add_run_arguments

    parser = argparse.ArgumentParser(
        prog="spark-deberta",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {library_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    run = commands.add_parser(
        "run",
        help="run the batch job: documents in, annotated Parquet out",
        description=RUN_DESCRIPTION,
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(run)
    # The exporter parses its own options (pipelines/export.py): main() hands them over as
    # they are, so this entry only lists the command.
    commands.add_parser("export", help=EXPORT_HELP, add_help=False)
    commands.add_parser("publish", help=PUBLISH_HELP, add_help=False)
    topics = commands.add_parser(
        "help",
        help="show the help of the command or of one subcommand",
        description="Show the help of spark-deberta, or of one of its commands.",
    )
    topics.add_argument("topic", nargs="?", choices=("run", "export", "publish"), metavar="COMMAND")
    return parser


def _export(argv: list[str]) -> int:
    from pipelines import export

    try:
        return export.main(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a bad option (2)
        return _code(exit_)


def _code(exit_: SystemExit) -> int:
    code = exit_.code
    return code if isinstance(code, int) else (0 if code is None else 2)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand; no arguments print the help and exit 2 (a usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        print(f"spark-deberta {library_version()}")
        return 0
    if argv and argv[0] == "export":  # the exporter and the model runtime need no Spark
        return _export(argv[1:])
    if argv and argv[0] == "publish":
        return _publish(argv[1:])
    missing = spark_missing()
    if missing:
        print(f"spark-deberta: {missing}", file=sys.stderr)
        return 2
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version (0) or a bad command line (2)
        return _code(exit_)
    if args.command == "help":
        if args.topic == "export":
            return _export(["--help"])
        if args.topic == "publish":
            return _publish(["--help"])
        if args.topic == "run":
            try:
                parser.parse_args(["run", "--help"])
            except SystemExit as exit_:  # run's help is printed, exit 0
                return _code(exit_)
        parser.print_help()
        return 0
    from pipelines.job import execute

    return execute(args)


if __name__ == "__main__":
    sys.exit(main())
