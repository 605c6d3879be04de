"""The one search function: query text and filters in, ranked hits and facet counts out.

The CLI, the JSON API and the web page all call `PolicyIndex.search`; nothing here knows about
Flask. A `PolicyIndex` is opened once and shared: it keeps one Whoosh searcher and the facet
columns in memory, and reopens them when a rebuild has swapped a new index in.
"""

from __future__ import annotations

import gc
import json
import math
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from indexer.highlight import exact_spans, highlight
from indexer.query import Word, clean_query, parse_query, synonym_map, to_whoosh
from indexer.schema import FACETS
from indexer.synonyms import SYNONYMS_FILE

MAX_PER_PAGE = 100


class IndexUnavailable(Exception):
    """There is no usable index at the given path; the message says how to make one."""


class UnknownFilter(ValueError):
    """A filter names a value the index does not hold."""

    def __init__(self, facet: str, values: list[str]):
        self.facet, self.values = facet, values
        super().__init__(f"unknown {facet}: {', '.join(values)}")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass
class _Snapshot:
    """A searcher and the columns read from it, replaced whole when the index changes."""

    target: str
    searcher: Searcher
    columns: dict[str, list]
    values: dict[str, list[str]]  # every facet's values, in document order
    by_id: dict[str, int]
    synonyms: dict[str, list[Word]]


def _read_synonyms(index_dir: str) -> dict[str, list[Word]]:
    path = Path(index_dir) / SYNONYMS_FILE
    return synonym_map(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def _has_exact(snapshot: _Snapshot, docnum: int, clauses: list) -> bool:
    """Check a quoted phrase stands in the item exactly, particles included."""
    text = snapshot.searcher.stored_fields(docnum)["text"]
    return all(
        any(not word.exact or exact_spans(text, word.exact) for word in clause)
        for clause in clauses
    )


class PolicyIndex:
    """An open policy index: search it, fetch items, list departments."""

    def __init__(self, index_dir: Path | str):
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._snapshot = self._open()

    def _open(self) -> _Snapshot:
        target = os.path.realpath(self.index_dir)
        if not whoosh_index.exists_in(target):
            raise IndexUnavailable(
                f"no index at {self.index_dir}: build it with `python -m indexer build`"
            )
        problem = None
        # Whoosh leaves a file open when it fails to read a segment; close it quietly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                searcher = whoosh_index.open_dir(target).searcher()
                reader = searcher.reader()
                columns = {name: list(reader.column_reader(name)) for name in (*FACETS, "order")}
                ids = [reader.stored_fields(d)["id"] for d in range(reader.doc_count_all())]
            except Exception as error:  # a damaged index can fail in many ways inside Whoosh
                problem = f"{error.__class__.__name__}: {error}"
            if problem:
                gc.collect()
        if problem:
            raise IndexUnavailable(
                f"the index at {self.index_dir} cannot be read ({problem}); "
                "rebuild it with `python -m indexer build`"
            )
        in_order = sorted(range(len(ids)), key=columns["order"].__getitem__)
        values = {name: list(dict.fromkeys(columns[name][d] for d in in_order)) for name in FACETS}
        by_id = {item_id: docnum for docnum, item_id in enumerate(ids)}
        return _Snapshot(target, searcher, columns, values, by_id, _read_synonyms(target))

    def current(self) -> _Snapshot:
        """Return the open snapshot, reopening it first if a rebuild swapped in a new index."""
        snapshot = self._snapshot
        if os.path.realpath(self.index_dir) != snapshot.target:
            with self._lock:
                if os.path.realpath(self.index_dir) != self._snapshot.target:
                    self._snapshot = self._open()
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
        return None if docnum is None else dict(snapshot.searcher.stored_fields(docnum))

    def items(self, **filters: str) -> list[dict]:
        """Return the items whose facet fields equal `filters`, in document order."""
        snapshot = self.current()
        docnums = [
            d
            for d in range(len(snapshot.by_id))
            if all(snapshot.columns[name][d] == value for name, value in filters.items())
        ]
        docnums.sort(key=snapshot.columns["order"].__getitem__)
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

        ranked, words = self._rank(snapshot, query)
        facets = {name: self._facet(snapshot, name, ranked, filters) for name in FACETS}
        kept = [(d, s) for d, s in ranked if self._passes(snapshot, d, filters)]
        first = (page - 1) * per_page
        hits = [
            self._hit(snapshot, docnum, score, words)
            for docnum, score in kept[first : first + per_page]
        ]
        return SearchResult(query, len(kept), page, per_page, hits, facets, filters)

    def _rank(self, snapshot: _Snapshot, query: str) -> tuple[list[tuple[int, float | None]], list]:
        """Return (docnum, score) for every match, best first, ties in document order."""
        order = snapshot.columns["order"]
        if not clean_query(query).strip():
            docnums = sorted(range(len(order)), key=order.__getitem__)
            return [(d, None) for d in docnums], []
        parsed = parse_query(query, snapshot.synonyms)
        if parsed.is_empty:
            return [], []
        results = snapshot.searcher.search(to_whoosh(parsed), limit=None)
        scored = [(hit.docnum, hit.score) for hit in results]
        exact = [clause for clause in parsed.must if any(word.exact for word in clause)]
        if exact:
            scored = [pair for pair in scored if _has_exact(snapshot, pair[0], exact)]
        scored.sort(key=lambda pair: (-pair[1], order[pair[0]]))
        return scored, parsed.positive_words

    @staticmethod
    def _passes(snapshot: _Snapshot, docnum: int, filters: dict, skip: str = "") -> bool:
        return all(
            not values or snapshot.columns[name][docnum] in values
            for name, values in filters.items()
            if name != skip
        )

    def _facet(
        self, snapshot: _Snapshot, name: str, ranked: list, filters: dict
    ) -> list[FacetValue]:
        counts = dict.fromkeys(snapshot.values[name], 0)
        column = snapshot.columns[name]
        for docnum, _ in ranked:
            if self._passes(snapshot, docnum, filters, skip=name):
                counts[column[docnum]] += 1
        return [FacetValue(value, count, value in filters[name]) for value, count in counts.items()]

    @staticmethod
    def _hit(snapshot: _Snapshot, docnum: int, score: float | None, words: list) -> Hit:
        stored = snapshot.searcher.stored_fields(docnum)
        return Hit(
            id=stored["id"],
            fiscal_year=stored["fiscal_year"],
            department_no=stored["department_no"],
            department=stored["department"],
            category=stored["category"],
            column=stored["column"],
            position=stored["position"],
            text=stored["text"],
            highlight=highlight(stored["text"], words),
            score=None if score is None else round(score, 4),
            document=stored["document"],
        )
