"""The tokenizer checks of the exporter: spm.model from tokenizer.json, and pieces vs Hugging Face.

A checkpoint saved by transformers 5 (or any fast-tokenizer save) may hold ``tokenizer.json`` and
no ``spm.model``. Its Unigram vocabulary and scores are SentencePiece's own, so the model can be
rebuilt as a ``ModelProto`` when the normalizer and pre-tokenizer are ones SentencePiece has;
exactness is then proved by tokenizing a corpus both ways, and any difference refuses the export.

The runtime encodes each token on its own (``Runtime.token_pieces``), so the exporter also compares
those per-word pieces with the Hugging Face tokenizer's pieces for the same words.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from annotators.errors import ExportError

TOKENIZER_JSON = "tokenizer.json"
DELIMITER = "▁"
BASE_MODEL_HINT = (
    "copy spm.model from the base model it was fine-tuned from (microsoft/deberta-v3-xsmall, "
    "-small, -base or -large: the one with the same vocabulary) into {folder} and export again"
)
#: Varied sentences in many scripts: Latin with accents, Cyrillic, Greek, Arabic, Hebrew,
#: Devanagari, Thai, CJK with fullwidth punctuation, Korean, emoji, numbers, URLs, decomposed
#: (NFD) accents, ligatures and odd whitespace, where tokenizers' normalizers tend to differ.
CORPUS: tuple[str, ...] = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune "
    "must be in want of a wife.",
    "Mr. Bennet replied that he had not; but it is, returned she, for Mrs. Long has been here.",
    "Hello World! My name is Jonas E. Smith, I live in the U.S. and I don't like 3.14 pies.",
    "The quick brown fox jumps over the lazy dog's back (twice) -- or so they say...",
    "E-mail me at jane.doe@example.com or visit https://example.org/path?q=1&lang=en#top.",
    "Prices rose 12.5% to $1,299.99 in Q3 2024; the CEO's bonus was €3.2M (≈ £2.7M).",
    "Ça va très bien, merci ! L'été dernier, nous sommes allés à Besançon en vélo.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein, sagte der Straßenbahnfahrer.",
    "El niño comió piñas y jalapeños mientras la señora leía «Cien años de soledad».",
    "A tartaruga não é rápida, mas chegou à estação às três horas.",
    "Dziękuję bardzo, że przyszłaś; żółw i źrebię śpią w łóżku.",
    "İstanbul'da ağaçların altında çay içip şarkı söyledik.",
    "Tiếng Việt có nhiều dấu thanh: à, á, ả, ã, ạ.",
    "Москва — столица России, а Київ — столиця України.",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί.",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "שלום עולם, מה שלומך היום?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีชาวโลก วันนี้อากาศดีมาก",
    "今天天气很好，我们去公园散步吧！",
    "東京タワーは、とても高いです。ありがとうございます。",
    "이 영화는 정말 재미있었어요! 다음에 또 보고 싶네요.",
    "김철수는 서울에 산다. 그는 집에 있었다.",
    "Emoji 🙂🚀 and symbols ™ © ® ½ ① ⅓ µ° are tricky — aren't they?",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ligatures like ﬁne ﬂow …",
    "Decomposed accents: cafe\u0301, nai\u0308ve, Zu\u0308rich, pin\u0303a.",
    "Tabs\tand  double  spaces,\nnew lines and a non-breaking\u00a0space.",
    "UPPER CASE, lower case, MiXeD CaSe and CamelCaseWords like iPhone or McDonald.",
    "def f(x): return x**2 + 1  # code, [brackets], {braces} and <angles>",
    "C'est-à-dire, well-known, state-of-the-art, 1990s, 24/7, A/B testing, #hashtag @user.",
)


def _pb2() -> Any:
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as exc:  # protobuf missing
        raise ExportError(
            "building spm.model from tokenizer.json needs protobuf: pip install "
            "'spark-deberta[export]'"
        ) from exc
    return sentencepiece_model_pb2


def _flatten(component: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    if component is None:
        return []
    if component.get("type") == "Sequence":
        return [part for child in component[key] for part in _flatten(child, key)]
    return [component]


def _pattern(part: dict[str, Any]) -> str:
    pattern = part.get("pattern", {})
    return str(pattern.get("Regex", pattern.get("String", "")))


#: Replace rules that only squeeze, trim or escape spaces: SentencePiece's own whitespace rules.
_WHITESPACE_REPLACES = {
    (" {2,}", " "),
    (r"\s{2,}|[\n\r\t]", " "),
    (r"\A +| +\z", ""),
    (" ", DELIMITER),
    (rf"\A{DELIMITER}", DELIMITER * 2),
}


def spm_from_tokenizer_json(path: Path) -> tuple[bytes, bool]:
    """A serialized SentencePiece ``ModelProto`` from a Unigram ``tokenizer.json``, and whether
    its normalizer lower-cases. Refuses (ExportError) what SentencePiece cannot express."""
    hint = BASE_MODEL_HINT.format(folder=path.parent)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = data["model"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{path} is not a tokenizers JSON file ({exc}); {hint}") from exc
    if model.get("type") != "Unigram":
        raise ExportError(
            f"{path} holds a {model.get('type')} model, not SentencePiece's Unigram: "
            f"no spm.model can be built from it; {hint}"
        )
    charsmap = b""
    lowercase = False
    squeeze = False
    for part in _flatten(data.get("normalizer"), "normalizers"):
        kind = part.get("type")
        if kind == "Precompiled":
            charsmap = base64.b64decode(part.get("precompiled_charsmap") or "")
        elif kind == "Lowercase":
            lowercase = True
        elif kind == "Strip" or (
            kind == "Replace" and (_pattern(part), part.get("content")) in _WHITESPACE_REPLACES
        ):
            squeeze = True
        elif kind == "NFC":
            pass  # identity on NFC text; the corpus (with NFD accents) decides
        else:
            raise ExportError(
                f"{path} normalizes with {kind} {part}, which spm.model cannot express; {hint}"
            )
    dummy_prefix = False
    for part in _flatten(data.get("pre_tokenizer"), "pretokenizers"):
        kind = part.get("type")
        if kind == "Metaspace" and part.get("replacement", DELIMITER) == DELIMITER:
            scheme = part.get("prepend_scheme")
            dummy_prefix = scheme != "never" if scheme else bool(part.get("add_prefix_space"))
        elif kind == "Split" and part.get("behavior") == "Isolated":
            pass  # isolates added (user-defined) pieces, which SentencePiece matches whole
        else:
            raise ExportError(
                f"{path} pre-tokenizes with {kind} {part}, which spm.model cannot express; {hint}"
            )

    pb2 = _pb2()
    proto = pb2.ModelProto()
    vocab = model["vocab"]
    unk_id = model.get("unk_id")
    if unk_id is None:
        raise ExportError(f"{path} has no unk_id; {hint}")
    added = {int(t["id"]): t for t in data.get("added_tokens", []) if int(t["id"]) < len(vocab)}
    byte_fallback = bool(model.get("byte_fallback"))
    kinds = pb2.ModelProto.SentencePiece.Type
    for number, (piece, score) in enumerate(vocab):
        entry = proto.pieces.add(piece=piece, score=float(score))
        if number == unk_id:
            entry.type = kinds.UNKNOWN
        elif number in added:
            entry.type = kinds.CONTROL if added[number].get("special") else kinds.USER_DEFINED
        elif byte_fallback and re.fullmatch(r"<0x[0-9A-F]{2}>", piece):
            entry.type = kinds.BYTE
        else:
            entry.type = kinds.NORMAL
    ids = {piece: number for number, (piece, _) in enumerate(vocab)}
    trainer = proto.trainer_spec
    trainer.model_type = pb2.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(vocab)
    trainer.byte_fallback = byte_fallback
    trainer.unk_id, trainer.unk_piece = unk_id, vocab[unk_id][0]
    for field, piece in (("bos", "[CLS]"), ("eos", "[SEP]"), ("pad", "[PAD]")):
        setattr(trainer, f"{field}_id", ids.get(piece, -1))
        setattr(trainer, f"{field}_piece", piece)
    spec = proto.normalizer_spec
    spec.name = "nmt_nfkc" if charsmap else "identity"
    spec.precompiled_charsmap = charsmap
    spec.add_dummy_prefix = dummy_prefix
    spec.remove_extra_whitespaces = squeeze
    spec.escape_whitespaces = True
    serialized = proto.SerializeToString()
    _processor(serialized, path)
    return serialized, lowercase


def _processor(serialized: bytes, where: Path) -> Any:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(serialized)
    except Exception as exc:  # sentencepiece raises RuntimeError/OSError variants
        raise ExportError(
            f"the spm.model built from {where} does not load ({exc}); "
            + BASE_MODEL_HINT.format(folder=where.parent)
        ) from exc
    return processor


def prove_spm_matches(
    tokenizer_json: Path, serialized: bytes, texts: Sequence[str], lowercase: bool
) -> int:
    """Tokenize ``texts`` with the fast tokenizer and the built model; refuse on any difference.

    Returns how many texts were compared. ``lowercase``: the runtime lower-cases before
    SentencePiece (the model is not case-sensitive), so the built model gets lower-cased text.
    """
    from tokenizers import Tokenizer

    fast = Tokenizer.from_file(str(tokenizer_json))
    processor = _processor(serialized, tokenizer_json)
    differing = []
    for text in texts:
        theirs = fast.encode(text, add_special_tokens=False).ids
        ours = processor.EncodeAsIds(text.lower() if lowercase else text)
        if ours != theirs:
            differing.append((text, theirs, ours))
    if differing:
        text, theirs, ours = differing[0]
        raise ExportError(
            f"the spm.model built from {tokenizer_json} does not tokenize like it: "
            f"{len(differing)} of {len(texts)} texts differ, e.g. {text!r}: tokenizer.json gives "
            f"{[fast.id_to_token(i) for i in theirs]}, the built model "
            f"{[processor.IdToPiece(i) for i in ours]}; "
            + BASE_MODEL_HINT.format(folder=tokenizer_json.parent)
        )
    return len(texts)


def corpus_words(texts: Iterable[str]) -> list[str]:
    """The distinct tokens of ``texts`` as the pipeline's Tokenizer (default rules) cuts them."""
    from annotators.tokenizer import tokenize

    words: dict[str, None] = {}
    for text in texts:
        for start, end in tokenize(text):
            words[text[start:end]] = None
    return list(words)


def reference_tokenizer(source: Path) -> tuple[Any, str]:
    """The checkpoint's Hugging Face fast tokenizer (``tokenizers.Tokenizer``) and what it is.

    ``tokenizer.json`` when the checkpoint has one (what transformers runs); otherwise the fast
    tokenizer transformers' ``DebertaV2Converter`` builds from ``spm.model`` and the checkpoint's
    ``tokenizer_config.json`` (``do_lower_case``, ``split_by_punct``), with spm.model's own
    normalization rules (transformers 5's ``AutoTokenizer`` drops those: see the README).
    """
    from types import SimpleNamespace

    from tokenizers import Tokenizer

    if (source / TOKENIZER_JSON).is_file():
        return Tokenizer.from_file(str(source / TOKENIZER_JSON)), TOKENIZER_JSON
    import sentencepiece as spm
    from transformers.convert_slow_tokenizer import DebertaV2Converter

    config_path = source / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    spm_path = source / "spm.model"
    processor = spm.SentencePieceProcessor(model_file=str(spm_path))
    original = SimpleNamespace(
        vocab_file=str(spm_path),
        do_lower_case=bool(config.get("do_lower_case", False)),
        split_by_punct=bool(config.get("split_by_punct", False)),
        legacy=True,
        convert_tokens_to_ids=processor.PieceToId,
    )
    what = "spm.model converted by transformers' DebertaV2Converter"
    return DebertaV2Converter(original).converted(), what


def piece_differences(
    ours: Any, reference: Any, words: Sequence[str], lower: bool
) -> list[dict[str, Any]]:
    """Words whose runtime pieces differ from the reference tokenizer's.

    ``ours``: the runtime (``token_pieces``: each token alone, lower-cased first when the model
    is not case-sensitive, a lone ``▁`` piece dropped). The reference tokenizes the word as it is
    (it lower-cases itself when configured to) and its lone ``▁`` is dropped too: that rule is
    the runtime's on purpose (the Spark NLP reference's alignment), not a tokenizer difference.
    """
    delimiter = reference.token_to_id(DELIMITER)
    found = []
    for word in words:
        mine = list(ours.token_pieces(word.lower() if lower else word))
        theirs = [i for i in reference.encode(word, add_special_tokens=False).ids if i != delimiter]
        if mine != theirs:
            found.append(
                {
                    "word": word,
                    "ours": [ours.processor.IdToPiece(i) for i in mine],
                    "theirs": [reference.id_to_token(i) for i in theirs],
                    "ours_ids": mine,
                    "theirs_ids": theirs,
                }
            )
    return found


__all__ = [
    "CORPUS",
    "TOKENIZER_JSON",
    "corpus_words",
    "piece_differences",
    "prove_spm_matches",
    "reference_tokenizer",
    "spm_from_tokenizer_json",
]
