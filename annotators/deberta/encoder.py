"""The DeBERTa runtime: tokens -> pieces -> batches -> ONNX Runtime -> one vector per token.

Alignment follows the reference: each token is encoded on its own by the SentencePiece model
(lower-cased first when the model is not case-sensitive), a lone ``▁`` piece is dropped, the
pieces are concatenated and wrapped in ``[CLS]`` ... ``[SEP]``, and a token's vector is the
encoder output at its first piece. A token that has no piece at all (a zero-width space, a
control character) adds nothing to the sequence, so the other tokens' vectors are the model's
for the sentence's real pieces; it still gets an annotation, with the vector at ``[CLS]`` of its
sequence and ``pieceId`` -1 in its metadata.

Long sentences (more than ``max_sentence_length - 2`` pieces):
- ``truncate``: the reference's behaviour: the first ``max - 2`` tokens, then the first
  ``max - 2`` pieces; tokens past the cut get no annotation.
- ``window`` (default): the pieces are cut into windows of ``max - 2`` with half a window of
  overlap; each token takes its vector from the window where its first piece is most central,
  so every token gets a vector with context on both sides.

Within a chunk of rows, sequences are sorted by length and batched up to ``batch_size``
sequences and ``batch_size * max_sentence_length`` padded pieces, so padding stays small and
memory is bounded whatever the documents' sizes. The inference engine (ONNX Runtime, or
OpenVINO reading the same ``model.onnx``) is created once per Python worker process, lazily, and
cached by the model file's sha256 and the engine settings.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotators.annotation import WORD_EMBEDDINGS, AnnotationDict, sentence_key
from annotators.deberta.manifest import SPM_FILE
from annotators.deberta.model_folder import file_sha256
from annotators.errors import EngineError, ModelFolderError

if TYPE_CHECKING:
    from annotators.model_shipping import ShippedFiles

LONG_SENTENCE_STRATEGIES = ("window", "truncate")
EXECUTION_PROVIDERS = ("cpu", "cuda")
#: Precisions each engine runs. bf16 is OpenVINO computing in bfloat16 from the fp32 model file.
ENGINE_PRECISIONS = {"onnxruntime": ("fp32", "int8"), "openvino": ("fp32", "bf16", "int8")}
ENGINES = tuple(ENGINE_PRECISIONS)
_TOKEN_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class EncoderSettings:
    """Everything a worker needs to rebuild the runtime: small, picklable, no open handles."""

    model_dir: str
    model_file: str
    checksum: str
    special_tokens: dict[str, int]
    output: str | tuple[str, ...]  # several (QA's start and end logits) are stacked last
    output_size: int  # hidden size (embeddings) or number of labels (classifier)
    case_sensitive: bool = True
    max_sentence_length: int = 128
    batch_size: int = 8
    long_sentence_strategy: str = "window"
    execution_provider: str = "cpu"
    threads: int = 0
    engine: str = "onnxruntime"
    precision: str = "fp32"
    #: Where the stage shipped the files (``model_shipping.ShippedFiles``), or None: the
    #: folder at ``model_dir`` is read in place.
    shipped: ShippedFiles | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.output,) if isinstance(self.output, str) else tuple(self.output)


def stack_outputs(results: list[np.ndarray]) -> np.ndarray:
    """One output as it is; several (start and end logits) stacked on a last axis."""
    return results[0] if len(results) == 1 else np.stack(results, axis=-1)


def check_engine(engine: str, precision: str, execution_provider: str) -> None:
    """Refuse a combination an engine cannot run, before any work (driver and worker)."""
    allowed = ENGINE_PRECISIONS[engine]
    if precision not in allowed:
        other = [name for name, runs in ENGINE_PRECISIONS.items() if precision in runs]
        hint = f"; use setEngine('{other[0]}')" if other else ""
        raise EngineError(
            f"precision '{precision}' does not run on engine '{engine}' (it runs "
            f"{', '.join(allowed)}){hint}"
        )
    if engine == "openvino" and execution_provider != "cpu":
        raise EngineError(
            "engine 'openvino' runs on the CPU here; use executionProvider 'cpu', or engine "
            "'onnxruntime' for 'cuda'"
        )
    if engine == "openvino":
        _openvino()
    if execution_provider == "cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise EngineError(
                "executionProvider 'cuda' was asked for, but this onnxruntime build has no "
                "CUDAExecutionProvider; install onnxruntime-gpu on the driver and executors, or "
                "use 'cpu'"
            )


def _openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise EngineError(
            "engine 'openvino' needs the openvino package on the driver and every executor: "
            "pip install 'spark-deberta[openvino]'"
        ) from exc
    return openvino


class OnnxRuntimeEngine:
    """An ONNX Runtime session: fp32 or int8 model file, CPU or CUDA."""

    def __init__(self, settings: EncoderSettings, model_path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads or _task_cpus()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if settings.execution_provider == "cuda":  # check_engine saw the provider installed
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(model_path), options, providers=providers)
        if settings.execution_provider == "cuda" and (
            "CUDAExecutionProvider" not in self.session.get_providers()
        ):
            raise EngineError(
                "ONNX Runtime could not start its CUDA provider on this worker (no GPU, or a "
                "CUDA/cuDNN mismatch); use setExecutionProvider('cpu') or fix the GPU setup"
            )
        self.outputs = list(settings.outputs)

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        return stack_outputs(self.session.run(self.outputs, feeds))


class OpenVinoEngine:
    """OpenVINO's CPU plugin compiling the model file: f32, or bf16 arithmetic on a CPU with
    native bfloat16 (AVX512_BF16 or AMX); elsewhere bf16 is refused, never silently f32.

    The compiled model is not cached on disk: compiling takes 1.6-2 s per worker process for the
    xsmall shape, once per process, and a cache costs about 290 MB of disk per model and
    precision on every executor.
    """

    def __init__(self, settings: EncoderSettings, model_path: Path) -> None:
        ov = _openvino()
        core = ov.Core()
        if settings.precision == "bf16":
            capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            if "BF16" not in capabilities:
                raise EngineError(
                    "precision 'bf16' needs a CPU with native bfloat16 (AVX512_BF16 or AMX); "
                    f"this worker's CPU offers {', '.join(capabilities)}: use precision 'fp32'"
                )
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if settings.precision == "bf16" else "f32",
            "INFERENCE_NUM_THREADS": settings.threads or _task_cpus(),
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            # Several Python workers share the machine: pinned threads would pile up on the
            # same cores.
            "ENABLE_CPU_PINNING": False,
        }
        self.compiled = core.compile_model(core.read_model(str(model_path)), "CPU", config)
        self.outputs = [self.compiled.output(name) for name in settings.outputs]
        self._requests = threading.local()

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        # An infer request is not thread-safe; one per thread (LightPipeline may be shared).
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        results = request.infer(feeds)
        return stack_outputs([results[output] for output in self.outputs])


class Runtime:
    """A SentencePiece processor and an inference engine, one per process and model."""

    def __init__(self, settings: EncoderSettings, model_path: Path, spm_path: Path) -> None:
        import sentencepiece as spm

        if file_sha256(model_path) != settings.checksum:
            raise ModelFolderError(
                f"{model_path} does not match the sha256 checked on the driver: the copy that "
                "reached this worker is corrupt or a different model"
            )
        check_engine(settings.engine, settings.precision, settings.execution_provider)
        self.processor = spm.SentencePieceProcessor()
        self.processor.LoadFromSerializedProto(spm_path.read_bytes())
        delimiter = self.processor.PieceToId("▁")
        self.delimiter = delimiter if self.processor.IdToPiece(delimiter) == "▁" else None
        engine = OpenVinoEngine if settings.engine == "openvino" else OnnxRuntimeEngine
        self.engine: OnnxRuntimeEngine | OpenVinoEngine = engine(settings, model_path)
        self.settings = settings
        self._pieces: dict[str, list[int]] = {}

    def token_pieces(self, text: str) -> list[int]:
        """Piece ids of one token, cached: the same words recur across a corpus."""
        cached = self._pieces.get(text)
        if cached is not None:
            return cached
        ids = [i for i in self.processor.EncodeAsIds(text) if i != self.delimiter]
        if len(self._pieces) >= _TOKEN_CACHE_LIMIT:
            self._pieces.clear()
        self._pieces[text] = ids
        return ids

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.engine.run(input_ids, attention_mask)


def _task_cpus() -> int:
    """Intra-op threads: the task's CPUs inside Spark (spark.task.cpus), else every core.

    A Spark worker has imported PySpark already; elsewhere it is not imported for this.
    """
    pyspark = sys.modules.get("pyspark")
    if pyspark is not None:
        try:
            context = pyspark.TaskContext.get()
            if context is not None:
                return max(1, int(context.cpus()))
        except Exception:  # an old or partial PySpark: fall back to the cores
            pass
    return max(1, os.cpu_count() or 1)


_RUNTIMES: dict[tuple[str, str, str, int, str, str], Runtime] = {}
_LOCK = threading.Lock()
# Seconds of each model load this process has done, in order; only ever appended to.
_LOADS: list[float] = []


def model_loads() -> list[float]:
    """The seconds of every model load (checksum, tokenizer, engine session) this process has
    done, in order: a reader counts the loads past its own place (the job's summary per chunk,
    the profiler), so readers never take loads from each other."""
    with _LOCK:
        return list(_LOADS)


def model_location(settings: EncoderSettings) -> tuple[Path, Path]:
    """The model and spm files for this process: where the stage shipped them (in a Spark
    task, see ``annotators.model_shipping``; a graph with external data comes back in a folder
    that holds its data files under their own names, checked), or the driver's folder."""
    if settings.shipped is not None:
        located = settings.shipped.locate((settings.model_file, SPM_FILE))
        if located is not None:
            return located[0], located[1]
    folder = Path(settings.model_dir)
    return folder / settings.model_file, folder / SPM_FILE


def runtime_for(settings: EncoderSettings) -> Runtime:
    # The graph's checksum alone does not name the weights of a graph with external data
    # (fine-tuned models of one architecture can share its bytes): the shipped prefix digests
    # the data files' checksums too, and a folder read in place is its own path.
    key = (
        settings.checksum,
        settings.shipped.prefix if settings.shipped is not None else settings.model_dir,
        settings.execution_provider,
        settings.threads,
        settings.engine,
        settings.precision,
    )
    with _LOCK:
        found = _RUNTIMES.get(key)
        if found is None:
            started = time.perf_counter()
            found = Runtime(settings, *model_location(settings))
            _LOADS.append(time.perf_counter() - started)
            _RUNTIMES[key] = found
        return found


# -- planning sequences -------------------------------------------------------------------


@dataclass
class PieceSequence:
    piece_ids: list[int]
    # (index into the chunk's output rows, position of the token's first piece in piece_ids;
    # CLS_POSITION for a token without pieces)
    targets: list[tuple[int, int]]


#: Target position of a token without pieces: the sequence's [CLS].
CLS_POSITION = -1


def window_starts(pieces: int, window: int) -> list[int]:
    """Start offsets of windows of ``window`` pieces with half a window of overlap."""
    if pieces <= window:
        return [0]
    stride = max(1, window // 2)
    starts = list(range(0, pieces - window, stride))
    starts.append(pieces - window)
    return starts


def best_window(position: int, starts: Sequence[int], window: int) -> int:
    """The window in which ``position`` has the most context on its nearer side."""
    best, best_margin = 0, -1
    for index, start in enumerate(starts):
        if start <= position < start + window:
            margin = min(position - start, start + window - 1 - position)
            if margin > best_margin:
                best, best_margin = index, margin
    return best


def plan_sentence(
    token_pieces: list[list[int]], settings: EncoderSettings, first_output: int
) -> tuple[list[PieceSequence], list[int]]:
    """Sequences for one sentence, and the indices of the tokens that get a vector."""
    limit = settings.max_sentence_length - 2
    if settings.long_sentence_strategy == "truncate":
        token_pieces = token_pieces[:limit]
    firsts, flat = [], []
    for pieces in token_pieces:
        firsts.append(len(flat))
        flat.extend(pieces)
    if settings.long_sentence_strategy == "truncate" or len(flat) <= limit:
        flat = flat[:limit]
        # A token without pieces is kept when every piece before it is.
        kept = [
            i
            for i, first in enumerate(firsts)
            if first < len(flat) or (not token_pieces[i] and first <= len(flat))
        ]
        targets = [
            (first_output + n, firsts[i] if token_pieces[i] else CLS_POSITION)
            for n, i in enumerate(kept)
        ]
        return ([PieceSequence(flat, targets)] if targets else []), kept  # nothing to run
    starts = window_starts(len(flat), limit)
    sequences = [PieceSequence(flat[s : s + limit], []) for s in starts]
    for i, first in enumerate(firsts):
        w = best_window(min(first, len(flat) - 1), starts, limit)
        position = first - starts[w] if token_pieces[i] else CLS_POSITION
        sequences[w].targets.append((first_output + i, position))
    return [s for s in sequences if s.targets], list(range(len(token_pieces)))


def group_by_sentence(tokens: list[AnnotationDict]) -> list[list[AnnotationDict]]:
    """Group tokens by their sentence, in order of first appearance."""
    groups: dict[str, list[AnnotationDict]] = {}
    for token in tokens:
        groups.setdefault((token.get("metadata") or {}).get("sentence", "0"), []).append(token)
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class PlannedToken:
    """A token that gets an output row: the annotation, its text as fed to the model
    (lower-cased when the model is not case-sensitive) and its piece ids."""

    token: AnnotationDict
    text: str
    pieces: list[int]


def plan_token_rows(
    rows: list[list[AnnotationDict]], runtime: Runtime, settings: EncoderSettings
) -> tuple[list[list[PlannedToken]], list[PieceSequence]]:
    """Each row's tokens that get an output (in output-row order) and the sequences to run.

    Shared by the per-token stages (embeddings, token classification): output row ``i`` of
    ``encode(sequences, ...)`` belongs to the ``i``-th planned token over all rows.
    """
    lower = not settings.case_sensitive
    planned_rows: list[list[PlannedToken]] = []
    sequences: list[PieceSequence] = []
    count = 0
    for tokens in rows:
        planned: list[PlannedToken] = []
        for sentence in group_by_sentence(tokens):
            texts = [t["result"].lower() if lower else t["result"] for t in sentence]
            pieces = [runtime.token_pieces(text) for text in texts]
            sentence_sequences, kept = plan_sentence(pieces, settings, count)
            sequences.extend(sentence_sequences)
            planned.extend(PlannedToken(sentence[i], texts[i], pieces[i]) for i in kept)
            count += len(kept)
        planned_rows.append(planned)
    return planned_rows, sequences


def plan_batches(lengths: Sequence[int], batch_size: int, budget: int) -> list[list[int]]:
    """Group sequences (by index) into length-sorted batches.

    A batch holds at most ``batch_size`` sequences and ``budget`` padded positions, so padding
    stays small and one batch's memory is bounded whatever the lengths. ``lengths`` count every
    position, specials included.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    batch: list[int] = []
    for position, index in enumerate(order):
        batch.append(index)
        following = order[position + 1] if position + 1 < len(order) else None
        next_width = lengths[following] if following is not None else 0
        full = (
            len(batch) >= batch_size or (len(batch) + 1) * max(lengths[index], next_width) > budget
        )
        if following is None or full:
            batches.append(batch)
            batch = []
    return batches


def encode(
    sequences: list[PieceSequence], count: int, runtime: Runtime, settings: EncoderSettings
) -> np.ndarray:
    """Run the sequences in length-sorted, padded batches; gather each target's vector."""
    out = np.zeros((count, settings.output_size), dtype=np.float32)
    lengths = [len(s.piece_ids) + 2 for s in sequences]
    budget = settings.batch_size * settings.max_sentence_length
    for batch in plan_batches(lengths, settings.batch_size, budget):
        _run_batch([sequences[i] for i in batch], runtime, settings.special_tokens, out)
    return out


def padded_batch(
    piece_lists: Sequence[Sequence[int]], special: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``[CLS] pieces [SEP]`` per row, padded with ``[PAD]`` to the longest, and its attention
    mask: the model's two inputs."""
    width = max(len(pieces) for pieces in piece_lists) + 2
    input_ids = np.full((len(piece_lists), width), special["[PAD]"], dtype=np.int64)
    mask = np.zeros_like(input_ids)
    for row, pieces in enumerate(piece_lists):
        length = len(pieces)
        input_ids[row, 0] = special["[CLS]"]
        input_ids[row, 1 : length + 1] = pieces
        input_ids[row, length + 1] = special["[SEP]"]
        mask[row, : length + 2] = 1
    return input_ids, mask


def _run_batch(
    batch: list[PieceSequence], runtime: Runtime, special: dict[str, int], out: np.ndarray
) -> None:
    output = runtime.run(*padded_batch([s.piece_ids for s in batch], special))
    for row, sequence in enumerate(batch):
        for target, position in sequence.targets:
            # (batch, sequence, hidden) gives the piece's vector; (batch, labels) the logits
            out[target] = output[row, position + 1] if output.ndim == 3 else output[row]


# -- sequence classification ----------------------------------------------------------------


def plan_text(
    token_pieces: list[list[int]], settings: EncoderSettings, first_output: int
) -> list[PieceSequence]:
    """Sequences that classify one text; each has its own output row, to be averaged.

    ``truncate`` keeps the reference's cut (the first ``max - 2`` tokens, then pieces); ``window``
    covers a longer text with half-overlapping windows, so no token is left out.
    """
    limit = settings.max_sentence_length - 2
    if settings.long_sentence_strategy == "truncate":
        token_pieces = token_pieces[:limit]
    flat = [piece for pieces in token_pieces for piece in pieces]
    parts = piece_windows(flat, limit, settings.long_sentence_strategy)
    return [PieceSequence(part, [(first_output + n, 0)]) for n, part in enumerate(parts)]


def piece_windows(pieces: list[int], limit: int, strategy: str) -> list[list[int]]:
    """A text's pieces as the classifiers read them: cut to ``limit`` (``truncate``, or when they
    fit), else in half-overlapping windows of ``limit``."""
    if strategy == "truncate" or len(pieces) <= limit:
        return [pieces[:limit]]
    return [pieces[start : start + limit] for start in window_starts(len(pieces), limit)]


def plan_pair(
    first: list[int], second: list[int], settings: EncoderSettings, output: int
) -> tuple[PieceSequence, bool]:
    """``[CLS] a [SEP] b [SEP]``, cut longest-first to fit; and whether anything was cut."""
    room = settings.max_sentence_length - 3
    a, b = len(first), len(second)
    while a + b > room:
        if a >= b:
            a -= 1
        else:
            b -= 1
    sep = settings.special_tokens["[SEP]"]
    truncated = (a, b) != (len(first), len(second))
    return PieceSequence([*first[:a], sep, *second[:b]], [(output, 0)]), truncated


def text_pieces(tokens: list[AnnotationDict], runtime: Runtime, lower: bool) -> list[list[int]]:
    """Each token's piece ids (lower-cased first when the model is not case-sensitive)."""
    return [runtime.token_pieces(t["result"].lower() if lower else t["result"]) for t in tokens]


def embed_rows(
    rows: list[list[AnnotationDict]], settings: EncoderSettings
) -> list[list[AnnotationDict]]:
    """Word-embedding annotations for each row's tokens (the stage's core)."""
    runtime = runtime_for(settings)
    planned_rows, sequences = plan_token_rows(rows, runtime, settings)
    vectors = encode(sequences, sum(map(len, planned_rows)), runtime, settings)
    outputs: list[list[AnnotationDict]] = []
    index = 0
    for planned in planned_rows:
        row_out: list[AnnotationDict] = []
        for item in planned:
            token = item.token
            row_out.append(
                {
                    "annotatorType": WORD_EMBEDDINGS,
                    "begin": token["begin"],
                    "end": token["end"],
                    "result": item.text,
                    "metadata": {
                        "sentence": sentence_key(token),
                        "token": item.text,
                        "pieceId": str(item.pieces[0] if item.pieces else CLS_POSITION),
                        "isWordStart": "true",
                    },
                    "embeddings": vectors[index],
                }
            )
            index += 1
        outputs.append(row_out)
    return outputs
