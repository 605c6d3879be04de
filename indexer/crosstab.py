"""Counts of a query's items by department and category, for the matrix on the results page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Crosstab:
    """How many items of a result set fall in each (department, category) pair."""

    departments: list[str]  # every department, in document order
    categories: list[str]
    counts: dict[tuple[str, str], int]

    def count(self, department: str, category: str) -> int:
        return self.counts.get((department, category), 0)

    def department_total(self, department: str) -> int:
        return sum(self.count(department, category) for category in self.categories)

    def category_total(self, category: str) -> int:
        return sum(self.count(department, category) for department in self.departments)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def department_by_category(
    index,
    query: str = "",
    columns: tuple[str, ...] | list[str] = (),
    match: str = "any",
    expand: bool = True,
    names: bool = True,
) -> Crosstab:
    """Count the items `query` finds (within `columns`) in each department and category.

    One search per category: its department facet counts exactly that category's items by
    department, the way the page counts them, so the matrix and the facets always agree.

    :param index: a `PolicyIndex`
    """
    categories = index.facet_values("category")
    counts = {}
    for category in categories:
        result = index.search(
            query,
            categories=[category],
            columns=columns,
            per_page=1,
            match=match,
            expand=expand,
            names=names,
        )
        for value in result.facets["department"]:
            counts[(value.value, category)] = value.count
    return Crosstab(index.facet_values("department"), categories, counts)
