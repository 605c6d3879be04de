"""Score every match of a query: Whoosh's BM25F with less Python per match.

A search needs every match scored (the facets count them all and the page shows the best), so
what a match costs is what a search costs. Whoosh's collector adds a generator step, two method
calls and a results tuple per match, and its BM25F reads each match's field length from the
index's column file. `score_matches` walks the matcher itself and `InMemoryLengthsBM25F` reads
the lengths of the searched fields from lists: the same scores, bit for bit (tests compare them
with `Searcher.search`).
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from whoosh.query import Query
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F, BM25FScorer
from whoosh.searching import Searcher

EMPTY_IDS = np.empty(0, dtype=np.int64)
EMPTY_SCORES = np.empty(0, dtype=np.float64)


@dataclass(frozen=True)
class Scored:
    """The matches of a query: sorted docnums and, for each, its score."""

    ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Scored:
        return cls(EMPTY_IDS, EMPTY_SCORES)

    def nbytes(self) -> int:
        return self.ids.nbytes + self.scores.nbytes

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.ids.tolist(), self.scores.tolist(), strict=True))

    def at(self, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the scores of the sorted `docnums` (0.0 where unmatched), and which match."""
        if not len(self.ids) or not len(docnums):
            return np.zeros(len(docnums)), np.zeros(len(docnums), dtype=bool)
        where = np.minimum(np.searchsorted(self.ids, docnums), len(self.ids) - 1)
        found = self.ids[where] == docnums
        return np.where(found, self.scores[where], 0.0), found

    def scaled(self, boost: float) -> Scored:
        return self if boost == 1.0 else Scored(self.ids, self.scores * boost)


class InMemoryLengthsBM25F(BM25F):
    """Whoosh's BM25F, reading the lengths of the named fields from lists made up front.

    The lists are read for every segment of `reader` when the weighting is made (the index is
    opened once), so no search pays for them; other fields are scored as Whoosh does.
    """

    def __init__(self, reader: IndexReader, fieldnames: tuple[str, ...]) -> None:
        super().__init__()
        self._lengths = {
            (id(leaf), name): [
                leaf.doc_field_length(docnum, name, 1) for docnum in range(leaf.doc_count_all())
            ]
            for leaf, _ in reader.leaf_readers()
            for name in fieldnames
        }

    def lengths(self, leaf: IndexReader, fieldname: str) -> list | None:
        """Return the lengths of a field in one segment, if they were read."""
        return self._lengths.get((id(leaf), fieldname))

    def scorer(self, searcher: Searcher, fieldname: str, text: bytes, qf: int = 1):
        scorer = super().scorer(searcher, fieldname, text, qf=qf)
        lengths = self._lengths.get((id(searcher.reader()), fieldname))
        if lengths is not None and isinstance(scorer, BM25FScorer):
            # What BM25FScorer.setup reads per match: doc_field_length(docnum, fieldname, 1).
            scorer.dfl = lengths.__getitem__
        return scorer


def score_matches(
    searcher: Searcher,
    query: Query,
    allowed: Container[int] | None = None,
    excluded: Container[int] = frozenset(),
) -> dict[int, float]:
    """Return the score of every match of `query` by docnum, in docnum order.

    The same as ``searcher.search(query, limit=None, filter=allowed, mask=excluded)`` gives,
    without its collector and sorting.
    """
    scores: dict[int, float] = {}
    context = searcher.context()
    for leaf, offset in searcher.leaf_searchers():
        matcher = query.matcher(leaf, context)
        while matcher.is_active():
            docnum = offset + matcher.id()
            if (allowed is None or docnum in allowed) and docnum not in excluded:
                scores[docnum] = matcher.score()
            matcher.next()
    return scores


def score_docs(searcher: Searcher, query: Query, docnums: Iterable[int]) -> dict[int, float]:
    """Return the score of each of `docnums` that `query` matches, skipping to each one.

    The same scores as `score_matches`, without walking every match: for a page's worth of items
    among thousands of matches.
    """
    wanted = sorted(set(docnums))
    scores: dict[int, float] = {}
    if not wanted:
        return scores
    # needs_current keeps Whoosh's Or a tree of unions that skips, not an array it fills with
    # every match first (what it does for small indexes): here only a few items are wanted.
    context = searcher.context(needs_current=True)
    for leaf, offset in searcher.leaf_searchers():
        end = offset + leaf.doc_count_all()
        inside = [d - offset for d in wanted if offset <= d < end]
        if not inside:
            continue
        matcher = query.matcher(leaf, context)
        for docnum in inside:
            if not matcher.is_active():
                break
            if matcher.id() < docnum:
                matcher.skip_to(docnum)
                if not matcher.is_active():
                    break
            if matcher.id() == docnum:
                scores[offset + docnum] = matcher.score()
    return scores


class Matching(Protocol):
    """What a search reads of an index: the docnums a query matches, and their scores."""

    searcher: Searcher

    def docs(self, query: Query) -> set[int]: ...

    def doc_array(self, query: Query) -> np.ndarray: ...

    def scores_at(self, query: Query, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def scores(
        self, query: Query, allowed: Container[int] | None = None, excluded=frozenset()
    ) -> dict[int, float]: ...

    def scores_of(self, query: Query, docnums: Iterable[int]) -> dict[int, float]: ...

    def scored(self, query: Query) -> Scored: ...


class WhooshMatching:
    """Whoosh's own matchers behind what a search reads: the plain path.

    `indexer.arrays.ArrayMatcher` answers the same calls over arrays; tests compare the two.
    """

    def __init__(self, searcher: Searcher):
        self.searcher = searcher

    def docs(self, query: Query) -> set[int]:
        return set(self.searcher.docs_for_query(query))

    def doc_array(self, query: Query) -> np.ndarray:
        return np.asarray(sorted(self.searcher.docs_for_query(query)), dtype=np.int64)

    def scores_at(self, query: Query, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = score_docs(self.searcher, query, docnums.tolist())
        values = [scores.get(d) for d in docnums.tolist()]
        found = np.asarray([value is not None for value in values], dtype=bool)
        return np.asarray([value or 0.0 for value in values], dtype=np.float64), found

    def scores(
        self, query: Query, allowed: Container[int] | None = None, excluded=frozenset()
    ) -> dict[int, float]:
        return score_matches(self.searcher, query, allowed, excluded)

    def scores_of(self, query: Query, docnums: Iterable[int]) -> dict[int, float]:
        return score_docs(self.searcher, query, docnums)

    def scored(self, query: Query) -> Scored:
        scores = score_matches(self.searcher, query)  # in docnum order
        return Scored(
            np.fromiter(scores, dtype=np.int64, count=len(scores)),
            np.fromiter(scores.values(), dtype=np.float64, count=len(scores)),
        )
