"""Token classification's core: one ``named_entity`` per token, labelled at its first piece
(Spark-free; the stage is ``annotators.token_classifier``)."""

from __future__ import annotations

from annotators.annotation import (
    NAMED_ENTITY,
    AnnotationDict,
    make_annotation,
    sentence_key,
)
from annotators.deberta.classification import score_text, softmax
from annotators.deberta.encoder import (
    EncoderSettings,
    encode,
    plan_token_rows,
    runtime_for,
)


def tag_rows(
    rows: list[list[AnnotationDict]], settings: EncoderSettings, labels: tuple[str, ...]
) -> list[list[AnnotationDict]]:
    """``named_entity`` annotations for each row's tokens (the stage's core)."""
    runtime = runtime_for(settings)
    planned_rows, sequences = plan_token_rows(rows, runtime, settings)
    scores = softmax(encode(sequences, sum(map(len, planned_rows)), runtime, settings))
    outputs: list[list[AnnotationDict]] = []
    index = 0
    for planned in planned_rows:
        row_out = []
        for item in planned:
            token, token_scores = item.token, scores[index]
            metadata = {"sentence": sentence_key(token), "word": token["result"]}
            metadata.update(
                {label: score_text(s) for label, s in zip(labels, token_scores, strict=True)}
            )
            label = labels[int(token_scores.argmax())]
            row_out.append(
                make_annotation(NAMED_ENTITY, token["begin"], token["end"], label, metadata)
            )
            index += 1
        outputs.append(row_out)
    return outputs
