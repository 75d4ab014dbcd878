"""Spark NLP model folders in (``loadSparkNlpModel``) and out (``writeSparkNlpImport``).

No real Spark NLP download can be reached here, so the folders are built in each test to the
reference's documented layout (metadata/part-00000 params JSON, the ONNX graph zipped as
deberta_onnx or deberta_classification_onnx, the SentencePiece model as deberta_spp, labels in
fields/ as a JVM object file) from the committed tiny models.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotators import (
    DeBertaEmbeddings,
    DeBertaForQuestionAnswering,
    DeBertaForTokenClassification,
    DocumentAssembler,
    LightPipeline,
    SentenceDetector,
    TokenizerModel,
)
from annotators.deberta.pretrained import BUNDLED_DIR
from annotators.errors import ModelFolderError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
EMBEDDINGS = BUNDLED_DIR / "deberta_v3_tiny_random_en"
NER = FIXTURES / "deberta_v3_tiny_ner"
QA = FIXTURES / "deberta_v3_tiny_qa"
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
PACKAGE = "com.johnsnowlabs.nlp"
TEXT = "John Lennon was born in Liverpool. 김철수는 서울에서 태어났다."


def spark_nlp_folder(
    model: Path, target: Path, spark_class: str, graph: Path | None = None, data: Path | None = None
) -> Path:
    """A folder as Spark NLP's ``save`` writes it, from one of our model folders."""
    zip_name = (
        "deberta_onnx" if spark_class.endswith("Embeddings") else "deberta_classification_onnx"
    )
    (target / "metadata").mkdir(parents=True)
    params = {"caseSensitive": True, "maxSentenceLength": 128, "batchSize": 8}
    saved = {
        "class": spark_class,
        "timestamp": 1700000000000,
        "sparkVersion": "3.5.1",
        "uid": "DEBERTA_1f2e3d",
        "paramMap": {**params, "inputCols": ["document", "token"], "outputCol": "out"},
        "defaultParamMap": {"lazyAnnotator": False, "engine": "onnx"},
    }
    (target / "metadata" / "part-00000").write_text(json.dumps(saved) + "\n")
    (target / "metadata" / "_SUCCESS").write_text("")
    (target / "fields" / "labels").mkdir(parents=True)
    (target / "fields" / "labels" / "part-00000").write_bytes(b"SEQ\x06!org.apache.hadoop.io")
    with zipfile.ZipFile(target / zip_name, "w") as zipped:
        zipped.write(graph or model / "model.onnx", "deberta.onnx")
    if data is not None:
        shutil.copyfile(data, target / data.name)
    shutil.copyfile(model / "spm.model", target / "deberta_spp")
    return target


def token_pipeline(stage) -> LightPipeline:  # type: ignore[no-untyped-def]
    return LightPipeline(
        [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            TokenizerModel().setInputCols("sentence"),
            stage.setInputCols(["sentence", "token"]).setOutputCol("out"),
        ]
    )


def test_embeddings_folder_imports_and_gives_the_same_vectors(tmp_path: Path) -> None:
    source = spark_nlp_folder(
        EMBEDDINGS, tmp_path / "snlp", f"{PACKAGE}.embeddings.DeBertaEmbeddings"
    )
    imported = DeBertaEmbeddings.loadSparkNlpModel(source, out=tmp_path / "ours")
    manifest = json.loads((tmp_path / "ours" / "manifest.json").read_text())
    assert (manifest["task"], manifest["output"], manifest["dimension"]) == (
        "embeddings",
        "last_hidden_state",
        32,
    )
    assert manifest["source"]["class"].endswith("DeBertaEmbeddings")
    original = DeBertaEmbeddings.loadSavedModel(str(EMBEDDINGS))
    got = token_pipeline(imported).fullAnnotate(TEXT)[0]["out"]
    want = token_pipeline(original).fullAnnotate(TEXT)[0]["out"]
    assert [a.result for a in got] == [a.result for a in want]
    assert np.allclose([a.embeddings for a in got], [a.embeddings for a in want], atol=1e-6)


@pytest.mark.parametrize("labels_as_file", [False, True])
def test_token_classifier_folder_imports_with_the_given_labels(
    tmp_path: Path, labels_as_file
) -> None:
    source = spark_nlp_folder(
        NER, tmp_path / "snlp", f"{PACKAGE}.annotators.classifier.dl.DeBertaForTokenClassification"
    )
    labels: list[str] | Path = NER_LABELS
    if labels_as_file:
        labels = tmp_path / "labels.txt"
        labels.write_text("\n".join(NER_LABELS) + "\n")
    imported = DeBertaForTokenClassification.loadSparkNlpModel(
        source, out=tmp_path / "ours", labels=labels
    )
    assert imported.getClasses() == NER_LABELS
    original = DeBertaForTokenClassification.loadSavedModel(str(NER))
    got = token_pipeline(imported).fullAnnotate(TEXT)[0]["out"]
    want = token_pipeline(original).fullAnnotate(TEXT)[0]["out"]
    assert [(a.begin, a.result, a.metadata) for a in got] == [
        (a.begin, a.result, a.metadata) for a in want
    ]


def test_question_answering_folder_keeps_both_outputs(tmp_path: Path) -> None:
    source = spark_nlp_folder(
        QA, tmp_path / "snlp", f"{PACKAGE}.annotators.classifier.dl.DeBertaForQuestionAnswering"
    )
    imported = DeBertaForQuestionAnswering.loadSparkNlpModel(source, out=tmp_path / "ours")
    manifest = imported.model_folder().manifest.to_json()
    assert manifest["output"] == ["start_logits", "end_logits"] and manifest["labels"] is None


def test_classifier_folder_needs_matching_labels(tmp_path: Path) -> None:
    source = spark_nlp_folder(
        NER, tmp_path / "snlp", f"{PACKAGE}.annotators.classifier.dl.DeBertaForTokenClassification"
    )
    with pytest.raises(ModelFolderError, match="labels=.*labels.txt"):
        DeBertaForTokenClassification.loadSparkNlpModel(source, out=tmp_path / "a")
    with pytest.raises(ModelFolderError, match="gives 5 scores, but 2 labels"):
        DeBertaForTokenClassification.loadSparkNlpModel(
            source, out=tmp_path / "b", labels=["O", "X"]
        )
    assert not (tmp_path / "b").exists()


def test_folders_that_cannot_be_read_are_refused_clearly(tmp_path: Path) -> None:
    other = spark_nlp_folder(EMBEDDINGS, tmp_path / "bert", f"{PACKAGE}.embeddings.BertEmbeddings")
    with pytest.raises(ModelFolderError, match="BertEmbeddings, not a DeBERTa model"):
        DeBertaEmbeddings.loadSparkNlpModel(other, out=tmp_path / "x")
    corrupt = spark_nlp_folder(
        EMBEDDINGS, tmp_path / "corrupt", f"{PACKAGE}.embeddings.DeBertaEmbeddings"
    )
    (corrupt / "deberta_onnx").write_bytes(b"not a zip")
    with pytest.raises(ModelFolderError, match="not a zip file"):
        DeBertaEmbeddings.loadSparkNlpModel(corrupt, out=tmp_path / "y")
    with pytest.raises(ModelFolderError, match="not a saved Spark NLP model"):
        DeBertaEmbeddings.loadSparkNlpModel(tmp_path, out=tmp_path / "z")
    wrong_task = spark_nlp_folder(
        QA, tmp_path / "qa", f"{PACKAGE}.annotators.classifier.dl.DeBertaForQuestionAnswering"
    )
    with pytest.raises(
        ModelFolderError, match="question-answering model.*DeBertaForQuestionAnswering"
    ):
        DeBertaEmbeddings.loadSparkNlpModel(wrong_task, out=tmp_path / "w")


def test_a_graph_with_token_type_ids_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Add", ["input_ids", "token_type_ids"], ["summed"]),
        helper.make_node("Mul", ["summed", "attention_mask"], ["masked"]),
        helper.make_node("Cast", ["masked"], ["last_hidden_state"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, "bert_like", inputs, [output])
    path = tmp_path / "bert.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    source = spark_nlp_folder(
        EMBEDDINGS, tmp_path / "snlp", f"{PACKAGE}.embeddings.DeBertaEmbeddings", graph=path
    )
    with pytest.raises(ModelFolderError, match="token_type_ids.*feeds"):
        DeBertaEmbeddings.loadSparkNlpModel(source, out=tmp_path / "ours")


def test_a_graph_with_external_data_beside_the_zip_imports(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(EMBEDDINGS / "model.onnx"))
    external = tmp_path / "external"
    external.mkdir()
    onnx.save_model(
        model,
        str(external / "deberta.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="deberta.onnx_data",
        size_threshold=0,
    )
    source = spark_nlp_folder(
        EMBEDDINGS,
        tmp_path / "snlp",
        f"{PACKAGE}.embeddings.DeBertaEmbeddings",
        graph=external / "deberta.onnx",
        data=external / "deberta.onnx_data",
    )
    imported = DeBertaEmbeddings.loadSparkNlpModel(source, out=tmp_path / "ours")
    assert "deberta.onnx_data" in imported.model_folder().manifest.files
    got = token_pipeline(imported).fullAnnotate(TEXT)[0]["out"]
    want = token_pipeline(DeBertaEmbeddings.loadSavedModel(str(EMBEDDINGS))).fullAnnotate(TEXT)[0][
        "out"
    ]
    assert np.allclose([a.embeddings for a in got], [a.embeddings for a in want], atol=1e-6)


def test_write_spark_nlp_import_layout(tmp_path: Path) -> None:
    stage = DeBertaForTokenClassification.loadSavedModel(str(NER))
    out = stage.writeSparkNlpImport(tmp_path / "for_spark_nlp")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "assets/labels.txt",
        "assets/spm.model",
        "model.onnx",
    ]
    assert (out / "assets" / "labels.txt").read_text().splitlines() == NER_LABELS
    assert (out / "model.onnx").read_bytes() == (NER / "model.onnx").read_bytes()
    assert (out / "assets" / "spm.model").read_bytes() == (NER / "spm.model").read_bytes()
    embeddings = DeBertaEmbeddings.loadSavedModel(str(EMBEDDINGS)).writeSparkNlpImport(
        tmp_path / "e"
    )
    assert not (embeddings / "assets" / "labels.txt").exists()
