"""``spark-deberta export``: a Hugging Face DeBERTa-v2/v3 checkpoint -> a model folder.

    spark-deberta export --checkpoint microsoft/deberta-v3-xsmall \\
        --out models/deberta_v3_xsmall_en --quantize int8 --name deberta_v3_xsmall --lang en
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from annotators.deberta.export import export_checkpoint
from annotators.deberta.manifest import read_manifest
from annotators.errors import ConfigError
from annotators.tasks import TASK_NAMES
from pipelines.exits import run_command

DESCRIPTION = """\
Export a Hugging Face DeBERTa-v2/v3 checkpoint to a model folder (ONNX + spm.model +
manifest.json) that the stages and `spark-deberta run` read. The folder is written only when
ONNX Runtime equals PyTorch within --max-abs-diff and the runtime's word pieces equal the
Hugging Face tokenizer's. Needs the export extra and torch (the CPU wheel:
pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu).
"""

EXAMPLES = """\
examples:
  spark-deberta export --checkpoint microsoft/deberta-v3-xsmall \\
      --out models/deberta_v3_xsmall_en --quantize int8 --name deberta_v3_xsmall --lang en
  spark-deberta export --checkpoint ./my-finetuned-classifier --out models/my_classifier
      (the task comes from the checkpoint's config.json: here sequence-classification)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="spark-deberta export",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint folder or Hugging Face hub id"
    )
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument(
        "--task",
        choices=TASK_NAMES,
        help="default: the checkpoint's own (config.json architectures); embeddings on a "
        "classifier exports its encoder only",
    )
    parser.add_argument("--quantize", choices=("int8",), help="also write an int8 model")
    parser.add_argument("--name", help="model name for pretrained() (default: from the checkpoint)")
    parser.add_argument("--lang", default="en", help="language code (default: en)")
    parser.add_argument("--max-abs-diff", type=float, default=1e-4, help="parity limit vs PyTorch")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    parser.add_argument(
        "--check-text",
        action="append",
        default=[],
        metavar="FILE",
        help="UTF-8 text (one text a line) for the tokenizer checks, beside the built-in corpus",
    )
    parser.add_argument(
        "--allow-piece-differences",
        action="store_true",
        help="export even when the runtime's pieces differ from the Hugging Face tokenizer's",
    )
    parser.add_argument(
        "--allow-unsafe-bin-checkpoint",
        action="store_true",
        help="read a checkpoint whose only weights are pytorch_model.bin (pickled, which can run "
        "code when loaded): only for a checkpoint whose source you trust; otherwise refused",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_command("spark-deberta export", lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    try:
        texts = [
            line
            for path in args.check_text
            for line in Path(path).read_text(encoding="utf-8").splitlines()
        ]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --check-text: {exc}") from exc
    folder = export_checkpoint(
        args.checkpoint,
        args.out,
        task=args.task,
        quantize=args.quantize,
        name=args.name,
        lang=args.lang,
        max_abs_diff=args.max_abs_diff,
        overwrite=args.overwrite,
        check_texts=texts,
        allow_piece_differences=args.allow_piece_differences,
        allow_unsafe_bin_checkpoint=args.allow_unsafe_bin_checkpoint,
    )
    manifest = read_manifest(folder)
    source = manifest.source
    print(f"wrote {folder}")
    print(f"task: {manifest.task} (from {source['task_from']})")
    if source.get("head_dropped"):
        print(
            f"the checkpoint's {source['head_dropped']} head was dropped: "
            "the folder holds the encoder only"
        )
    if source["spm_model"]["from"] != "spm.model":
        print(
            f"spm.model built from {source['spm_model']['from']}, identical on "
            f"{source['spm_model']['texts_checked']} texts"
        )
    print(f"parity vs PyTorch (max abs): {manifest.parity['max_abs_diff']}")
    pieces = manifest.parity["pieces"]
    print(
        f"pieces vs the Hugging Face tokenizer ({pieces['reference']}): "
        f"{pieces['differing']} of {pieces['words']} words differ"
    )
    for found in pieces["differences"]:
        print(f"  {found['word']!r}: ours {found['ours']}, theirs {found['theirs']}")
    if manifest.quantization:
        print(f"int8 cosine to fp32: {manifest.quantization['cosine_to_fp32']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
