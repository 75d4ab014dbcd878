"""LightPipeline: run a fitted pipeline on the driver, on plain strings, with no Spark job.

It calls the very cores the Spark stages run in their Arrow UDFs, so its output equals the
DataFrame path's (a test holds it to that).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, overload

from pyspark.ml import PipelineModel, Transformer
from sparknlp.annotation import Annotation

from annotators.annotation import AnnotationDict, to_spark_nlp
from annotators.base import AnnotatorModel, BatchAnnotateFn
from annotators.document import DocumentAssembler


def _flatten(stages: Iterable[Transformer]) -> list[Transformer]:
    out: list[Transformer] = []
    for stage in stages:
        out.extend(_flatten(stage.stages) if isinstance(stage, PipelineModel) else [stage])
    return out


class LightPipeline:
    """``LightPipeline(pipeline_model).annotate("text")`` -> ``{outputCol: [results]}``."""

    def __init__(
        self, pipelineModel: PipelineModel | Iterable[Transformer], parse_embeddings: bool = False
    ):
        stages = pipelineModel.stages if isinstance(pipelineModel, PipelineModel) else pipelineModel
        self.parse_embeddings = parse_embeddings
        self._plan: list[tuple[Any, str, list[str], BatchAnnotateFn | None]] = []
        types: dict[str, str | None] = {}
        for stage in _flatten(stages):
            if isinstance(stage, DocumentAssembler):
                types.setdefault(stage.getInputCol(), None)
                self._plan.append((stage, stage.getOutputCol(), [stage.getInputCol()], None))
                types[stage.getOutputCol()] = stage.output_annotator_type
            elif isinstance(stage, AnnotatorModel):
                columns = stage.input_columns(types)
                self._plan.append((stage, stage.getOutputCol(), columns, stage.batch_annotator()))
                types[stage.getOutputCol()] = stage.output_annotator_type
            else:
                raise TypeError(
                    f"LightPipeline cannot run stage {type(stage).__name__} ({stage.uid}); it runs "
                    "fitted annotators only: fit the Pipeline first and pass the PipelineModel"
                )
        if not any(isinstance(stage, DocumentAssembler) for stage, *_ in self._plan):
            raise ValueError("LightPipeline needs a DocumentAssembler as its first stage")

    def _run(self, text: str | None) -> dict[str, list[AnnotationDict]]:
        columns: dict[str, Any] = {}
        outputs: dict[str, list[AnnotationDict]] = {}
        for stage, output, inputs, annotate in self._plan:
            if annotate is None:
                outputs[output] = stage.assemble(text)
            else:
                [outputs[output]] = annotate([tuple(outputs.get(c, []) for c in inputs)])
            columns[output] = outputs[output]
        return outputs

    def _full(self, text: str | None) -> dict[str, list[Annotation]]:
        out = {}
        for column, found in self._run(text).items():
            out[column] = [to_spark_nlp(a, self.parse_embeddings) for a in found]
        return out

    @overload
    def annotate(self, target: str) -> dict[str, list[str]]: ...
    @overload
    def annotate(self, target: list[str]) -> list[dict[str, list[str]]]: ...

    def annotate(self, target: Any) -> Any:
        """Results only: ``{outputCol: [result, ...]}`` per text."""
        if isinstance(target, str) or target is None:
            return {c: [a["result"] for a in anns] for c, anns in self._run(target).items()}
        return [self.annotate(t) for t in target]

    def fullAnnotate(self, target: str | list[str]) -> list[dict[str, list[Annotation]]]:
        """``sparknlp.annotation.Annotation`` objects, one dict per text (a list even for one)."""
        texts = [target] if isinstance(target, str) or target is None else list(target)
        return [self._full(t) for t in texts]
