"""Random-weight DeBERTa-v3 checkpoints, for test fixtures and the benchmark.

Both need a real Hugging Face checkpoint folder with DeBERTa-v3's architecture, made without the
model hub: a SentencePiece model trained on local text and a ``DebertaV2Model`` (or a sequence
classifier) with random weights, saved by ``save_pretrained``. Needs the export extra (torch,
transformers); speed does not depend on the weights' values, and exactness is checked against
PyTorch on the same weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
#: microsoft/deberta-v3-xsmall's configuration (the benchmark builds this shape).
XSMALL = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "intermediate_size": 1536,
}
#: microsoft/deberta-v3-base's configuration (the benchmark's memory-per-executor section).
BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
}


def train_spm(folder: Path, corpus: list[Path], vocab_size: int = 1000) -> Path:
    """A unigram SentencePiece model with DeBERTa-v3's special pieces at its ids."""
    import sentencepiece as spm

    prefix = folder / "spm"
    spm.SentencePieceTrainer.train(
        input=",".join(str(p) for p in corpus),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        pad_piece="[PAD]",
        bos_id=1,
        bos_piece="[CLS]",
        eos_id=2,
        eos_piece="[SEP]",
        unk_id=3,
        unk_piece="[UNK]",
        user_defined_symbols=["[MASK]"],
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    model = prefix.with_suffix(".model")
    scrub_training_paths(model)
    return model


def scrub_training_paths(spm_model: Path) -> None:
    """Keep only the corpus files' names in the model's trainer spec: the trainer records the
    absolute paths it read (and its output prefix), which would leak this machine's folders
    into every committed model and every saved pipeline."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(spm_model.read_bytes())
    names = [Path(p).name for p in proto.trainer_spec.input]
    del proto.trainer_spec.input[:]
    proto.trainer_spec.input.extend(names)
    proto.trainer_spec.model_prefix = Path(proto.trainer_spec.model_prefix).name
    spm_model.write_bytes(proto.SerializeToString())


def build_random_checkpoint(
    folder: Path,
    spm_model: Path,
    shape: dict,
    *,
    vocab_size: int | None = None,
    num_labels: int | None = None,
    labels: list[str] | None = None,
    seed: int = 0,
    task: str | None = None,
) -> Path:
    """A DeBERTa-v3-architecture checkpoint with random weights, saved by save_pretrained.

    ``task`` picks the head (see ``annotators.tasks``); with ``num_labels`` and no task it is a
    sequence classifier, with neither the bare encoder.
    """
    import sentencepiece as spm
    import torch
    import transformers
    from transformers import DebertaV2Config

    from annotators.tasks import TASKS

    task = task or ("sequence-classification" if num_labels else "embeddings")

    pieces = spm.SentencePieceProcessor(model_file=str(spm_model)).GetPieceSize()
    config = DebertaV2Config(
        vocab_size=vocab_size or pieces,
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=256,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        max_relative_positions=-1,
        position_biased_input=False,
        type_vocab_size=0,
        layer_norm_eps=1e-7,
        hidden_act="gelu",
        pad_token_id=0,
        **shape,
    )
    torch.manual_seed(seed)
    if num_labels:
        config.num_labels = num_labels
        names = labels or [f"LABEL_{i}" for i in range(num_labels)]
        config.id2label = dict(enumerate(names))
        config.label2id = {v: k for k, v in config.id2label.items()}
    model = getattr(transformers, TASKS[task].head)(config)
    if task != "embeddings":
        # Hugging Face's init (std 0.02) makes every logit nearly 0 and every label equally
        # likely; wider weights give scores that differ by text, so tests can tell.
        with torch.no_grad():
            for module in model.deberta.encoder.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.normal_(std=0.2)
            if hasattr(model, "pooler"):
                model.pooler.dense.weight.normal_(std=1.0)
            head = model.qa_outputs if task == "question-answering" else model.classifier
            head.weight.normal_(std=0.3)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    shutil.copyfile(spm_model, folder / "spm.model")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}) + "\n")
    return folder
