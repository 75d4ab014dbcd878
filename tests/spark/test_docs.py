"""The manual works: README.md and every page under docs/.

Each page's ```python blocks run in order in one namespace of their own (so a page's first block
sets up what the rest of the page uses), from the repository root, on the shared test session.
Every relative link lands on a file that exists and, with a #fragment, on a heading of that page;
docs/README.md lists every page and every section of it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONTENTS = DOCS / "README.md"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCED = re.compile(r"^```.*?^```[ \t]*$", flags=re.S | re.M)
_PYTHON = re.compile(r"^```python\n(.*?)^```[ \t]*$", flags=re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\]\(([^()\s]+)\)")


def page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def python_blocks(text: str) -> list[tuple[int, str]]:
    """Each ```python block with the number of lines before it in the page."""
    return [(text.count("\n", 0, m.start(1)), m.group(1)) for m in _PYTHON.finditer(text)]


def prose(text: str) -> str:
    """The page without its fenced code blocks (headings and links are read from this)."""
    return _FENCED.sub("", text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation out, spaces to hyphens."""
    kept = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def headings(text: str, level: str = "#+") -> list[str]:
    return re.findall(rf"^{level} (.+?)[ \t]*$", prose(text), flags=re.M)


def anchors(text: str) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 ... for repeated ones."""
    seen: dict[str, int] = {}
    found = set()
    for heading in headings(text):
        base = anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """The relative link targets of a page (not web addresses), outside code."""
    targets = _LINK.findall(_INLINE_CODE.sub("", prose(text)))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, flags=re.I)]


def test_the_pages_are_there_and_have_examples() -> None:
    assert CONTENTS in PAGES and len(PAGES) > 2
    assert python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(python_blocks(page.read_text(encoding="utf-8")) for page in PAGES[1:])


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if python_blocks(page.read_text(encoding="utf-8"))],
    ids=page_name,
)
def test_python_examples_run(page: Path, spark, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples' paths are relative to the repository root
    namespace: dict = {}
    for lines_before, block in python_blocks(page.read_text(encoding="utf-8")):
        # Padded so that a traceback names the page's own line numbers.
        exec(compile("\n" * lines_before + block, str(page), "exec"), namespace)


@pytest.mark.parametrize("page", PAGES, ids=page_name)
def test_every_relative_link_lands(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in links(text):
        path, _, fragment = target.partition("#")
        linked = (page.parent / unquote(path)).resolve() if path else page
        assert linked.exists(), f"{page_name(page)}: {target} names a file that is not there"
        if fragment:
            assert linked.suffix == ".md", f"{page_name(page)}: {target}"
            assert fragment in anchors(linked.read_text(encoding="utf-8")), (
                f"{page_name(page)}: {target} names no heading of {linked.name}"
            )


def test_the_docs_contents_lists_every_page_and_section() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/README.md" in links(readme)
    listed = set(links(CONTENTS.read_text(encoding="utf-8")))
    for page in PAGES:
        if page.parent != DOCS or page == CONTENTS:
            continue
        assert page.name in listed, f"docs/README.md does not list {page.name}"
        text = page.read_text(encoding="utf-8")
        for heading in headings(text, "##"):
            assert f"{page.name}#{anchor(heading)}" in listed, (
                f"docs/README.md does not list {page.name}'s section {heading!r}"
            )
