"""Every hit of a search, not one page: what an export writes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from indexer.search import MAX_PER_PAGE, Hit


@dataclass(frozen=True)
class AllHits:
    query: str
    total: int
    hits: list[Hit]
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    total_all: int = 0  # the hits holding every word of the query


def all_hits(
    index,
    query: str = "",
    departments: Sequence[str] = (),
    categories: Sequence[str] = (),
    columns: Sequence[str] = (),
    match: str = "any",
    expand: bool = True,
    names: bool = True,
) -> AllHits:
    """Return every hit of a search in rank order, reading it page by page.

    :param index: a `PolicyIndex`; unknown filter values raise `UnknownFilter` as its search does
    """
    hits: list[Hit] = []
    page = 1
    while True:
        result = index.search(
            query,
            departments=departments,
            categories=categories,
            columns=columns,
            page=page,
            per_page=MAX_PER_PAGE,
            match=match,
            expand=expand,
            names=names,
        )
        hits += result.hits
        if len(hits) >= result.total or not result.hits:
            filters = dict(result.filters)
            return AllHits(result.query, result.total, hits, filters, result.total_all)
        page += 1
