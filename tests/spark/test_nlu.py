"""One-liners: nlu.load(reference).predict(...) on the driver, equal to the Spark path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from annotators import nlu
from tests.support import annotations_of

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
CLASSIFIER = FIXTURES / "deberta_v3_tiny_ko_classifier"


def test_embed_one_liner_gives_one_row_per_token_equal_to_spark(spark) -> None:
    pipeline = nlu.load("en.embed.deberta_v3_tiny_random")
    frame = pipeline.predict("Put your text here.")
    assert list(frame.columns) == ["index", "sentence", "token", "begin", "end", "embedding"]
    assert frame["token"].tolist() == ["Put", "your", "text", "here", "."]
    assert frame["embedding"].iloc[0].shape == (32,)

    data = spark.createDataFrame([("Put your text here.",)], "text string")
    [vectors] = annotations_of(pipeline.transform(data).collect(), "embeddings")
    spark_vectors = np.asarray([v["embeddings"] for v in vectors], dtype=np.float32)
    assert np.abs(np.stack(frame["embedding"].tolist()) - spark_vectors).max() <= 1e-5


def test_predict_takes_lists_and_series_and_keeps_empty_texts() -> None:
    pipeline = nlu.load("deberta_v3_tiny_random", "en")
    frame = pipeline.predict(pd.Series(["Hi there.", None, "  ", "Bye."], index=[10, 11, 12, 13]))
    assert frame["index"].tolist() == [10, 10, 10, 11, 12, 13, 13]
    assert frame["token"].tolist() == ["Hi", "there", ".", None, None, "Bye", "."]
    assert frame.loc[frame["index"] == 11, "token"].isna().all()
    assert frame.loc[frame["index"] == 13, "token"].tolist() == ["Bye", "."]


def test_classify_one_liner_by_folder_gives_labels_and_scores(spark) -> None:
    pipeline = nlu.load(str(CLASSIFIER))
    texts = ["정말 재미있었어요! 또 보고 싶네요.", "", "서비스가 불친절했습니다."]
    frame = pipeline.predict(texts)
    assert list(frame.columns) == ["index", "text", "label", "negative", "neutral", "positive"]
    assert frame["index"].tolist() == [0, 1, 2]
    assert frame["label"].iloc[1] is None and np.isnan(frame["neutral"].iloc[1])
    scores = frame.loc[[0, 2], ["negative", "neutral", "positive"]].to_numpy()
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)

    data = spark.createDataFrame([(t,) for t in texts], "text string")
    rows = annotations_of(pipeline.transform(data).collect(), "category")
    assert [r[0]["result"] if r else None for r in rows] == frame["label"].tolist()
    assert [len(r) for r in rows] == [1, 0, 1]  # coalesced: one label per text
    assert float(rows[0][0]["metadata"]["neutral"]) == pytest.approx(frame["neutral"][0], abs=1e-6)


def test_references_resolve_through_the_cache_and_check_the_task(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path))
    shutil.copytree(CLASSIFIER, tmp_path / "deberta_v3_tiny_ko_classifier_ko")
    frame = nlu.load("ko.classify.deberta_v3_tiny_ko_classifier").predict("좋아요.")
    assert frame["label"].iloc[0] in ("negative", "neutral", "positive")
    with pytest.raises(
        ValueError, match="asks for the embeddings task.*holds a sequence-classification model"
    ):
        nlu.load("ko.embed.deberta_v3_tiny_ko_classifier")
    with pytest.raises(ValueError, match="cannot read the model reference 'a.b'"):
        nlu.load("a.b")


def test_family_one_liners_resolve_their_references(monkeypatch, tmp_path, spark) -> None:
    """NER gives entity chunks, question answering answers, zero-shot candidate scores: each
    equal to the same pipeline run through Spark."""
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path))
    for name in ("deberta_v3_tiny_ner", "deberta_v3_tiny_qa", "deberta_v3_tiny_nli"):
        shutil.copytree(FIXTURES / name, tmp_path / f"{name}_xx")
    texts = ["John Lennon was born in Liverpool. 김철수는 서울에서 태어났다.", None]

    ner = nlu.load("xx.ner.deberta_v3_tiny_ner")
    chunks = ner.predict(texts)
    data = spark.createDataFrame([(t,) for t in texts], "text string")
    rows = annotations_of(ner.transform(data).collect(), "ner_chunk")
    assert chunks["chunk"].dropna().tolist() == [c["result"] for r in rows for c in r]
    assert chunks["index"].tolist()[-1] == 1 and chunks["entity"].tolist()[-1] is None
    for chunk in chunks.dropna(subset=["chunk"]).itertuples():
        assert texts[chunk.index][chunk.begin : chunk.end + 1] == chunk.chunk

    qa = nlu.load("xx.answer_question.deberta_v3_tiny_qa")
    pairs = [("What's my name?", "My name is Clara and I live in Berkeley."), ("Who?", None)]
    answers = qa.predict(pairs)
    assert answers["answer"].tolist()[1] is None
    assert pairs[0][1][answers["begin"][0] : answers["end"][0] + 1] == answers["answer"][0]
    frame = spark.createDataFrame(pairs, "question string, context string")
    [answer] = annotations_of(qa.transform(frame).collect(), "answer")[0]
    assert answer["result"] == answers["answer"][0]

    zero_shot = nlu.load(
        "xx.classify.zero_shot.deberta_v3_tiny_nli", candidate_labels=["sports", "music"]
    )
    scores = zero_shot.predict(["The band played all night."])
    assert scores["label"][0] in ("sports", "music")
    assert scores["sports"][0] + scores["music"][0] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="candidate_labels"):
        nlu.load("xx.zero_shot.deberta_v3_tiny_nli")
    with pytest.raises(ValueError, match="asks for the token-classification task"):
        nlu.load("xx.ner.deberta_v3_tiny_qa")
