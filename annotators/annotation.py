"""The annotation schema shared by every stage.

An annotation column is ``array<struct<annotatorType, begin, end, result, metadata, embeddings>>``
exactly as Spark NLP defines it (a test holds ``Annotation.dataType()`` equal to the ``spark-nlp``
package's). Inside the Python cores an annotation is a plain ``dict`` with those six keys: cheap to
build, and ``pyarrow`` converts a list of them to the Arrow struct type directly. ``Annotation``
is the object users see (``LightPipeline.fullAnnotate``); it is our own class, because importing
the ``sparknlp`` package runs its ``__init__``, which needs ``distutils`` (gone in Python 3.12).

Offsets are Python string indices (code points), ``end`` inclusive, so
``text[begin:end + 1] == result`` holds for any Unicode text. Spark SQL's ``length`` and
``substring`` count code points too. (The JVM reference counts UTF-16 units, which differs only
for characters outside the Basic Multilingual Plane, such as emoji.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import types as T

DOCUMENT = "document"
TOKEN = "token"
WORD_EMBEDDINGS = "word_embeddings"
SENTENCE_EMBEDDINGS = "sentence_embeddings"
CATEGORY = "category"
NAMED_ENTITY = "named_entity"
CHUNK = "chunk"

ANNOTATOR_TYPE_KEY = "annotatorType"

AnnotationDict = dict[str, Any]


@lru_cache(maxsize=1)
def annotation_type() -> T.StructType:
    """The struct of one annotation (Spark NLP's ``Annotation.dataType()``)."""
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("annotatorType", T.StringType(), False),
            T.StructField("begin", T.IntegerType(), False),
            T.StructField("end", T.IntegerType(), False),
            T.StructField("result", T.StringType(), False),
            T.StructField("metadata", T.MapType(T.StringType(), T.StringType()), False),
            T.StructField("embeddings", T.ArrayType(T.FloatType()), False),
        ]
    )


def annotation_array_type() -> T.ArrayType:
    """The type of an annotation column."""
    from pyspark.sql import types as T

    return T.ArrayType(annotation_type(), containsNull=True)


@lru_cache(maxsize=1)
def annotation_column_type() -> T.ArrayType:
    """An annotation column's type as the reference's stages output it (its JVM's schema, as
    its docs print it): ``begin`` and ``end`` never null, the other fields nullable, vector
    elements not. (``Annotation.dataType()`` is the reference's Python declaration, which says
    every field is non-nullable; the columns its stages write are this.)"""
    from pyspark.sql import types as T

    return T.ArrayType(
        T.StructType(
            [
                T.StructField("annotatorType", T.StringType(), True),
                T.StructField("begin", T.IntegerType(), False),
                T.StructField("end", T.IntegerType(), False),
                T.StructField("result", T.StringType(), True),
                T.StructField("metadata", T.MapType(T.StringType(), T.StringType(), True), True),
                T.StructField("embeddings", T.ArrayType(T.FloatType(), False), True),
            ]
        ),
        containsNull=True,
    )


def __getattr__(name: str) -> Any:
    """``ANNOTATION_TYPE`` and ``ANNOTATION_ARRAY_TYPE``, built on first use: the cores import
    this module where PySpark is not installed (the model runtime, LightPipeline's cores)."""
    if name == "ANNOTATION_TYPE":
        return annotation_type()
    if name == "ANNOTATION_ARRAY_TYPE":
        return annotation_array_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=1)
def annotation_arrow_type() -> pa.DataType:
    """The Arrow type of an annotation column, as Spark's Arrow serializer expects it."""
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(annotation_column_type())


def annotations_to_arrow(rows: Sequence[Sequence[AnnotationDict]]) -> pa.Array:
    """Build an annotation column column-wise: no Python work per float.

    ``embeddings`` may be a list or a 1-D numpy array; vectors are concatenated by numpy and
    handed to Arrow as one buffer.
    """
    arrow_type = annotation_arrow_type()
    struct_type = arrow_type.value_type
    flat = [a for row in rows for a in row]
    row_offsets = np.cumsum([0, *map(len, rows)], dtype=np.int32)
    metadata_offsets = np.cumsum([0, *(len(a["metadata"]) for a in flat)], dtype=np.int32)
    metadata = pa.MapArray.from_arrays(
        pa.array(metadata_offsets, pa.int32()),
        pa.array([k for a in flat for k in a["metadata"]], pa.string()),
        pa.array([v for a in flat for v in a["metadata"].values()], pa.string()),
    )
    vectors = [np.asarray(a["embeddings"], dtype=np.float32).reshape(-1) for a in flat]
    vector_offsets = np.cumsum([0, *(v.size for v in vectors)], dtype=np.int32)
    values = np.concatenate(vectors) if vectors else np.empty(0, np.float32)
    embeddings = pa.ListArray.from_arrays(
        pa.array(vector_offsets, pa.int32()), pa.array(values, pa.float32())
    )
    children = [
        pa.array([a["annotatorType"] for a in flat], pa.string()),
        pa.array([a["begin"] for a in flat], pa.int32()),
        pa.array([a["end"] for a in flat], pa.int32()),
        pa.array([a["result"] for a in flat], pa.string()),
        metadata.cast(struct_type.field("metadata").type),
        embeddings.cast(struct_type.field("embeddings").type),
    ]
    structs = pa.StructArray.from_arrays(children, fields=list(struct_type))
    return pa.ListArray.from_arrays(pa.array(row_offsets, pa.int32()), structs, type=arrow_type)


def annotations_from_arrow(array: pa.Array) -> list[list[AnnotationDict] | None]:
    """Read an annotation column into the cores' plain dicts.

    Arrow gives a map as a list of (key, value) pairs; the cores want a dict (a repeated key
    keeps its last value). Done here rather than by ``to_pylist(maps_as_pydicts=...)``, which
    pyarrow 14 (the Databricks 15.4 LTS runtime's) lacks.
    """
    rows = array.to_pylist()
    for row in rows:
        for annotation in row or ():
            if annotation is not None:
                annotation["metadata"] = dict(annotation["metadata"] or ())
    return rows


def make_annotation(
    annotator_type: str,
    begin: int,
    end: int,
    result: str,
    metadata: Mapping[str, str] | None = None,
    embeddings: Iterable[float] | None = None,
) -> AnnotationDict:
    """Build one annotation as the plain dict the cores pass around."""
    return {
        "annotatorType": annotator_type,
        "begin": begin,
        "end": end,
        "result": result,
        "metadata": dict(metadata) if metadata else {},
        "embeddings": list(embeddings) if embeddings is not None else [],
    }


def sentence_key(annotation: AnnotationDict) -> str:
    """The sentence an annotation belongs to (its ``sentence`` metadata; "0" when absent)."""
    return (annotation.get("metadata") or {}).get("sentence", "0")


def column_metadata(annotator_type: str) -> dict[str, str]:
    """Spark column metadata that marks a column as holding annotations of one type."""
    return {ANNOTATOR_TYPE_KEY: annotator_type}


class Annotation:
    """One annotation as Spark NLP's Python API hands it to users, with the same attributes,
    constructor, ``str`` form, equality and static helpers as ``sparknlp.annotation.Annotation``,
    so code written against the reference (and spark-nlp-display) reads ours unchanged.

    Examples
    --------
    >>> from annotators import Annotation
    >>> token = Annotation("token", 0, 1, "Hi", {"sentence": "0"}, [])
    >>> token
    Annotation(token, 0, 1, Hi, {'sentence': '0'}, [])
    >>> token.copy("Hello").result, token == Annotation("token", 0, 1, "Hi", {"sentence": "0"}, [])
    ('Hello', True)
    """

    def __init__(
        self,
        annotatorType: str,
        begin: int,
        end: int,
        result: str,
        metadata: Mapping[str, str],
        embeddings: Sequence[float],
    ) -> None:
        self.annotatorType = annotatorType
        self.begin = begin
        self.end = end
        self.result = result
        self.metadata = metadata
        self.embeddings = embeddings

    def copy(self, result: str) -> Annotation:
        """The same annotation with another ``result``."""
        return Annotation(
            self.annotatorType, self.begin, self.end, result, self.metadata, self.embeddings
        )

    def __str__(self) -> str:
        return (
            f"Annotation({self.annotatorType}, {int(self.begin)}, {int(self.end)}, "
            f"{self.result}, {self.metadata}, {self.embeddings})"
        )

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        fields = ("annotatorType", "begin", "end", "result", "metadata", "embeddings")
        if not all(hasattr(other, f) for f in fields):
            return NotImplemented
        mine = (*(getattr(self, f) for f in fields[:4]), dict(self.metadata), self.embeddings)
        theirs = (*(getattr(other, f) for f in fields[:4]), dict(other.metadata), other.embeddings)
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    @staticmethod
    def dataType() -> T.StructType:
        """The Spark struct of one annotation."""
        return annotation_type()

    @staticmethod
    def arrayType() -> T.ArrayType:
        """The Spark type of an annotation column (the reference's Python declaration)."""
        return annotation_array_type()

    @staticmethod
    def fromRow(row: Any) -> Annotation:
        """An ``Annotation`` from a collected Spark ``Row`` of the annotation struct."""
        return Annotation(
            row.annotatorType, row.begin, row.end, row.result, row.metadata, row.embeddings
        )

    @staticmethod
    def toRow(annotation: Annotation) -> Any:
        """A Spark ``Row`` of the annotation's six fields, in schema order."""
        from pyspark.sql import Row

        return Row(
            annotation.annotatorType,
            annotation.begin,
            annotation.end,
            annotation.result,
            annotation.metadata,
            annotation.embeddings,
        )


def to_annotation(annotation: AnnotationDict, with_embeddings: bool = True) -> Annotation:
    """Convert a core dict to the ``Annotation`` object Spark NLP users already know."""
    vector = annotation["embeddings"]
    return Annotation(
        annotation["annotatorType"],
        annotation["begin"],
        annotation["end"],
        annotation["result"],
        dict(annotation["metadata"]),
        [float(x) for x in vector] if with_embeddings else [],
    )


def from_row(row: Any) -> AnnotationDict:
    """Convert a collected Spark ``Row`` (or a dict) of the annotation struct to a core dict."""
    data = row.asDict() if hasattr(row, "asDict") else dict(row)
    return make_annotation(
        data["annotatorType"],
        data["begin"],
        data["end"],
        data["result"],
        data.get("metadata") or {},
        data.get("embeddings") or [],
    )
