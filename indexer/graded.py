"""Graded matching: every item that holds some of a query's words, ranked by ordered rules.

Each content word of a query (indexer.understand) is held by an item at the strongest level
the item holds it: as typed, through a synonym, with its units a particle apart, or only
through some of a compound's parts. The ranking is an ordered list of rules, as Meilisearch's
ranking rules are: each sorts into buckets that the next one only breaks ties within.

1. `every_word`: items holding every word (as typed or through a synonym) come first;
2. `as_typed`: then the items holding a sentence of the query as it was typed;
3. `some_word`: then the items holding some word, before those only near the best ones' topic;
4. `coverage`: then how much of the query an item covers, a rare word weighing more than a
   common one and a word held as typed more than one held loosely;
5. `relevance`: then Whoosh's BM25F score for every form of every word.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from whoosh.query import Or, Phrase, Query, Term

from indexer.arrays import intersect_sorted, union_ids
from indexer.generic import GENERIC_WEIGHT, is_generic
from indexer.query import FIELD, Word, word_query
from indexer.schema import EXACT_FIELD
from indexer.scoring import Matching
from indexer.understand import QueryWord

LITERAL, INSIDE, EXPANSION, RELATED, NEAR, LOOSE, PARTS = 1.0, 0.9, 0.8, 0.7, 0.65, 0.6, 0.4
# The nearest words by vectors of a word in no item: a guess, never counted as holding it, but
# a better one than a part of the word (認知症 → 介護, not 認知 of 認知度).
GUESSED = 0.68
HELD = EXPANSION  # the level from which a word counts as held
NO_DOCS = np.empty(0, dtype=np.int64)
ABSENT_PARTS = 0.75  # the parts of a compound that no item holds: still not the word itself


@dataclass(frozen=True)
class Graded:
    """Which items hold which words, and how well: what the ranking rules read.

    Arrays side by side: `docs` (sorted docnums) and, for each, its row of `levels`, its
    `as_typed` count and its `topics` similarity.
    """

    words: tuple[QueryWord, ...]
    docs: np.ndarray  # the docnums holding some form of some word (or the topic), sorted
    levels: np.ndarray  # one row a doc: the level of each word (0.0: lacks it)
    as_typed: np.ndarray  # how many of the query's sentences each doc holds as typed
    weights: list[float]  # each word's weight: its inverse document frequency
    query: Query  # every form of every word but the particle-apart ones, for BM25F
    core_query: Query | None = None  # the forms that hold a word: as typed, inside, synonyms
    topic: dict[int, float] = field(default_factory=dict)  # similarity to the best items' topic
    topic_weight: float = 0.0
    topic_terms: tuple[str, ...] = ()
    _buckets: dict = field(default_factory=dict, compare=False, repr=False)  # worked out once

    def __post_init__(self) -> None:
        topics = np.zeros(len(self.docs))
        if self.topic:
            near = np.fromiter(self.topic, dtype=np.int64, count=len(self.topic))
            similarity = np.fromiter(self.topic.values(), dtype=np.float64, count=len(near))
            topics[np.searchsorted(self.docs, near)] = similarity  # every one is among docs
        object.__setattr__(self, "topics", topics)

    def with_topic(
        self, topic: dict[int, float], share: float, terms: tuple[str, ...] = ()
    ) -> Graded:
        """Return these matches with the items near the best ones' topic (indexer.feedback).

        The topic counts as one more word weighing `share` of the query's words together. Made
        once for each topic: the next page asks again.
        """
        key = ("topic", id(topic), share, terms)
        found = self._buckets.get(key)
        if found is not None and found.topic is topic:
            return found
        extra = np.fromiter(topic, dtype=np.int64, count=len(topic))
        docs = np.union1d(self.docs, extra)
        rows = np.searchsorted(docs, self.docs)
        levels = np.zeros((len(docs), len(self.words)))
        levels[rows] = self.levels
        as_typed = np.zeros(len(docs), dtype=np.int64)
        as_typed[rows] = self.as_typed
        weight = share * sum(self.weights)
        found = self._buckets[key] = replace(
            self, docs=docs, levels=levels, as_typed=as_typed, topic=topic, topic_weight=weight,
            topic_terms=terms, _buckets={},
        )  # fmt: skip
        return found

    def with_departments(
        self, topic: dict[int, float], seeds: tuple[int, ...], departments: np.ndarray, share: float
    ) -> dict[int, float]:
        """Return the topic similarity with the seeds' departments counting `share` of it.

        A department is a cluster of topics: 図書館のあり方 is about the library department's
        あり方 items, not the cleaning office's. An item holding some word of the query, in a
        department of one of the best items, gets `share` more; every similarity is scaled by
        1 - share, so that it stays from 0 to 1. No item is added: only those holding a word.
        Made once for each topic.
        """
        key = ("departments", id(topic), seeds, share)
        found = self._buckets.get(key)
        if found is not None and found[0] is topic:
            return found[1]
        seeded = np.unique(departments[np.asarray(seeds, dtype=np.int64)])
        near = self.docs[np.isin(departments[self.docs], seeded)].tolist()
        blended = {doc: similarity * (1 - share) for doc, similarity in topic.items()}
        for doc in near:
            blended[doc] = blended.get(doc, 0.0) + share
        self._buckets[key] = (topic, blended)
        return blended

    def nbytes(self) -> int:
        """Return the bytes of this match's arrays and of what it worked out from them."""
        own = self.docs.nbytes + self.levels.nbytes + self.as_typed.nbytes + self.topics.nbytes
        own += 120 * len(self.topic)  # a dict of Python ints and floats
        for found in self._buckets.values():
            if isinstance(found, (Graded, Buckets)):
                own += found.nbytes()
            elif isinstance(found, tuple):  # a topic with the departments: (topic, blended)
                own += 120 * len(found[1])
        return own

    def rows(self, docnums: np.ndarray) -> np.ndarray:
        """Return the rows of `docnums`, each one of `docs`."""
        return np.searchsorted(self.docs, docnums)

    def missing(self, levels: Sequence[float]) -> list[str]:
        """Return the words as typed that a doc does not hold (as typed or as a synonym)."""
        return [w.text for w, level in zip(self.words, levels, strict=True) if level < HELD]

    def in_part(self, levels: Sequence[float]) -> list[str]:
        """Return the missing words of which a doc holds a looser form (apart, in parts)."""
        return [w.text for w, level in zip(self.words, levels, strict=True)
                if 0 < level <= LOOSE]  # fmt: skip

    def coverages(self, levels: np.ndarray, topics: np.ndarray) -> np.ndarray:
        """Return `coverage` of each row of `levels` (with its topic similarity), at once."""
        weights, columns = list(self.weights), [levels[:, n] for n in range(levels.shape[1])]
        if self.topic_weight:
            weights, columns = [*weights, self.topic_weight], [*columns, topics]
        total = sum(weights)
        if not total or not len(levels):
            return np.zeros(len(levels))
        held = np.zeros(len(levels))
        for column, weight in zip(columns, weights, strict=True):
            held = held + column * weight  # in coverage's order: the same sums, bit for bit
        distinct, where = np.unique(held, return_inverse=True)
        # Python's round, as coverage does: numpy's rounds differently in rare cases.
        return np.asarray([round(h / total, 9) for h in distinct.tolist()])[where.reshape(-1)]

    def buckets(self) -> Buckets:
        """Return each doc's bucket under every rule but relevance, worked out once.

        Docs holding the words at the same levels share their bucket: the rules are applied
        once to each combination, which there are few of even among thousands of matches.
        """
        found = self._buckets.get("buckets")
        if found is None:
            found = self._buckets["buckets"] = Buckets.of(self)
        return found


@dataclass(frozen=True)
class Buckets:
    """The ranking rules but relevance, applied: per doc of a `Graded`, arrays side by side."""

    rank: np.ndarray  # 0 for the best bucket
    full: np.ndarray  # holds every word
    none: np.ndarray  # holds no word, only the topic
    coverage: np.ndarray

    def nbytes(self) -> int:
        return self.rank.nbytes + self.full.nbytes + self.none.nbytes + self.coverage.nbytes

    @classmethod
    def of(cls, graded: Graded) -> Buckets:
        levels, typed, topics = graded.levels, graded.as_typed, graded.topics
        values = [rule(graded, levels, typed, topics) for _, rule in RULES[:-1]]
        # Sorted by every rule, best first; a doc's bucket is how many keys differ before it.
        order = np.lexsort([-value for value in reversed(values)])
        ranks = np.zeros(len(order), dtype=np.int64)
        if len(order):
            ordered = np.column_stack([value[order] for value in values])
            changes = (ordered[1:] != ordered[:-1]).any(axis=1)
            ranks[order] = np.concatenate([[0], np.cumsum(changes)])
        full, _, some, covered = values
        return cls(ranks, full.astype(bool), ~some.astype(bool), covered)


def every_word(levels: Sequence[float]) -> bool:
    """Tell that every word is held as typed or through a synonym.

    >>> every_word([1.0, 0.8]), every_word([1.0, 0.6])
    (True, False)
    """
    return all(level >= HELD for level in levels)


def coverage(levels: Sequence[float], weights: Sequence[float]) -> float:
    """Return the weighted share of the query an item holds, from 0 to 1.

    >>> round(coverage([1.0, 0.0], [3.0, 1.0]), 2), round(coverage([0.0, 1.0], [3.0, 1.0]), 2)
    (0.75, 0.25)
    """
    total = sum(weights)
    held = sum(level * weight for level, weight in zip(levels, weights, strict=True))
    return round(held / total, 9) if total else 0.0


def idf(doc_frequency: int, doc_count: int) -> float:
    """Return BM25's inverse document frequency: a word in few items weighs more.

    >>> idf(2, 475) > idf(50, 475) > 0
    True
    """
    return math.log(1 + (doc_count - doc_frequency + 0.5) / (doc_frequency + 0.5))


def _forms(qword: QueryWord) -> list[tuple[float, list[Word]]]:
    """Return the forms of a word by level, strongest first (parts come one by one)."""
    forms = [(LITERAL, [qword.word]), (INSIDE, list(qword.inside))]
    forms.append((EXPANSION, list(qword.expansions)))
    forms += [(RELATED, list(qword.related)), (NEAR, list(qword.near))]
    return [*forms, (GUESSED, list(qword.guessed)), (LOOSE, list(qword.loose))]


def match_words(
    matching: Matching, words: Sequence[QueryWord], phrases: Sequence[tuple[str, ...]] = ()
) -> Graded:
    """Find every item holding any form of any word, and the level it holds each at.

    `phrases` are the query's sentences in exact units (indexer.understand): the items holding
    one as typed are counted for the `as_typed` rule.
    """
    found: list[tuple[int, np.ndarray, float]] = []  # (word, docnums, level): the highest wins
    parts_found: list[tuple[int, list[tuple[np.ndarray, float]], float, float]] = []
    weights, queries, core = [], [], []
    count = matching.searcher.doc_count_all()
    for index, qword in enumerate(words):
        held_docs = NO_DOCS
        for level, forms in _forms(qword):
            if not forms:
                continue
            if level == LOOSE and not _may_hold_apart(matching, qword.word, held_docs):
                continue  # phrases across particles are dear: only where every unit stands
            query = Or([word_query(word) for word in forms])
            if level >= HELD:
                core.append(query)
            if level != LOOSE:  # phrases across particles cost much to score, and say little
                queries.append(query)
            docnums = matching.doc_array(query)
            if level in (RELATED, NEAR) and not len(held_docs):
                # The word is in no item: its nearest words that are stand for it.
                level = EXPANSION
            if level >= HELD:
                held_docs = union_ids([held_docs, docnums], count)
            found.append((index, docnums, level))
        weight = idf(len(held_docs), count)
        parts = _parts_held(matching, qword.parts, qword.part_forms, queries)
        if parts:
            # A part weighs what it tells: 交通 (rare) more than 公共 (common) of 公共交通.
            whole = max(weight, sum(part_weight for _, part_weight in parts))
            # A compound no item holds is best found through its parts (投票率 → 投票).
            scale = ABSENT_PARTS if not len(held_docs) else PARTS
            parts_found.append((index, parts, whole, scale))
        generic = is_generic(qword.word.key) or qword.predicate
        weights.append(weight * (GENERIC_WEIGHT if generic else 1.0))
    every = [docnums for _, docnums, _ in found]
    every += [docnums for _, parts, _, _ in parts_found for docnums, _ in parts]
    docs = union_ids(every, count)
    levels = np.zeros((len(docs), len(words)))
    for index, docnums, level in found:
        rows = np.searchsorted(docs, docnums)
        levels[rows, index] = np.maximum(levels[rows, index], level)
    for index, parts, whole, scale in parts_found:
        held = np.zeros(len(docs))
        holding = np.zeros(len(docs), dtype=bool)
        for docnums, part_weight in parts:
            rows = np.searchsorted(docs, docnums)
            held[rows] += part_weight
            holding[rows] = True
        levels[holding, index] = np.maximum(levels[holding, index], scale * held[holding] / whole)
    as_typed = np.zeros(len(docs), dtype=np.int64)
    if EXACT_FIELD in matching.searcher.schema and len(docs):
        for units in phrases:
            docnums = matching.doc_array(Phrase(EXACT_FIELD, list(units)))
            rows = np.minimum(np.searchsorted(docs, docnums), len(docs) - 1)
            as_typed[rows[docs[rows] == docnums]] += 1
    return Graded(tuple(words), docs, levels, as_typed, weights, Or(queries), core_query=Or(core))


def _may_hold_apart(matching: Matching, word: Word, held: np.ndarray) -> bool:
    """Tell whether some item not holding `word` holds every one of its short units."""
    candidates: np.ndarray | None = None
    for unit in word.fine:
        docnums = matching.doc_array(Term(FIELD, unit))
        candidates = docnums if candidates is None else intersect_sorted(candidates, docnums)
        if not len(np.setdiff1d(candidates, held, assume_unique=True)):
            return False
    return candidates is not None and bool(len(candidates))


def _parts_held(
    matching: Matching,
    parts: Sequence[Word],
    others: Sequence[Sequence[Word]],
    queries: list[Query],
) -> list[tuple[np.ndarray, float]]:
    """Return the items holding each part of a compound or its other words, with its weight."""
    found = []
    for part, forms in zip(parts, others, strict=True):
        queries.append(Or([word_query(word) for word in (part, *forms)]))
        docnums = matching.doc_array(queries[-1])
        found.append((docnums, idf(len(docnums), matching.searcher.doc_count_all())))
    return found


# The ranking rules, in order: each gives every doc's value at once from (graded, levels,
# as_typed, topics), higher first; relevance, the last, is the score itself.
RULES: tuple[tuple[str, Callable[..., np.ndarray] | None], ...] = (
    ("every_word", lambda graded, levels, typed, topics: (levels >= HELD).all(axis=1) * 1.0),
    ("as_typed", lambda graded, levels, typed, topics: typed * 1.0),
    ("some_word", lambda graded, levels, typed, topics: (levels > 0).any(axis=1) * 1.0),
    ("coverage", lambda graded, levels, typed, topics: graded.coverages(levels, topics)),
    ("relevance", None),
)


def ranked(graded: Graded, docnums: np.ndarray, scores: np.ndarray, order: np.ndarray):
    """Return `docnums` best first: by the rules, then by `scores`, then in document order."""
    rank = graded.buckets().rank[graded.rows(docnums)]
    return docnums[np.lexsort((order[docnums], -scores, rank))]


def best_buckets(graded: Graded, docnums: np.ndarray, needed: int) -> np.ndarray:
    """Return the docnums of the best buckets (every rule but relevance) holding `needed` items.

    Only these need a relevance score to fill the first `needed` places: a bucket is taken whole,
    so that the relevance rule orders it fully.
    """
    if len(docnums) <= needed:
        return docnums
    rank = graded.buckets().rank[graded.rows(docnums)]
    last = np.partition(rank, needed - 1)[needed - 1]
    return docnums[rank <= last]
