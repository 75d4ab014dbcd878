"""Spark NLP model folders in and out.

In: a folder saved by Spark NLP's ``DeBertaEmbeddings`` or a DeBERTa classifier (``.save(path)``
or a downloaded model unzipped) becomes our model folder. Its layout:

- ``metadata/part-00000``: Spark ML's params JSON (class, ``paramMap``, ``defaultParamMap``);
- ``deberta_onnx`` (embeddings) or ``deberta_classification_onnx`` (classifiers): a zip holding
  one ``.onnx`` graph, and for graphs past 2 GB its external-data file (``*_data``), inside the
  zip or beside it;
- ``deberta_spp``: the SentencePiece model;
- ``fields/``: the labels, written by the JVM as a Java-serialized object file, which this
  library does not read (nothing is unpickled or deserialized): classifiers take their labels
  from ``labels`` (a list, or a ``labels.txt`` with one label per line, as Spark NLP's own
  ``loadSavedModel`` reads).

The result passes the same checks as an exported folder (graph inputs and outputs, special
pieces, checksums, external-data locations). A graph that takes inputs other than ``input_ids``
and ``attention_mask`` (``token_type_ids``) is refused with a clear error: the runtime feeds
those two. Nothing outside the source folder is read: a link anywhere in it is refused. Whatever
is malformed (metadata, params such as ``"caseSensitive": "maybe"``, the zip, the graph) is a
ModelFolderError naming the file.

Out: ``write_spark_nlp_import`` writes what Spark NLP's ``loadSavedModel`` imports for ONNX
(``model.onnx``, ``assets/spm.model``, ``assets/labels.txt``), so an export can be cross-checked
inside Spark NLP.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from annotators.deberta.manifest import (
    FORMAT_VERSION,
    MODEL_FILE,
    MODEL_INPUTS,
    SPM_FILE,
    Manifest,
    file_entries,
    write_model_folder,
)
from annotators.deberta.model_folder import ModelFolder, check_external_data, load_model_folder
from annotators.deberta.pretrained import safe_extract
from annotators.errors import ModelFolderError
from annotators.tasks import REFERENCE_CLASSES, TASKS

#: max_position_embeddings of every DeBERTa-v3 checkpoint (xsmall to large, mDeBERTa): a Spark
#: NLP folder keeps no config.json to read it from.
DEBERTA_V3_POSITIONS = 512
SPM_NAME = "deberta_spp"
LABELS_FILE = "labels.txt"
#: A zip may unpack to at most this many times its size (weights barely compress).
MAX_EXPANSION = 20


def _refuse_links(folder: Path) -> None:
    """Refuse a link anywhere in ``folder``: the import copies files, and a link would copy a
    file from outside the folder into the model folder."""
    for parent, dirs, files in os.walk(folder, followlinks=False):
        for name in [*dirs, *files]:
            entry = Path(parent) / name
            if entry.is_symlink() or folder not in entry.resolve().parents:
                raise ModelFolderError(
                    f"{entry} is a link: a Spark NLP folder is imported only from its own "
                    "files; copy the file it points to into the folder"
                )


def _read_params(folder: Path) -> tuple[str, dict[str, Any]]:
    metadata = folder / "metadata" / "part-00000"
    if not metadata.is_file():
        raise ModelFolderError(f"{folder} is not a saved Spark NLP model: {metadata} is missing")
    try:
        saved = json.loads(metadata.read_text(encoding="utf-8").splitlines()[0])
    except OSError as exc:
        raise ModelFolderError(f"{metadata} cannot be read ({exc})") from exc
    except (ValueError, IndexError, RecursionError) as exc:  # bad UTF-8 or JSON, empty, too deep
        raise ModelFolderError(f"{metadata} is not Spark ML params JSON ({exc})") from exc
    if not isinstance(saved, dict) or not isinstance(saved.get("class"), str):
        raise ModelFolderError(f"{metadata} names no class")
    params: dict[str, Any] = {}
    for key in ("defaultParamMap", "paramMap"):  # set params override defaults
        found = saved.get(key)
        if found is None:
            continue
        if not isinstance(found, dict):
            raise ModelFolderError(f"{metadata}: {key} must be a JSON object, not {found!r}")
        params.update(found)
    return saved["class"], params


def _bool_param(params: dict[str, Any], name: str, default: bool, where: Path) -> bool:
    """A boolean param as Spark ML writes it (true/false), or as a string ("true"/"false", any
    case); anything else is refused rather than read by truthiness ("false" is truthy)."""
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ModelFolderError(f"{where}: param {name} must be true or false, not {value!r}")


def _count_param(params: dict[str, Any], name: str, where: Path) -> int:
    """An integer param >= 0 (0 when unset), as a JSON number or decimal string."""
    value = params.get(name) or 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ModelFolderError(f"{where}: param {name} must be an integer >= 0, not {value!r}")
    return value


def _read_labels(labels: list[str] | str | os.PathLike[str] | None, task: str) -> list[str] | None:
    if not TASKS[task].labelled:
        return None
    if labels is None:
        raise ModelFolderError(
            f"a Spark NLP {task} folder keeps its labels as a JVM object file, which is not "
            f"read here; pass labels=[...] or the path of a {LABELS_FILE} (one label per line, "
            "in the model's output order)"
        )
    if isinstance(labels, list | tuple):
        found = [str(label) for label in labels]
    else:
        try:
            text = Path(labels).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFolderError(
                f"labels file {labels} cannot be read as UTF-8 text ({exc})"
            ) from exc
        found = [label for label in (line.strip() for line in text.splitlines()) if label]
    if not found or len(set(found)) != len(found):
        raise ModelFolderError(f"labels must be distinct and non-empty, got {found}")
    return found


def _unpack_graph(folder: Path, zip_name: str, work: Path) -> tuple[Path, list[Path]]:
    """The graph (renamed model.onnx) and any external-data files, in ``work``."""
    archive = folder / zip_name
    if not archive.is_file():
        raise ModelFolderError(f"{folder} has no ONNX graph {zip_name}")
    if not zipfile.is_zipfile(archive):
        raise ModelFolderError(f"{archive} is not a zip file: the folder is corrupt")
    unpacked = work / "unpacked"
    safe_extract(archive, unpacked, max_bytes=archive.stat().st_size * MAX_EXPANSION + (1 << 20))
    files = [p for p in unpacked.rglob("*") if p.is_file()]
    graphs = [p for p in files if p.name.endswith(".onnx")]
    if len(graphs) != 1:
        raise ModelFolderError(
            f"{archive} must hold one .onnx graph, found {sorted(p.name for p in graphs)}"
        )
    data = [p for p in files if p.name.endswith("_data")]
    data += [p for p in folder.iterdir() if p.is_file() and p.name.endswith("_data")]
    return graphs[0], data


def _check_inputs(session: Any, where: Path) -> None:
    inputs = sorted(i.name for i in session.get_inputs())
    if inputs != sorted(MODEL_INPUTS):
        raise ModelFolderError(
            f"the graph in {where} takes inputs {inputs}; this library feeds "
            f"{list(MODEL_INPUTS)} only. Export the checkpoint with spark-deberta export instead"
        )


def _outputs(session: Any, task: str, where: Path) -> list[str]:
    names = [o.name for o in session.get_outputs()]
    wanted = TASKS[task].outputs
    if all(name in names for name in wanted):
        return list(wanted)
    if len(names) == len(wanted):  # other names, same count: take them in order
        return names
    raise ModelFolderError(
        f"the graph in {where} has outputs {names}; a {task} model needs {list(wanted)}"
    )


def import_spark_nlp_folder(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    labels: list[str] | str | os.PathLike[str] | None = None,
    name: str | None = None,
    lang: str = "en",
    overwrite: bool = False,
) -> ModelFolder:
    """Turn a saved Spark NLP DeBERTa folder into a checked model folder at ``out``."""
    import onnxruntime as ort
    import sentencepiece as spm

    from annotators.deberta.export import special_tokens
    from annotators.version import library_version

    folder = Path(source).expanduser().resolve()
    target = Path(out).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ModelFolderError(f"{target} exists and is not a folder")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ModelFolderError(f"{target} exists and is not empty; pass overwrite=True")
    if not folder.is_dir():
        raise ModelFolderError(f"{folder} is not a folder: pass a saved Spark NLP model's folder")
    _refuse_links(folder)
    metadata = folder / "metadata" / "part-00000"
    spark_class, params = _read_params(folder)
    if spark_class not in REFERENCE_CLASSES:
        raise ModelFolderError(
            f"{folder} holds a {spark_class}, not a DeBERTa model this library reads "
            f"({', '.join(c.rsplit('.', 1)[1] for c in REFERENCE_CLASSES)})"
        )
    held = REFERENCE_CLASSES[spark_class]
    task, zip_name = held.name, held.reference_model_dir
    # Checked before the graph is unpacked and run: a bad param costs nothing.
    case_sensitive = _bool_param(params, "caseSensitive", task != "question-answering", metadata)
    if task != "embeddings":
        _count_param(params, "dimension", metadata)
    found_labels = _read_labels(labels, task)
    spm_source = folder / SPM_NAME
    if not spm_source.is_file():
        raise ModelFolderError(f"{folder} has no SentencePiece model {SPM_NAME}")
    try:
        special = special_tokens(spm_source)
    except Exception as exc:
        raise ModelFolderError(
            f"{spm_source} is not a DeBERTa-v3 SentencePiece model ({exc})"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as temp:
        work = Path(temp)
        staged = work / "model"
        staged.mkdir()
        graph, data_files = _unpack_graph(folder, zip_name, work)
        for data in data_files:  # the graph refers to its data by this name, beside it
            shutil.copyfile(data, staged / data.name)
        shutil.copyfile(graph, staged / MODEL_FILE)
        shutil.copyfile(spm_source, staged / SPM_FILE)
        check_external_data(staged / MODEL_FILE, {data.name for data in data_files})
        try:
            session = ort.InferenceSession(
                str(staged / MODEL_FILE), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelFolderError(
                f"the graph in {folder / zip_name} does not load in ONNX Runtime ({exc})"
            ) from exc
        _check_inputs(session, folder / zip_name)
        outputs = _outputs(session, task, folder / zip_name)
        probe = np.array([[special["[CLS]"], special["[SEP]"]]], dtype=np.int64)
        try:
            width = session.run(
                outputs, {"input_ids": probe, "attention_mask": np.ones_like(probe)}
            )
            last = int(width[0].shape[-1])
        except Exception as exc:  # onnxruntime's own types; a scalar output has no width
            raise ModelFolderError(
                f"the graph in {folder / zip_name} does not run on a two-token probe ({exc})"
            ) from exc
        if found_labels is not None and last != len(found_labels):
            raise ModelFolderError(
                f"the graph gives {last} scores, but {len(found_labels)} labels were given: "
                f"{found_labels}"
            )
        vocab = spm.SentencePieceProcessor(model_file=str(staged / SPM_FILE)).GetPieceSize()
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            name=name or folder.name,
            language=lang,
            task=task,
            dimension=last if task == "embeddings" else _count_param(params, "dimension", metadata),
            max_position_embeddings=DEBERTA_V3_POSITIONS,
            case_sensitive=case_sensitive,
            vocab_size=int(vocab),
            special_tokens=special,
            inputs=list(MODEL_INPUTS),
            output=outputs[0] if len(outputs) == 1 else outputs,
            labels=found_labels,
            problem_type=None,
            files=file_entries(staged),
            source={"spark_nlp_folder": str(folder), "class": spark_class},
            exporter={"spark_deberta": library_version(), "imported_from": "spark-nlp"},
            parity={"reference": "none: imported from a Spark NLP folder, not re-run"},
        )
        write_model_folder(staged, manifest, target)
    return load_model_folder(target)


def write_spark_nlp_import(model: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write ``model.onnx``, ``assets/spm.model`` and ``assets/labels.txt`` for Spark NLP's
    ``loadSavedModel`` (ONNX), from a model folder."""
    folder = load_model_folder(model)
    target = Path(out).expanduser().resolve()
    (target / "assets").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder.model_file("fp32"), target / MODEL_FILE)
    for name in folder.manifest.files:
        if name.endswith("_data"):
            shutil.copyfile(folder.path / name, target / name)
    shutil.copyfile(folder.spm_file, target / "assets" / SPM_FILE)
    if folder.labels:
        (target / "assets" / LABELS_FILE).write_text(
            "".join(f"{label}\n" for label in folder.labels), encoding="utf-8"
        )
    return target
