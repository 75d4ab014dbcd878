"""Every bad parameter value is refused at construction, at set time and at load time (the
Param's converter is the one home of each check); cross-parameter rules when the stage runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotators import (
    DeBertaEmbeddings,
    DeBertaForQuestionAnswering,
    DeBertaForSequenceClassification,
    DeBertaForTokenClassification,
    DeBertaForZeroShotClassification,
    DocumentAssembler,
    NerConverter,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
    TokenizerModel,
)
from annotators.errors import ParamError, SparkDebertaError, StageInputError
from tests.support import param_stages

#: (stage class, parameter, bad value, message)
RULES = [
    (SentenceDetector, "customBoundsStrategy", "middle", "customBoundsStrategy 'middle' is not"),
    (SentenceDetector, "customBounds", ["("], "customBounds: pattern '\\(' is not a valid regex"),
    (SentenceDetector, "minLength", -1, "minLength must be >= 0, got -1"),
    (SentenceDetector, "maxLength", 0, "maxLength must be >= 1, got 0"),
    (SentenceDetector, "splitLength", -3, "splitLength must be >= 0, got -3"),
    (Tokenizer, "targetPattern", "[", "targetPattern: pattern '\\[' is not a valid regex"),
    (Tokenizer, "prefixPattern", "([A-Z])", "prefixPattern must begin with \\\\A"),
    (Tokenizer, "suffixPattern", "([a-z])", "suffixPattern must end with \\\\z"),
    (Tokenizer, "infixPatterns", ["abc"], "infixPatterns must use regex groups"),
    (Tokenizer, "exceptions", ["(unclosed"], "exceptions: pattern .* is not a valid regex"),
    (Tokenizer, "splitPattern", "(", "splitPattern: pattern '\\(' is not a valid regex"),
    (Tokenizer, "contextChars", ["ab"], "contextChars: every element must be one character"),
    (Tokenizer, "splitChars", ["--"], "splitChars: every element must be one character"),
    (Tokenizer, "minLength", -1, "minLength must be >= 0"),
    (TokenizerModel, "maxLength", -1, "maxLength must be >= 0"),
    (DocumentAssembler, "cleanupMode", "tidy", "cleanupMode 'tidy' is not supported"),
    (SentenceEmbeddings, "poolingStrategy", "median", "poolingStrategy 'median' is not"),
    (DeBertaEmbeddings, "batchSize", 0, "batchSize must be between 1 and 4096"),
    (DeBertaEmbeddings, "maxSentenceLength", 2, "maxSentenceLength must be between 3 and 512"),
    (DeBertaEmbeddings, "longSentenceStrategy", "drop", "longSentenceStrategy 'drop'"),
    (DeBertaEmbeddings, "engine", "tensorrt", "engine 'tensorrt' is not supported"),
    (DeBertaEmbeddings, "precision", "fp8", "precision 'fp8' is not supported"),
    (DeBertaEmbeddings, "executionProvider", "tpu", "executionProvider 'tpu'"),
    (DeBertaEmbeddings, "threads", -1, "threads must be between 0 and 1024"),
    (DeBertaForSequenceClassification, "activation", "relu", "activation 'relu'"),
    (DeBertaForTokenClassification, "batchSize", 5000, "batchSize must be between 1 and 4096"),
    (DeBertaForQuestionAnswering, "maxSentenceLength", 600, "maxSentenceLength must be between"),
    (DeBertaForZeroShotClassification, "candidateLabels", ["a", "a"], "candidateLabels repeat"),
    (DeBertaForZeroShotClassification, "candidateLabels", [" "], "must be non-empty labels"),
    (DeBertaForZeroShotClassification, "activation", "tanh", "activation 'tanh'"),
]
IDS = [f"{cls.__name__}.{name}={value!r}" for cls, name, value, _ in RULES]


def setter(stage, name: str):  # type: ignore[no-untyped-def]
    return getattr(stage, f"set{name[0].upper()}{name[1:]}")


@pytest.mark.parametrize(("cls", "name", "value", "message"), RULES, ids=IDS)
def test_refused_at_construction(cls, name, value, message) -> None:
    with pytest.raises(ParamError, match=message):
        cls(**{name: value})


@pytest.mark.parametrize(("cls", "name", "value", "message"), RULES, ids=IDS)
def test_refused_at_set_time(cls, name, value, message) -> None:
    with pytest.raises(ParamError, match=message):
        setter(cls(), name)(value)
    with pytest.raises(ParamError, match=message):
        cls()._set(**{name: value})


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"


def save_stage(cls, path: Path) -> None:  # type: ignore[no-untyped-def]
    """A stage of ``cls`` saved at ``path`` (DeBERTa stages with their model folder)."""
    from annotators.deberta.pretrained import BUNDLED_DIR

    folders = {
        DeBertaEmbeddings: BUNDLED_DIR / "deberta_v3_tiny_random_en",
        DeBertaForSequenceClassification: FIXTURES / "deberta_v3_tiny_ko_classifier",
        DeBertaForTokenClassification: FIXTURES / "deberta_v3_tiny_ner",
        DeBertaForQuestionAnswering: FIXTURES / "deberta_v3_tiny_qa",
        DeBertaForZeroShotClassification: FIXTURES / "deberta_v3_tiny_nli",
    }
    stage = cls.loadSavedModel(str(folders[cls])) if cls in folders else cls()
    stage.write().overwrite().save(str(path))


@pytest.mark.parametrize(("cls", "name", "value", "message"), RULES, ids=IDS)
def test_refused_at_load_time(spark, cls, name, value, message, tmp_path: Path) -> None:
    """A saved stage whose params JSON was edited to a bad value does not load."""
    save_stage(cls, tmp_path / "stage")
    [metadata] = (tmp_path / "stage" / "metadata").glob("part-*")
    saved = json.loads(metadata.read_text())
    saved["paramMap"][name] = value
    metadata.write_text(json.dumps(saved))
    for checksum in metadata.parent.glob(".*.crc"):  # Hadoop's checksum of the old text
        checksum.unlink()
    with pytest.raises(ValueError, match=message):
        cls.load(str(tmp_path / "stage"))


@pytest.mark.parametrize("cls", [SentenceDetector, Tokenizer])
def test_min_above_max_is_refused_when_the_stage_runs(cls) -> None:
    stage = cls(minLength=5, maxLength=2)  # either order of setting is accepted here
    with pytest.raises(StageInputError, match="maxLength \\(2\\) must be >= minLength \\(5\\)"):
        stage.rules()
    assert isinstance(stage.setMaxLength(9).rules(), object)


def test_unknown_keywords_and_setter_docs() -> None:
    with pytest.raises(ParamError, match="has no parameter bogus; known: .*batchSize"):
        DeBertaEmbeddings(bogus=1)
    with pytest.raises(SparkDebertaError, match="read_as 'SPARK'"):
        Tokenizer().setExceptionsPath("x.txt", read_as="SPARK")
    with pytest.raises(ParamError, match="options"):
        Tokenizer().setExceptionsPath("x.txt", options={"format": "csv"})
    assert SentenceEmbeddings(poolingStrategy="sum").getPoolingStrategy() == "SUM"
    assert SentenceEmbeddings().setPoolingStrategy("average").getPoolingStrategy() == "AVERAGE"
    assert NerConverter(whiteList=["PER"]).getWhiteList() == ["PER"]


def test_every_setter_and_getter_carries_its_parameters_doc() -> None:
    """help(stage.setX) says what X means: each set/get method has a docstring, the Param's doc
    unless the method has its own."""

    missing = []
    for name, cls in param_stages().items():
        for param in cls().params:
            capital = param.name[0].upper() + param.name[1:]
            for prefix in ("set", "get"):
                method = getattr(cls, f"{prefix}{capital}", None)
                if method is not None and not method.__doc__:
                    missing.append(f"{name}.{prefix}{capital}")
    assert not missing, missing
