"""User-supplied patterns: Spark NLP users write Java regexes; we compile them with ``regex``.

``regex`` understands what Java users reach for (``\\p{L}``, possessive quantifiers, atomic
groups). The one common construct it spells differently is Java's end-of-input ``\\z``, which
is Python's ``\\Z``.
"""

from __future__ import annotations

import regex

_JAVA_END_OF_INPUT = regex.compile(r"(?<!\\)((?:\\\\)*)\\z")


def translate_java_pattern(pattern: str) -> str:
    """Rewrite the Java-only spellings of a pattern for the ``regex`` module."""
    return _JAVA_END_OF_INPUT.sub(r"\1\\Z", pattern)


def compile_java_pattern(pattern: str, param: str) -> regex.Pattern[str]:
    """Compile a user's pattern, or raise a ValueError that names the parameter and pattern."""
    try:
        return regex.compile(translate_java_pattern(pattern), regex.VERSION0)
    except (regex.error, TypeError) as exc:
        raise ValueError(f"{param}: pattern {pattern!r} is not a valid regex: {exc}") from exc
