"""Every annotation column a stage writes has the schema the reference's stages write,
nullability included, as the installed sparknlp's DocumentAssembler docs print it
(``printSchema()``): the array and its elements nullable, ``begin``/``end`` not, vector
elements not. ``Annotation.dataType()`` is a different thing (the reference's Python
declaration, held equal by tests/unit/test_annotation.py)."""

from __future__ import annotations

import inspect
import re

import pytest
from pyspark.sql import types as T

from tests.fixtures import make_saved_pipelines as saved

reference = pytest.importorskip("sparknlp.base")
pytestmark = pytest.mark.skipif(
    not hasattr(T.StructType, "treeString"), reason="StructType.treeString needs PySpark 4"
)


def reference_tree() -> list[str]:
    """The printSchema lines in the reference's DocumentAssembler docstring."""
    doc = inspect.getdoc(reference.DocumentAssembler) or ""
    block = doc.split('result.select("document").printSchema()', 1)[1]
    lines = [line.strip() for line in block.splitlines() if "|--" in line or line.strip() == "root"]
    return [re.sub(r"= (True|False)", lambda m: f"= {m.group(1).lower()}", line) for line in lines]


def tree_of(field: T.StructField) -> list[str]:
    renamed = T.StructField("document", field.dataType, field.nullable)
    return [line.strip() for line in T.StructType([renamed]).treeString().splitlines() if line]


def test_the_reference_docs_print_a_schema() -> None:
    assert reference_tree()[:3] == [
        "root",
        "|-- document: array (nullable = true)",
        "|    |-- element: struct (containsNull = true)",
    ]


@pytest.mark.parametrize("pipeline", ["text", "question"])
def test_every_annotation_column_has_the_references_schema(spark, pipeline) -> None:
    model = saved.fitted(spark)[pipeline]
    annotated = model.transform(saved.inputs(spark)[pipeline])
    columns = [
        f
        for f in annotated.schema.fields
        if isinstance(f.dataType, T.ArrayType)
        and isinstance(f.dataType.elementType, T.StructType)
        and "annotatorType" in f.dataType.elementType.names
    ]
    assert len(columns) >= (9 if pipeline == "text" else 3)
    for field in columns:
        assert tree_of(field) == reference_tree(), field.name
