"""The job's configuration: a YAML file (conf/job.yaml), overridden from the command line.

Stage sections use Spark NLP's parameter names (``cleanupMode``, ``batchSize``...) and are set on
the stages through their own Params, so every stage parameter is configurable and checked by the
same converters the setters use. Everything is validated before Spark starts: an unknown section
or key, or a value of the wrong type, is refused with a message naming it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pyspark.ml.param import Params

from annotators.errors import ConfigError
from annotators.tasks import job_slots
from pipelines.inputs import BAD_RECORD_MODES, INPUT_FORMATS
from pipelines.storage import COMMIT_PROTOCOLS, OUTPUT_MODES

ROOT = Path(__file__).resolve().parents[1]
#: Where an installed package keeps conf/ (pyproject's data-files): under the environment's
#: data path, or the user base for a --user install.
INSTALLED_CONF = Path("share") / "spark-deberta" / "conf"


def default_config_file() -> Path:
    """conf/job.yaml: the checkout's, else the copy installed with the package.

    A package without it would run on the built-in defaults without saying so, so its absence
    is an error that says how to proceed.
    """
    import site
    import sysconfig

    candidates = [
        ROOT / "conf" / "job.yaml",
        Path(sysconfig.get_paths()["data"]) / INSTALLED_CONF / "job.yaml",
        Path(site.getuserbase()) / INSTALLED_CONF / "job.yaml",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "the default job config conf/job.yaml was found in none of "
        f"{', '.join(str(c) for c in candidates)}; reinstall spark-deberta or pass --config"
    )


#: Non-stage sections: key -> (allowed Python types, default). ``None`` means "not set".
IO_SECTIONS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "input": {
        "path": ((str,), None),
        "format": ((str,), None),
        "text_col": ((str,), "text"),
        "id_col": ((str,), None),
        "partitions": ((int,), None),
        "bad_records": ((str,), "fail"),
    },
    "output": {
        "path": ((str,), None),
        "mode": ((str,), "error"),
        "finish": ((bool,), False),
        "partitions": ((int,), None),
        "commit": ((str,), "auto"),
        "lock_lease_s": ((int, float), 600),
    },
    # One per task the job runs: the model folder or pretrained name, and its language.
    **{
        slot.model_section: {"name": ((str,), slot.default_model), "lang": ((str,), "en")}
        for _, slot in job_slots()
    },
    "job": {
        "progress_interval_s": ((int, float), 10),
        "sentence_embeddings": ((bool,), False),
    },
}
#: Numeric keys' allowed range, inclusive: (low, high). NaN and infinities are never allowed.
#: Spark schedules one task per partition: past ``MAX_PARTITIONS`` the driver only plans.
MAX_PARTITIONS = 100_000
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("input", "partitions"): (1, MAX_PARTITIONS),
    ("output", "partitions"): (1, MAX_PARTITIONS),
    ("output", "lock_lease_s"): (1, 7 * 24 * 3600),
    ("job", "progress_interval_s"): (0, 24 * 3600),
}
CHOICES = {
    ("input", "format"): INPUT_FORMATS,
    ("output", "mode"): OUTPUT_MODES,
    ("input", "bad_records"): BAD_RECORD_MODES,
    ("output", "commit"): COMMIT_PROTOCOLS,
}
#: Sections setting the Params of the stages around the models (see ``stage_classes``).
TEXT_STAGE_SECTIONS = (
    "document_assembler",
    "sentence_detector",
    "tokenizer",
    "sentence_embeddings",
    "ner_converter",
)
#: Every stage section: the text stages' and each task's (``JobSlot.stage_section``).
STAGE_SECTIONS = (
    *TEXT_STAGE_SECTIONS,
    *(slot.stage_section for _, slot in job_slots()),
)
#: Params the job wires itself: setting them from the config would break the pipeline.
#: With the Params that do nothing here (kept for ported code), none is a config key.
WIRED_PARAMS = {"inputCol", "inputCols", "outputCol", "modelPath", "pairInputCol", "lazyAnnotator"}


def stage_classes() -> dict[str, type[Params]]:
    """The stage class whose Params each stage section sets."""
    from annotators import (
        DocumentAssembler,
        NerConverter,
        SentenceDetector,
        SentenceEmbeddings,
        Tokenizer,
    )

    classes: dict[str, type[Params]] = dict(
        zip(
            TEXT_STAGE_SECTIONS,
            (DocumentAssembler, SentenceDetector, Tokenizer, SentenceEmbeddings, NerConverter),
            strict=True,
        )
    )
    for task, slot in job_slots():
        classes[slot.stage_section] = task.stage_class()
    return classes


def defaults() -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {
        section: {key: default for key, (_, default) in keys.items()}
        for section, keys in IO_SECTIONS.items()
    }
    config.update({section: {} for section in STAGE_SECTIONS})
    return config


def load_file(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {file} does not exist")
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {file} must hold a mapping of sections")
    return loaded


def parse_override(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` with the value read as YAML (``true``, ``8``, ``[a, b]``)."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"override '{text}' must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{text}': the value is not valid YAML: {exc}") from exc
    return section, key, value


def merge(base: dict[str, dict[str, Any]], layer: Mapping[str, Any], origin: str) -> None:
    for section, values in layer.items():
        if section not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"{origin}: unknown section '{section}'; known sections: {known}")
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: section '{section}' must be a mapping of keys")
        for key, value in values.items():
            base[section][str(key)] = value


def _check_plain(section: str, key: str, value: Any) -> None:
    types, _ = IO_SECTIONS[section][key]
    if value is None:
        return
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{section}.{key}: expected {types[0].__name__}, got a boolean")
    if not isinstance(value, types):
        raise ConfigError(
            f"{section}.{key}: expected {' or '.join(t.__name__ for t in types)}, "
            f"got {type(value).__name__} {value!r}"
        )
    allowed = CHOICES.get((section, key))
    if allowed and value not in allowed:
        raise ConfigError(f"{section}.{key}: '{value}' is not one of {', '.join(allowed)}")
    bounds = RANGES.get((section, key))
    if bounds and not (math.isfinite(value) and bounds[0] <= value <= bounds[1]):
        low, high = bounds
        raise ConfigError(f"{section}.{key}: {value!r} is not a number from {low:g} to {high:g}")


def check_stage_value(section: str, stage: Params, key: str, value: Any) -> Any:
    """The value converted by the stage's own Param, or a ConfigError naming the key."""
    if key in WIRED_PARAMS or not stage.hasParam(key):
        settable = sorted(p.name for p in stage.params if p.name not in WIRED_PARAMS)
        raise ConfigError(
            f"{section}.{key}: {type(stage).__name__} has no parameter '{key}' to configure; "
            f"known: {', '.join(settable)}"
        )
    if value is None:  # not set: the stage's default (or the model's)
        return None
    param = stage.getParam(key)
    default = stage.getOrDefault(param) if stage.hasDefault(param) else None
    if isinstance(value, bool) != isinstance(default, bool) and default is not None:
        raise ConfigError(
            f"{section}.{key}: expected {type(default).__name__}, got {type(value).__name__} "
            f"{value!r}"
        )
    try:
        return param.typeConverter(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}.{key}: {value!r} is not accepted: {exc}") from exc


def validate(config: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Check every key and value; return the config with stage values converted."""
    checked = copy.deepcopy(config)
    for section, keys in IO_SECTIONS.items():
        for key, value in config[section].items():
            if key not in keys:
                raise ConfigError(
                    f"{section}.{key}: unknown key; known keys of {section}: "
                    f"{', '.join(sorted(keys))}"
                )
            _check_plain(section, key, value)
    classes = stage_classes()
    for section in STAGE_SECTIONS:
        probe = classes[section]()
        for key, value in config[section].items():
            checked[section][key] = check_stage_value(section, probe, key, value)
    for section in ("input", "output"):
        if not checked[section].get("path"):
            raise ConfigError(
                f"{section}.path is not set: give --{section} or set it in the config file"
            )
    return checked


def build_config(
    file: str | Path | None, overrides: list[tuple[str, str, Any]]
) -> dict[str, dict[str, Any]]:
    """Defaults, then the file, then command-line overrides; validated."""
    config = defaults()
    if file is not None:
        merge(config, load_file(file), str(file))
    layer: dict[str, dict[str, Any]] = {}
    for section, key, value in overrides:
        layer.setdefault(section, {})[key] = value
    merge(config, layer, "command line")
    return validate(config)


def apply_params(stage: Params, values: Mapping[str, Any]) -> Params:
    """Set validated stage values through the stage's setters, so their checks still apply."""
    for key, value in values.items():
        if value is None:
            continue
        setter = getattr(stage, f"set{key[0].upper()}{key[1:]}", None)
        try:
            if setter is not None:
                setter(value)
            else:
                stage.set(stage.getParam(key), value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{type(stage).__name__}.{key}: {exc}") from exc
    return stage
