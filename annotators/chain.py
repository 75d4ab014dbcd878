"""One crossing: consecutive annotators of a pipeline run in one Python pass per Arrow batch.

Run one by one, each annotator is its own Arrow UDF: Spark sends its input annotation columns
to a Python worker and reads its output back, so a pipeline of three annotators converts the
document column to Python dictionaries and the sentences and tokens back and forth several
times. Chained, the first stage's inputs enter Python once and every output leaves once; each
output column is still in the result, where it would have been.

``fuse(model)`` gives a ``PipelineModel`` that runs this way; the batch job does it too. A
chain holds stages whose whole work is their core (``AnnotatorModel`` without its own
``_transform``); it ends after a stage that reshapes rows (``explodeSentences``) and before a
stage that writes a column the chain already wrote. Set ``SPARK_DEBERTA_FUSE=0`` to run every
stage alone (to compare, or to work around a problem).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pyspark.ml import PipelineModel, Transformer
from pyspark.sql import DataFrame

from annotators.stage import AnnotatorModel, annotate_chain

#: The environment variable that turns chaining off ("0", "false", "no", "off").
FUSE_ENV = "SPARK_DEBERTA_FUSE"


def fusing_enabled() -> bool:
    """Whether chains are built (``SPARK_DEBERTA_FUSE``; on unless set to a false word)."""
    return os.environ.get(FUSE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def chainable(stage: Transformer) -> bool:
    """Whether the stage's whole transform is its core, so it can join a chain."""
    return isinstance(stage, AnnotatorModel) and type(stage)._transform is AnnotatorModel._transform


def stage_groups(stages: Sequence[Transformer]) -> list[list[Transformer]]:
    """The stages in order, consecutive chainable ones grouped (every group of one when
    fusing is off)."""
    fuse = fusing_enabled()
    groups: list[list[Transformer]] = []
    open_chain = False
    for stage in stages:
        joins = (
            fuse
            and open_chain
            and chainable(stage)
            and stage.getOutputCol() not in {s.getOutputCol() for s in groups[-1]}
        )
        if joins:
            groups[-1].append(stage)
        else:
            groups.append([stage])
        open_chain = chainable(stage) and not stage.reshapes_rows()
    return groups


def run_group(group: Sequence[Transformer], dataset: DataFrame) -> DataFrame:
    """Transform with one group of ``stage_groups``: a chain, or one stage as it is."""
    if len(group) == 1:
        return group[0].transform(dataset)
    annotated = annotate_chain(dataset, group)  # type: ignore[arg-type]
    for stage in group:
        annotated = stage._after_transform(annotated)  # type: ignore[attr-defined]
    return annotated


class StageChain(Transformer):
    """Consecutive annotators run as one chain (built by ``fuse``; not saved: save the model
    you fused)."""

    def __init__(self, stages: Sequence[AnnotatorModel]) -> None:
        super().__init__()
        self.stages = list(stages)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return run_group(self.stages, dataset)


def fuse(model: PipelineModel | Sequence[Transformer]) -> PipelineModel:
    """The same pipeline with each run of consecutive annotators as one ``StageChain``.

    ``fuse(model).transform(df)`` returns what ``model.transform(df)`` returns, column for
    column, with fewer crossings between the JVM and Python. Nested ``PipelineModel`` stages
    are fused inside.
    """
    stages = model.stages if isinstance(model, PipelineModel) else list(model)
    flat: list[Transformer] = []
    for stage in stages:
        flat.extend(fuse(stage).stages if isinstance(stage, PipelineModel) else [stage])
    return PipelineModel(
        [group[0] if len(group) == 1 else StageChain(group) for group in stage_groups(flat)]
    )
