"""``--update-readme`` puts the headline into the README and the cost-growth table into
docs/benchmark.md, between their markers, leaving the rest of each page as it was."""

from __future__ import annotations

import json

import pytest

from bench import run


def test_both_pages_have_their_markers_once() -> None:
    for page in (run.README, run.BENCHMARK_DOC):
        text = page.read_text(encoding="utf-8")
        assert text.count(run.README_START) == 1 and text.count(run.README_END) == 1, page.name


def test_update_writes_each_table_between_its_markers(tmp_path, monkeypatch) -> None:
    readme, doc = tmp_path / "README.md", tmp_path / "benchmark.md"
    for page in (readme, doc):
        page.write_text(f"before\n{run.README_START}\nold\n{run.README_END}\nafter\n")
    monkeypatch.setattr(run, "README", readme)
    monkeypatch.setattr(run, "BENCHMARK_DOC", doc)
    run.update_readme("| headline |\n", "| growth |\n", "python bench/run.py")
    head = readme.read_text()
    assert head.startswith(f"before\n{run.README_START}\n`python bench/run.py`, ")
    assert "| headline |" in head and run.GROWTH_POINTER in head and "old" not in head
    assert head.endswith(f"{run.README_END}\nafter\n")
    growth = doc.read_text()
    assert "| growth |" in growth and "| headline |" not in growth and "old" not in growth
    assert growth.endswith(f"{run.README_END}\nafter\n")


def test_the_task_slots_table_goes_between_its_own_markers(tmp_path, monkeypatch) -> None:
    doc = tmp_path / "benchmark.md"
    doc.write_text(
        f"{run.README_START}\n| growth |\n{run.README_END}\n"
        f"{run.SLOTS_START}\nold\n{run.SLOTS_END}\nafter\n"
    )
    monkeypatch.setattr(run, "BENCHMARK_DOC", doc)
    run.update_task_slots_doc("| slots |\n", "python bench/run.py --only task-slots")
    text = doc.read_text()
    assert "| growth |" in text and "old" not in text and text.endswith("after\n")
    assert f"{run.SLOTS_START}\n`python bench/run.py --only task-slots`, " in text
    assert text.index("| slots |") > text.index(run.SLOTS_START)


def test_a_model_folder_with_int8_serves_an_fp32_only_caller(tmp_path) -> None:
    from annotators.deberta import synthetic

    stamp = {
        "shape": synthetic.TINY,
        "vocab_size": None,
        "corpus": run.CORPUS.stat().st_size,
        "int8": True,
    }
    (tmp_path / "stamp.json").write_text(json.dumps(stamp))
    (tmp_path / "model").mkdir()
    # Reused as it is (a rebuild would empty the folder and need torch).
    assert run.prepare_models(tmp_path, "tiny", int8=False)[1] == tmp_path / "model"
    assert run.prepare_models(tmp_path, "tiny", int8=True)[1] == tmp_path / "model"
    assert (tmp_path / "model").is_dir() and json.loads(
        (tmp_path / "stamp.json").read_text()
    ) == stamp


def test_a_page_without_markers_is_refused(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text("no markers\n")
    with pytest.raises(SystemExit, match="no '<!-- benchmark table: start -->' marker"):
        run.replace_between_markers(page, "x")


def test_progress_is_replaced_whole_and_readable(tmp_path) -> None:
    path = tmp_path / "out" / "tiny.partial.json"
    run.save_progress(path, {"rows": {"1 ceiling": {"seconds": 1.5}}})
    run.save_progress(path, {"rows": {"1 ceiling": {"seconds": 1.5}, "2 ours": {"seconds": 2}}})
    assert json.loads(path.read_text())["rows"]["2 ours"] == {"seconds": 2}
    assert [p.name for p in path.parent.iterdir()] == ["tiny.partial.json"]


def test_each_goal_is_marked_in_its_own_direction() -> None:
    from bench.run import goal_cell

    assert goal_cell("fp32_vs_ceiling", 0.96) == ">= 0.95 (met)"
    assert goal_cell("fp32_vs_ceiling", 0.94) == ">= 0.95 (not met)"
    assert goal_cell("fp32_vs_sorted_baseline", 1.0) == "> 1.0 (not met)"
    assert goal_cell("light_p50_vs_engine", 1.5) == "<= 1.5 (met)"
    # Time per token flat with size: too cheap at the larger size misses it too.
    assert goal_cell("time_per_token_largest_vs_smallest", 1.1) == "1 ± 0.10 (met)"
    assert goal_cell("time_per_token_largest_vs_smallest", 0.91) == "1 ± 0.10 (met)"
    assert goal_cell("time_per_token_largest_vs_smallest", 0.71) == "1 ± 0.10 (not met)"
    assert goal_cell("time_per_token_largest_vs_smallest", 1.12) == "1 ± 0.10 (not met)"
