"""The model runtime, the task registry and the errors import, and the runtime runs, without
PySpark: ``annotators.deberta`` is Spark-free, and the stages are imported only when named.

tests/system/test_install.py runs the same script where PySpark is not installed at all.
"""

from __future__ import annotations

import subprocess
import sys

from tests.cluster import ROOT

#: Import the runtime, encode one sentence with the bundled model, and fail if PySpark (or the
#: stages, or the reference package) was imported on the way.
RUNTIME_WITHOUT_SPARK = """
import sys
import annotators, annotators.errors, annotators.tasks
from annotators.annotation import TOKEN, make_annotation
from annotators.deberta import answering, classification, export, spark_nlp_folder, tagging
from annotators.deberta import tokenizer_json, zero_shot
from annotators.deberta.encoder import EncoderSettings, embed_rows
from annotators.deberta.pretrained import load_model_folder, resolve_pretrained

folder = load_model_folder(resolve_pretrained("deberta_v3_tiny_random", "en"))
manifest = folder.manifest
settings = EncoderSettings(
    model_dir=str(folder.path), model_file="model.onnx", checksum=folder.checksum(),
    special_tokens=dict(manifest.special_tokens), output=manifest.output,
    output_size=folder.dimension,
)
text = "The runtime runs without Spark at all."
words = text[:-1].split() + ["."]
tokens, start = [], 0
for word in words:
    begin = text.index(word, start)
    tokens.append(make_annotation(TOKEN, begin, begin + len(word) - 1, word, {"sentence": "0"}))
    start = begin + len(word)
[vectors] = embed_rows([tokens], settings)
assert all(len(v["embeddings"]) == folder.dimension for v in vectors)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j", "sparknlp"))
stages = sorted(set(annotators._EXPORTS.values()) - {"annotators.annotation"} & set(sys.modules))
assert not loaded, loaded
assert not stages, stages
print("vectors", len(vectors))
"""


def test_the_runtime_imports_and_runs_without_pyspark() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUNTIME_WITHOUT_SPARK],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split() == ["vectors", "8"]


def test_naming_a_stage_imports_it_and_star_import_gives_every_export() -> None:
    import annotators

    namespace: dict = {}
    exec("from annotators import *", namespace)
    assert set(annotators.__all__) <= set(namespace)
    assert namespace["DeBertaEmbeddings"].__module__ == "annotators.embeddings"
