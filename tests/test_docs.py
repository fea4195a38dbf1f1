"""docs/book-map.md and the README stay true: every udl name resolves, every test path exists, every experiment
named is registered."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from udl.experiments import experiment_names

ROOT = Path(__file__).resolve().parents[1]
BOOK_MAP = ROOT / "docs" / "book-map.md"


def _rows() -> list[list[str]]:
    rows = []
    for line in BOOK_MAP.read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| Concept") and not set(line) <= set("|- "):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_book_map_has_rows() -> None:
    assert len(_rows()) > 100


def test_every_udl_name_resolves() -> None:
    names = {m for row in _rows() for m in re.findall(r"`(udl(?:\.\w+)+)", row[1])}
    missing = sorted(n for n in names if not _resolves(n))
    assert not missing, missing


def test_every_test_path_exists() -> None:
    paths = {p for row in _rows() for cell in row[2:] for p in re.findall(r"tests/[\w/]+\.py", cell)}
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert paths and not missing, missing


def test_every_experiment_named_is_registered() -> None:
    known = set(experiment_names())
    # the experiment column: names outside parentheses (inside them: the claims or flags of that experiment)
    cells = [re.sub(r"\([^)]*\)", "", row[-1]) for row in _rows() if len(row) == 4]
    named = {n for cell in cells for n in re.findall(r"`([a-z0-9-]+)`", cell)}
    assert named and not sorted(named - known), sorted(named - known)


@pytest.mark.parametrize("name", ["README.md", "docs/architecture.md"])
def test_docs_name_only_registered_experiments_in_run_commands(name: str) -> None:
    text = (ROOT / name).read_text()
    named = set(re.findall(r"udl run ([a-z0-9-]+)", text)) - {"NAME"}
    assert not sorted(named - set(experiment_names()))
