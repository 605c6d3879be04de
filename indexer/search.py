"""The one search function: query text and filters in, ranked hits and facet counts out.

The CLI, the JSON API and the web page all call `PolicyIndex.search`; nothing here knows about
Flask. A `PolicyIndex` is opened once and shared: it keeps one Whoosh searcher and the facet
columns in memory, and reopens them when a rebuild has swapped a new index in.
"""

from __future__ import annotations

import heapq
import math
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from whoosh.query import And, AndNot, Or, Phrase, Query, Require, Term

from indexer.highlight import exact_spans, highlight
from indexer.query import Word, clean_query
from indexer.schema import EXACT_FIELD, FACETS
from indexer.scoring import score_matches
from indexer.snapshot import Snapshot, open_snapshot, read_link

MAX_PER_PAGE = 100


class UnknownFilter(ValueError):
    """A filter names a value the index does not hold."""

    def __init__(self, facet: str, values: list[str]):
        self.facet, self.values = facet, values
        super().__init__(f"unknown {facet}: {', '.join(values)}")


# Hits and facet values are made some fifty times a search: plain slotted dataclasses, as a
# frozen one's __init__ takes three times as long. Nothing changes them once made.
@dataclass(slots=True)
class Hit:
    id: str
    fiscal_year: int
    department_no: int
    department: str
    category: str
    column: str
    position: int
    text: str
    highlight: str
    score: float | None
    document: str = ""


# The fields of an item that every answer carries, in the order the API writes them.
ITEM_FIELDS = (
    "id",
    "fiscal_year",
    "department_no",
    "department",
    "category",
    "column",
    "position",
    "text",
)


_item_fields = itemgetter(*ITEM_FIELDS)  # in the order of Hit's first fields


def make_hit(stored: dict, score: float | None, words: list[Word]) -> Hit:
    """Return a hit from an item's stored fields, its text highlighted for `words`."""
    return Hit(
        *_item_fields(stored),
        highlight=highlight(stored["text"], words),
        score=None if score is None else round(score, 4),
        document=stored["document"],
    )


@dataclass(slots=True)
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    page: int
    per_page: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _filtered(snapshot: Snapshot, docnums: list[int], filters: dict) -> list[int]:
    """Keep the docnums whose facet values are among the selected ones, facet by facet."""
    for name, values in filters.items():
        if values:
            column, wanted = snapshot.columns[name], frozenset(values)
            docnums = [d for d in docnums if column[d] in wanted]
    return docnums


def _exact_query(clauses: list[tuple[Word, ...]]) -> Query | None:
    """Match the items where the quoted phrases stand exactly, particles included.

    A clause that also offers a plain word (``"…" OR word``) needs no exact match.
    """
    needed = [
        Or([_exact_phrase(word.exact) for word in clause if word.exact])
        for clause in clauses
        if all(word.exact for word in clause)
    ]
    return And(needed) if needed else None


def _exact_phrase(units: tuple[str, ...]) -> Query:
    if len(units) == 1:
        return Term(EXACT_FIELD, units[0])
    return Phrase(EXACT_FIELD, list(units))


def _has_exact(snapshot: Snapshot, docnum: int, clauses: list) -> bool:
    """Check a quoted phrase stands in the item exactly (an index without the exact field)."""
    text = snapshot.stored(docnum)["text"]
    return all(
        any(not word.exact or exact_spans(text, word.exact) for word in clause)
        for clause in clauses
    )


class PolicyIndex:
    """An open policy index: search it, fetch items, list departments."""

    def __init__(self, index_dir: Path | str):
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._snapshot = open_snapshot(self.index_dir)

    def current(self) -> Snapshot:
        """Return the open snapshot, reopening it first if a rebuild swapped in a new index."""
        snapshot = self._snapshot
        # Every request asks: one readlink, rather than realpath's lstat of every component.
        if snapshot.link is not None and read_link(self.index_dir) == snapshot.link:
            return snapshot
        if os.path.realpath(self.index_dir) != snapshot.target:
            with self._lock:
                if os.path.realpath(self.index_dir) != self._snapshot.target:
                    self._snapshot = open_snapshot(self.index_dir)
                snapshot = self._snapshot
        return snapshot

    @property
    def doc_count(self) -> int:
        return len(self.current().by_id)

    def facet_values(self, facet: str) -> list[str]:
        """Return every value of a facet in document order (departments as numbered)."""
        return list(self.current().values[facet])

    def get(self, item_id: str) -> dict | None:
        """Return the stored fields of one item, or None."""
        snapshot = self.current()
        docnum = snapshot.by_id.get(item_id)
        return None if docnum is None else dict(snapshot.stored(docnum))

    def items(self, **filters: str) -> list[dict]:
        """Return the items whose facet fields equal `filters`, in document order."""
        snapshot = self.current()
        docnums = snapshot.in_order
        for name, value in filters.items():
            column = snapshot.columns[name]
            docnums = [d for d in docnums if column[d] == value]
        return [dict(snapshot.searcher.stored_fields(d)) for d in docnums]

    def search(
        self,
        query: str = "",
        departments: tuple[str, ...] | list[str] = (),
        categories: tuple[str, ...] | list[str] = (),
        columns: tuple[str, ...] | list[str] = (),
        page: int = 1,
        per_page: int = 20,
    ) -> SearchResult:
        """Rank the items matching `query` within the filters; an empty query lists them all.

        Values within one facet are OR-ed and facets are AND-ed. Each facet's counts cover the
        whole result set under the *other* facets' filters, so that a count is the total that
        selecting (or adding) that value would give.
        """
        snapshot = self.current()
        selected = {"department": departments, "category": categories, "column": columns}
        filters = {
            name: tuple(dict.fromkeys(v for v in values if v)) for name, values in selected.items()
        }
        for name, values in filters.items():
            unknown = [v for v in values if v not in snapshot.values[name]]
            if unknown:
                raise UnknownFilter(name, unknown)
        page, per_page = max(1, int(page)), min(max(1, int(per_page)), MAX_PER_PAGE)

        ranked, scores, words = self._rank(snapshot, query, filters)
        facets = {name: self._facet(snapshot, name, ranked, filters, scores) for name in FACETS}
        kept = _filtered(snapshot, ranked, filters)
        first = (page - 1) * per_page
        if scores is None:
            shown = kept[first : first + per_page]
        else:
            # Only the pages up to this one need sorting: best first, ties in document order.
            order = snapshot.columns["order"]
            best = heapq.nsmallest(first + per_page, kept, key=lambda d: (-scores[d], order[d]))
            shown = best[first:]
        hits = [
            self._hit(snapshot, docnum, None if scores is None else scores[docnum], words)
            for docnum in shown
        ]
        return SearchResult(query, len(kept), page, per_page, hits, facets, filters)

    def _rank(
        self, snapshot: Snapshot, query: str, filters: dict
    ) -> tuple[list[int], dict[int, float] | None, list[Word]]:
        """Return every match (in document order when unscored), the scores and the words.

        Every match counts for the facets, but only those within the filters are ranked, so
        only those are scored when a filter is set.
        """
        if not clean_query(query).strip():
            return snapshot.in_order, None, []
        parsed, whoosh_query = snapshot.analyse(query)
        if parsed.is_empty:
            return [], {}, []
        searcher, excluded = snapshot.searcher, frozenset()
        if isinstance(whoosh_query, AndNot):
            # Whoosh's AndNot matcher never checks its first match against the exclusions (it
            # only skips ahead once both sides stand on the same item), so take the excluded
            # items out by their docnums instead: same scores, every excluded item out.
            whoosh_query, excluded = whoosh_query.a, set(searcher.docs_for_query(whoosh_query.b))
        exact = [clause for clause in parsed.must if any(word.exact for word in clause)]
        if exact and EXACT_FIELD not in searcher.schema:  # an index built before the field
            scores = score_matches(searcher, whoosh_query, excluded=excluded)
            scores = {d: s for d, s in scores.items() if _has_exact(snapshot, d, exact)}
            return list(scores), scores, parsed.positive_words
        if exact and (only := _exact_query(exact)) is not None:
            whoosh_query = Require(whoosh_query, only)  # the matches, with their own scores
        if not any(filters.values()):
            scores = score_matches(searcher, whoosh_query, excluded=excluded)
            return list(scores), scores, parsed.positive_words
        matches = set(searcher.docs_for_query(whoosh_query)) - excluded
        allowed = set(_filtered(snapshot, list(matches), filters))
        scores = score_matches(searcher, whoosh_query, allowed=allowed) if allowed else {}
        return list(matches), scores, parsed.positive_words

    @staticmethod
    def _facet(
        snapshot: Snapshot, name: str, ranked: list[int], filters: dict, scores: dict | None
    ) -> list[FacetValue]:
        """Count the matches per value of a facet, under the other facets' filters."""
        others = {other: values for other, values in filters.items() if other != name}
        if scores is None and not any(others.values()):
            counts = snapshot.totals[name]  # every item matches: counted once, when opened
        else:
            column = snapshot.columns[name]
            counts = Counter(map(column.__getitem__, _filtered(snapshot, ranked, others)))
        return [
            FacetValue(value, counts.get(value, 0), value in filters[name])
            for value in snapshot.values[name]
        ]

    @staticmethod
    def _hit(snapshot: Snapshot, docnum: int, score: float | None, words: list[Word]) -> Hit:
        return make_hit(snapshot.stored(docnum), score, words)
