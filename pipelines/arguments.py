"""The job's command line: options, their shortcuts into the config, and the resolved config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from annotators.deberta.encoder import ENGINES
from annotators.deberta.package import PRECISIONS
from pipelines.config import build_config, default_config_file, parse_override
from pipelines.inputs import INPUT_FORMATS
from pipelines.storage import OUTPUT_MODES

#: The model bundled with the package: tiny, random weights (its vectors mean nothing); real
#: models come from ``spark-deberta export``.
DEFAULT_MODEL = "deberta_v3_tiny_random"


#: Command-line shortcuts: option -> (section, key).
SHORTCUTS = {
    "input": ("input", "path"),
    "format": ("input", "format"),
    "text_col": ("input", "text_col"),
    "id_col": ("input", "id_col"),
    "output": ("output", "path"),
    "mode": ("output", "mode"),
    "model": ("model", "name"),
    "lang": ("model", "lang"),
    "classifier": ("classifier_model", "name"),
    "ner": ("ner_model", "name"),
    "zero_shot": ("zero_shot_model", "name"),
    "batch_size": ("embeddings", "batchSize"),
    "max_sentence_length": ("embeddings", "maxSentenceLength"),
    "precision": ("embeddings", "precision"),
    "engine": ("embeddings", "engine"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; each shortcut and ``--set section.key=value`` overrides the config file."""
    parser = argparse.ArgumentParser(prog="spark-deberta run", description=__doc__.splitlines()[0])
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
    parser.add_argument(
        "--model", help=f"model folder or pretrained name (default: the bundled {DEFAULT_MODEL})"
    )
    parser.add_argument("--lang", help="language of a pretrained name (default: en)")
    parser.add_argument("--classifier", help="also classify with this model folder or name")
    parser.add_argument("--ner", help="also tag entities with this token-classification model")
    parser.add_argument(
        "--zero-shot",
        help="also classify with this NLI model (set zero_shot.candidateLabels in the config)",
    )
    parser.add_argument("--batch-size", type=int, help="sentences per inference batch")
    parser.add_argument("--max-sentence-length", type=int, help="pieces per sequence")
    parser.add_argument("--precision", choices=tuple(PRECISIONS))
    parser.add_argument("--engine", choices=ENGINES, help="inference engine (embeddings)")
    parser.add_argument(
        "--spark-conf",
        help="spark-defaults style file applied when this command starts Spark "
        "(with spark-submit use --properties-file)",
    )
    return parser.parse_args(argv)


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
