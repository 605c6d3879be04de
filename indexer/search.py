"""The one search function: query text and filters in, ranked hits and facet counts out.

The CLI, the JSON API and the web page all call `PolicyIndex.search`; nothing here knows about
Flask. A `PolicyIndex` is opened once and shared: it keeps one Whoosh searcher and the facet
columns in memory, and reopens them when a rebuild has swapped a new index in.
"""

from __future__ import annotations

import gc
import heapq
import math
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import numpy as np
from whoosh.query import And, AndNot, Or, Phrase, Query, Require, Term

from indexer.feedback import MIN_SEED_COVERAGE, SEEDS
from indexer.graded import Graded, best_buckets, ranked
from indexer.highlight import Marks, exact_spans, highlight
from indexer.names import Name
from indexer.query import Word, clean_query
from indexer.schema import EXACT_FIELD, FACETS
from indexer.scoring import Scored
from indexer.snapshot import Snapshot, open_snapshot, read_link
from indexer.understand import QueryWord, Understood
from indexer.vectors import VECTORS_DIR, open_vectors

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
    matched: str = "all"  # "all": holds every word of the query; "partial": some of them
    missing: list[str] = field(default_factory=list)  # the query's words it does not hold
    in_part: list[str] = field(default_factory=list)  # of those, the ones held apart or in part


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


def make_hit(
    stored: dict,
    score: float | None,
    words: Marks,
    missing: list[str] | None = None,
    in_part: list[str] | None = None,
) -> Hit:
    """Return a hit from an item's stored fields, its text highlighted for `words`.

    A hit with `missing` words is a partial match.
    """
    return Hit(
        *_item_fields(stored),
        highlight=highlight(stored["text"], words),
        score=None if score is None else round(score, 4),
        document=stored["document"],
        matched="partial" if missing else "all",
        missing=missing or [],
        in_part=in_part or [],
    )


@dataclass(slots=True)
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Expansion:
    word: str
    with_: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int  # every listed hit, partial matches included
    page: int
    per_page: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    total_all: int = 0  # the hits holding every word of the query
    total_related: int = 0  # the hits holding no word, only the topic of the best ones
    words: tuple[str, ...] = ()  # the content words searched for, as typed
    expansions: tuple[Expansion, ...] = ()
    dropped: tuple[str, ...] = ()  # content words past the limit, not searched for
    graded: bool = False  # partial matches are listed after the full ones
    unsearchable: bool = False  # the query holds nothing to search for (only particles, symbols)
    match: str = "any"  # "all": only items holding every word are listed
    expand: bool = True  # synonyms searched too
    names: tuple[Name, ...] = ()  # departments, rows, columns named in the query: filters
    respelled: tuple[tuple[str, str], ...] = ()  # kana typed → the indexed words it reads as

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


def _kept(snapshot: Snapshot, docnums: np.ndarray, filters: dict) -> np.ndarray:
    """Keep the docnums whose facet values are among the selected ones: `_filtered` on arrays."""
    for name, values in filters.items():
        if values:
            wanted = np.zeros(len(snapshot.values[name]), dtype=bool)
            wanted[[snapshot.values[name].index(value) for value in values]] = True
            docnums = docnums[wanted[snapshot.codes[name][docnums]]]
    return docnums


def _best_scored(docnums: np.ndarray, scores: np.ndarray, order: np.ndarray, count: int) -> list:
    """Return the `count` best of `docnums` by score, ties in document order.

    Only the matches scoring at least the `count`-th best score are sorted.
    """
    if count < len(docnums):
        least = np.partition(scores, len(scores) - count)[len(scores) - count]
        best = scores >= least
        docnums, scores = docnums[best], scores[best]
    return docnums[np.lexsort((order[docnums], -scores))][:count].tolist()


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


MATCH_MODES = ("any", "all")


@dataclass
class Ranking:
    """The matches of a query and what ranks and shows them: the result of `_rank`.

    A graded ranking holds its matches as a sorted array and the scores of the best buckets
    (`scored`); the others a list and a dict (None: in document order).
    """

    matches: list[int] | np.ndarray
    scores: dict[int, float] | None  # None: unscored, listed in document order
    understood: Understood | None = None
    literal_words: list[Word] = field(default_factory=list)
    graded: Graded | None = None
    scored: Scored | None = None

    @property
    def unscored(self) -> bool:
        """Listed in document order: every item (browsing), or a department's."""
        return self.scores is None and self.scored is None

    def best(self, snapshot: Snapshot, kept: list[int] | np.ndarray, count: int) -> list[int]:
        """Return the best `count` of the `kept` matches, best first, ties in document order."""
        if self.graded is not None:
            scores, _ = self.scored.at(kept)
            return ranked(self.graded, kept, scores, snapshot.order)[:count].tolist()
        if self.scored is not None:
            return _best_scored(kept, self.scored.at(kept)[0], snapshot.order, count)
        scores = self.scores or {}
        order = snapshot.columns["order"]
        return heapq.nsmallest(count, kept, key=lambda d: (-scores[d], order[d]))

    def count_topic_only(self, kept: list[int] | np.ndarray) -> int:
        if self.graded is None or not self.graded.topic:
            return 0
        return int(self.graded.buckets().none[self.graded.rows(kept)].sum())

    def count_full(self, kept: list[int] | np.ndarray) -> int:
        if self.graded is None:
            return len(kept)
        return int(self.graded.buckets().full[self.graded.rows(kept)].sum())

    @property
    def words(self) -> tuple[str, ...]:
        if self.understood is None:
            return ()
        if self.understood.graded:
            return tuple(w.text for w in self.understood.words)
        return tuple(dict.fromkeys(w.text for w in self.literal_words if w.text))

    @property
    def expansions(self) -> tuple[Expansion, ...]:
        understood = self.understood
        if understood is None:
            return ()
        if understood.graded:
            pairs = [
                (w.word, (*w.expansions, *w.related, *w.near, *w.guessed))
                for w in understood.words
                if w.expansions or w.related or w.near or w.guessed
            ]
            pairs += [  # a compound's parts searched in other words too (ワクチン → 予防接種)
                (part, forms)
                for w in understood.words
                for part, forms in zip(w.parts, w.part_forms, strict=True)
                if forms
            ]
        else:
            pairs = understood.expanded
        return tuple(Expansion(word.text, tuple(o.text for o in others)) for word, others in pairs)

    def hits(self, snapshot: Snapshot, shown: list[int]) -> list[Hit]:
        """Make the hits of the docnums shown, each marked with what it holds of the query."""
        graded = self.graded
        if graded is None and self.scored is not None:
            scores = self.scored.at(np.asarray(shown, dtype=np.int64))[0].tolist()
            marks = Marks(self.literal_words)
            return [
                make_hit(snapshot.stored(d), score, marks)
                for d, score in zip(shown, scores, strict=True)
            ]
        if graded is None:
            scores, marks = self.scores, Marks(self.literal_words)
            return [
                make_hit(snapshot.stored(d), None if scores is None else scores.get(d, 0.0),
                         marks)
                for d in shown
            ]  # fmt: skip
        docnums = np.asarray(shown, dtype=np.int64)
        scores = self.scored.at(docnums)[0].tolist()
        rows = graded.levels[graded.rows(docnums)].tolist()
        hits = []
        full = Marks(highlight_words(graded.words, loosely=False))
        partial = Marks(highlight_words(graded.words, loosely=True))
        # An item holding only the topic: mark the topic words it shares with the best.
        topic = Marks(Word((term,), frozenset({term}), text=term) for term in graded.topic_terms)
        for docnum, score, levels in zip(shown, scores, rows, strict=True):
            missing = graded.missing(levels)
            words = (partial if missing else full) if any(levels) else topic
            stored = snapshot.stored(docnum)
            hits.append(make_hit(stored, score, words, missing, graded.in_part(levels)))
        return hits


COVERAGE = 3  # where the coverage rule stands in a graded prefix (indexer.graded.RULES)
TOPIC_SHARE = 0.35  # the weight of the best items' topic, against the query's words together
DEPARTMENT_SHARE = 0.2  # of the topic similarity: being in a department of the best items
FEEDBACK_BELOW = 10  # a one-word query gets topic items only when fewer items hold it


def wants_feedback(graded: Graded) -> bool:
    """Tell whether to add the items near the best ones' topic: sentences, short result lists."""
    return len(graded.words) > 1 or len(graded.docs) < FEEDBACK_BELOW


def feedback_seeds(graded: Graded, docnums: np.ndarray, scores, order) -> tuple[int, ...]:
    """Return the best few of the scored items: their topic is the query's."""
    return tuple(sorted(ranked(graded, docnums, scores, order)[:SEEDS].tolist()))


def highlight_words(words: tuple[QueryWord, ...], loosely: bool) -> list[Word]:
    """Return the forms to mark: as typed and synonyms, and for a partial hit the looser ones."""
    marked: list[Word] = []
    for qword in words:
        marked += [qword.word, *qword.inside, *qword.expansions, *qword.related, *qword.near,
                   *qword.guessed]  # fmt: skip
        if loosely:
            marked += [*qword.loose, *qword.parts, *(w for f in qword.part_forms for w in f)]
    return marked


class PolicyIndex:
    """An open policy index: search it, fetch items, list departments."""

    def __init__(
        self, index_dir: Path | str, arrays: bool = True, vectors: Path | None = VECTORS_DIR
    ):
        """Open the index; `vectors` is where the word vectors are (None: no guesses)."""
        self.index_dir = Path(index_dir)
        self.arrays = arrays  # False: Whoosh's matchers, the plain path the arrays must equal
        self._lock = threading.Lock()
        self.vectors, self.vectors_problem = open_vectors(vectors)
        self._snapshot = open_snapshot(self.index_dir, arrays, self.vectors)

    def current(self) -> Snapshot:
        """Return the open snapshot, reopening it first if a rebuild swapped in a new index."""
        if self._swapped(self._snapshot):
            return self._reopen()
        snapshot = self._snapshot
        snapshot.look_at_disk()  # at most once a second, and said once
        return snapshot

    def _swapped(self, snapshot: Snapshot) -> bool:
        # Every request asks: one readlink, rather than realpath's lstat of every component.
        if snapshot.link is not None and read_link(self.index_dir) == snapshot.link:
            return False
        return os.path.realpath(self.index_dir) != snapshot.target

    def _reopen(self) -> Snapshot:
        """Open the generation the index now points at, once, whichever request asks first."""
        with self._lock:
            if self._swapped(self._snapshot):
                self._snapshot = open_snapshot(self.index_dir, self.arrays, self.vectors)
                # A snapshot's caches refer to it (cycles), and each holds a copy of the index
                # in memory: collect the replaced ones no request holds any more, rather than
                # let them pile up until Python's own collection comes round.
                gc.collect()
            return self._snapshot

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
        if docnum is None:
            return None
        with snapshot.reading:
            return dict(snapshot.stored(docnum))

    def items(self, **filters: str) -> list[dict]:
        """Return the items whose facet fields equal `filters`, in document order."""
        snapshot = self.current()
        docnums = snapshot.in_order
        for name, value in filters.items():
            column = snapshot.columns[name]
            docnums = [d for d in docnums if column[d] == value]
        with snapshot.reading:
            return [dict(snapshot.searcher.stored_fields(d)) for d in docnums]

    def search(
        self,
        query: str = "",
        departments: tuple[str, ...] | list[str] = (),
        categories: tuple[str, ...] | list[str] = (),
        columns: tuple[str, ...] | list[str] = (),
        page: int = 1,
        per_page: int = 20,
        match: str = "any",
        expand: bool = True,
        names: bool = True,
    ) -> SearchResult:
        """Rank the items matching `query` within the filters; an empty query lists them all.

        A query of plain words lists the items holding every word first, then those holding
        some (`match="all"` lists only the first); a query with operators is taken literally.
        Values within one facet are OR-ed and facets are AND-ed. Each facet's counts cover the
        whole result set under the *other* facets' filters, so that a count is the total that
        selecting (or adding) that value would give. A department, row or column named in the
        query (福祉部の相談窓口) is applied as that facet's filter, unless `names` is false.
        """
        snapshot = self.current()
        with snapshot.reading:
            return self._search(
                snapshot, query, departments, categories, columns, page, per_page, match, expand,
                names,
            )  # fmt: skip

    def _search(
        self, snapshot, query, departments, categories, columns, page, per_page, match, expand,
        names,
    ) -> SearchResult:  # fmt: skip
        selected = {"department": departments, "category": categories, "column": columns}
        filters = {
            name: tuple(dict.fromkeys(v for v in values if v)) for name, values in selected.items()
        }
        for name, values in filters.items():
            unknown = [v for v in values if v not in snapshot.values[name]]
            if unknown:
                raise UnknownFilter(name, unknown)
        if match not in MATCH_MODES:
            raise ValueError(f"match must be one of {', '.join(MATCH_MODES)}, not {match!r}")
        page, per_page = max(1, int(page)), min(max(1, int(per_page)), MAX_PER_PAGE)

        understood = None
        if clean_query(query).strip():
            understood = snapshot.understood(query, bool(expand), bool(names))
            for named in understood.named:
                if named.value not in filters[named.facet]:
                    filters[named.facet] += (named.value,)
        needed = page * per_page  # the graded ranking scores only what can reach this page
        ranking = self._rank(snapshot, understood, filters, match == "all", needed)
        ranked = ranking.matches
        facets = {name: self._facet(snapshot, name, ranking, filters) for name in FACETS}
        keep = _kept if isinstance(ranked, np.ndarray) else _filtered
        kept = keep(snapshot, ranked, filters)
        first = (page - 1) * per_page
        if ranking.unscored:
            shown = kept[first : first + per_page].tolist()
        else:
            # Only the pages up to this one need sorting: best first, ties in document order.
            shown = ranking.best(snapshot, kept, first + per_page)[first:]
        hits = ranking.hits(snapshot, shown)
        understood = ranking.understood
        return SearchResult(
            query,
            len(kept),
            page,
            per_page,
            hits,
            facets,
            filters,
            total_all=ranking.count_full(kept),
            total_related=ranking.count_topic_only(kept),
            words=ranking.words,
            expansions=ranking.expansions,
            dropped=understood.dropped if understood else (),
            graded=bool(understood and understood.graded and match != "all"),
            unsearchable=bool(understood and understood.is_empty),
            match=match,
            expand=bool(expand),
            names=understood.named if understood else (),
            respelled=understood.respelled if understood else (),
        )

    def _rank(
        self,
        snapshot: Snapshot,
        understood: Understood | None,
        filters: dict,
        only_full: bool,
        needed: int = MAX_PER_PAGE,
    ) -> Ranking:
        """Return every match (in document order when unscored) and how to rank and show them.

        Every match counts for the facets, but only those within the filters are ranked, so
        only those are scored when a filter is set.
        """
        if understood is None:
            return Ranking(snapshot.in_order_array, None)
        if understood.browses:  # only names: the items of the departments named
            return Ranking(snapshot.in_order_array, None, understood)
        if understood.is_empty:
            return Ranking([], {}, understood)
        if understood.graded:
            return self._rank_graded(snapshot, understood, filters, only_full, needed)
        parsed = understood.literal
        whoosh_query = snapshot.whoosh(parsed)
        words = parsed.positive_words
        matching, excluded = snapshot.matching, frozenset()
        if isinstance(whoosh_query, AndNot):
            # Whoosh's AndNot matcher never checks its first match against the exclusions (it
            # only skips ahead once both sides stand on the same item), so take the excluded
            # items out by their docnums instead: same scores, every excluded item out.
            whoosh_query, excluded = whoosh_query.a, matching.docs(whoosh_query.b)
        exact = [clause for clause in parsed.must if any(word.exact for word in clause)]
        if exact and EXACT_FIELD not in matching.searcher.schema:  # built before the field
            scores = matching.scores(whoosh_query, excluded=excluded)
            scores = {d: s for d, s in scores.items() if _has_exact(snapshot, d, exact)}
            return Ranking(list(scores), scores, understood, words)
        if exact and (only := _exact_query(exact)) is not None:
            whoosh_query = Require(whoosh_query, only)  # the matches, with their own scores
        scored = matching.scored(whoosh_query)
        if excluded:
            out = np.isin(scored.ids, np.fromiter(excluded, dtype=np.int64))
            scored = Scored(scored.ids[~out], scored.scores[~out])
        return Ranking(scored.ids, None, understood, words, scored=scored)

    @staticmethod
    def _rank_graded(
        snapshot: Snapshot, understood: Understood, filters: dict, only_full: bool, needed: int
    ) -> Ranking:
        """Rank by the rules of indexer.graded, scoring only the items that can reach the page."""
        graded = snapshot.graded(understood.words, understood.phrases)
        matching, query = snapshot.matching, graded.query
        matches = graded.docs
        if only_full:
            matches = matches[graded.buckets().full]
        if not only_full and wants_feedback(graded):
            # The seeds come from every match, whatever the filters, so that every filter sees
            # the same topic items and the counts add up (the matrix sums the facets).
            covering = matches[graded.buckets().coverage >= MIN_SEED_COVERAGE]
            best = best_buckets(graded, covering, SEEDS)
            scores, held = matching.scores_at(query, best)
            seeds = feedback_seeds(graded, best[held], scores[held], snapshot.order)
            if seeds:
                known = frozenset(w.word.key for w in understood.words)
                similarity, terms = snapshot.topic(seeds, known)
                similarity = graded.with_departments(
                    similarity, seeds, snapshot.codes["department"], DEPARTMENT_SHARE
                )
                graded = graded.with_topic(similarity, TOPIC_SHARE, terms)
                matches = graded.docs
        kept = _kept(snapshot, matches, filters) if any(filters.values()) else matches
        chosen = best_buckets(graded, kept, needed)
        # Relevance over the forms that hold a word (cheap: terms, few phrases), and over every
        # form for the items holding none of those (near words, parts).
        scores, held = matching.scores_at(graded.core_query or query, chosen)
        if not held.all():
            lacking = ~held
            scores[lacking], held[lacking] = matching.scores_at(query, chosen[lacking])
        if graded.topic and not held.all():  # holds no word: its topic similarity
            topic = graded.topics[graded.rows(chosen)]
            scores = np.where(held, scores, topic)
            held = held | (topic > 0)
        scored = Scored(chosen[held], scores[held])
        return Ranking(matches, None, understood, graded=graded, scored=scored)

    @staticmethod
    def _facet(snapshot: Snapshot, name: str, ranking: Ranking, filters: dict) -> list[FacetValue]:
        """Count the matches per value of a facet, under the other facets' filters."""
        others = {other: values for other, values in filters.items() if other != name}
        ranked = ranking.matches
        if ranked is snapshot.in_order_array and not any(others.values()):
            counts = snapshot.totals[name]  # every item matches: counted once, when opened
        elif isinstance(ranked, np.ndarray):
            codes = snapshot.codes[name][_kept(snapshot, ranked, others)]
            counted = np.bincount(codes, minlength=len(snapshot.values[name])).tolist()
            counts = dict(zip(snapshot.values[name], counted, strict=True))
        else:
            column = snapshot.columns[name]
            counts = Counter(map(column.__getitem__, _filtered(snapshot, ranked, others)))
        return [
            FacetValue(value, counts.get(value, 0), value in filters[name])
            for value in snapshot.values[name]
        ]
