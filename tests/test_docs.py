"""The course in docs/ cannot drift: its bytes are regenerated, its links resolve,
and every RFC section cited anywhere is one we list (docs/rfc-index.md)."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from rawproto import docsgen

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
CHAPTERS = [p for p in DOCS if re.match(r"\d\d-", p.name)]

LINK = re.compile(r"\]\(([^)\s]+)\)")
RFC_LINK = re.compile(
    r"rfc-editor\.org/rfc/rfc(\d+)#(?:section|appendix)-([0-9A-Z][0-9.]*[0-9A-Z]|[0-9A-Z])"
)
RFC_CITE = re.compile(r"RFC ?(\d{4}) §([0-9A-Z][0-9.]*[0-9]|[0-9])")
CAPTURE = re.compile(r"`(captures/[\w.-]+\.pcapng)`")


def known_sections() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "rfc-index.md").read_text()
    return set(RFC_LINK.findall(text))


def names_defined(path: Path) -> set[str]:
    """Functions, classes, methods and module-level names defined in a file."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_course_has_every_chapter_in_order() -> None:
    """00-start-here through 12-exercises, each linking to the next."""
    assert [p.name[:2] for p in CHAPTERS] == [f"{n:02}" for n in range(13)]
    for here, there in itertools.pairwise(CHAPTERS):
        assert f"({there.name})" in here.read_text(), f"{here.name} does not link to {there.name}"


def test_generated_blocks_are_current() -> None:
    """`make docs` output is committed: regenerating changes no frame, head or byte."""
    assert docsgen.refresh(check=True) == []


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_every_link_to_a_file_or_function_resolves(doc: Path) -> None:
    """Relative links point at files that exist; `file.py#name` names a definition in it."""
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "#")):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve()
        assert file.exists(), f"{doc.name}: {target} does not exist"
        if anchor and file.suffix == ".py":
            assert anchor in names_defined(file), f"{doc.name}: {target}: no {anchor} in {path}"


@pytest.mark.parametrize("doc", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_every_capture_named_in_the_docs_exists(doc: Path) -> None:
    """Each capture a chapter tells you to open is in captures/."""
    for name in CAPTURE.findall(doc.read_text()):
        assert (ROOT / name).exists(), f"{doc.name}: {name} is missing"


def cited_files() -> list[Path]:
    files = list((ROOT / "rawproto").rglob("*.py")) + list((ROOT / "tests").glob("*.py"))
    files += [p for p in (ROOT / "docs").glob("*.md") if p.name != "rfc-index.md"]
    files += list((ROOT / "captures").glob("*.md"))
    return files


def test_every_rfc_section_cited_is_in_the_index() -> None:
    """Every `RFC NNNN §x.y` and every rfc-editor.org section link names a section
    listed in docs/rfc-index.md — so a typo'd or invented section cannot hide."""
    known = known_sections()
    unknown = set()
    for path in cited_files():
        text = path.read_text(encoding="utf-8")
        for rfc, section in RFC_LINK.findall(text) + RFC_CITE.findall(text):
            if (rfc, section) not in known:
                unknown.add(f"RFC {rfc} §{section} ({path.relative_to(ROOT)})")
    assert sorted(unknown) == [], "\n".join(sorted(unknown))


def test_rfc_links_use_the_stable_address() -> None:
    """Citations link rfc-editor.org/rfc/rfcNNNN#section-x, never a retired mirror."""
    for path in cited_files():
        text = path.read_text(encoding="utf-8")
        assert "tools." + "ietf.org" not in text, path


@pytest.mark.parametrize("doc", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_every_exercise_a_chapter_suggests_exists(doc: Path) -> None:
    """A chapter's "Try it" names workbook exercises that `rawproto exercises` knows."""
    from rawproto.exercises.table import EXERCISES

    known = {ex.name for ex in EXERCISES}
    text = doc.read_text()
    if "**Try it.**" not in text:
        return
    try_it = text.split("**Try it.**", 1)[1].split("\n\n", 1)[0]
    for name in re.findall(r"`([a-z]+(?:_[a-z0-9]+)+)`", try_it):
        assert name in known, f"{doc.name}: no exercise {name!r}"
