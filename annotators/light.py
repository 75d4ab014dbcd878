"""LightPipeline: run a fitted pipeline on the driver, on plain strings, with no Spark job.

It calls the very cores the Spark stages run in their Arrow UDFs, so its output equals the
DataFrame path's (a test holds it to that). Finishers (``EmbeddingsFinisher``) are skipped, as
the reference's LightPipeline skips them: their output is plain columns, not annotations, and
``fullAnnotate`` already gives each vector. ``transform(df)`` runs the whole pipeline on Spark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, overload

from pyspark.ml import Estimator, PipelineModel, Transformer
from pyspark.sql import DataFrame

from annotators.annotation import Annotation, AnnotationDict, to_annotation
from annotators.document import DocumentAssembler, MultiDocumentAssembler
from annotators.errors import StageInputError
from annotators.finisher import EmbeddingsFinisher
from annotators.stage import AnnotatorModel, BatchAnnotateFn, chunk_bounds

#: One input: a text, or a row as ``{input column: text}`` for pipelines with several
#: DocumentAssemblers (sentence pairs).
Text = str | Mapping[str, str | None] | None


def _text_for(column: str, text: Text) -> str | None:
    if not isinstance(text, Mapping):
        return text
    if column not in text:
        raise StageInputError(
            f"LightPipeline: the row {sorted(text)} has no text for the DocumentAssembler's "
            f"input column '{column}'"
        )
    return text[column]


def flatten_stages(stages: Iterable[Transformer]) -> list[Transformer]:
    out: list[Transformer] = []
    for stage in stages:
        if isinstance(stage, PipelineModel):
            out.extend(flatten_stages(stage.stages))
        elif isinstance(stage, MultiDocumentAssembler):
            out.extend(stage.assemblers())
        else:
            out.append(stage)
    return out


class LightPipeline:
    """``LightPipeline(pipeline_model).annotate("text")`` -> ``{outputCol: [results]}``.

    It takes plain strings, or rows as ``{input column: text}`` for pipelines that read several
    text columns, and gives each stage's output column; ``EmbeddingsFinisher`` is skipped.

    Parameters
    ----------
    pipelineModel
        A fitted ``PipelineModel``, or a list of fitted stages, whose first stage is a
        ``DocumentAssembler`` or ``MultiDocumentAssembler``.
    parse_embeddings
        Whether ``fullAnnotate``'s annotations keep their vectors; False by default (their
        ``embeddings`` are empty).

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, LightPipeline, Tokenizer
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token"),
    ... ]
    >>> data = spark.createDataFrame([("Hello there.",)], "text string")
    >>> light = LightPipeline(Pipeline(stages=stages).fit(data))
    >>> light.annotate("Hello there.")
    {'document': ['Hello there.'], 'token': ['Hello', 'there', '.']}
    >>> [tokens["token"] for tokens in light.annotate(["One.", "Two!"])]
    [['One', '.'], ['Two', '!']]
    >>> light.fullAnnotate("Hi.")[0]["token"][0]
    Annotation(token, 0, 1, Hi, {'sentence': '0'}, [])

    ``transform`` runs the same stages on Spark:

    >>> light.transform(data).select("token.result").show()
    +-----------------+
    |           result|
    +-----------------+
    |[Hello, there, .]|
    +-----------------+
    <BLANKLINE>
    """

    def __init__(
        self, pipelineModel: PipelineModel | Iterable[Transformer], parse_embeddings: bool = False
    ):
        stages = pipelineModel.stages if isinstance(pipelineModel, PipelineModel) else pipelineModel
        self.parse_embeddings = parse_embeddings
        self._plan: list[tuple[Any, str, list[str], BatchAnnotateFn | None]] = []
        types: dict[str, str | None] = {}
        for stage in flatten_stages(stages):
            if isinstance(stage, DocumentAssembler):
                types.setdefault(stage.getInputCol(), None)
                self._plan.append((stage, stage.getOutputCol(), [stage.getInputCol()], None))
                types[stage.getOutputCol()] = stage.output_annotator_type
            elif isinstance(stage, AnnotatorModel):
                columns = stage.input_columns(types)
                self._plan.append((stage, stage.getOutputCol(), columns, stage.batch_core()))
                types[stage.getOutputCol()] = stage.output_annotator_type
            elif isinstance(stage, EmbeddingsFinisher):
                continue  # plain columns: nothing to add to annotation results
            elif isinstance(stage, Estimator):
                raise StageInputError(
                    f"LightPipeline cannot run {type(stage).__name__} ({stage.uid}): it is not "
                    "fitted; fit the Pipeline and pass the PipelineModel"
                )
            else:
                raise StageInputError(
                    f"LightPipeline cannot run {type(stage).__name__} ({stage.uid}): it runs "
                    "DocumentAssembler, MultiDocumentAssembler and annotators, and skips "
                    "EmbeddingsFinisher"
                )
        if not any(isinstance(stage, DocumentAssembler) for stage, *_ in self._plan):
            raise StageInputError("LightPipeline needs a DocumentAssembler as its first stage")
        self._stages = list(stages)

    def transform(self, dataset: DataFrame) -> DataFrame:
        """The whole pipeline on a DataFrame (Spark NLP's ``LightPipeline.transform``)."""
        return PipelineModel(self._stages).transform(dataset)

    def run_row(self, text: Text) -> dict[str, list[AnnotationDict]]:
        """Annotate one text, or one row given as ``{input column: text}`` (sentence pairs)."""
        return self.run_rows([text])[0]

    def run_rows(self, texts: list[Text]) -> list[dict[str, list[AnnotationDict]]]:
        """Annotate many texts stage by stage, so batching cores see many rows at once."""
        outputs: list[dict[str, list[AnnotationDict]]] = [{} for _ in texts]
        for stage, output, inputs, annotate in self._plan:
            if annotate is None:
                for row, text in zip(outputs, texts, strict=True):
                    row[output] = stage.assemble(_text_for(stage.getInputCol(), text))
                continue
            counts = [sum(len(row.get(c) or []) for c in inputs) for row in outputs]
            for start, stop in chunk_bounds(counts, stage.output_annotation_bytes()):
                chunk = outputs[start:stop]
                results = annotate([tuple(row.get(c, []) for c in inputs) for row in chunk])
                for row, result in zip(chunk, results, strict=True):
                    row[output] = result
        return outputs

    @overload
    def annotate(self, target: str) -> dict[str, list[str]]: ...
    @overload
    def annotate(self, target: list[str]) -> list[dict[str, list[str]]]: ...

    def annotate(self, target: Any) -> Any:
        """Results only: ``{outputCol: [result, ...]}`` per text."""
        single = isinstance(target, str | Mapping) or target is None
        rows = self.run_rows([target] if single else list(target))
        results = [{c: [a["result"] for a in anns] for c, anns in row.items()} for row in rows]
        return results[0] if single else results

    def fullAnnotate(self, target: Text | list[Text]) -> list[dict[str, list[Annotation]]]:
        """``Annotation`` objects (as Spark NLP's), one dict per text (a list even for one)."""
        single = isinstance(target, str | Mapping) or target is None
        rows = self.run_rows([target] if single else list(target))
        return [
            {c: [to_annotation(a, self.parse_embeddings) for a in anns] for c, anns in row.items()}
            for row in rows
        ]
