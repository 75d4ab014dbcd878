"""One family of errors: every error this library raises on purpose is a ``SparkDebertaError``.

Each kind also keeps the builtin base it had (``ValueError`` for bad input, ``RuntimeError`` for
what cannot run here), so ``except ValueError`` in existing code still catches it. Catch
``SparkDebertaError`` to tell the library's own refusals from bugs.
"""

from __future__ import annotations


class SparkDebertaError(Exception):
    """The root: the library refused something, and the message says what and what to do."""


class StageInputError(SparkDebertaError, ValueError):
    """A stage's input columns or parameters do not fit together (missing, wrong type, a
    cross-parameter rule)."""


class ParamError(SparkDebertaError, ValueError):
    """A parameter value that a stage cannot take; the message names the parameter."""


class RowTooLargeError(SparkDebertaError, ValueError):
    """One row's output annotations are more than a Spark row can carry."""


class ModelFolderError(SparkDebertaError, ValueError):
    """A model folder is missing, corrupt or does not match its manifest."""


class ConfigError(SparkDebertaError, ValueError):
    """A configuration key or value (job config, one-liner reference) that cannot be used."""


class EngineError(SparkDebertaError, RuntimeError):
    """An engine, precision or provider that cannot run here (not installed, no CPU support)."""


class ExportError(SparkDebertaError, RuntimeError):
    """The checkpoint cannot be exported, or its export does not match PyTorch."""


class JobError(SparkDebertaError, RuntimeError):
    """The job cannot go on (bad input, existing or locked output, lost rows)."""


class SparkMissingError(SparkDebertaError, ImportError):
    """PySpark cannot be imported (the wheel does not require it: a Spark runtime has its own)."""


class WorkerPythonError(SparkDebertaError, RuntimeError):
    """Spark's Python workers would start an interpreter that cannot import this package."""


__all__ = [
    "ConfigError",
    "EngineError",
    "ExportError",
    "JobError",
    "ModelFolderError",
    "ParamError",
    "RowTooLargeError",
    "SparkDebertaError",
    "SparkMissingError",
    "StageInputError",
    "WorkerPythonError",
]
