"""Matching and BM25F scoring over numpy arrays: Whoosh's answers without a Python step per match.

Whoosh stays the index on disk. The first time a query needs a term, its postings (docnums and
weights) are read through Whoosh into two arrays, kept in an LRU bounded in bytes; a query tree
of terms, `Or`, `And`, `AndMaybe`, `AndNot` and `Require` is then matched and scored with array
operations. Phrases are matched by Whoosh (they need positions) and scored here, as Whoosh
scores them: the sum of their terms' scores. Any other query is left to Whoosh whole.

Each term's BM25F score is Whoosh's formula on the same numbers, bit for bit; a sum of several
may differ from Whoosh's in the last bit, because Whoosh adds in the order of its matcher tree.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from indexer.lru import BytesLRU
from indexer.scoring import EMPTY_IDS, EMPTY_SCORES, Scored, score_matches

POSTINGS_BUDGET = 256 * 2**20  # bytes of postings arrays kept per open index
SCORED_QUERIES = 64  # the queries whose scored matches are kept, as many as graded matches
SCORED_BUDGET = 64 * 2**20  # and their bytes: 64 took 2 MB at 100x the seed, 22 MB at 1000x
POSITION_BITS = 24  # a key docnum << 24 | position: 16 million positions an item at most
FIRST_POSITION = 64  # added to positions, so that position - word's place stays positive
DENSE_FROM = 32  # unions of more than 1/32 of the docnums go over an array of every docnum


class ArrayMatcher:
    """Match and score queries of one open index over arrays (see the module's docstring)."""

    def __init__(self, searcher: Searcher):
        self.searcher = searcher
        self.weighting = searcher.weighting
        if not isinstance(self.weighting, BM25F):
            raise TypeError("array scoring follows BM25F only")
        self.leaves = list(searcher.leaf_searchers())
        self.size = searcher.doc_count_all()
        self._lengths: dict[str, np.ndarray] = {}
        self._postings: BytesLRU[tuple[np.ndarray, ...]] = BytesLRU(POSTINGS_BUDGET, _nbytes)
        self._scored: BytesLRU[Scored] = BytesLRU(SCORED_BUDGET, Scored.nbytes, SCORED_QUERIES)

    # -- postings ------------------------------------------------------------------------

    def postings(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the docnums holding a term and the term's weight in each, read once."""
        return self._postings.get((fieldname, text), lambda: self._read_postings(fieldname, text))

    def _read_postings(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        field = self.searcher.schema[fieldname]
        try:
            btext = field.to_bytes(text)
        except ValueError:
            return EMPTY_IDS, EMPTY_SCORES
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for leaf, offset in self.leaves:
            reader = leaf.reader()
            if (fieldname, btext) not in reader:
                continue
            matcher = reader.postings(fieldname, btext)
            read = _read_blocks if hasattr(matcher, "_next_block") else _read_one_by_one
            found_ids, found_weights = read(matcher)
            ids.append(np.asarray(found_ids, dtype=np.int64) + offset)
            weights.append(np.asarray(found_weights, dtype=np.float64))
        if not ids:
            return EMPTY_IDS, EMPTY_SCORES
        return np.concatenate(ids), np.concatenate(weights)

    def lengths(self, fieldname: str) -> np.ndarray:
        """Return every item's length of a field, as BM25F reads it (from the lengths byte)."""
        found = self._lengths.get(fieldname)
        if found is None:
            read = getattr(self.weighting, "lengths", None)  # InMemoryLengthsBM25F's lists
            parts = [
                (read and read(leaf.reader(), fieldname))
                or [leaf.reader().doc_field_length(d, fieldname, 1)
                    for d in range(leaf.reader().doc_count_all())]
                for leaf, _ in self.leaves
            ]  # fmt: skip
            found = np.asarray([n for part in parts for n in part], dtype=np.float64)
            self._lengths[fieldname] = found
        return found

    # -- what the search reads (the same as indexer.scoring.WhooshMatching) ---------------------

    def docs(self, query: wq.Query) -> set[int]:
        """Return the docnums matching `query`."""
        return set(self.score(query).ids.tolist())

    def scores(
        self, query: wq.Query, allowed: Container[int] | None = None, excluded=frozenset()
    ) -> dict[int, float]:
        """Return the score of every match of `query`, within `allowed`, outside `excluded`."""
        found = self.score(query).as_dict()
        if allowed is None and not excluded:
            return found
        return {d: s for d, s in found.items()
                if (allowed is None or d in allowed) and d not in excluded}  # fmt: skip

    def doc_array(self, query: wq.Query) -> np.ndarray:
        """Return the sorted docnums matching `query`."""
        return self.score(query).ids

    def scores_at(self, query: wq.Query, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the score of each of `docnums` (0.0 if unmatched), and which match."""
        return self.scored(query).at(docnums)

    def scored(self, query: wq.Query) -> Scored:
        """Return every match of `query` with its score; the last few queries' are kept.

        The next page, and the page after a facet is chosen, ask again.
        """
        return self._scored.get(query, lambda: self.score(query))

    def scores_of(self, query: wq.Query, docnums: Iterable[int]) -> dict[int, float]:
        """Return the score of each of `docnums` that `query` matches."""
        wanted = np.unique(np.fromiter(docnums, dtype=np.int64))
        return _keep(self.score(query), wanted, inside=True).as_dict()

    # -- matching and scoring over arrays ----------------------------------------------------

    def score(self, query: wq.Query) -> Scored:
        """Return every match of `query` with its BM25F score."""
        if isinstance(query, wq.Term):
            return self._term(query)
        if isinstance(query, wq.Or):
            parts = [self.score(q) for q in query.subqueries]
            return _union(parts, self.size).scaled(query.boost)
        if isinstance(query, wq.And):
            return _intersection([self.score(q) for q in query.subqueries]).scaled(query.boost)
        if isinstance(query, wq.AndMaybe):
            return _and_maybe(self.score(query.a), self.score(query.b))
        if isinstance(query, wq.AndNot):
            return _keep(self.score(query.a), self.score(query.b).ids, inside=False)
        if isinstance(query, wq.Require):
            return _keep(self.score(query.a), self.score(query.b).ids, inside=True)
        if isinstance(query, wq.Phrase) and query.slop == 1:
            return self._phrase(query)
        if isinstance(query, wq.NullQuery.__class__):
            return Scored.empty()
        return self._by_whoosh(query)

    def _term(self, query: wq.Term) -> Scored:
        fieldname = query.fieldname
        ids, weights = self.postings(fieldname, query.text)
        if not len(ids):
            return Scored.empty()
        searcher = self.searcher
        if fieldname not in searcher.schema or not searcher.schema[fieldname].scorable:
            return Scored(ids, weights).scaled(query.boost)  # Whoosh's WeightScorer
        weighting = self.weighting
        b = weighting._field_B.get(fieldname, weighting.B)
        k1 = weighting.K1
        idf = searcher.idf(fieldname, searcher.schema[fieldname].to_bytes(query.text))
        average = searcher.avg_field_length(fieldname) or 1
        length = self.lengths(fieldname)[ids]
        # whoosh.scoring.bm25, operation for operation
        scores = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * length / average)))
        return Scored(ids, scores).scaled(query.boost)

    def _phrase(self, query: wq.Phrase) -> Scored:
        if query.fieldname not in self.searcher.schema:
            return Scored.empty()
        terms = [self._term(wq.Term(query.fieldname, word)) for word in query.words]
        if any(not len(term.ids) for term in terms):
            return Scored.empty()
        together = _intersection(terms)
        if not len(together.ids):
            return together
        if len(query.words) > FIRST_POSITION:
            return self._by_whoosh(query)
        # Whoosh's phrase (slop 1): each word one position after the one before it. Word i at
        # position p of item d is the key (d, p - i): the items whose keys all words share.
        # Only the items holding every word can hold the phrase: their keys, then the keys all
        # words share, by binary search in the sorted arrays (no sort of them together).
        docs = together.ids
        keys = None
        for place, word in enumerate(query.words):
            held = _keys_of(self.positions(query.fieldname, word), docs) - place
            keys = held if keys is None else intersect_sorted(keys, held)
            if not len(keys):
                return Scored.empty()
        return _keep(together, np.unique(keys >> POSITION_BITS), inside=True).scaled(query.boost)

    def positions(self, fieldname: str, text: str) -> np.ndarray:
        """Return the sorted keys docnum << POSITION_BITS | position of a term's occurrences."""
        key = (fieldname, text, "positions")
        return self._postings.get(key, lambda: (self._read_positions(fieldname, text),))[0]

    def _read_positions(self, fieldname: str, text: str) -> np.ndarray:
        btext = self.searcher.schema[fieldname].to_bytes(text)
        keys: list[int] = []
        for leaf, offset in self.leaves:
            reader = leaf.reader()
            if (fieldname, btext) not in reader:
                continue
            matcher = reader.postings(fieldname, btext)
            decode = matcher.format.decoder("positions")
            read = _read_values if hasattr(matcher, "_next_block") else _read_values_one_by_one
            for docnum, value in read(matcher):
                base = (offset + docnum) << POSITION_BITS
                keys += [base | (position + FIRST_POSITION) for position in decode(value)]
        # In docnum order and each item's positions in order: sorted already (but for a term
        # twice at one position), which np.unique would find out by sorting them again.
        found = np.asarray(keys, dtype=np.int64)
        step = np.diff(found, prepend=-1)
        return found[step != 0] if (step >= 0).all() else np.unique(found)

    def _by_whoosh(self, query: wq.Query) -> Scored:
        scores = score_matches(self.searcher, query)
        ids = np.fromiter(scores, dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        order = np.argsort(ids, kind="stable")
        return Scored(ids[order], values[order])


def _nbytes(arrays: tuple[np.ndarray, ...]) -> int:
    return sum(array.nbytes for array in arrays)


def _read_blocks(matcher) -> tuple[list, list]:
    """Read a Whoosh 3 posting list a block at a time: its decoded ids and weights whole.

    Whoosh has no public call for this (its matchers' own block reads); other matchers are
    walked one posting at a time.
    """
    ids: list[int] = []
    weights: list[float] = []
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        ids += matcher._ids
        weights += matcher._weights
        matcher._next_block()
    return ids, weights


def _read_values(matcher) -> Iterator[tuple[int, bytes]]:
    """Yield the docnums of a Whoosh 3 posting list with their values, a block at a time."""
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_values()
        yield from zip(matcher._ids, matcher._values, strict=True)
        matcher._next_block()


def _read_values_one_by_one(matcher) -> Iterator[tuple[int, bytes]]:
    while matcher.is_active():
        yield matcher.id(), matcher.value()
        matcher.next()


def _read_one_by_one(matcher) -> tuple[list, list]:
    ids: list[int] = []
    weights: list[float] = []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def union_ids(arrays: list[np.ndarray], size: int) -> np.ndarray:
    """Return the sorted docnums in any of `arrays` (docnums below `size`)."""
    arrays = [array for array in arrays if len(array)]
    if not arrays:
        return EMPTY_IDS
    if len(arrays) == 1:
        return arrays[0]
    if sum(len(array) for array in arrays) * DENSE_FROM > size:
        held = np.zeros(size, dtype=bool)
        for array in arrays:
            held[array] = True
        return np.flatnonzero(held)
    return np.unique(np.concatenate(arrays))


def _union(parts: list[Scored], size: int) -> Scored:
    """Every docnum of any part; the scores of the parts holding it added.

    Over an array of every docnum (`size` of them) when the parts are long, else by sorting.
    """
    parts = [part for part in parts if len(part.ids)]
    if not parts:
        return Scored.empty()
    if len(parts) == 1:
        return parts[0]
    if sum(len(part.ids) for part in parts) * DENSE_FROM > size:
        held, every = np.zeros(size, dtype=bool), np.zeros(size)
        for part in parts:
            held[part.ids] = True
            every[part.ids] += part.scores
        ids = np.flatnonzero(held)
        return Scored(ids, every[ids])
    ids = union_ids([part.ids for part in parts], size)
    scores = np.zeros(len(ids), dtype=np.float64)
    for part in parts:
        scores[np.searchsorted(ids, part.ids)] += part.scores
    return Scored(ids, scores)


def _intersection(parts: list[Scored]) -> Scored:
    """The docnums every part holds; their scores added."""
    if not parts or any(not len(part.ids) for part in parts):
        return Scored.empty()
    ids = parts[0].ids
    for part in parts[1:]:
        ids = intersect_sorted(ids, part.ids)
    scores = np.zeros(len(ids), dtype=np.float64)
    for part in parts:
        scores += part.scores[np.searchsorted(part.ids, ids)]
    return Scored(ids, scores)


def _and_maybe(required: Scored, optional: Scored) -> Scored:
    """The required part's docnums; the optional part's score added where it matches too."""
    if not len(required.ids) or not len(optional.ids):
        return required
    where, found = _find(optional.ids, required.ids)
    scores = required.scores.copy()
    scores[found] += optional.scores[where[found]]
    return Scored(required.ids, scores)


def _keep(scored: Scored, docnums: np.ndarray, inside: bool) -> Scored:
    """Keep the matches among `docnums` (or, with `inside` false, those not among them)."""
    docnums = np.asarray(docnums, dtype=np.int64)
    if len(docnums) < len(scored.ids):  # search the fewer in the more
        where, found = _find(scored.ids, docnums)
        mask = np.zeros(len(scored.ids), dtype=bool)
        mask[where[found]] = True
    else:
        mask = _find(docnums, scored.ids)[1]
    if not inside:
        mask = ~mask
    return Scored(scored.ids[mask], scored.scores[mask])


def _keys_of(keys: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Return the sorted keys (docnum << POSITION_BITS | position) that are of the sorted `docs`.

    Each doc's keys are a run of the array: two binary searches a doc find it.

    >>> keys = np.array([1 << POSITION_BITS | 5, 2 << POSITION_BITS | 1, 2 << POSITION_BITS | 7])
    >>> (_keys_of(keys, np.array([2, 3])) >> POSITION_BITS).tolist()
    [2, 2]
    """
    starts = np.searchsorted(keys, docs << POSITION_BITS)
    counts = np.searchsorted(keys, (docs + 1) << POSITION_BITS) - starts
    total = int(counts.sum())
    if total == len(keys):
        return keys
    # The i-th key kept is key i - (keys kept before its doc's run) + the run's start.
    before = np.cumsum(counts) - counts
    return keys[np.arange(total) + np.repeat(starts - before, counts)]


def _find(sorted_unique: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return where each of `values` is or would be in the sorted distinct array, and if it is.

    >>> where, found = _find(np.array([0, 4, 5]), np.array([1, 4, 9]))
    >>> where[found].tolist(), found.tolist()
    ([1], [False, True, False])
    """
    if not len(sorted_unique) or not len(values):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    where = np.minimum(np.searchsorted(sorted_unique, values), len(sorted_unique) - 1)
    return where, sorted_unique[where] == values


def intersect_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the values two sorted arrays of distinct values share: `np.intersect1d` unsorted.

    A binary search of the shorter in the longer, where `intersect1d` sorts both together.

    >>> intersect_sorted(np.array([1, 3, 5, 7]), np.array([3, 4, 7])).tolist()
    [3, 7]
    """
    if len(a) > len(b):
        a, b = b, a
    return a[_find(b, a)[1]]
