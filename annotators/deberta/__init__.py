"""The DeBERTa model runtime, Spark-free (tests/unit/test_runtime_imports.py holds it so): model
folders and pretrained downloads (``package``), the encoder and the embeddings core
(``encoder``), scores to labels (``classification``), export and import (``export``,
``spark_nlp_folder``, ``tokenizer_json``)."""
