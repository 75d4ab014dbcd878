"""The job's own error: where it cannot go on, with a message that says why and what to do."""


class JobError(RuntimeError):
    """The job cannot go on (bad input, existing or locked output, lost rows)."""
