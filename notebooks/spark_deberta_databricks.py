# Databricks notebook source
# MAGIC %md
# MAGIC # spark-deberta on Databricks
# MAGIC
# MAGIC DeBERTa-v3 token embeddings over a DataFrame with Spark NLP's stage names, no jar and no
# MAGIC Maven coordinates: install the wheel, point at a model folder on a Volume (or DBFS), run.
# MAGIC
# MAGIC 1. Build the wheel (`pip wheel --no-deps .`) and upload it to a Volume:
# MAGIC    `/Volumes/main/default/libs/spark_deberta-0.1.0-py3-none-any.whl`. It is the plain wheel
# MAGIC    (no PySpark dependency): the runtime's own PySpark stays the only one.
# MAGIC 2. Export a model where the Hugging Face hub is reachable (`spark-deberta export
# MAGIC    --checkpoint microsoft/deberta-v3-xsmall --out deberta_v3_xsmall_en --quantize int8`)
# MAGIC    and upload the folder to a Volume: `/Volumes/main/default/models/deberta_v3_xsmall_en`.
# MAGIC 3. Paste `conf/spark/databricks.conf` into the cluster's Spark config.
# MAGIC
# MAGIC The next two cells install the wheel for this notebook only (notebook-scoped). From DBR 13
# MAGIC `%pip` no longer restarts Python, so the cell after it does: otherwise this session keeps
# MAGIC the modules it had already imported, such as the pyarrow 8 of 14.3 LTS that the wheel
# MAGIC upgrades. Keep both cells first: the restart clears every variable defined before it.
# MAGIC Installed as a cluster library instead (`conf/spark/databricks.conf`), the wheel is
# MAGIC there before the notebook attaches: skip both cells. A workspace without PyPI access
# MAGIC installs from a wheelhouse on a Volume:
# MAGIC `%pip install --no-index --find-links /Volumes/main/default/libs/wheelhouse spark-deberta`.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/default/libs/spark_deberta-0.1.0-py3-none-any.whl

# COMMAND ----------

# %pip does not restart Python from DBR 13: restart it, so that the imports below get the new
# packages. `dbutils` is a Databricks global; the test run executes this file as a plain script.
if "dbutils" in globals():
    dbutils.library.restartPython()  # noqa: F821

# COMMAND ----------

import os

from pyspark.sql import SparkSession


def setting(name: str, default: str) -> str:
    """A notebook widget on Databricks; an environment variable elsewhere (the test run)."""
    try:
        dbutils.widgets.text(name, default)  # a Databricks global
        return dbutils.widgets.get(name)
    except NameError:
        return os.environ.get(f"SPARK_DEBERTA_{name.upper()}", default)


MODEL_DIR = setting("model_dir", "/Volumes/main/default/models/deberta_v3_xsmall_en")
OUTPUT_DIR = setting("output_dir", "/Volumes/main/default/output/deberta_embeddings")
spark = SparkSession.builder.getOrCreate()  # Databricks already has one

try:
    show = display  # a Databricks global
except NameError:

    def show(frame) -> None:
        frame.show(truncate=80)


# COMMAND ----------

# MAGIC %md
# MAGIC ## The pipeline
# MAGIC `loadSavedModel` reads the folder from the Volume (or `/dbfs/...`) on the driver, checks
# MAGIC every file's checksum, and ships the files to the executors itself.

# COMMAND ----------

from pyspark.ml import Pipeline  # noqa: E402

from annotators import (  # noqa: E402
    DeBertaEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    SentenceDetector,
    Tokenizer,
)

documents = spark.createDataFrame(
    [
        (1, "Spark NLP users can port their pipelines by changing imports. It runs anywhere."),
        (2, "DeBERTa-v3 improves BERT with disentangled attention."),
        (3, "한국어 문장도 처리합니다. 이모지도 괜찮아요 🙂"),
        (4, None),
    ],
    "id int, text string",
)
embeddings = (
    DeBertaEmbeddings.loadSavedModel(MODEL_DIR, spark)
    .setInputCols(["sentence", "token"])
    .setOutputCol("embeddings")
    .setBatchSize(16)
)
pipeline = Pipeline(
    stages=[
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
        Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
        embeddings,
        EmbeddingsFinisher().setInputCols(["embeddings"]).setOutputCols(["vectors"]),
    ]
)
result = pipeline.fit(documents).transform(documents)

# COMMAND ----------

show(result.selectExpr("id", "transform(token, t -> t.result) as tokens", "size(vectors) as n"))

# COMMAND ----------

result.select("id", "text", "vectors").write.mode("overwrite").parquet(OUTPUT_DIR)
print(f"wrote {spark.read.parquet(OUTPUT_DIR).count()} rows to {OUTPUT_DIR}")
