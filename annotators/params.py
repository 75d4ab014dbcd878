"""Param converters: the one home of every single-value check and normalisation.

pyspark.ml runs a Param's converter on every way a value arrives (the constructor's keywords,
the setters, ``_set``, ``load``), so a check written here cannot be skipped. Cross-parameter
rules (minLength <= maxLength and the like) are checked when the stage runs, with a
``StageInputError``. Converters raise ``ParamError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyspark.ml.param import TypeConverters

from annotators.errors import ParamError, StageInputError

Converter = Callable[[Any], Any]

__all__ = ["ParamError", "bounded_int", "check_min_max", "choice", "java_pattern", "java_patterns"]


def choice(name: str, allowed: tuple[str, ...], normalize: Callable[[str], str] = str) -> Converter:
    """One of ``allowed`` (after ``normalize``, such as ``str.upper``)."""

    def convert(value: Any) -> str:
        text = normalize(TypeConverters.toString(value))
        if text not in allowed:
            raise ParamError(
                f"{name} '{value}' is not supported; choose one of: {', '.join(allowed)}"
            )
        return text

    return convert


def bounded_int(name: str, low: int, high: int | None = None) -> Converter:
    """An integer in ``[low, high]`` (no upper bound when ``high`` is None)."""

    def convert(value: Any) -> int:
        number = TypeConverters.toInt(value)
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ParamError(f"{name} must be {bound}, got {number}")
        return number

    return convert


def java_pattern(name: str, check: Callable[[str], str | None] | None = None) -> Converter:
    """A regex that Java and Python read alike; ``check`` returns a complaint or None."""

    def convert(value: Any) -> str:
        from annotators.patterns import compile_java_pattern

        pattern = TypeConverters.toString(value)
        complaint = check(pattern) if check else None
        if complaint:
            raise ParamError(f"{name} {complaint}, got {pattern!r}")
        compile_java_pattern(pattern, name)
        return pattern

    return convert


def java_patterns(name: str, check: Callable[[str], str | None] | None = None) -> Converter:
    """A list of ``java_pattern``s."""
    one = java_pattern(name, check)

    def convert(value: Any) -> list[str]:
        return [one(pattern) for pattern in TypeConverters.toListString(value)]

    return convert


def check_min_max(stage: str, minimum: int, maximum: int) -> None:
    """The cross-parameter rule minLength <= maxLength, checked when the stage runs."""
    if maximum < minimum:
        raise StageInputError(
            f"{stage}: maxLength ({maximum}) must be >= minLength ({minimum}); with these "
            "values every item would be dropped"
        )


class ParamDocs:
    """Gives each ``setX``/``getX`` without a docstring its Param's doc, so ``help()`` and IDEs
    show what the parameter means (a mixin for every stage class)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from pyspark.ml.param import Param

        for name in dir(cls):
            param = getattr(cls, name, None)
            if not isinstance(param, Param):
                continue
            capital = name[0].upper() + name[1:]
            for prefix, verb in (("set", "Sets"), ("get", "Gets")):
                method = cls.__dict__.get(f"{prefix}{capital}")
                if callable(method) and not method.__doc__:
                    method.__doc__ = f"{verb} ``{name}``: {param.doc}."

    def _set_keywords(self, keywords: Mapping[str, object]) -> None:
        """Set constructor keywords: a name that is not one of the stage's Params is refused,
        and None means "not given" (the default stays), as in the stages' setters' docs."""
        unknown = sorted(name for name in keywords if not self.hasParam(name))  # type: ignore[attr-defined]
        if unknown:
            known = ", ".join(sorted(p.name for p in self.params))  # type: ignore[attr-defined]
            raise ParamError(
                f"{type(self).__name__} has no parameter {', '.join(unknown)}; known: {known}"
            )
        self._set(**{k: v for k, v in keywords.items() if v is not None})  # type: ignore[attr-defined]

    def getParamValue(self, paramName: str) -> Callable[[], Any]:
        """A function giving the parameter's value, or None when it has none (the reference's
        accessor for code written against its generic getters)."""

        def value() -> Any:
            try:
                return self.getOrDefault(paramName)  # type: ignore[attr-defined]
            except KeyError:
                return None

        return value

    def setParamValue(self, paramName: str) -> Callable[[Any], Any]:
        """A function that sets the parameter and returns the stage (the reference's)."""

        def set_value(value: Any) -> Any:
            self.set(self.getParam(paramName), value)  # type: ignore[attr-defined]
            return self

        return set_value

    def setParams(self) -> Any:
        """Set the keywords of the last ``@keyword_only`` call (the reference's)."""
        self._set_keywords(getattr(self, "_input_kwargs", {}))
        return self
