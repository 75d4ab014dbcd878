"""One family of errors: every error this library raises on purpose is a ``SparkDebertaError``.

Each kind also keeps the builtin base it had (``ValueError`` for bad input, ``RuntimeError`` for
what cannot run here), so ``except ValueError`` in existing code still catches it. Catch
``SparkDebertaError`` to tell the library's own refusals from bugs. This module is the one place
to import them from.

Each kind carries the exit code the commands give for it (``exit_code``): 2 when what was asked
cannot be used (options, config, a model, input columns, this environment), 1 when the work
itself failed (the job, an export).
"""

from __future__ import annotations

from typing import ClassVar

#: Exit codes of the commands.
BAD_REQUEST = 2
FAILED = 1


class SparkDebertaError(Exception):
    """The root: the library refused something, and the message says what and what to do."""

    exit_code: ClassVar[int] = FAILED


class StageInputError(SparkDebertaError, ValueError):
    """A stage's input columns or parameters do not fit together (missing, wrong type, a
    cross-parameter rule)."""

    exit_code = BAD_REQUEST


class ParamError(SparkDebertaError, ValueError):
    """A parameter value that a stage cannot take; the message names the parameter."""

    exit_code = BAD_REQUEST


class RowTooLargeError(SparkDebertaError, ValueError):
    """One row's output annotations are more than a Spark row can carry."""


class ModelFolderError(SparkDebertaError, ValueError):
    """A model folder is missing, corrupt or does not match its manifest."""

    exit_code = BAD_REQUEST


class ConfigError(SparkDebertaError, ValueError):
    """A configuration key or value (job config, one-liner reference) that cannot be used."""

    exit_code = BAD_REQUEST


class EngineError(SparkDebertaError, RuntimeError):
    """An engine, precision or provider that cannot run here (not installed, no CPU support)."""

    exit_code = BAD_REQUEST


class ExportError(SparkDebertaError, RuntimeError):
    """The checkpoint cannot be exported, or its export does not match PyTorch."""


class JobError(SparkDebertaError, RuntimeError):
    """The job cannot go on (bad input, existing or locked output, lost rows)."""


class SparkMissingError(SparkDebertaError, ImportError):
    """PySpark cannot be imported (the wheel does not require it: a Spark runtime has its own)."""

    exit_code = BAD_REQUEST


class WorkerPythonError(SparkDebertaError, RuntimeError):
    """Spark's Python workers would start an interpreter that cannot import this package."""

    exit_code = BAD_REQUEST


class SparkVersionError(SparkDebertaError, RuntimeError):
    """The session's Spark cannot run the stages (too old, or a transport it lacks)."""

    exit_code = BAD_REQUEST


__all__ = [
    "BAD_REQUEST",
    "FAILED",
    "ConfigError",
    "EngineError",
    "ExportError",
    "JobError",
    "ModelFolderError",
    "ParamError",
    "RowTooLargeError",
    "SparkDebertaError",
    "SparkMissingError",
    "SparkVersionError",
    "StageInputError",
    "WorkerPythonError",
]
