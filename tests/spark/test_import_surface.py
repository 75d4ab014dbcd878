"""A Spark NLP script runs after renaming ``sparknlp`` to ``annotators`` (with ``sed``, as a
user would): ``import sparknlp`` and ``sparknlp.start()``, ``from sparknlp.base import *``,
``from sparknlp.annotator import *``, ``from sparknlp.annotation import Annotation``; and each
of our import-surface modules gives what the reference's gives, for the stages we have."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "tests" / "fixtures" / "reference_scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_reference_script_runs_after_renaming_sparknlp(spark, script, capsys) -> None:
    renamed = subprocess.run(
        ["sed", "s/sparknlp/annotators/g", str(script)], capture_output=True, text=True, check=True
    ).stdout
    assert "sparknlp" not in renamed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # start() says the session exists
        exec(compile(renamed, str(script), "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.startswith("version ")


def _star(module: str) -> dict:
    namespace: dict = {}
    exec(f"from {module} import *", namespace)
    return namespace


@pytest.mark.parametrize("surface", ["base", "annotator"])
def test_each_surface_gives_the_references_names_for_what_we_have(surface) -> None:
    import annotators

    ours = _star(f"annotators.{surface}")
    theirs = _star(f"sparknlp.{surface}")
    implemented = set(annotators.__all__)
    wanted = {name for name in theirs if name in implemented}
    assert wanted <= set(ours), sorted(wanted - set(ours))
    # and nothing the reference's does not give there (Pipeline is not in sparknlp.annotator)
    assert set(ours) - {"__builtins__"} <= set(theirs), sorted(set(ours) - set(theirs))
    for name in wanted:
        if name in ("Pipeline", "PipelineModel"):
            assert ours[name] is theirs[name]  # pyspark.ml's own, in both


def test_the_package_star_import_gives_pipeline_and_start(spark) -> None:
    namespace = _star("annotators")
    from pyspark.ml import Pipeline, PipelineModel

    assert namespace["Pipeline"] is Pipeline and namespace["PipelineModel"] is PipelineModel
    with pytest.warns(RuntimeWarning, match="already running"):
        assert namespace["start"]() is spark


def test_start_checks_params_as_the_reference_does() -> None:
    import annotators

    with pytest.raises(TypeError, match="params must be a dictionary"):
        annotators.start(params=["spark.executor.memory", "8G"])
