"""The job refuses an output that overlaps its input (issue: ``--mode overwrite`` with the output
equal to the input, or a folder above it, deleted the input)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotators.errors import JobError
from pipelines.arguments import parse_args
from pipelines.inputs import check_paths_apart
from pipelines.job import run

pytestmark = pytest.mark.classic

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"


@pytest.mark.parametrize("output", ["in", "in/", ".", "in/out", "in/sub/out"])
def test_overwrite_onto_or_inside_the_input_is_refused_and_the_input_stays(
    spark, tmp_path, output
) -> None:
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("One line.\n", encoding="utf-8")
    (source / "sub" / "b.txt").write_text("Another line.\n", encoding="utf-8")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = ["--input", str(source), "--format", "text", "--output", str(tmp_path / output)]
    args += ["--mode", "overwrite"]
    with pytest.raises(JobError, match="overlaps input"):
        run(parse_args(args), spark)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_glob_input_and_a_linked_output_are_seen_through(spark, tmp_path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    os.symlink(source, tmp_path / "link")
    with pytest.raises(JobError, match="overlaps input"):
        check_paths_apart(spark, f"{source}/*.txt", str(source / "out"))
    with pytest.raises(JobError, match="overlaps input"):
        check_paths_apart(spark, str(source), str(tmp_path / "link"))
    check_paths_apart(spark, str(source), str(tmp_path / "in2"))  # a name prefix, not a folder


NAMES = st.lists(st.sampled_from(["a", "b", "a2"]), min_size=1, max_size=3)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=NAMES, target=NAMES)
def test_refused_exactly_when_one_path_holds_the_other(spark, tmp_path, source, target) -> None:
    """Oracle: the refusal agrees with pathlib's containment, both ways, for generated paths."""
    source_path, target_path = tmp_path.joinpath(*source), tmp_path.joinpath(*target)
    overlaps = source_path.is_relative_to(target_path) or target_path.is_relative_to(source_path)
    if overlaps:
        with pytest.raises(JobError, match="overlaps input"):
            check_paths_apart(spark, str(source_path), str(target_path))
    else:
        check_paths_apart(spark, str(source_path), str(target_path))
