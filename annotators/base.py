"""``from annotators.base import *``: what ``from sparknlp.base import *`` gives a script, for
the stages this library has: the assemblers, the finisher, LightPipeline, Annotation, and
pyspark.ml's Pipeline and PipelineModel (which the reference's star import brings too)."""

from annotators import (
    Annotation,
    DocumentAssembler,
    EmbeddingsFinisher,
    LightPipeline,
    MultiDocumentAssembler,
    Pipeline,
    PipelineModel,
)

__all__ = [
    "Annotation",
    "DocumentAssembler",
    "EmbeddingsFinisher",
    "LightPipeline",
    "MultiDocumentAssembler",
    "Pipeline",
    "PipelineModel",
]
