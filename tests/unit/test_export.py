"""The exporter on real Hugging Face checkpoints built here (random weights, DeBERTa-v3 shape)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from annotators.deberta.export import export_checkpoint  # noqa: E402
from annotators.deberta.model_folder import load_model_folder  # noqa: E402
from annotators.deberta.synthetic import build_random_checkpoint, train_spm  # noqa: E402
from annotators.errors import ExportError  # noqa: E402
from pipelines.cli import main as cli  # noqa: E402
from tests.fixtures.make_tiny_model import CORPUS  # noqa: E402
from tests.support import TINY_SHAPE  # noqa: E402

SHAPE = TINY_SHAPE


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    work = tmp_path_factory.mktemp("checkpoint")
    spm_model = train_spm(work, CORPUS, vocab_size=600)
    return build_random_checkpoint(work / "hf", spm_model, SHAPE, seed=3)


def test_export_writes_a_checked_folder_with_int8(checkpoint, tmp_path) -> None:
    folder = export_checkpoint(
        str(checkpoint), tmp_path / "out", quantize="int8", name="tiny", lang="xx"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["files"]) == ["model.onnx", "model_int8.onnx", "spm.model"]
    assert manifest["parity"]["max_abs_diff"] <= 1e-4
    assert manifest["quantization"]["cosine_to_fp32"] > 0.99
    assert (manifest["name"], manifest["language"], manifest["dimension"]) == ("tiny", "xx", 16)
    assert manifest["special_tokens"] == {
        "[PAD]": 0,
        "[CLS]": 1,
        "[SEP]": 2,
        "[UNK]": 3,
        "[MASK]": 4,
    }
    assert manifest["exporter"]["opset"] == 17 and manifest["labels"] is None
    load_model_folder(folder)


def test_exported_graph_matches_pytorch_on_new_lengths(checkpoint, tmp_path) -> None:
    import onnxruntime as ort
    from transformers import DebertaV2Model

    folder = export_checkpoint(str(checkpoint), tmp_path / "out")
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    model = DebertaV2Model.from_pretrained(str(checkpoint)).eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 600, size=(2, 77)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 50:] = 0
    ids[1, 50:] = 0
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    with torch.no_grad():
        want = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))[
            0
        ].numpy()
    assert np.abs(got[0] - want[0]).max() <= 1e-4
    assert np.abs(got[1, :50] - want[1, :50]).max() <= 1e-4


def test_export_refuses_to_write_when_parity_is_worse_than_the_limit(checkpoint, tmp_path) -> None:
    with pytest.raises(
        ExportError, match="differs from PyTorch by .* above the limit 0: nothing was written"
    ):
        export_checkpoint(str(checkpoint), tmp_path / "out", max_abs_diff=0.0)
    assert not (tmp_path / "out").exists()


def test_export_refuses_an_existing_folder_unless_overwrite(checkpoint, tmp_path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="exists and is not empty"):
        export_checkpoint(str(checkpoint), target)
    export_checkpoint(str(checkpoint), target, overwrite=True)
    assert not (target / "keep.txt").exists() and (target / "model.onnx").is_file()


def test_export_needs_the_checkpoints_spm_model(checkpoint, tmp_path) -> None:
    copy = tmp_path / "ckpt"
    shutil.copytree(checkpoint, copy)
    (copy / "spm.model").unlink()
    with pytest.raises(ExportError, match="has no spm.model"):
        export_checkpoint(str(copy), tmp_path / "out")


def test_export_command(checkpoint, tmp_path, capsys) -> None:
    code = cli(
        [
            "export",
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / "cli"),
            "--name",
            "tiny",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "parity vs PyTorch (max abs):" in printed
    assert (
        cli(["export", "--checkpoint", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
        == 1
    )


@pytest.mark.parametrize("num_labels", [3, 1])
def test_classifier_export_and_stage_match_pytorch(checkpoint, tmp_path, num_labels) -> None:
    """A 3-label head gives softmax scores, a 1-output regression head its raw score."""
    from transformers import DebertaV2ForSequenceClassification

    from annotators import DeBertaForSequenceClassification, LightPipeline
    from annotators.deberta.encoder import runtime_for

    source = build_random_checkpoint(
        tmp_path / "hf", checkpoint / "spm.model", SHAPE, num_labels=num_labels, seed=4
    )
    if num_labels == 1:
        config = json.loads((source / "config.json").read_text())
        config["problem_type"] = "regression"
        (source / "config.json").write_text(json.dumps(config))
    folder = export_checkpoint(str(source), tmp_path / "out", task="sequence-classification")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["output"] == "logits" and len(manifest["labels"]) == num_labels
    assert manifest["parity"]["max_abs_diff"] <= 1e-4

    from annotators import DocumentAssembler, SentenceDetector, TokenizerModel

    stage = DeBertaForSequenceClassification.loadSavedModel(str(folder)).setInputCols(
        ["sentence", "token"]
    )
    light = LightPipeline(
        [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            TokenizerModel().setInputCols("sentence"),
            stage,
        ]
    )
    text = "It is a truth universally acknowledged."
    [category] = light.run_row(text)["category"]
    tokens = light.run_row(text)["token"]
    runtime = runtime_for(stage.settings())
    ids = [1, *[p for t in tokens for p in runtime.token_pieces(t["result"])], 2]
    model = DebertaV2ForSequenceClassification.from_pretrained(str(source)).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]))[0][0].double()
    if num_labels == 1:
        assert float(category["result"]) == pytest.approx(float(logits[0]), abs=1e-4)
        assert category["metadata"]["score"] == category["result"]
    else:
        expected = torch.softmax(logits, -1).tolist()
        labels = manifest["labels"]
        got = [float(category["metadata"][label]) for label in labels]
        assert np.abs(np.asarray(got) - np.asarray(expected)).max() <= 1e-4
        assert category["result"] == labels[int(np.argmax(expected))]


@pytest.mark.parametrize(
    ("task", "labels", "outputs"),
    [
        ("token-classification", ["O", "B-PER", "I-PER"], "logits"),
        ("question-answering", None, ["start_logits", "end_logits"]),
        ("zero-shot-classification", ["entailment", "neutral", "contradiction"], "logits"),
    ],
)
def test_family_tasks_export_with_the_parity_guard(checkpoint, tmp_path, task, labels, outputs):
    """Each head's graph matches PyTorch at every unpadded position (or per sequence) to 1e-4,
    and its folder names the outputs and labels the stage reads."""
    import onnxruntime as ort
    import transformers

    from annotators.tasks import TASKS

    source = build_random_checkpoint(
        tmp_path / "hf",
        checkpoint / "spm.model",
        SHAPE,
        num_labels=len(labels) if labels else None,
        labels=labels,
        seed=6,
        task=task,
    )
    folder = export_checkpoint(str(source), tmp_path / "out", task=task, quantize="int8")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["task"], manifest["output"], manifest["labels"]) == (task, outputs, labels)
    assert manifest["parity"]["max_abs_diff"] <= 1e-4
    assert manifest["quantization"]["cosine_to_fp32"] > 0.9
    load_model_folder(folder)
    model = getattr(transformers, TASKS[task].head).from_pretrained(str(source)).eval()
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = np.array([[1, 40, 41, 42, 43, 44, 45, 2]], dtype=np.int64)
    mask = np.ones_like(ids)
    with torch.no_grad():
        expected = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    names = [outputs] if isinstance(outputs, str) else outputs
    got = session.run(names, {"input_ids": ids, "attention_mask": mask})
    for name, value in zip(names, got, strict=True):
        assert np.abs(expected[name].numpy() - value).max() <= 1e-4


def test_zero_shot_export_needs_an_nli_model(checkpoint, tmp_path) -> None:
    source = build_random_checkpoint(
        tmp_path / "hf", checkpoint / "spm.model", SHAPE, num_labels=2, labels=["neg", "pos"]
    )
    with pytest.raises(ExportError, match="entailment"):
        export_checkpoint(str(source), tmp_path / "out", task="zero-shot-classification")
    assert not (tmp_path / "out").exists()
