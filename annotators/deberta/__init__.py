"""The DeBERTa model runtime, Spark-free (tests/unit/test_runtime_imports.py holds it so): model
folders (``manifest``, ``model_folder``) and pretrained downloads (``pretrained``), the encoder
and the embeddings core (``encoder``), each task's core (``classification``, ``tagging``,
``answering``, ``zero_shot``), export and import (``export``, ``spark_nlp_folder``,
``tokenizer_json``). The stages in ``annotators`` wrap these cores in pyspark.ml Params."""
