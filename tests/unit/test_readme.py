"""The README is the entry page: its two commands (CI runs the test one), its contents list and
its support table. Its examples and links are checked with the docs' (tests/spark/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """The indented command lines at the top of the README, before the first rule."""
    head = README.split("\n---\n", 1)[0]
    return [line.strip() for line in head.splitlines() if line.startswith("    ")]


def test_readme_starts_with_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    job, tests = readme_commands()
    assert "spark-deberta run" in job and "--input data/sample/" in job
    assert "pytest" in tests
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert tests in ci_lines


def test_contents_list_every_section() -> None:
    from tests.spark.test_docs import anchor, headings

    sections = headings(README, "##")
    contents = README.split("\nContents: ", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"\[(.+?)\]\(#(.+?)\)", contents)
    assert [title for title, _ in listed] == sections
    assert all(target == anchor(title) for title, target in listed), listed


def test_readme_stays_an_entry_page() -> None:
    """The manual is docs/; the README keeps to what it is, installing and starting."""
    assert README.count("\n") <= 300, "move sections into docs/ (docs/README.md lists the pages)"


def test_support_table_names_exactly_the_tested_pairs() -> None:
    from tests.system.test_compat import ENVIRONMENTS, NEWEST

    table = README.split("| Python | Spark", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:4] for line in table.splitlines()[2:]]
    pairs = sorted((python.strip(), runtime.strip()) for python, _, runtime in rows)
    expected = sorted([(env.python, env.runtime) for env in ENVIRONMENTS.values()] + [NEWEST])
    assert pairs == expected
    import pyspark

    newest_row = next(row for row in rows if (row[0].strip(), row[2].strip()) == NEWEST)
    assert newest_row[1].strip().startswith(f"{pyspark.__version__}, "), newest_row
    pythons = sorted({env.python for env in ENVIRONMENTS.values()} | {NEWEST[0]})
    pyproject = (ROOT / "pyproject.toml").read_text()
    for python in pythons:
        assert f'"Programming Language :: Python :: {python}"' in pyproject
    assert f'requires-python = ">={pythons[0]},<3.{int(pythons[-1].split(".")[1]) + 1}"' in (
        pyproject
    )
