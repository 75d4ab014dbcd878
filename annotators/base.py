"""``from annotators.base import *``: what ``from sparknlp.base import *`` gives a script, for
the stages this library has: the assemblers, the finishers, Doc2Chunk, LightPipeline,
Annotation, and pyspark.ml's Pipeline and PipelineModel (which the reference's star import
brings too)."""

from annotators import (
    Annotation,
    Doc2Chunk,
    DocumentAssembler,
    EmbeddingsFinisher,
    Finisher,
    LightPipeline,
    MultiDocumentAssembler,
    Pipeline,
    PipelineModel,
    TokenAssembler,
)
from annotators.text_resources import ReadAs

__all__ = [
    "Annotation",
    "Doc2Chunk",
    "DocumentAssembler",
    "EmbeddingsFinisher",
    "Finisher",
    "LightPipeline",
    "MultiDocumentAssembler",
    "Pipeline",
    "PipelineModel",
    "ReadAs",
    "TokenAssembler",
]
