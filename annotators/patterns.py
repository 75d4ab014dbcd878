"""User-supplied patterns: Spark NLP users write Java regexes; we compile them with ``regex``.

``regex`` understands what Java users reach for (``\\p{L}``, possessive quantifiers, atomic
groups). The one common construct it spells differently is Java's end-of-input ``\\z``, which
is Python's ``\\Z``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import regex

_JAVA_END_OF_INPUT = regex.compile(r"(?<!\\)((?:\\\\)*)\\z")


def translate_java_pattern(pattern: str) -> str:
    """Rewrite the Java-only spellings of a pattern for the ``regex`` module."""
    return _JAVA_END_OF_INPUT.sub(r"\1\\Z", pattern)


def compile_java_pattern(pattern: str, param: str) -> regex.Pattern[str]:
    """Compile a user's pattern, or raise a ParamError that names the parameter and pattern."""
    from annotators.errors import ParamError

    try:
        return regex.compile(translate_java_pattern(pattern), regex.VERSION0)
    except (regex.error, TypeError) as exc:
        raise ParamError(f"{param}: pattern {pattern!r} is not a valid regex: {exc}") from exc


class PicklesWithoutPatterns:
    """For frozen rules dataclasses: serialise the plain settings only, never compiled patterns.

    The fields whose names start with ``_`` hold compiled patterns; ``__post_init__`` builds
    them again where the rules are unpickled. A compiled ``regex`` pattern pickles its flags as
    numbers whose meaning changed between ``regex`` releases, and a Spark Connect client may run
    another release than the server's Python workers (a 2023 client's tokenizer pattern split
    nothing on a 2026 worker).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        settings = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.init and not f.name.startswith("_")
        }
        return (_rebuild, (type(self), settings))


def _rebuild(cls: type, settings: dict[str, Any]) -> Any:
    return cls(**settings)
