"""The accessibility report: what tests/test_accessibility.py found, shown by /accessibility.

The browser test runs axe-core over every page type and state and writes its results file
(docs/accessibility-results.json); this module only reads it, so the page shows the latest run and
nothing typed by hand.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

# What the page claims and the axe-core tags that check it (WCAG 2.0 and 2.1, A and AA, which
# JIS X 8341-3:2016 follows, plus axe's own best practices).
TARGET = "JIS X 8341-3:2016 適合レベルAA"
AXE_TAGS = {
    "wcag2a": "WCAG 2.0 レベルA",
    "wcag2aa": "WCAG 2.0 レベルAA",
    "wcag21a": "WCAG 2.1 レベルA",
    "wcag21aa": "WCAG 2.1 レベルAA",
    "best-practice": "axe-core のベストプラクティス",
}
WIDTHS = {"desktop": "パソコン", "phone": "スマートフォン"}


@dataclass(frozen=True)
class CheckedPage:
    """One page in one state at one width, as axe-core found it."""

    page: str
    state: str
    path: str
    width: str
    viewport: str
    checked_on: date
    rules: int
    violations: int
    violated_rules: tuple[str, ...]
    incomplete: int

    @property
    def width_label(self) -> str:
        return f"{WIDTHS.get(self.width, self.width)}（{self.viewport}）"


@dataclass(frozen=True)
class AccessibilityReport:
    """The latest run: the axe-core version, its tags and every page checked."""

    axe_version: str
    tags: tuple[str, ...]
    pages: tuple[CheckedPage, ...]

    @property
    def violations(self) -> int:
        return sum(page.violations for page in self.pages)

    @property
    def checked_on(self) -> date:
        return max(page.checked_on for page in self.pages)

    @property
    def page_types(self) -> list[str]:
        """Name each page type once, in the order checked."""
        return list(dict.fromkeys(page.page for page in self.pages))


def load_report(path: Path) -> AccessibilityReport | None:
    """Read the results file; None when no run has written one yet."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    pages = tuple(checked_page(row) for row in data["results"])
    if not pages:
        return None
    return AccessibilityReport(data["axe_version"], tuple(data["tags"]), pages)


def checked_page(row: dict[str, Any]) -> CheckedPage:
    return CheckedPage(
        page=row["page"],
        state=row["state"],
        path=row["path"],
        width=row["width"],
        viewport=row["viewport"],
        checked_on=date.fromisoformat(row["date"]),
        rules=row["rules"],
        violations=row["violations"],
        violated_rules=tuple(row["violated_rules"]),
        incomplete=row["incomplete"],
    )


def save_results(
    path: Path, axe_version: str, rows: list[dict[str, Any]], order: list[str]
) -> None:
    """Merge `rows` into the results file by page, state and width, in `order`; write atomically.

    :param order: the keys (`row_key`) of every case the test knows: rows of cases it no longer
        has are dropped, so the file describes the pages as they are tested now.
    """
    path = Path(path)
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))["results"]
    except (FileNotFoundError, KeyError, ValueError):
        kept = []
    by_key = {row_key(row): row for row in kept}
    by_key.update({row_key(row): row for row in rows})
    results = [by_key[key] for key in order if key in by_key]
    # One row a line, so that a run's changes read as a diff of rows.
    lines = ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in results)
    head = json.dumps({"axe_version": axe_version, "tags": list(AXE_TAGS)}, ensure_ascii=False)
    text = head[:-1] + ', "results": [\n' + lines + "\n]}\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # two runs never share it
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def row_key(row: dict[str, Any]) -> str:
    return f"{row['path']} {row['state']} {row['width']}"
