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

from whoosh.query import Or, Phrase, Query, Term
from whoosh.searching import Searcher

from indexer.generic import GENERIC_WEIGHT, is_generic
from indexer.query import FIELD, Word, word_query
from indexer.schema import EXACT_FIELD
from indexer.understand import QueryWord

LITERAL, INSIDE, EXPANSION, RELATED, NEAR, LOOSE, PARTS = 1.0, 0.9, 0.8, 0.7, 0.65, 0.6, 0.4
HELD = EXPANSION  # the level from which a word counts as held
ABSENT_PARTS = 0.75  # the parts of a compound that no item holds: still not the word itself


@dataclass(frozen=True)
class Graded:
    """Which items hold which words, and how well: what the ranking rules read."""

    words: tuple[QueryWord, ...]
    levels: dict[int, list[float]]  # docnum → the level of each word (0.0: lacks it)
    as_typed: dict[int, int]  # docnum → how many of the query's sentences it holds as typed
    weights: list[float]  # each word's weight: its inverse document frequency
    query: Query  # every form of every word but the particle-apart ones, for BM25F
    core_query: Query | None = None  # the forms that hold a word: as typed, inside, synonyms
    topic: dict[int, float] = field(default_factory=dict)  # similarity to the best items' topic
    topic_weight: float = 0.0
    topic_terms: tuple[str, ...] = ()
    _prefixes: dict = field(default_factory=dict, compare=False, repr=False)

    def with_topic(
        self, topic: dict[int, float], share: float, terms: tuple[str, ...] = ()
    ) -> Graded:
        """Return these matches with the items near the best ones' topic (indexer.feedback).

        The topic counts as one more word weighing `share` of the query's words together.
        """
        levels = dict(self.levels)
        none = (0.0,) * len(self.words)
        for docnum in topic:
            levels.setdefault(docnum, none)
        weight = share * sum(self.weights)
        return replace(
            self, levels=levels, topic=topic, topic_weight=weight, topic_terms=terms, _prefixes={}
        )

    def every_word(self, docnum: int) -> bool:
        return every_word(self.levels[docnum])

    def coverage(self, docnum: int) -> float:
        if not self.topic_weight:
            return coverage(self.levels[docnum], self.weights)
        levels = [*self.levels[docnum], self.topic.get(docnum, 0.0)]
        return coverage(levels, [*self.weights, self.topic_weight])

    def prefix(self, docnum: int) -> tuple:
        """Return the sort key of every rule but relevance, the best first (all negated).

        Items holding the words at the same levels share it: it is worked out once for each
        combination, which there are few of even among thousands of matches.
        """
        levels = self.levels[docnum]
        combination = (levels, self.as_typed.get(docnum, 0), self.topic.get(docnum, 0.0))
        key = self._prefixes.get(combination)
        if key is None:
            key = tuple(-rule(self, docnum, 0.0) for _, rule in RULES[:-1])
            self._prefixes[combination] = key
        return key

    def holds_none(self, docnum: int) -> bool:
        """Tell that an item holds no word of the query, only its topic."""
        return not any(self.levels[docnum])

    def missing(self, docnum: int) -> list[str]:
        """Return the words as typed that the item does not hold (as typed or as a synonym)."""
        return [w.text for w, level in zip(self.words, self.levels[docnum], strict=True)
                if level < HELD]  # fmt: skip

    def in_part(self, docnum: int) -> list[str]:
        """Return the missing words of which the item holds a looser form (apart, in parts)."""
        return [w.text for w, level in zip(self.words, self.levels[docnum], strict=True)
                if 0 < level <= LOOSE]  # fmt: skip


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
    return [*forms, (LOOSE, list(qword.loose))]


def match_words(
    searcher: Searcher, words: Sequence[QueryWord], phrases: Sequence[tuple[str, ...]] = ()
) -> Graded:
    """Find every item holding any form of any word, and the level it holds each at.

    `phrases` are the query's sentences in exact units (indexer.understand): the items holding
    one as typed are counted for the `as_typed` rule.
    """
    levels: dict[int, list[float]] = {}
    weights, queries, core = [], [], []
    size, count = len(words), searcher.doc_count_all()

    def raise_to(docnums, index: int, level: float) -> None:
        for docnum in docnums:
            held = levels.get(docnum)
            if held is None:
                held = levels[docnum] = [0.0] * size
            held[index] = max(held[index], level)

    for index, qword in enumerate(words):
        held_docs: set[int] = set()
        for level, forms in _forms(qword):
            if not forms:
                continue
            if level == LOOSE and not _may_hold_apart(searcher, qword.word, held_docs):
                continue  # phrases across particles are dear: only where every unit stands
            query = Or([word_query(word) for word in forms])
            if level >= HELD:
                core.append(query)
            if level != LOOSE:  # phrases across particles cost much to score, and say little
                queries.append(query)
            docnums = set(searcher.docs_for_query(query))
            if level in (RELATED, NEAR) and not held_docs:
                # The word is in no item: its nearest words that are stand for it.
                level = EXPANSION
            if level >= HELD:
                held_docs |= docnums
            raise_to(docnums, index, level)
        weight = idf(len(held_docs), count)
        parts = _parts_held(searcher, qword.parts, queries)
        if parts:
            # A part weighs what it tells: 交通 (rare) more than 公共 (common) of 公共交通.
            whole = max(weight, sum(part_weight for _, part_weight in parts))
            held: dict[int, float] = {}
            for docnums, part_weight in parts:
                for docnum in docnums:
                    held[docnum] = held.get(docnum, 0.0) + part_weight
            # A compound no item holds is best found through its parts (投票率 → 投票).
            scale = ABSENT_PARTS if not held_docs else PARTS
            for docnum, part_weight in held.items():
                raise_to([docnum], index, scale * part_weight / whole)
        weights.append(weight * (GENERIC_WEIGHT if is_generic(qword.word.key) else 1.0))
    as_typed: dict[int, int] = {}
    if EXACT_FIELD in searcher.schema:
        for units in phrases:
            for docnum in searcher.docs_for_query(Phrase(EXACT_FIELD, list(units))):
                if docnum in levels:
                    as_typed[docnum] = as_typed.get(docnum, 0) + 1
    frozen = {docnum: tuple(held) for docnum, held in levels.items()}
    return Graded(tuple(words), frozen, as_typed, weights, Or(queries), core_query=Or(core))


def _may_hold_apart(searcher: Searcher, word: Word, held: set[int]) -> bool:
    """Tell whether some item not holding `word` holds every one of its short units."""
    candidates: set[int] | None = None
    for unit in word.fine:
        docnums = set(searcher.docs_for_query(Term(FIELD, unit)))
        candidates = docnums if candidates is None else candidates & docnums
        if not candidates - held:
            return False
    return bool(candidates)


def _parts_held(
    searcher: Searcher, parts: Sequence[Word], queries: list[Query]
) -> list[tuple[set[int], float]]:
    """Return the items holding each part of a compound, with the part's weight."""
    found = []
    for part in parts:
        queries.append(word_query(part))
        docnums = set(searcher.docs_for_query(queries[-1]))
        found.append((docnums, idf(len(docnums), searcher.doc_count_all())))
    return found


# The ranking rules, in order: each a function of (graded, docnum, score), higher first.
RULES: tuple[tuple[str, Callable[[Graded, int, float], float]], ...] = (
    ("every_word", lambda graded, docnum, score: float(graded.every_word(docnum))),
    ("as_typed", lambda graded, docnum, score: float(graded.as_typed.get(docnum, 0))),
    ("some_word", lambda graded, docnum, score: float(not graded.holds_none(docnum))),
    ("coverage", lambda graded, docnum, score: graded.coverage(docnum)),
    ("relevance", lambda graded, docnum, score: score),
)


def rank_key(graded: Graded, scores: dict[int, float], order: list[int]) -> Callable:
    """Return the sort key of a docnum: the rules in order, then document order."""
    prefix = graded.prefix

    def key(docnum: int) -> tuple:
        return (*prefix(docnum), -scores.get(docnum, 0.0), order[docnum])

    return key


def best_buckets(graded: Graded, docnums: list[int], needed: int) -> list[int]:
    """Return the items of the best buckets (every rule but relevance) holding `needed` items.

    Only these need a relevance score to fill the first `needed` places: a bucket is taken whole,
    so that the relevance rule orders it fully.
    """
    buckets: dict[tuple, list[int]] = {}
    for docnum in docnums:
        buckets.setdefault(graded.prefix(docnum), []).append(docnum)
    chosen: list[int] = []
    for key in sorted(buckets):
        if len(chosen) >= needed:
            break
        chosen += buckets[key]
    return chosen
