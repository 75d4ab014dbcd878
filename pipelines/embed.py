"""The batch job: read documents, run the annotator pipeline, write Parquet.

Run it with ``spark-submit pipelines/embed.py --input PATH --output PATH`` on a cluster, or
``spark-deberta run ...`` / ``python -m pipelines.embed ...`` on one machine (local[*] unless a
master is configured).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from annotators import DeBertaEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer

#: The model bundled with the package: tiny, random weights (its vectors mean nothing); real
#: models come from ``spark-deberta export``.
DEFAULT_MODEL = "deberta_v3_tiny_random"

INPUT_FORMATS = ("text", "parquet", "json", "csv")
_SUFFIX_FORMATS = {
    ".txt": "text",
    ".parquet": "parquet",
    ".jsonl": "json",
    ".json": "json",
    ".csv": "csv",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spark-deberta run", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="file or folder of documents")
    parser.add_argument("--output", required=True, help="Parquet folder to write")
    parser.add_argument(
        "--format", choices=INPUT_FORMATS, help="input format (default: from suffix)"
    )
    parser.add_argument("--text-col", default="text", help="text column (parquet/json/csv)")
    parser.add_argument("--id-col", default=None, help="id column to keep (default: generated)")
    parser.add_argument(
        "--mode",
        choices=("error", "overwrite"),
        default="error",
        help="what to do when the output exists (default: error)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model folder or pretrained name (default: the bundled {DEFAULT_MODEL})",
    )
    parser.add_argument("--lang", default="en", help="language of a pretrained name (default: en)")
    parser.add_argument("--batch-size", type=int, default=8, help="sentences per inference batch")
    parser.add_argument("--max-sentence-length", type=int, default=128, help="pieces per sequence")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    return parser.parse_args(argv)


def load_embeddings(model: str, lang: str) -> DeBertaEmbeddings:
    """A model folder when ``model`` is a path to one, else a pretrained name."""
    if Path(model).expanduser().is_dir():
        return DeBertaEmbeddings.loadSavedModel(model)
    return DeBertaEmbeddings.pretrained(model, lang)


def input_format(path: str, given: str | None) -> str:
    if given:
        return given
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    raise SystemExit(
        f"cannot tell the format of {path}; pass --format ({', '.join(INPUT_FORMATS)})"
    )


def read_documents(
    spark: SparkSession, path: str, fmt: str, text_col: str, id_col: str | None
) -> DataFrame:
    """Documents as (id, text): one per line for text files, one per row otherwise."""
    if fmt == "text":
        df = spark.read.text(path).withColumnRenamed("value", "text")
        text_col = "text"
    elif fmt == "csv":
        df = spark.read.option("header", True).option("multiLine", True).csv(path)
    else:
        df = spark.read.format(fmt).load(path)
    if text_col not in df.columns:
        raise SystemExit(
            f"input {path} has no column '{text_col}'; columns: {', '.join(df.columns)}"
        )
    if id_col:
        if id_col not in df.columns:
            raise SystemExit(f"input {path} has no id column '{id_col}'")
        return df.select(F.col(id_col).alias("id"), F.col(text_col).alias("text"))
    # Stable ids: the input file and the row's position in it, not a per-run random value.
    return (
        df.select(F.col(text_col).alias("text"))
        .withColumn("id", F.concat_ws(":", F.input_file_name(), F.monotonically_increasing_id()))
        .select("id", "text")
    )


def build_pipeline(args: argparse.Namespace) -> Pipeline:
    embeddings = (
        load_embeddings(args.model, args.lang)
        .setInputCols(["sentence", "token"])
        .setOutputCol("embeddings")
        .setBatchSize(args.batch_size)
        .setMaxSentenceLength(args.max_sentence_length)
        .setPrecision(args.precision)
    )
    return Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
            Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
            embeddings,
        ]
    )


def run(args: argparse.Namespace, spark: SparkSession) -> dict[str, object]:
    started = time.perf_counter()
    fmt = input_format(args.input, args.format)
    pipeline = build_pipeline(args)  # loads and checks the model before any Spark job
    documents = read_documents(spark, args.input, fmt, args.text_col, args.id_col).cache()
    rows_in = documents.count()
    model: PipelineModel = pipeline.fit(documents)
    annotated = model.transform(documents)
    annotated.write.mode(args.mode).parquet(args.output)
    written = spark.read.parquet(args.output)
    totals = written.select(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.size("sentence")).alias("sentences"),
        F.sum(F.size("token")).alias("tokens"),
        F.sum(F.size("embeddings")).alias("vectors"),
    ).first()
    if totals["rows"] != rows_in:
        raise SystemExit(f"rows out ({totals['rows']}) != rows in ({rows_in}) for {args.output}")
    seconds = time.perf_counter() - started
    return {
        "rows": rows_in,
        "sentences": int(totals["sentences"] or 0),
        "tokens": int(totals["tokens"] or 0),
        "vectors": int(totals["vectors"] or 0),
        "model": args.model,
        "seconds": round(seconds, 2),
        "tokens_per_second": round((totals["tokens"] or 0) / seconds, 1),
        "output": args.output,
    }


def session() -> SparkSession:
    """The active session, or a new one: local[*] when no master is configured.

    A local session's Python workers run this interpreter (unless PYSPARK_PYTHON says
    otherwise), so the job works from a virtual environment that is not activated.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from pyspark import SparkConf

    builder = SparkSession.builder.appName("spark-deberta")
    master = dict(SparkConf().getAll()).get("spark.master")
    if master is None:
        builder = builder.master("local[*]")
    if master is None or master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = session()
    summary = run(args, spark)
    for key, value in summary.items():
        print(f"{key:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
