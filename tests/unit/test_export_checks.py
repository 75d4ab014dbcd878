"""The exporter's checks on real checkpoints built here (random weights, DeBERTa-v3 shape):
the task from config.json and no random heads; spm.model built from tokenizer.json and proved
on a corpus; the runtime's per-word pieces against the Hugging Face tokenizer's."""

from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from annotators.deberta.export import export_checkpoint
from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.synthetic import build_random_checkpoint, train_spm
from annotators.deberta.tokenizer_json import CORPUS, spm_from_tokenizer_json
from annotators.errors import ExportError
from pipelines.cli import main as cli
from tests.fixtures.make_tiny_model import CORPUS as SAMPLE_TEXTS
from tests.support import TINY_SHAPE

SHAPE = TINY_SHAPE


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    return train_spm(tmp_path_factory.mktemp("spm"), SAMPLE_TEXTS, vocab_size=600)


@pytest.fixture(scope="module")
def base(spm_model, tmp_path_factory) -> Path:
    return build_random_checkpoint(tmp_path_factory.mktemp("base") / "hf", spm_model, SHAPE)


@pytest.fixture(scope="module")
def classifier(spm_model, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("classifier") / "hf"
    return build_random_checkpoint(
        folder, spm_model, SHAPE, num_labels=2, labels=["neg", "pos"], seed=5
    )


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def copy_without_architectures(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    del config["architectures"]
    (target / "config.json").write_text(json.dumps(config))
    return target


def converted_tokenizer_json(folder: Path) -> Path:
    """tokenizer.json as transformers' DebertaV2Converter makes it from the folder's spm.model
    (what a fast-tokenizer save holds: the Unigram vocabulary, spm's charsmap)."""
    import sentencepiece as spm
    from transformers.convert_slow_tokenizer import DebertaV2Converter

    processor = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    original = types.SimpleNamespace(
        vocab_file=str(folder / "spm.model"),
        do_lower_case=False,
        split_by_punct=False,
        legacy=True,
        convert_tokens_to_ids=processor.PieceToId,
    )
    DebertaV2Converter(original).converted().save(str(folder / "tokenizer.json"))
    return folder / "tokenizer.json"


def transformers_saved_tokenizer(folder: Path) -> Path:
    """What transformers (5, installed here) saves for the folder's tokenizer: tokenizer.json
    and tokenizer_config.json, no spm.model."""
    from transformers import AutoTokenizer

    saved = folder.parent / "saved_tokenizer"
    AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(saved))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(saved / name, folder / name)
    return folder / "tokenizer.json"


# -- item 10: the task comes from the checkpoint, and no head is ever random -----------------


@pytest.mark.slow
def test_a_classifier_exported_without_task_keeps_its_head(classifier, tmp_path) -> None:
    manifest = manifest_of(export_checkpoint(str(classifier), tmp_path / "out"))
    assert (manifest["task"], manifest["output"], manifest["labels"]) == (
        "sequence-classification",
        "logits",
        ["neg", "pos"],
    )
    assert manifest["source"]["task_from"] == "config.json architectures"
    assert manifest["source"]["head_dropped"] is None


def test_a_base_model_asked_for_a_head_is_refused(base, tmp_path, capsys) -> None:
    with pytest.raises(ExportError, match="carry no sequence-classification head"):
        export_checkpoint(str(base), tmp_path / "out", task="sequence-classification")
    args = ["export", "--checkpoint", str(base), "--out", str(tmp_path / "cli")]
    assert cli([*args, "--task", "token-classification"]) == 1
    message = capsys.readouterr().err
    assert message.startswith("spark-deberta export:") and message.count("\n") == 1
    assert "DebertaV2Model (embeddings)" in message and "random" in message
    assert not (tmp_path / "out").exists() and not (tmp_path / "cli").exists()


def test_another_heads_checkpoint_is_refused_though_its_weights_would_load(
    spm_model, tmp_path
) -> None:
    """A token classifier's classifier.* has a sequence classifier's shape: transformers loads it
    without a missing key, so only config.json's architectures tells them apart."""
    source = build_random_checkpoint(
        tmp_path / "ner", spm_model, SHAPE, num_labels=2, task="token-classification"
    )
    with pytest.raises(ExportError, match="DebertaV2ForTokenClassification"):
        export_checkpoint(str(source), tmp_path / "out", task="sequence-classification")


def test_a_random_head_is_refused_from_the_loading_info(base, tmp_path) -> None:
    """Without architectures in config.json, transformers' missing keys reveal the random head."""
    source = copy_without_architectures(base, tmp_path / "hf")
    with pytest.raises(ExportError, match=r"lacks its head .*classifier\.weight.*at random"):
        export_checkpoint(str(source), tmp_path / "out", task="sequence-classification")
    assert not (tmp_path / "out").exists()


def test_a_head_without_architectures_needs_an_explicit_task(classifier, tmp_path) -> None:
    source = copy_without_architectures(classifier, tmp_path / "hf")
    with pytest.raises(ExportError, match=r"names no architecture .*classifier.*pass --task"):
        export_checkpoint(str(source), tmp_path / "out")


@pytest.mark.slow
def test_explicit_embeddings_exports_the_encoder_and_says_the_head_was_dropped(
    classifier, tmp_path, capsys
) -> None:
    args = ["export", "--checkpoint", str(classifier), "--out", str(tmp_path / "out")]
    assert cli([*args, "--task", "embeddings"]) == 0
    printed = capsys.readouterr().out
    assert "DebertaV2ForSequenceClassification head was dropped" in printed
    manifest = manifest_of(tmp_path / "out")
    assert (manifest["task"], manifest["output"]) == ("embeddings", "last_hidden_state")
    assert manifest["source"]["head_dropped"] == "DebertaV2ForSequenceClassification"


# -- item 11: spm.model from tokenizer.json, proved on a corpus ------------------------------


@pytest.mark.slow
def test_a_tokenizer_json_only_checkpoint_gets_an_exact_spm_model(base, tmp_path) -> None:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    source = tmp_path / "hf"
    shutil.copytree(base, source)
    converted_tokenizer_json(source)
    (source / "spm.model").unlink()
    folder = export_checkpoint(str(source), tmp_path / "out")
    manifest = manifest_of(folder)
    assert manifest["source"]["spm_model"] == {"from": "tokenizer.json", "texts_checked": 30}
    load_model_folder(folder)
    built, original = sentencepiece_model_pb2.ModelProto(), sentencepiece_model_pb2.ModelProto()
    built.ParseFromString((folder / "spm.model").read_bytes())
    original.ParseFromString((base / "spm.model").read_bytes())
    assert [(p.piece, p.score, p.type) for p in built.pieces] == [
        (p.piece, p.score, p.type) for p in original.pieces
    ]
    assert (
        built.normalizer_spec.precompiled_charsmap == original.normalizer_spec.precompiled_charsmap
    )
    ours = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    theirs = spm.SentencePieceProcessor(model_file=str(base / "spm.model"))
    assert [ours.EncodeAsIds(t) for t in CORPUS] == [theirs.EncodeAsIds(t) for t in CORPUS]


def test_a_transformers_5_save_is_refused_with_the_file_to_copy(base, tmp_path, capsys) -> None:
    """transformers 5 rebuilds the tokenizer with NFC and no spm charsmap: no exact spm.model."""
    source = tmp_path / "hf"
    shutil.copytree(base, source)
    transformers_saved_tokenizer(source)
    (source / "spm.model").unlink()
    args = ["export", "--checkpoint", str(source), "--out", str(tmp_path / "out")]
    assert cli(args) == 1
    [message] = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("spark-deberta export:")
    ]
    assert "does not tokenize like it" in message
    assert (
        "copy spm.model from the base model it was fine-tuned from (microsoft/deberta-v3-"
        in (message)
        and str(source) in message
    )
    assert not (tmp_path / "out").exists()


def test_the_proof_reads_the_users_text(base, tmp_path) -> None:
    """A token added at fine-tuning lives in tokenizer.json only: the built-in corpus never
    meets it, the user's text does."""
    source = tmp_path / "hf"
    shutil.copytree(base, source)
    data = json.loads(converted_tokenizer_json(source).read_text())
    added = len(data["model"]["vocab"])
    data["added_tokens"].append(
        {
            "id": added,
            "content": "<ent>",
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": False,
        }
    )
    (source / "tokenizer.json").write_text(json.dumps(data))
    (source / "spm.model").unlink()
    spm_from_tokenizer_json(source / "tokenizer.json")  # structurally fine
    with pytest.raises(ExportError, match=r"1 of 31 texts differ, e.g. 'the <ent> won'"):
        export_checkpoint(str(source), tmp_path / "out", check_texts=["the <ent> won"])


def test_a_tokenizer_json_spm_cannot_express_is_refused(base, tmp_path) -> None:
    source = tmp_path / "hf"
    shutil.copytree(base, source)
    data = json.loads(converted_tokenizer_json(source).read_text())
    data["pre_tokenizer"]["pretokenizers"].insert(
        0, {"type": "Punctuation", "behavior": "Isolated"}
    )
    (source / "tokenizer.json").write_text(json.dumps(data))
    (source / "spm.model").unlink()
    with pytest.raises(ExportError, match="pre-tokenizes with Punctuation .* copy spm.model"):
        export_checkpoint(str(source), tmp_path / "out")


# -- item 12: the runtime's pieces against the Hugging Face tokenizer's ---------------------


@pytest.mark.slow
def test_piece_differences_refuse_the_export_unless_allowed(base, tmp_path, capsys) -> None:
    """spm.model kept, tokenizer.json from transformers 5 (NFC, no charsmap): the words where
    they differ are named, and the export is refused; allowed, they go to the manifest."""
    import sentencepiece as spm

    source = tmp_path / "hf"
    shutil.copytree(base, source)
    transformers_saved_tokenizer(source)
    with pytest.raises(
        ExportError, match=r"words get other pieces .*'①': ours \['1'\], theirs \['\[UNK\]'\]"
    ) as refused:
        export_checkpoint(str(source), tmp_path / "out")
    assert "--allow-piece-differences" in str(refused.value)
    assert not (tmp_path / "out").exists()

    args = ["export", "--checkpoint", str(source), "--out", str(tmp_path / "out")]
    assert cli([*args, "--allow-piece-differences"]) == 0
    pieces = manifest_of(tmp_path / "out")["parity"]["pieces"]
    assert pieces["reference"] == "tokenizer.json" and pieces["allowed"] is True
    assert pieces["differing"] == len(pieces["differences"]) > 0
    found = {d["word"]: d for d in pieces["differences"]}
    processor = spm.SentencePieceProcessor(model_file=str(base / "spm.model"))
    blank = processor.PieceToId("▁")
    for word in ("™", "①"):  # NFKC changes them, NFC does not
        want = [i for i in processor.EncodeAsIds(word) if i != blank]
        assert found[word]["ours_ids"] == want != found[word]["theirs_ids"]
    assert "hello" not in {w.lower() for w in found}
    assert f"{pieces['differing']} of {pieces['words']} words differ" in capsys.readouterr().out


@pytest.mark.slow
def test_pieces_match_a_faithful_tokenizer_and_the_manifest_says_so(base, tmp_path) -> None:
    source = tmp_path / "hf"
    shutil.copytree(base, source)
    converted_tokenizer_json(source)
    words = tmp_path / "words.txt"
    words.write_text("Spark NLP-compatible annotators\nＡＢＣ ﬁne\n", encoding="utf-8")
    args = ["export", "--checkpoint", str(source), "--out", str(tmp_path / "out")]
    assert cli([*args, "--check-text", str(words)]) == 0
    pieces = manifest_of(tmp_path / "out")["parity"]["pieces"]
    assert (pieces["reference"], pieces["differing"], pieces["differences"]) == (
        "tokenizer.json",
        0,
        [],
    )
    assert pieces["words"] > 250


def test_a_lower_casing_checkpoint_is_compared_lower_cased(base, tmp_path) -> None:
    """do_lower_case: the runtime lower-cases before spm, the reference tokenizer itself."""
    from annotators.deberta.tokenizer_json import (
        corpus_words,
        piece_differences,
        reference_tokenizer,
    )

    source = tmp_path / "hf"
    shutil.copytree(base, source)
    (source / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    reference, what = reference_tokenizer(source)
    assert "DebertaV2Converter" in what

    import sentencepiece as spm

    class Runtime:  # the runtime's rule (Runtime.token_pieces), on the same spm.model
        processor = spm.SentencePieceProcessor(model_file=str(source / "spm.model"))

        def token_pieces(self, text: str) -> list[int]:
            blank = self.processor.PieceToId("▁")
            return [i for i in self.processor.EncodeAsIds(text) if i != blank]

    words = corpus_words(CORPUS)
    assert piece_differences(Runtime(), reference, words, lower=True) == []
    upper = piece_differences(Runtime(), reference, ["UPPER", "MiXeD"], lower=False)
    assert [d["word"] for d in upper] == ["UPPER", "MiXeD"]
