"""The seed pipeline's output on a fixed input, as plain JSON, to compare Spark environments.

Each environment of the compatibility suite (PySpark 3.5, 4.0 and the newest; classic and Spark
Connect) writes this record; tests/system/test_compat.py holds every record equal to the one the
newest classic PySpark gives (annotations identical, vectors and scores within 1e-5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.ml import Pipeline

from annotators import (
    DeBertaEmbeddings,
    DeBertaForSequenceClassification,
    DocumentAssembler,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)
from annotators.deberta.pretrained import BUNDLED_DIR

FIXTURES = Path(__file__).parent / "fixtures"
MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"
CLASSIFIER = FIXTURES / "models" / "deberta_v3_tiny_ko_classifier"
TOLERANCE = 1e-5
TEXTS = [
    ("a", "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday!"),
    ("b", "Ünïcödé, emoji 🙂 and 한국어 문장입니다. Second sentence here"),
    ("c", ""),
    ("d", None),
    ("e", "   "),
    ("f", " ".join(["word"] * 300) + "."),  # longer than maxSentenceLength: windows
]
COLUMNS = ["document", "sentence", "token", "category", "embeddings", "sentence_embeddings"]


def seed_pipeline() -> Pipeline:
    return Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
            Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
            DeBertaForSequenceClassification.loadSavedModel(str(CLASSIFIER))
            .setInputCols(["sentence", "token"])
            .setOutputCol("category"),
            DeBertaEmbeddings.loadSavedModel(str(MODEL))
            .setInputCols(["sentence", "token"])
            .setOutputCol("embeddings"),
            SentenceEmbeddings()
            .setInputCols(["sentence", "embeddings"])
            .setOutputCol("sentence_embeddings"),
        ]
    )


def seed_record(spark) -> dict[str, Any]:
    """Run the seed pipeline on ``TEXTS`` and return its output, row by row, as JSON data."""
    data = spark.createDataFrame(TEXTS, "id string, text string")
    model = seed_pipeline().fit(data)
    annotated = model.transform(data)
    schema = annotated.schema
    rows = annotated.orderBy("id").collect()
    return {
        "metadata": {c: schema[c].metadata for c in COLUMNS},
        "rows": {
            row["id"]: {
                column: [
                    {
                        **annotation.asDict(),
                        "metadata": dict(annotation["metadata"] or {}),
                        "embeddings": [float(x) for x in annotation["embeddings"] or []],
                    }
                    for annotation in row[column] or []
                ]
                for column in COLUMNS
            }
            for row in rows
        },
    }


def write_record(spark, path: Path) -> None:
    path.write_text(json.dumps(seed_record(spark), ensure_ascii=False), encoding="utf-8")


def assert_same_record(found: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    """Annotations identical; vectors, and scores in metadata, within ``TOLERANCE``."""
    assert found["metadata"] == expected["metadata"], where
    assert sorted(found["rows"]) == sorted(expected["rows"]), where
    for key, columns in expected["rows"].items():
        for column, wanted in columns.items():
            got = found["rows"][key][column]
            assert len(got) == len(wanted), (where, key, column)
            for a, b in zip(got, wanted, strict=True):
                plain = ("annotatorType", "begin", "end", "result")
                assert [a[k] for k in plain] == [b[k] for k in plain], (where, key, column)
                assert a["metadata"].keys() == b["metadata"].keys(), (where, key, column)
                for name, value in b["metadata"].items():
                    if _is_number(value) and "." in value:
                        assert abs(float(a["metadata"][name]) - float(value)) <= TOLERANCE
                    else:
                        assert a["metadata"][name] == value, (where, key, column, name)
                assert len(a["embeddings"]) == len(b["embeddings"]), (where, key, column)
                if b["embeddings"]:
                    gap = np.abs(np.asarray(a["embeddings"]) - np.asarray(b["embeddings"])).max()
                    assert gap <= TOLERANCE, (where, key, column, gap)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main(argv: list[str]) -> int:
    """``python -m tests.compat_seed RECORD``: a local session writes the seed record.

    PYSPARK_PYTHON is left as the caller has it: the stages set a local session's workers to this
    interpreter themselves (annotators.spark_compat.ensure_worker_python).
    """
    from tests.support import local_session

    spark = local_session("spark-deberta-seed")
    try:
        write_record(spark, Path(argv[0]))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
