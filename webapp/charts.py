"""The results page's pictures as plain data: hits per department as bars, and a matrix.

Like the facets, nothing here renders HTML: every bar and cell comes with its count, its size or
shade and the link that applies its filter, and the template partial only draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from indexer.crosstab import Crosstab
from indexer.search import SearchResult
from webapp.facets import SearchState

LEVELS = 4  # shades of a matrix cell, besides the blank of zero


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float  # the bar's length as a share of the longest, from 0 to 100
    url: str  # the results of this department alone
    selected: bool


def department_bars(result: SearchResult, state: SearchState, base: str) -> list[Bar]:
    """Return a bar per department with hits, longest first (ties in document order).

    The counts are the department facet's: each is what filtering to that department shows.
    """
    values = [value for value in result.facets["department"] if value.count]
    longest = max((value.count for value in values), default=0)
    return [
        Bar(
            label=value.value,
            count=value.count,
            width=round(100 * value.count / longest, 1),
            url=state.with_filters(department=(value.value,)).url(base),
            selected=value.selected,
        )
        for value in sorted(values, key=lambda value: -value.count)
    ]


def shade(count: int, most: int) -> int:
    """Return the shade of a cell: 0 for none, then 1 to LEVELS by its share of the most.

    >>> [shade(n, 8) for n in (0, 1, 2, 3, 5, 8)]
    [0, 1, 1, 2, 3, 4]
    """
    return 0 if not count or not most else max(1, math.ceil(LEVELS * count / most))


@dataclass(frozen=True)
class Cell:
    category: str
    count: int
    level: int
    url: str  # the results of this department and category
    selected: bool


@dataclass(frozen=True)
class MatrixRow:
    department: str
    cells: list[Cell]
    total: int
    url: str  # the results of this department, any category
    selected: bool


@dataclass(frozen=True)
class Matrix:
    categories: list[str]
    rows: list[MatrixRow]
    category_totals: list[tuple[int, str]]  # (count, link to that category alone)
    total: int


def department_matrix(crosstab: Crosstab, state: SearchState, base: str) -> Matrix:
    """Return a row per department with hits and a cell per category, linked to its filter."""
    departments = state.selected("department")
    categories = state.selected("category")
    most = max(crosstab.counts.values(), default=0)
    rows = []
    for department in crosstab.departments:
        total = crosstab.department_total(department)
        if not total:
            continue
        cells = [
            Cell(
                category=category,
                count=crosstab.count(department, category),
                level=shade(crosstab.count(department, category), most),
                url=state.with_filters(department=(department,), category=(category,)).url(base),
                selected=department in departments and category in categories,
            )
            for category in crosstab.categories
        ]
        whole_row = state.with_filters(department=(department,), category=())
        rows.append(
            MatrixRow(department, cells, total, whole_row.url(base), department in departments)
        )
    totals = [
        (
            crosstab.category_total(category),
            state.with_filters(department=(), category=(category,)).url(base),
        )
        for category in crosstab.categories
    ]
    return Matrix(list(crosstab.categories), rows, totals, crosstab.total)
