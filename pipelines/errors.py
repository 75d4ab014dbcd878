"""The job's errors, from the library's one family (``annotators.errors``)."""

from annotators.errors import ConfigError, JobError

__all__ = ["ConfigError", "JobError"]
