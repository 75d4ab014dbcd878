"""One-off probe (issue 13): are static int8 paths faster than bf16 at cosine >= 0.999?

    pip install nncf && python bench/int8_probe.py     # after a python bench/run.py
    python bench/int8_probe.py --dynamic-only          # up to OpenVINO's dynamic quantization
    python bench/int8_probe.py --dynamic-only --rounds 5

Reads the benchmark's xsmall model folder (bench/.work/xsmall/models/model), calibrates on
every other sequence of the corpus's first 900 sentences (200 sequences) and times the other
half in length-sorted batches of 8, one process, two threads, against ONNX Runtime fp32:
ONNX Runtime int8 dynamic (ours), OpenVINO bf16, OpenVINO int8 by NNCF (static, SmoothQuant,
calibrated) with the rest in f32 or bf16, and ONNX Runtime static QDQ int8 (per channel,
MatMul only); and (issue 26) OpenVINO with int8-compressed weights (NNCF, no calibration; or
stored in an ONNX file as DequantizeLinear, the only form a model folder can hold) and the CPU
plugin's dynamic quantization of fully connected layers at several group sizes. Those paths are
timed in rounds (``--rounds``, 3 by default), every path once per round, the order rotated each
round; the median round is shown with the range, and the median of each round's rate against
our int8's in the same round: single passes of about ten seconds each moved by a third between
runs on a shared machine, and a fixed order favoured some paths. Each OpenVINO path's name says
how many fully connected layers the compiled model runs on u8 weights. Cosines are over real
token vectors. Not part of the test suite or the package.
"""

from __future__ import annotations

import argparse
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


def onnx_int8_weights(source: Path, target: Path) -> int:
    """``source`` with every MatMul's constant weight stored as uint8 (asymmetric, per output
    channel) behind DequantizeLinear and a Transpose: the form of an int8-compressed weight
    that OpenVINO's CPU plugin runs with dynamic quantization (without the Transpose, stored
    ``[in, out]`` with ``axis=1``, the plugin did not take the group size: same speed at 0 and
    128), in a file a model folder can hold (ONNX). Each weight is stored once however many
    MatMuls read it. MatMuls that reach a weight through an Identity node (the relative-position
    projections, which reuse the query and key weights on constant inputs) keep the fp32 copy:
    with those compressed too, OpenVINO 2026.4's CPU plugin refused the graph (an element type
    not static). Returns how many weights were compressed."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        raise ValueError(f"{source}: opset {opset}; a per-axis DequantizeLinear needs 13 or later")
    graph = model.graph
    weights = {w.name: w for w in graph.initializer}
    added, decompress, stored_as = [], [], {}
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        name = node.input[1]
        weight = weights.get(name)
        if weight is None or len(weight.dims) != 2:
            continue
        if name not in stored_as:
            rows = numpy_helper.to_array(weight).astype(np.float32).T  # [out, in]
            low, high = np.minimum(rows.min(axis=1), 0), np.maximum(rows.max(axis=1), 0)
            scale = np.where(high > low, (high - low) / 255.0, 1.0).astype(np.float32)
            zero = np.clip(np.round(-low / scale), 0, 255).astype(np.uint8)
            stored = np.clip(np.round(rows / scale[:, None]) + zero[:, None], 0, 255)
            added += [
                numpy_helper.from_array(stored.astype(np.uint8), f"{name}_u8"),
                numpy_helper.from_array(scale, f"{name}_scale"),
                numpy_helper.from_array(zero, f"{name}_zero"),
            ]
            decompress += [
                helper.make_node(
                    "DequantizeLinear",
                    [f"{name}_u8", f"{name}_scale", f"{name}_zero"],
                    [f"{name}_rows"],
                    axis=0,
                ),
                helper.make_node("Transpose", [f"{name}_rows"], [f"{name}_int8"], perm=[1, 0]),
            ]
            stored_as[name] = f"{name}_int8"
        node.input[1] = stored_as[name]
    nodes = decompress + list(graph.node)  # constants first: the graph stays in order
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    kept = [w for w in graph.initializer if w.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return len(stored_as)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dynamic-only", action="store_true", help="stop before static int8")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of the dynamic paths (at least 1)"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
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

    def cosines(outputs: list[np.ndarray]) -> list[float]:
        found = []
        for feeds, a, b in zip(test, expected, outputs, strict=True):
            real = feeds["attention_mask"].astype(bool)
            a, b = a[real], b[real]
            found.extend((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1))
        return found

    def compare(paths: list[tuple[str, Any]], rounds: int, against: str | None = None) -> None:
        """Each path over the test batches once per round, all paths within a round, the order
        rotated each round (so neither the machine's drift nor a path's place favours one);
        the median round's rate is shown with the range, and the median of each round's rate
        against ``against``'s in the same round."""
        seconds: dict[str, list[float]] = {name: [] for name, _ in paths}
        outputs: dict[str, list[np.ndarray]] = {}
        for _, run in paths:
            run(test[0])
        for round_ in range(rounds):
            shift = round_ % len(paths)
            for name, run in paths[shift:] + paths[:shift]:
                started = time.perf_counter()
                outputs[name] = [run(f) for f in test]
                seconds[name].append(time.perf_counter() - started)
        for name, _ in paths:
            rates = [tokens / s for s in seconds[name]]
            spread = f"{min(rates):.0f}-{max(rates):.0f}" if rounds > 1 else ""
            ratio = ""
            if against is not None:
                paired = zip(seconds[name], seconds[against], strict=True)
                ratio = f"{np.median([b / s for s, b in paired]):.2f}"
            found = cosines(outputs[name])
            print(
                f"| {name} | {np.median(rates):.0f} | {spread} | {ratio} "
                f"| {np.mean(found):.6f} | {np.min(found):.6f} |",
                flush=True,
            )

    def measure(run: Any, name: str) -> None:
        compare([(name, run)], 1)

    print(
        "| path | tokens/s, median | range | against ours int8, median | cosine mean | cosine min |"
        "\n| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    dynamic = session(FOLDER / "model_int8.onnx")
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

        def run(feeds: dict) -> Any:
            return request.infer(feeds)[output]

        run.u8_layers = u8_fully_connected(compiled)  # type: ignore[attr-defined]
        return run

    def u8_fully_connected(compiled: Any) -> int:
        """Fully connected layers the plugin runs on u8 weights: shows the compression kept
        (a weight decompressed at load would still show quantization error in the cosines)."""
        count = 0
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "layerType" in info and info["layerType"].astype(str) == "FullyConnected":
                count += any(str(i.get_element_type()) == "<Type: 'uint8_t'>" for i in op.inputs())
        return count

    paths = [
        ("ONNX Runtime fp32", lambda f: reference.run(None, f)[0]),
        ("ONNX Runtime int8, dynamic (ours)", lambda f: dynamic.run(None, f)[0]),
        ("OpenVINO bf16", openvino(core.read_model(str(FOLDER / "model.onnx")), "bf16")),
    ]
    # Issue 26: int8-compressed weights (no calibration), activations quantized per group at run
    # time by the CPU plugin for the fully connected layers (0: off), the rest in f32 or bf16.
    compressed = nncf.compress_weights(
        core.read_model(str(FOLDER / "model.onnx")), mode=nncf.CompressWeightsMode.INT8_ASYM
    )
    for group, hint in ((0, "bf16"), (32, "bf16"), (128, "f32"), (128, "bf16"), (256, "bf16")):
        run = openvino(compressed, hint, DYNAMIC_QUANTIZATION_GROUP_SIZE=group)
        paths.append(
            (
                f"OpenVINO int8 weights (NNCF; {run.u8_layers} u8 layers), dynamic quantization "
                f"group {group}, rest {hint}",
                run,
            )
        )
    # The same, with the weights compressed in an ONNX file rather than by NNCF in memory.
    in_onnx = WORK / "model_int8_weights.onnx"
    onnx_int8_weights(FOLDER / "model.onnx", in_onnx)
    for group in (0, 128):
        run = openvino(core.read_model(str(in_onnx)), "bf16", DYNAMIC_QUANTIZATION_GROUP_SIZE=group)
        paths.append(
            (
                f"OpenVINO int8 weights in the ONNX file ({run.u8_layers} u8 layers), dynamic "
                f"quantization group {group}, rest bf16",
                run,
            )
        )
    compare(paths, args.rounds, against="ONNX Runtime int8, dynamic (ours)")
    if args.dynamic_only:
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
