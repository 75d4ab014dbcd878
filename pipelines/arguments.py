"""The job's command line: options, their shortcuts into the config, and the resolved config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from annotators.deberta.encoder import ENGINES
from annotators.deberta.model_folder import PRECISIONS
from annotators.tasks import job_slots
from pipelines.config import build_config, default_config_file, parse_override
from pipelines.inputs import INPUT_FORMATS
from pipelines.storage import OUTPUT_MODES

#: Command-line shortcuts: option -> (section, key). Each task the job runs adds its model
#: option (``JobSlot.option``: --model, --classifier, --ner, --zero-shot).
SHORTCUTS = {
    "input": ("input", "path"),
    "format": ("input", "format"),
    "text_col": ("input", "text_col"),
    "id_col": ("input", "id_col"),
    "output": ("output", "path"),
    "mode": ("output", "mode"),
    **{slot.option: (slot.model_section, "name") for _, slot in job_slots()},
    "lang": ("model", "lang"),  # the language of --model's pretrained name
    "batch_size": ("embeddings", "batchSize"),
    "max_sentence_length": ("embeddings", "maxSentenceLength"),
    "precision": ("embeddings", "precision"),
    "engine": ("embeddings", "engine"),
}


#: What ``spark-deberta run --help`` says the command does.
RUN_DESCRIPTION = """\
Run the batch job: read documents (text, JSON Lines, CSV or Parquet), annotate
them in Spark (sentences, tokens, DeBERTa-v3 vectors; optionally labels,
entities, zero-shot labels) and write Parquet all or nothing. The options
override the job config (conf/job.yaml); a bad option, config value or model
exits 2 before Spark starts.
"""
#: Examples and exit codes, shown after the options.
RUN_EPILOG = """\
examples:
  spark-deberta run --input data/sample/pride_and_prejudice.txt --output output/sample
  spark-deberta run --input docs.jsonl --text-col body --id-col doc --output out \\
      --model models/deberta_v3_xsmall_en --mode overwrite
  spark-deberta run --input docs.parquet --output out --set output.finish=true \\
      --set embeddings.batchSize=16 --spark-conf conf/spark/local.conf
  spark-submit --properties-file conf/spark/standalone.conf pipelines/embed.py \\
      --input PATH --output PATH

progress goes to stderr every job.progress_interval_s seconds; the summary goes to stdout.
exit codes: 0 written, 1 the job failed (nothing written), 2 bad options, config or model.
"""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The job's options, shared by ``spark-deberta run`` and ``spark-submit embed.py``."""
    parser.add_argument(
        "--config", default=None, help="job YAML file (default: the package's conf/job.yaml)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (YAML syntax), e.g. --set embeddings.batchSize=16",
    )
    parser.add_argument("--input", help="file or folder of documents (input.path)")
    parser.add_argument("--output", help="Parquet folder to write (output.path)")
    parser.add_argument("--format", choices=INPUT_FORMATS, help="input format (default: suffix)")
    parser.add_argument("--text-col", help="text column for parquet/json/csv (default: text)")
    parser.add_argument("--id-col", help="id column to keep (default: generated stable ids)")
    parser.add_argument(
        "--mode", choices=OUTPUT_MODES, help="when the output exists (default: error)"
    )
    # --model (the task with a default model) first, then the ones that run when named
    for _, slot in sorted(job_slots(), key=lambda pair: pair[1].default_model is None):
        parser.add_argument(f"--{slot.option.replace('_', '-')}", help=slot.help)
    parser.add_argument("--lang", help="language of --model's pretrained name (default: en)")
    parser.add_argument("--batch-size", type=int, help="sentences per inference batch")
    parser.add_argument("--max-sentence-length", type=int, help="pieces per sequence")
    parser.add_argument("--precision", choices=tuple(PRECISIONS))
    parser.add_argument("--engine", choices=ENGINES, help="inference engine (embeddings)")
    parser.add_argument(
        "--spark-conf",
        help="spark-defaults style file applied when this command starts Spark "
        "(with spark-submit use --properties-file)",
    )


def run_parser(prog: str = "spark-deberta run") -> argparse.ArgumentParser:
    """The parser of ``run``'s options, with its description and examples."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=RUN_DESCRIPTION,
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; each shortcut and ``--set section.key=value`` overrides the config file."""
    return run_parser().parse_args(argv)


def job_config(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The validated configuration: defaults < config file < --set < shortcuts."""
    overrides = [parse_override(text) for text in args.set]
    for option, (section, key) in SHORTCUTS.items():
        value = getattr(args, option, None)
        if value is not None:
            overrides.append((section, key, value))
    if args.config is not None:
        file: Path | str | None = args.config
    else:  # the checkout's conf/job.yaml, or the one installed with the package
        file = default_config_file()
    return build_config(file, overrides)
