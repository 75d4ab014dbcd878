"""LightPipeline: run a fitted pipeline on the driver, on plain strings, with no Spark job.

It calls the very cores the Spark stages run in their Arrow UDFs, so its output equals the
DataFrame path's (a test holds it to that). Finishers give no columns here, as in the
reference's LightPipeline: their output is plain columns, not annotations. A ``Finisher`` keeps
only its inputCols in the result (what the annotations were finished for); ``EmbeddingsFinisher``
is skipped (``fullAnnotate`` already gives each vector). Stages whose input is not annotations
(``Doc2Chunk``) are refused unless ``setIgnoreUnsupported(True)``. ``transform(df)`` runs the
whole pipeline on Spark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyspark.ml import Estimator, PipelineModel, Transformer
from pyspark.sql import DataFrame

from annotators.annotation import (
    SENTENCE_EMBEDDINGS,
    WORD_EMBEDDINGS,
    Annotation,
    AnnotationDict,
    make_annotation,
    to_annotation,
)
from annotators.chain import fuse
from annotators.document import DocumentAssembler, MultiDocumentAssembler
from annotators.errors import StageInputError
from annotators.finisher import EmbeddingsFinisher, Finisher
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


def _pipeline_stages(stages: Iterable[Transformer]) -> list[Transformer]:
    """The stages with nested PipelineModels opened."""
    out: list[Transformer] = []
    for stage in stages:
        out.extend(_pipeline_stages(stage.stages) if isinstance(stage, PipelineModel) else [stage])
    return out


def flatten_stages(stages: Iterable[Transformer]) -> list[Transformer]:
    """The stages LightPipeline runs: nested PipelineModels opened, and each
    MultiDocumentAssembler as its DocumentAssemblers."""
    out: list[Transformer] = []
    for stage in _pipeline_stages(stages):
        out.extend(stage.assemblers() if isinstance(stage, MultiDocumentAssembler) else [stage])
    return out


class LightPipeline:
    """``LightPipeline(pipeline_model).annotate("text")`` -> ``{outputCol: [results]}``.

    It takes plain strings, or rows as ``{input column: text}`` for pipelines that read several
    text columns, and gives each stage's output column; a ``Finisher`` keeps only its inputCols,
    ``EmbeddingsFinisher`` is skipped.

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
        self,
        pipelineModel: PipelineModel | Iterable[Transformer],
        parse_embeddings: bool = False,
        output_cols: list[str] | None = None,
    ):
        stages = pipelineModel.stages if isinstance(pipelineModel, PipelineModel) else pipelineModel
        self.parse_embeddings = parse_embeddings
        self.output_cols = None if output_cols is None else list(output_cols)
        self._ignore_unsupported = False
        #: Stages LightPipeline cannot run: refused when it runs, unless setIgnoreUnsupported.
        self._unsupported: list[Transformer] = []
        self._plan: list[tuple[Any, str, list[str], BatchAnnotateFn | None]] = []
        types: dict[str, str | None] = {}
        for stage in flatten_stages(stages):
            if isinstance(stage, DocumentAssembler):
                types.setdefault(stage.getInputCol(), None)
                self._plan.append((stage, stage.getOutputCol(), [stage.getInputCol()], None))
                types[stage.getOutputCol()] = stage.output_annotator_type
            elif isinstance(stage, AnnotatorModel) and not getattr(
                stage, "light_pipeline_supported", True
            ):
                # Refused when it runs, unless setIgnoreUnsupported; later stages reading its
                # output column then get no annotations, as in the reference.
                self._unsupported.append(stage)
                types[stage.getOutputCol()] = stage.output_annotator_type
            elif isinstance(stage, AnnotatorModel):
                columns = stage.input_columns(types)
                self._plan.append((stage, stage.getOutputCol(), columns, stage.batch_core()))
                types[stage.getOutputCol()] = stage.output_annotator_type
            elif isinstance(stage, Finisher):
                if not stage.isDefined(stage.inputCols):
                    raise StageInputError(f"Finisher {stage.uid}: inputCols is not set")
                # The reference narrows the results to what the Finisher finishes.
                self._plan.append((stage, "", list(stage.getInputCols()), None))
            elif isinstance(stage, EmbeddingsFinisher):
                continue  # plain columns: nothing to add to annotation results
            elif isinstance(stage, Estimator):
                raise StageInputError(
                    f"LightPipeline cannot run {type(stage).__name__} ({stage.uid}): it is not "
                    "fitted; fit the Pipeline and pass the PipelineModel"
                )
            else:
                self._unsupported.append(stage)
        if not any(isinstance(stage, DocumentAssembler) for stage, *_ in self._plan):
            raise StageInputError("LightPipeline needs a DocumentAssembler as its first stage")
        self._stages = list(stages)
        flat = _pipeline_stages(self._stages)
        self._first = flat[0] if flat else None

    def transform(self, dataframe: DataFrame) -> DataFrame:
        """The whole pipeline on a DataFrame (Spark NLP's ``LightPipeline.transform``); with
        ``output_cols``, the input's columns and those."""
        annotated = fuse(self._stages).transform(dataframe)
        if self.output_cols is None:
            return annotated
        return annotated.select(*dict.fromkeys([*dataframe.columns, *self.output_cols]))

    def run_row(self, text: Text) -> dict[str, list[AnnotationDict]]:
        """Annotate one text, or one row given as ``{input column: text}`` (sentence pairs)."""
        return self.run_rows([text])[0]

    def run_rows(self, texts: list[Text]) -> list[dict[str, list[AnnotationDict]]]:
        """Annotate many texts stage by stage, so batching cores see many rows at once."""
        if self._unsupported and not self._ignore_unsupported:
            stage = self._unsupported[0]
            raise StageInputError(
                f"model {stage.uid} ({type(stage).__name__}) does not support LightPipeline, "
                "which runs DocumentAssembler, MultiDocumentAssembler, annotators and Finisher "
                "and skips EmbeddingsFinisher. Call setIgnoreUnsupported(True) on LightPipeline "
                "to ignore"
            )
        outputs: list[dict[str, list[AnnotationDict]]] = [{} for _ in texts]
        for stage, output, inputs, annotate in self._plan:
            if isinstance(stage, Finisher):
                for row in outputs:
                    for column in [c for c in row if c not in inputs]:
                        del row[column]
                continue
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

    # -- the reference's call forms ----------------------------------------------------------

    def setIgnoreUnsupported(self, value: bool) -> LightPipeline:
        """Skip the stages LightPipeline cannot run instead of refusing them (default False)."""
        self._ignore_unsupported = bool(value)
        return self

    def getIgnoreUnsupported(self) -> bool:
        return self._ignore_unsupported

    def annotate(self, *args: Any, **kwargs: Any) -> Any:
        """Results only, ``{outputCol: [result, ...]}``: one dict for a text or a (question,
        context) pair, a list of dicts for a list of texts, of pairs, or ``(ids, texts)``.

        As the reference: ``annotate(text)``, ``annotate(texts)``, ``annotate(ids, texts)``,
        ``annotate(question, context)``, ``annotate(questions, contexts)``, each text form with
        ``metadata`` (a dict per text, or a dict of lists for a list of texts; no stage here
        reads it), ``target=`` and ``optional_target=`` keywords. Anything else is a TypeError.
        """
        kind, args, metadata = _call_form("annotate", args, kwargs)
        if metadata is not None and kind not in ("text", "texts"):
            raise TypeError("metadata is only supported for text inputs.")
        single, rows = self._run_form(kind, args, metadata)
        results = [{c: self._results(anns) for c, anns in row.items()} for row in rows]
        return results[0] if single else results

    def fullAnnotate(self, *args: Any, **kwargs: Any) -> list[dict[str, list[Annotation]]]:
        """``Annotation`` objects, as the reference's: always a list of dicts, one per text
        (or pair), in the call forms ``annotate`` takes (metadata with ``(ids, texts)`` is
        ignored there, as the reference ignores it)."""
        kind, args, metadata = _call_form("fullAnnotate", args, kwargs)
        if metadata is not None and kind in ("qa", "qas"):
            raise TypeError("metadata is only supported for text inputs.")
        _, rows = self._run_form(kind, args, None if kind == "ids_texts" else metadata)
        return [
            {c: [to_annotation(a, self.parse_embeddings) for a in anns] for c, anns in row.items()}
            for row in rows
        ]

    def _results(self, annotations: list[AnnotationDict]) -> list[str]:
        """What ``annotate`` gives for a column: each result, or with ``parse_embeddings`` an
        embedding annotation's vector joined by spaces."""
        if self.parse_embeddings:
            return [
                " ".join(str(float(x)) for x in a["embeddings"])
                if a["annotatorType"] in (WORD_EMBEDDINGS, SENTENCE_EMBEDDINGS)
                else a["result"]
                for a in annotations
            ]
        return [a["result"] for a in annotations]

    def _run_form(
        self, kind: str, args: tuple[Any, ...], metadata: Any
    ) -> tuple[bool, list[dict[str, list[AnnotationDict]]]]:
        """Run one call form: whether it was a single input, and each input's columns."""
        if kind in ("text", "texts"):
            _text_metadata(args[0], metadata)
        if kind in ("text", "row"):
            return True, self._shown(self.run_rows([args[0]]))
        if kind in ("texts", "rows"):
            return False, self._shown(self.run_rows(list(args[0])))
        if kind == "ids_texts":
            ids, texts = args
            if len(ids) != len(texts):
                raise TypeError("ids and texts must have the same length.")
            return False, self._shown(self._with_ids(ids, self.run_rows(list(texts))))
        questions, contexts = ([args[0]], [args[1]]) if kind == "qa" else args
        if len(questions) != len(contexts):
            raise TypeError("questions and contexts must have the same length.")
        columns = self._pair_columns()
        rows = [
            dict(zip(columns, pair, strict=True)) for pair in zip(questions, contexts, strict=True)
        ]
        return kind == "qa", self._shown(self.run_rows(rows))

    def _pair_columns(self) -> list[str]:
        """The question and context columns of the MultiDocumentAssembler that starts a
        question-answering pipeline."""
        first = self._first
        if not isinstance(first, MultiDocumentAssembler) or len(first.getInputCols()) != 2:
            raise TypeError(
                "(question, context) input needs a pipeline that starts with a "
                "MultiDocumentAssembler of two input columns (question, context)"
            )
        return list(first.getInputCols())

    def _with_ids(
        self, ids: list[int], rows: list[dict[str, list[AnnotationDict]]]
    ) -> list[dict[str, list[AnnotationDict]]]:
        """As the reference: each document annotation gets the row's ``id``, and the row a
        column (the DocumentAssembler's idCol, else ``doc_id``) holding one ``dummy``
        annotation of the id."""
        assembler = next(stage for stage, *_ in self._plan if isinstance(stage, DocumentAssembler))
        id_column = assembler.getIdCol() if assembler.isDefined(assembler.idCol) else "doc_id"
        documents = assembler.getOutputCol()
        # The id column comes with the DocumentAssembler, so a later Finisher may drop it.
        finishers = [stage for stage, *_ in self._plan if isinstance(stage, Finisher)]
        keep_id = all(id_column in finisher.getInputCols() for finisher in finishers)
        for identifier, row in zip(ids, rows, strict=True):
            text = str(identifier)
            for annotation in row.get(documents, []):
                annotation["metadata"]["id"] = text
            if keep_id:
                row[id_column] = [make_annotation("dummy", 0, len(text), text, {"id": text})]
        return rows

    def _shown(
        self, rows: list[dict[str, list[AnnotationDict]]]
    ) -> list[dict[str, list[AnnotationDict]]]:
        """With ``output_cols``, only those columns, the documents' and the id column."""
        if self.output_cols is None:
            return rows
        kept = set(self.output_cols) | {
            stage.getOutputCol() for stage, *_ in self._plan if isinstance(stage, DocumentAssembler)
        }
        kept |= {"doc_id"} | {
            stage.getIdCol()
            for stage, *_ in self._plan
            if isinstance(stage, DocumentAssembler) and stage.isDefined(stage.idCol)
        }
        return [{c: anns for c, anns in row.items() if c in kept} for row in rows]


#: The reference's refusal of an input it does not take.
_UNSUPPORTED = {
    "annotate": "Unsupported input for annotate(). Expected: (text: str | list[str]), "
    "(ids: list[int], texts: list[str]), or (question: str, context: str).",
    "fullAnnotate": "Unsupported input for fullAnnotate(). Expected: (text: str | list[str]), "
    "(ids: list[int], texts: list[str]), (question: str, context: str), (audio: list[float] | "
    "list[list[float]]), or (image_path: str | list[str]).",
}


def _all(values: Any, kind: type | tuple[type, ...]) -> bool:
    """A list of ``kind`` (empty included; bool counts as int, as for the reference)."""
    return isinstance(values, list) and all(isinstance(v, kind) for v in values)


def _is_metadata(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


def _call_form(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any, Any]:
    """The call form of ``annotate``/``fullAnnotate`` arguments, as the reference reads them:
    ``target=`` goes before the positional arguments, ``optional_target=`` after them, and a
    second argument that is a dict (or a list of dicts) is the metadata."""
    kwargs = dict(kwargs)
    metadata = kwargs.pop("metadata", None)
    if "target" in kwargs:
        args = (kwargs.pop("target"), *args)
    if "optional_target" in kwargs:
        args = (*args, kwargs.pop("optional_target"))
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword arguments {sorted(kwargs)}")
    if metadata is None and len(args) == 2 and _is_metadata(args[1]):
        args, metadata = (args[0],), args[1]
    if len(args) == 2:
        first, second = args
        if _all(first, int) and _all(second, str):  # before qa: two empty lists are ids
            return "ids_texts", args, metadata
        if isinstance(first, str) and isinstance(second, str):
            return "qa", args, metadata
        if _all(first, str) and _all(second, str):
            return "qas", args, metadata
    if len(args) == 1:
        target = args[0]
        if isinstance(target, str):
            return "text", args, metadata
        if target and _all(target, str):
            return "texts", args, metadata
        # ours: a row as {input column: text} (pipelines of several DocumentAssemblers)
        if isinstance(target, Mapping):
            return "row", args, metadata
        if target and _all(target, Mapping):
            return "rows", args, metadata
    raise TypeError(_UNSUPPORTED[method])


def _text_metadata(target: Any, metadata: Any) -> None:
    """Check metadata for text input as the reference does (no stage here reads it)."""
    if metadata is None or isinstance(target, str):
        return
    if isinstance(metadata, dict):
        for values in metadata.values():
            if not isinstance(values, list):
                raise TypeError(
                    "When passing multiple texts with dict metadata, each metadata value must be "
                    "a list."
                )
            if len(values) != len(target):
                raise TypeError(
                    "When passing multiple texts with dict metadata, each metadata list must "
                    "have the same length as target."
                )
        return
    if not isinstance(metadata, list):
        raise TypeError(
            "metadata must be a list of dicts or a dict of lists when passing multiple texts."
        )
    if len(metadata) != len(target):
        raise TypeError("metadata and target must have the same length.")
