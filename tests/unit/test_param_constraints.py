"""Every Param of every public stage refuses a value it cannot hold, naming itself, in the
manner of scikit-learn's ``check_param_validation``: the values are generated from the stages'
own Params, so a new stage or Param is covered without a new case. (Each value's specific
rules are in tests/spark/test_params.py.)"""

from __future__ import annotations

import inspect

import pytest

import annotators
from annotators.errors import SparkDebertaError
from tests.support import param_stages

STAGES = list(param_stages().values())
PARAMS = [(cls, param.name) for cls in STAGES for param in cls().params]


class Unconvertible:
    """A value no Param converter should take: not a number, string, bool, list or dict."""

    def __repr__(self) -> str:
        return "<Unconvertible>"


@pytest.mark.parametrize(
    ("cls", "name"), PARAMS, ids=[f"{cls.__name__}.{name}" for cls, name in PARAMS]
)
def test_every_param_refuses_a_value_it_cannot_hold_and_names_itself(cls, name) -> None:
    stage = cls()
    with pytest.raises((TypeError, ValueError)) as refused:
        stage._set(**{name: Unconvertible()})
    assert name in str(refused.value)
    assert not stage.isSet(stage.getParam(name)), "a refused value must not stay set"


@pytest.mark.parametrize(
    ("cls", "name"), PARAMS, ids=[f"{cls.__name__}.{name}" for cls, name in PARAMS]
)
def test_every_param_has_a_documented_meaning(cls, name) -> None:
    assert cls().getParam(name).doc.strip(), f"{cls.__name__}.{name} has no doc"


def test_the_library_own_refusals_are_in_the_family() -> None:
    """Our converters raise ParamError (a SparkDebertaError and ValueError) for a bad value
    of the right type; PySpark's TypeError stays for the wrong type."""
    with pytest.raises(SparkDebertaError):
        annotators.SentenceDetector().setMinLength(-1)


@pytest.mark.parametrize(
    ("cls", "name"), PARAMS, ids=[f"{cls.__name__}.{name}" for cls, name in PARAMS]
)
def test_a_keyword_given_as_none_leaves_the_default(cls, name) -> None:
    """``Stage(param=None)`` means "not given", as a Spark NLP script passes optional ones."""
    accepted = inspect.signature(cls.__init__).parameters
    if name not in accepted and not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        pytest.skip(f"{cls.__name__}() does not take {name} (the reference's takes no keywords)")
    stage = cls(**{name: None})
    assert not stage.isSet(stage.getParam(name))
