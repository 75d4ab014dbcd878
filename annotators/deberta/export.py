"""Hugging Face DeBERTa-v2/v3 checkpoint -> model folder (needs the ``export`` extra and torch).

The classic TorchScript exporter (``dynamo=False``, opset 17, dynamic batch and sequence axes)
gives an ONNX graph whose outputs match PyTorch to about 1e-6. The export is checked on padded
batches of several lengths before anything is written: a folder whose parity is worse than
``max_abs_diff`` (1e-4 for fp32) is refused. ``quantize="int8"`` adds ONNX Runtime's dynamic
int8 quantization as ``model_int8.onnx`` and records its cosine similarity to fp32. A model past
ONNX's 2 GB protobuf limit (DeBERTa-v2-xlarge) keeps its weights in one data file beside each
graph (``model.onnx.data``, ``model_int8.onnx.data``; see ``gather_external_data``), listed in
the manifest with its sha256 like the other files.

The task comes from the checkpoint's ``config.json`` (``architectures``): a task its weights do
not carry is refused, and so is any head transformers would initialize at random (its loading
info lists the head's weights as missing). A checkpoint with ``tokenizer.json`` and no
``spm.model`` gets one built from the Unigram vocabulary, proved on a corpus
(``tokenizer_json.py``); every export compares the runtime's per-word pieces with the Hugging
Face tokenizer's and refuses on a difference unless ``allow_piece_differences``.

Weights are read from safetensors. A checkpoint whose only weights are ``pytorch_model.bin``
(pickled, so loading it can run whatever code the file holds) is refused unless
``allow_unsafe_bin_checkpoint``, by which the caller says it trusts the checkpoint's source
(transformers then loads it with torch in weights-only mode, which narrows the risk, no more).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annotators.deberta.encoder import padded_batch, stack_outputs
from annotators.deberta.manifest import (
    FORMAT_VERSION,
    INT8_MODEL_FILE,
    MODEL_FILE,
    MODEL_INPUTS,
    SPM_FILE,
    FileEntry,
    Manifest,
    is_plain_file_name,
    write_model_folder,
)
from annotators.deberta.model_folder import FOLDER_OWN_FILES, file_sha256, graph_tensors
from annotators.deberta.tokenizer_json import (
    CORPUS,
    TOKENIZER_JSON,
    corpus_words,
    piece_differences,
    prove_spm_matches,
    reference_tokenizer,
    spm_from_tokenizer_json,
)
from annotators.errors import ExportError, ModelFolderError
from annotators.tasks import ARCHITECTURE_TASKS, TASKS
from annotators.version import library_version

OPSET = 17
#: Sequence lengths (without padding) of the parity batches; each batch pads to its longest.
PARITY_BATCHES = ((3,), (1, 7, 16), (40, 5, 23, 2))


#: Weight files that torch unpickles (single or sharded).
PICKLE_WEIGHTS = "pytorch_model*.bin"
PICKLE_HINT = (
    "its only weights are pytorch_model.bin, stored pickled: loading it can run code. "
    "Convert them to safetensors where the checkpoint is trusted, or, if you trust its source, "
    "pass --allow-unsafe-bin-checkpoint (allow_unsafe_bin_checkpoint=True)"
)


def _local_checkpoint(checkpoint: str, allow_unsafe_bin: bool = False) -> Path:
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        return path
    if path.is_absolute() or checkpoint.startswith((".", "~")) or checkpoint.count("/") > 1:
        raise ExportError(f"checkpoint folder {path} does not exist")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - transformers depends on it
        raise ExportError(f"{checkpoint} is not a folder and huggingface_hub is missing") from exc
    try:
        patterns = [
            "*.json",
            "*.model",
            "*.safetensors",
            *([PICKLE_WEIGHTS] if allow_unsafe_bin else []),
        ]
        return Path(snapshot_download(checkpoint, allow_patterns=patterns))
    except Exception as exc:
        raise ExportError(
            f"{checkpoint} is not a local folder and could not be downloaded from the Hugging Face "
            f"hub ({exc}); download it where the hub is reachable and pass its folder"
        ) from exc


def _case_sensitive(folder: Path) -> bool:
    config = folder / "tokenizer_config.json"
    if config.is_file():
        return not json.loads(config.read_text(encoding="utf-8")).get("do_lower_case", False)
    return True


def special_tokens(spm_path: Path) -> dict[str, int]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(spm_path))
    tokens = {}
    for piece in ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"):
        found = processor.PieceToId(piece)
        if processor.IdToPiece(found) == piece:
            tokens[piece] = found
    missing = {"[PAD]", "[CLS]", "[SEP]", "[UNK]"} - set(tokens)
    if missing:
        raise ExportError(f"{spm_path} lacks the special pieces {sorted(missing)}")
    return tokens


def _parity_inputs(
    vocab: int, special: dict[str, int], seed: int = 7
) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    batches = []
    low = max(special.values()) + 1
    for lengths in PARITY_BATCHES:
        bodies = [rng.integers(low, vocab, size=length) for length in lengths]
        ids, mask = padded_batch(bodies, special)
        batches.append({"input_ids": ids, "attention_mask": mask})
    return batches


def _max_abs_diff(
    reference: list[np.ndarray], got: list[np.ndarray], batches: list[dict], per_token: bool
) -> float:
    worst = 0.0
    for ref, out, batch in zip(reference, got, batches, strict=True):
        if per_token:
            keep = batch["attention_mask"].astype(bool)
            worst = max(worst, float(np.abs(ref[keep] - out[keep]).max()))
        else:
            worst = max(worst, float(np.abs(ref - out).max()))
    return worst


def _cosine(
    reference: list[np.ndarray], got: list[np.ndarray], batches: list[dict], per_token: bool
) -> float:
    sims = []
    for ref, out, batch in zip(reference, got, batches, strict=True):
        if per_token:
            keep = batch["attention_mask"].astype(bool)
            ref, out = ref[keep], out[keep]
        num = (ref * out).sum(-1)
        den = np.linalg.norm(ref, axis=-1) * np.linalg.norm(out, axis=-1) + 1e-12
        sims.append(num / den)
    return float(np.concatenate([s.reshape(-1) for s in sims]).mean())


def _run_onnx(path: Path, batches: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return [stack_outputs(session.run(None, batch)) for batch in batches]


def gather_external_data(onnx_path: Path) -> list[Path]:
    """Rewrite the graph at ``onnx_path`` so that its external data lies in one file beside it,
    ``<graph>.data`` (``model.onnx.data``); return that file, or [] for a graph that holds its
    tensors itself (every model under 2 GB: then nothing is touched).

    Why: past ONNX's 2 GB protobuf limit torch.onnx.export (TorchScript) writes each large
    tensor to its own file beside the graph, named after the tensor: hundreds of files for
    DeBERTa-v2-xlarge. A model folder's manifest lists every file with its sha256, and a graph
    naming a file it does not list is refused (``check_external_data``); one data file of a
    fixed name keeps that list short and the same for every model. The rewrite reads every
    tensor into memory (about the model's size) and leaves the graph's outputs unchanged.
    """
    import onnx

    folder, name = onnx_path.parent, f"{onnx_path.name}.data"
    locations = {tensor.location for tensor in graph_tensors(onnx_path)}
    if not locations:
        return []
    if locations == {name}:
        return [folder / name]
    for location in locations:
        if location is None or not is_plain_file_name(location) or location in FOLDER_OWN_FILES:
            raise ExportError(
                f"{onnx_path} takes external data from {location!r}, not a data file beside "
                "it: the exporter cannot gather it into one file"
            )
    model = onnx.load(str(onnx_path))  # with every tensor's data
    # Removed before saving: onnx appends to a data file that exists (``name`` may be one).
    for location in locations:
        (folder / location).unlink()
    onnx.save_model(
        model,
        str(onnx_path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=name,
    )
    return [folder / name]


def quantize_int8(onnx_path: Path, int8_path: Path) -> list[Path]:
    """ONNX Runtime's dynamic int8 quantization of the graph at ``onnx_path`` into
    ``int8_path``; return the int8 graph's data files (``gather_external_data``).

    A graph with external data is quantized into a graph with external data: written whole,
    the int8 graph of a model past 2 GB can itself pass the protobuf limit (its embeddings stay
    fp32).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(onnx_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        use_external_data_format=bool(graph_tensors(onnx_path)),
    )
    return gather_external_data(int8_path)


def _labels(task: str, config: Any) -> list[str] | None:
    """The labels in output order; a zero-shot model must be an NLI model (entailment)."""
    if not TASKS[task].labelled:
        return None
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    if task == "zero-shot-classification" and not any(
        label.lower().startswith("entail") for label in labels
    ):
        raise ExportError(
            f"zero-shot-classification needs an NLI model whose labels include entailment; "
            f"this checkpoint's labels are {labels}"
        )
    return labels


#: Weight-name prefixes of the task heads: loading one without them means a random head.
HEAD_PREFIXES = ("classifier.", "pooler.", "qa_outputs.")


def resolve_task(
    requested: str | None, config: dict[str, Any], where: str
) -> tuple[str, str | None]:
    """The task to export and the architecture whose head is dropped (explicit embeddings only).

    ``requested`` None takes the checkpoint's own task; a task its weights do not carry is
    refused, because transformers would give it a randomly initialized head.
    """
    architectures = config.get("architectures") or []
    if not architectures:  # older configs: the loading info decides (see _load)
        return requested or "embeddings", None
    architecture = str(architectures[0])
    carried = ARCHITECTURE_TASKS.get(architecture)
    if requested == "embeddings":
        dropped = architecture if carried != "embeddings" else None
        return "embeddings", dropped
    if carried is None:
        raise ExportError(
            f"{where} is a {architecture}, which the exporter does not export; pass --task "
            "embeddings to export its encoder only (its head is dropped)"
        )
    if requested is None or requested == carried:
        return carried, None
    if requested is not None and TASKS[requested].exported_from == carried:
        return requested, None  # zero-shot: the labels must name entailment (see _labels)
    raise ExportError(
        f"{where} is a {architecture} ({carried}): its weights carry no {requested} head, so "
        f"the export would have a random one; pass --task {carried} (or leave --task out), or "
        f"export a checkpoint fine-tuned for {requested}"
    )


def weights_loading(source: Path, where: str, allow_unsafe_bin: bool) -> dict[str, bool]:
    """``from_pretrained``'s ``use_safetensors``: True when the checkpoint has safetensors
    (then nothing is unpickled), False for pickled-only weights when ``allow_unsafe_bin``; refused
    otherwise."""
    if any(source.glob("*.safetensors")):
        return {"use_safetensors": True}
    if not any(source.glob(PICKLE_WEIGHTS)):
        raise ExportError(f"{where} has no weights (model.safetensors or pytorch_model.bin)")
    if not allow_unsafe_bin:
        raise ExportError(f"{where} is refused: {PICKLE_HINT}")
    return {"use_safetensors": False}


def _load(
    transformers: Any,
    class_name: str,
    source: Path,
    where: str,
    explicit: bool,
    allow_unsafe_bin: bool = False,
) -> Any:
    """Load the model; refuse any weight transformers would initialize at random.

    Safetensors when the checkpoint has them (no unpickling); pickled-only weights only with
    ``allow_unsafe_bin`` (see ``weights_loading``).
    """
    kwargs = weights_loading(source, where, allow_unsafe_bin)
    try:
        model, info = getattr(transformers, class_name).from_pretrained(
            str(source), output_loading_info=True, **kwargs
        )
    except (OSError, ValueError) as exc:
        raise ExportError(f"{where} could not be loaded as {class_name}: {exc}") from exc
    missing = list(info.get("missing_keys") or [])
    missing += [
        str(m[0] if isinstance(m, tuple | list) else m) for m in info.get("mismatched_keys") or []
    ]
    if missing:
        head = [k for k in missing if k.startswith(HEAD_PREFIXES)]
        what = "its head" if head and len(head) == len(missing) else "weights"
        raise ExportError(
            f"{where} lacks {what} {sorted(missing)[:6]} for {class_name}: transformers would "
            "initialize them at random; export a checkpoint that was trained with this head"
        )
    extra = sorted(k for k in info.get("unexpected_keys") or [] if k.startswith(HEAD_PREFIXES))
    if extra and not explicit:
        raise ExportError(
            f"{where} names no architecture in config.json but its weights carry a head "
            f"{extra[:4]}: pass --task (sequence-classification, token-classification, "
            "question-answering, or embeddings to drop the head)"
        )
    return model.eval()


def export_checkpoint(
    checkpoint: str,
    out: str | os.PathLike[str],
    *,
    task: str | None = None,
    quantize: str | None = None,
    name: str | None = None,
    lang: str = "en",
    max_abs_diff: float = 1e-4,
    overwrite: bool = False,
    check_texts: Sequence[str] = (),
    allow_piece_differences: bool = False,
    allow_unsafe_bin_checkpoint: bool = False,
) -> Path:
    """Export ``checkpoint`` (a folder or hub id) into the model folder ``out``; return its path.

    ``task`` None: the checkpoint's own (from ``config.json``). ``check_texts``: more text for
    the tokenizer checks, beside the built-in multilingual corpus. ``allow_piece_differences``:
    write the folder even when the runtime's pieces differ from the Hugging Face tokenizer's
    for some words (they are listed in the manifest); otherwise such an export is refused.
    ``allow_unsafe_bin_checkpoint``: read a checkpoint whose weights are only ``pytorch_model.bin``
    (pickled), trusting its source; otherwise it is refused.
    """
    try:
        import onnx
        import torch
        import transformers
    except ImportError as exc:
        raise ExportError(
            "export needs torch, transformers and onnx: pip install torch==2.13.0 "
            "'spark-deberta[export]'"
        ) from exc
    import onnxruntime as ort

    if task is not None and task not in TASKS:
        raise ExportError(f"task '{task}' is not supported; use one of: {', '.join(TASKS)}")
    if quantize not in (None, "int8"):
        raise ExportError(f"quantize '{quantize}' is not supported; use int8")
    target = Path(out).expanduser().resolve()
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ExportError(f"{target} exists and is not empty; pass overwrite=True (--overwrite)")

    source = _local_checkpoint(checkpoint, allow_unsafe_bin_checkpoint)
    weights_loading(source, str(checkpoint), allow_unsafe_bin_checkpoint)  # refuse before any work
    config_file = source / "config.json"
    if not config_file.is_file():
        raise ExportError(f"{source} has no config.json: it is not a Hugging Face checkpoint")
    config_json = json.loads(config_file.read_text(encoding="utf-8"))
    if config_json.get("model_type") != "deberta-v2":
        raise ExportError(
            f"{source} is a {config_json.get('model_type')!r} model; the exporter takes "
            "DeBERTa-v2/v3 checkpoints (model_type deberta-v2)"
        )
    requested = task
    task, dropped = resolve_task(requested, config_json, str(checkpoint))
    texts = [*CORPUS, *(t for t in check_texts if t.strip())]
    spm_source = source / SPM_FILE
    tokenizer_json = source / TOKENIZER_JSON
    if not spm_source.is_file() and not tokenizer_json.is_file():
        raise ExportError(
            f"{source} has no {SPM_FILE} and no {TOKENIZER_JSON}: copy {SPM_FILE} from the base "
            "model it was fine-tuned from (microsoft/deberta-v3-xsmall, -small, -base or -large)"
        )
    case_sensitive = _case_sensitive(source)

    head = TASKS[task]
    class_name, output_names, per_token = head.head, head.outputs, head.per_token
    model = _load(
        transformers,
        class_name,
        source,
        str(checkpoint),
        requested is not None,
        allow_unsafe_bin_checkpoint,
    )
    config = model.config
    labels = _labels(task, config)

    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            found = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            return tuple(found[name] for name in output_names)

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as work:
        folder = Path(work)
        spm_path = folder / SPM_FILE
        if spm_source.is_file():
            shutil.copyfile(spm_source, spm_path)
            spm_origin: dict[str, Any] = {"from": SPM_FILE}
        else:
            built, lowercase = spm_from_tokenizer_json(tokenizer_json)
            case_sensitive = case_sensitive and not lowercase
            checked = prove_spm_matches(tokenizer_json, built, texts, not case_sensitive)
            spm_path.write_bytes(built)
            spm_origin = {"from": TOKENIZER_JSON, "texts_checked": checked}
        special = special_tokens(spm_path)

        wrapped = Wrapped(model).eval()
        batches = _parity_inputs(config.vocab_size, special)
        with torch.no_grad():
            reference = [
                stack_outputs(
                    [
                        t.numpy()
                        for t in wrapped(
                            torch.from_numpy(b["input_ids"]),
                            torch.from_numpy(b["attention_mask"]),
                        )
                    ]
                )
                for b in batches
            ]
        onnx_path = folder / MODEL_FILE
        sample = batches[1]
        with torch.no_grad():
            torch.onnx.export(
                wrapped,
                (torch.from_numpy(sample["input_ids"]), torch.from_numpy(sample["attention_mask"])),
                str(onnx_path),
                input_names=list(MODEL_INPUTS),
                output_names=list(output_names),
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    **{
                        name: {0: "batch", 1: "sequence"} if per_token else {0: "batch"}
                        for name in output_names
                    },
                },
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        data_files = gather_external_data(onnx_path)
        onnx.checker.check_model(str(onnx_path))  # the path: a loaded proto stops at 2 GB
        parity = _max_abs_diff(reference, _run_onnx(onnx_path, batches), batches, per_token)
        if not parity <= max_abs_diff:
            raise ExportError(
                f"the ONNX export of {checkpoint} differs from PyTorch by {parity:.3g} "
                f"(max abs), above the limit {max_abs_diff:g}: nothing was written"
            )
        pieces = _check_pieces(
            source, folder, special, output_names, texts, case_sensitive, allow_piece_differences
        )
        files = {path.name: FileEntry.of(path) for path in [onnx_path, *data_files]}
        quantization = None
        if quantize == "int8":
            int8_path = folder / INT8_MODEL_FILE
            int8_data = quantize_int8(onnx_path, int8_path)
            int8_out = _run_onnx(int8_path, batches)
            quantization = {
                "method": "onnxruntime dynamic, int8 weights",
                "file": INT8_MODEL_FILE,
                "cosine_to_fp32": round(_cosine(reference, int8_out, batches, per_token), 6),
                "max_abs_diff_to_pytorch": float(
                    f"{_max_abs_diff(reference, int8_out, batches, per_token):.3g}"
                ),
            }
            for path in [int8_path, *int8_data]:
                files[path.name] = FileEntry.of(path)
        files[SPM_FILE] = FileEntry.of(spm_path)
        architectures = config_json.get("architectures") or []
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            name=name or Path(str(checkpoint).rstrip("/")).name.replace("-", "_"),
            language=lang,
            task=task,
            dimension=int(config.hidden_size),
            max_position_embeddings=int(config.max_position_embeddings),
            case_sensitive=case_sensitive,
            vocab_size=int(config.vocab_size),
            special_tokens=special,
            inputs=list(MODEL_INPUTS),
            output=output_names[0] if len(output_names) == 1 else list(output_names),
            labels=labels,
            problem_type=getattr(config, "problem_type", None),
            files=files,
            source={
                "checkpoint": str(checkpoint),
                "model_type": config.model_type,
                "architecture": architectures[0] if architectures else None,
                "task_from": "--task" if requested is not None else "config.json architectures",
                "head_dropped": dropped,
                "spm_model": spm_origin,
                "num_hidden_layers": int(config.num_hidden_layers),
                "num_attention_heads": int(config.num_attention_heads),
            },
            exporter={
                "spark_deberta": library_version(),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "opset": OPSET,
            },
            parity={
                "max_abs_diff": float(f"{parity:.3g}"),
                "reference": "pytorch",
                "batches": [list(b) for b in PARITY_BATCHES],
                "pieces": pieces,
            },
            quantization=quantization,
        )
        write_model_folder(folder, manifest, target)
        folder.mkdir()  # TemporaryDirectory cleans up the now-empty name
    return target


#: Differences named in a refusal (all of them go to the manifest when allowed).
SHOWN_DIFFERENCES = 5


def _check_pieces(
    source: Path,
    folder: Path,
    special: dict[str, int],
    output_names: tuple[str, ...],
    texts: Sequence[str],
    case_sensitive: bool,
    allow: bool,
) -> dict[str, Any]:
    """The runtime's per-word pieces vs the Hugging Face tokenizer's, over the corpus' words.

    Uses the runtime itself (``Runtime.token_pieces`` on the exported folder), so what is
    checked is what the pipeline feeds the model. Refuses on a difference unless ``allow``.
    """
    from annotators.deberta.encoder import EncoderSettings, Runtime

    onnx_path = folder / MODEL_FILE
    settings = EncoderSettings(
        model_dir=str(folder),
        model_file=MODEL_FILE,
        checksum=file_sha256(onnx_path),
        special_tokens=special,
        output=output_names[0] if len(output_names) == 1 else output_names,
        output_size=1,
        case_sensitive=case_sensitive,
    )
    runtime = Runtime(settings, onnx_path, folder / SPM_FILE)
    try:
        reference, what = reference_tokenizer(source)
    except Exception as exc:  # tokenizers and transformers raise many types
        raise ExportError(
            f"the Hugging Face tokenizer of {source} could not be built to check the pieces "
            f"({exc}): nothing was written"
        ) from exc
    words = corpus_words(texts)
    found = piece_differences(runtime, reference, words, not case_sensitive)
    if found and not allow:
        shown = "; ".join(
            f"{d['word']!r}: ours {d['ours']}, theirs {d['theirs']}"
            for d in found[:SHOWN_DIFFERENCES]
        )
        raise ExportError(
            f"{len(found)} of {len(words)} words get other pieces from the runtime than from "
            f"the checkpoint's Hugging Face tokenizer ({what}): {shown}; nothing was written "
            "(pass --allow-piece-differences to export anyway, with them listed in the manifest)"
        )
    return {
        "reference": what,
        "words": len(words),
        "differing": len(found),
        "allowed": allow,
        "differences": found,
    }


__all__ = [
    "ExportError",
    "ModelFolderError",
    "export_checkpoint",
    "gather_external_data",
    "quantize_int8",
]
