"""One-off probe (issue 13): are static int8 paths faster than bf16 at cosine >= 0.999?

    pip install nncf && python bench/int8_probe.py     # after a python bench/run.py
    python bench/int8_probe.py --dynamic-only          # up to OpenVINO's dynamic quantization

Reads the benchmark's xsmall model folder (bench/.work/xsmall/models/model), calibrates on
every other sequence of the corpus's first 900 sentences (200 sequences) and times the other
half in length-sorted batches of 8, one process, two threads, against ONNX Runtime fp32:
ONNX Runtime int8 dynamic (ours), OpenVINO bf16, OpenVINO int8 by NNCF (static, SmoothQuant,
calibrated) with the rest in f32 or bf16, and ONNX Runtime static QDQ int8 (per channel,
MatMul only); and (issue 26) OpenVINO with int8-compressed weights (NNCF, no calibration) and
the CPU plugin's dynamic quantization of fully connected layers at several group sizes. Cosines
are over real token vectors. Not part of the test suite or the package.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotators.deberta.encoder import padded_batch  # noqa: E402
from annotators.deberta.model_folder import load_model_folder  # noqa: E402
from bench.run import load_documents, plan_corpus  # noqa: E402

FOLDER = ROOT / "bench" / ".work" / "xsmall" / "models" / "model"
WORK = ROOT / "bench" / ".work" / "int8_probe"


def batches(pieces: list[list[int]], indices: list[int], size: int = 8) -> list[dict]:
    special = load_model_folder(FOLDER).manifest.special_tokens
    indices = sorted(indices, key=lambda i: len(pieces[i]))
    out = []
    for start in range(0, len(indices), size):
        group = [pieces[i] for i in indices[start : start + size]]
        ids, mask = padded_batch(group, special)
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


def main() -> None:
    import nncf
    import onnxruntime as ort
    import openvino as ov
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    WORK.mkdir(parents=True, exist_ok=True)
    pieces = plan_corpus(load_documents(900), FOLDER).pieces
    calibration = batches(pieces, list(range(0, len(pieces), 2))[:200])
    test = batches(pieces, list(range(1, len(pieces), 2)))
    tokens = sum(int(f["attention_mask"].sum()) for f in test)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2

    def session(path: Path) -> Any:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    reference = session(FOLDER / "model.onnx")
    expected = [reference.run(None, f)[0] for f in test]

    def measure(run: Any, name: str) -> None:
        run(test[0])
        started = time.perf_counter()
        outputs = [run(f) for f in test]
        seconds = time.perf_counter() - started
        cosines = []
        for feeds, a, b in zip(test, expected, outputs, strict=True):
            real = feeds["attention_mask"].astype(bool)
            a, b = a[real], b[real]
            cosines.extend(
                (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
            )
        print(
            f"| {name} | {tokens / seconds:.0f} | {np.mean(cosines):.6f} | {np.min(cosines):.6f} |",
            flush=True,
        )

    print("| path | tokens/s | cosine mean | cosine min |\n| --- | ---: | ---: | ---: |")
    measure(lambda f: reference.run(None, f)[0], "ONNX Runtime fp32")
    dynamic = session(FOLDER / "model_int8.onnx")
    measure(lambda f: dynamic.run(None, f)[0], "ONNX Runtime int8, dynamic (ours)")
    core = ov.Core()

    def openvino(model: Any, hint: str, **extra: Any) -> Any:
        config = {
            "INFERENCE_PRECISION_HINT": hint,
            "INFERENCE_NUM_THREADS": 2,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,
            **extra,
        }
        compiled = core.compile_model(model, "CPU", config)
        request, output = compiled.create_infer_request(), compiled.output(0)
        return lambda f: request.infer(f)[output]

    measure(openvino(core.read_model(str(FOLDER / "model.onnx")), "bf16"), "OpenVINO bf16")
    # Issue 26: int8-compressed weights (no calibration), activations quantized per group at run
    # time by the CPU plugin for the fully connected layers (0: off), the rest in f32 or bf16.
    compressed = nncf.compress_weights(
        core.read_model(str(FOLDER / "model.onnx")), mode=nncf.CompressWeightsMode.INT8_ASYM
    )
    for group in (0, 32, 128):
        for hint in ("f32", "bf16"):
            measure(
                openvino(compressed, hint, DYNAMIC_QUANTIZATION_GROUP_SIZE=group),
                f"OpenVINO int8 weights, dynamic quantization group {group}, rest {hint}",
            )
    if "--dynamic-only" in sys.argv:
        return
    quantized = nncf.quantize(
        core.read_model(str(FOLDER / "model.onnx")),
        nncf.Dataset(calibration),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(calibration),
    )
    measure(openvino(quantized, "f32"), "OpenVINO int8 (NNCF static), rest f32")
    measure(openvino(quantized, "bf16"), "OpenVINO int8 (NNCF static), rest bf16")

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration)

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    prepared, static = WORK / "prepared.onnx", WORK / "static_int8.onnx"
    quant_pre_process(str(FOLDER / "model.onnx"), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(static),
        Calibration(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
    )
    static_session = session(static)
    measure(lambda f: static_session.run(None, f)[0], "ONNX Runtime int8, static QDQ")


if __name__ == "__main__":
    main()
