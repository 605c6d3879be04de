"""Related policies: the items on the same topic, other departments first among them.

An item's topic is its content words (generic words, indexer.generic, and any word in more than
a tenth of the items aside), each with the other words the index knows for it, as search knows
them: synonyms (DX → デジタルトランスフォーメーション), Sudachi's synonym dictionary and the
curated near concepts (ごみ → 清掃, リサイクル), each at graded matching's weaker level. A word
weighs by Whoosh's Bo1 model (a rare word says more) times its `focus`: the items holding 防災 or
選挙 stand in one or two departments, those holding 最適化 or サービス in as many as chance would
put them. A word the index has other words for is a topic wherever it stands (DX, 水害).

Only items sharing a topic word (or another word for it) are related: sharing generic words, or
words weighing under MIN_TOPIC of the strongest shared one, is not enough. The ranking rules, in
order, each only breaking the ties of the one before:

1. `shares_top_topic`: the items holding the strongest topic word that another item holds, as it
   is or through a synonym, come first;
2. `other_department`: among those, other departments' items, at most PER_DEPARTMENT from each,
   come before the item's own department, since the point is to find who else works on the same
   thing; the items off that topic follow with no department first;
3. Whoosh's score for every word of the topic, each weighted by its concept and level.

An item with no content word but generic ones gets the plain more-like-this of `key_terms`.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.classify import Bo1Model, Expander

from indexer.analysis import japanese_analyzer
from indexer.generic import GENERIC_WORDS
from indexer.graded import EXPANSION, HELD, LITERAL, NEAR, RELATED
from indexer.query import Word
from indexer.search import Hit, make_hit
from indexer.vocabulary import CACHED_GENERATIONS

FIELD = "text"
CONTENT_POS = frozenset({"名詞", "形状詞"})
# Generic words (indexer.generic); on top of these, any term in > COMMON_SHARE of the items.
BOILERPLATE = GENERIC_WORDS
COMMON_SHARE = 0.1
BOILERPLATE_WEIGHT = 0.1
KEY_TERMS = 12
MAX_EXPANSIONS = 8  # other words for one topic word: a dictionary group can hold dozens
PER_DEPARTMENT = 2  # other departments' items shown before a third from the same one
MIN_SHARE = 0.15  # of the best score, for more-like-this: below it an item shares boilerplate
MIN_TOPIC = 0.1  # of the strongest concept's weight: below it a word is as good as boilerplate
FOCUS_EVIDENCE = 1.0  # departments' worth of doubt: a word in two items says little either way
DEFAULT_LIMIT = 6
RESTATED = re.compile(r"【再掲】|\s")
RESTATED_MARK = frozenset({"再掲"})  # the concept the mark itself makes of a restatement

_analyzer = japanese_analyzer()
_common: dict[str, frozenset[str]] = {}
_common_lock = threading.Lock()


@dataclass(frozen=True)
class Concept:
    """One topic word of an item, with its synonyms among the item's words and its other forms."""

    terms: tuple[str, ...]  # the item's own words for it: dx, デジタルトランスフォーメーション
    forms: tuple[tuple[Word, float], ...]  # every word that finds it, with its level (1.0: own)
    weight: float  # Bo1 times focus, the strongest concept of the item being 1.0


def common_terms(snapshot) -> frozenset[str]:
    """Return the terms in more than COMMON_SHARE of the items, plus BOILERPLATE.

    Kept by index generation, like the vocabulary: a rebuild changes the frequencies.
    """
    terms = _common.get(snapshot.target)
    if terms is None:
        searcher = snapshot.searcher
        most = searcher.doc_count_all() * COMMON_SHARE
        frequent = {
            term.decode() if isinstance(term, bytes) else term
            for term in searcher.lexicon(FIELD)
            if searcher.doc_frequency(FIELD, term) > most
        }
        terms = frozenset(frequent | BOILERPLATE)
        with _common_lock:
            while len(_common) >= CACHED_GENERATIONS:
                _common.pop(next(iter(_common)))
            _common[snapshot.target] = terms
    return terms


def content_counts(text: str) -> Counter[str]:
    """Count the content words of `text`: nouns and adjectival nouns of two characters or more.

    >>> sorted(content_counts("防災ガイドの更新と防災訓練").items())
    [('ガイド', 1), ('更新', 1), ('訓練', 1), ('防災', 2)]
    """
    return Counter(
        token.text
        for token in _analyzer(text)
        if token.part_of_speech in CONTENT_POS and len(token.text) > 1 and not token.text.isdigit()
    )


def key_terms(snapshot, text: str, number: int = KEY_TERMS) -> list[tuple[str, float]]:
    """Return the content words that characterise `text`, with weights, heaviest first."""
    return _weigh(snapshot, content_counts(text), number)


def _weigh(snapshot, counts: Counter[str], number: int) -> list[tuple[str, float]]:
    expander = Expander(snapshot.searcher.reader(), FIELD)
    expander.add(counts.items())
    common = common_terms(snapshot)
    weighed = [
        (term, weight * (BOILERPLATE_WEIGHT if term in common else 1.0))
        for term, weight in expander.expanded_terms(number * 2, normalize=False)
    ]
    weighed.sort(key=lambda pair: (-pair[1], pair[0]))
    return weighed[:number]


def focus(departments: Iterable[str], sizes: Counter[str]) -> float:
    """Tell how much the items holding a word cluster in departments, from 0 (as chance) to 1.

    `departments` has one department per item holding the word; `sizes` the items of each.
    Chance would put n items in E departments; the word's items stand in k. Few items leave doubt:
    the answer leans towards 0.5 by FOCUS_EVIDENCE departments' worth.

    >>> sizes = Counter({"a": 20, "b": 20, "c": 20, "d": 20})
    >>> round(focus(["a"] * 8, sizes), 2), round(focus(["a", "b", "c", "d"] * 2, sizes), 2)
    (0.86, 0.14)
    """
    held = Counter(departments)
    items, total = sum(held.values()), sum(sizes.values())
    if items < 2 or total <= items:
        return 0.5
    # The chance that chance leaves a department of `size` without any of the items, summed.
    expected = sum(1.0 - _none_drawn(total, size, items) for size in sizes.values())
    room = expected - 1.0  # departments beyond the first that chance would add
    spread = min(1.0, (len(held) - 1) / room) if room > 0 else 1.0
    evidence = room / (room + FOCUS_EVIDENCE)
    return evidence * (1.0 - spread) + (1.0 - evidence) * 0.5


def _none_drawn(total: int, size: int, items: int) -> float:
    """Return the chance that `items` drawn from `total` miss a group of `size` of them.

    The product of (total - size - i) / (total - i) for i below `items`, through log-gamma: a
    word's items at 1000× the seed are tens of thousands.

    >>> by_product = math.prod((60 - i) / (80 - i) for i in range(8))
    >>> abs(_none_drawn(80, 20, 8) - by_product) < 1e-12, _none_drawn(80, 20, 61)
    (True, 0.0)
    """
    if items > total - size:
        return 0.0
    return math.exp(
        math.lgamma(total - size + 1) - math.lgamma(total - size - items + 1)
        - math.lgamma(total + 1) + math.lgamma(total - items + 1)
    )  # fmt: skip


def topic(snapshot, text: str) -> list[Concept]:
    """Return the concepts of `text` that are no boilerplate, strongest first.

    The item's words that are synonyms of each other (DX, デジタルトランスフォーメーション) are one
    concept: their occurrences add up.
    """
    searcher, common = snapshot.searcher, common_terms(snapshot)
    reader = searcher.reader()
    counts = content_counts(text)
    groups: list[list[str]] = []
    for term, _ in _weigh(snapshot, counts, KEY_TERMS):
        if term in common:
            continue
        same = {word.key for word in snapshot.synonyms.get(term, [])}
        group = next((g for g in groups if same.intersection(g)), None)
        if group is None:
            groups.append([term])
        else:
            group.append(term)
    model = Bo1Model(reader.doc_count_all(), reader.field_length(FIELD))
    sizes, departments = snapshot.totals["department"], snapshot.columns["department"]
    known = snapshot.synonyms.keys() | snapshot.near.keys()
    weighed = []
    for terms in groups:
        forms = _forms(snapshot, terms, common)
        weight = model.score(
            sum(counts[t] for t in terms), sum(reader.frequency(FIELD, t) for t in terms), 0
        )
        if known.isdisjoint(terms):
            holders = snapshot.matching.doc_array(wq.Or([form_query(w) for w, _ in forms]))
            weight *= focus(map(departments.__getitem__, holders.tolist()), sizes)
        weighed.append(Concept(tuple(terms), forms, weight))
    best = max((c.weight for c in weighed), default=0.0) or 1.0
    concepts = [Concept(c.terms, c.forms, c.weight / best) for c in weighed]
    return sorted(concepts, key=lambda c: (-c.weight, c.terms))


def _forms(snapshot, terms: list[str], common: frozenset[str]) -> tuple[tuple[Word, float], ...]:
    """Return the words that find a concept: its own, then the index's other words for them."""
    forms = {term: (Word((term,), text=term), LITERAL) for term in terms}
    for level, mapping in ((EXPANSION, snapshot.synonyms), (RELATED, snapshot.related),
                           (NEAR, snapshot.near)):  # fmt: skip
        for term in terms:
            for word in mapping.get(term, [])[:MAX_EXPANSIONS]:
                if word.key not in forms and word.key not in common and word.fine:
                    forms[word.key] = (word, level)
    return tuple(forms.values())


def form_query(word: Word, boost: float = 1.0) -> wq.Query:
    """Return the query for a word's short units in order, every match weighing `boost`.

    >>> form_query(Word(("資源", "循環")), 0.5)
    Phrase('text', ['資源', '循環'], slop=1, boost=0.500000)
    """
    if len(word.fine) == 1:
        return wq.Term(FIELD, word.fine[0], boost=boost)
    return wq.Phrase(FIELD, list(word.fine), boost=boost)


def held_levels(matching, concepts: list[Concept]) -> dict[int, list[float]]:
    """Return, for every item holding some concept, the level it holds each one at (0.0: not).

    :param matching: the snapshot's `Matching` (indexer.scoring)
    """
    found = [
        (at, level, matching.doc_array(form_query(word)))
        for at, concept in enumerate(concepts)
        for word, level in concept.forms
    ]
    docnums = np.unique(np.concatenate([ids for _, _, ids in found] or [np.empty(0, np.int64)]))
    held = np.zeros((len(docnums), len(concepts)))
    for at, level, ids in found:
        rows = np.searchsorted(docnums, ids)
        held[rows, at] = np.maximum(held[rows, at], level)
    return dict(zip(docnums.tolist(), held.tolist(), strict=True))


def strong_concepts(
    concepts: list[Concept], levels: dict[int, list[float]]
) -> tuple[list[Concept], dict[int, list[float]]]:
    """Keep the concepts some item holds weighing MIN_TOPIC of the strongest, and their items.

    >>> weak = [Concept(("a",), (), 1.0), Concept(("b",), (), 0.5), Concept(("c",), (), 0.04)]
    >>> strong_concepts(weak, {7: [0.0, 1.0, 0.0], 8: [0.0, 0.0, 1.0]})
    ([Concept(terms=('b',), forms=(), weight=0.5)], {7: [1.0]})
    """
    held = [at for at in range(len(concepts)) if any(lv[at] for lv in levels.values())]
    best = max((concepts[at].weight for at in held), default=0.0)
    kept = [at for at in held if concepts[at].weight >= MIN_TOPIC * best]
    projected = {d: [lv[at] for at in kept] for d, lv in levels.items()}
    return [concepts[at] for at in kept], {d: lv for d, lv in projected.items() if any(lv)}


def shares_top_topic(levels: list[float], top: int | None) -> bool:
    """Tell whether an item holds concept `top` itself or through a synonym, as search holds it.

    A dictionary's or curated near word (スクール → 学校) finds an item, but not the same topic.
    """
    return top is not None and levels[top] >= HELD


def other_department(ranked: list[int], departments: list[str], own: str) -> list[int]:
    """Put other departments' items first, at most PER_DEPARTMENT from each, keeping the order.

    >>> other_department([0, 1, 2, 3, 4], ["a", "b", "b", "b", "c"], "a")
    [1, 2, 4, 0, 3]
    """
    first, rest, shown = [], [], Counter()
    for docnum in ranked:
        department = departments[docnum]
        if department != own and shown[department] < PER_DEPARTMENT:
            shown[department] += 1
            first.append(docnum)
        else:
            rest.append(docnum)
    return first + rest


def rank(snapshot, levels: dict[int, list[float]], scores: dict[int, float], own: str) -> list[int]:
    """Order the items holding some concept by the ranking rules (see the module docstring)."""
    top = min((at for lv in levels.values() for at, x in enumerate(lv) if x >= HELD), default=None)
    order, departments = snapshot.columns["order"], snapshot.columns["department"]
    by_score = sorted(levels, key=lambda d: (-scores.get(d, 0.0), order[d]))
    on_topic = [d for d in by_score if shares_top_topic(levels[d], top)]
    rest = [d for d in by_score if not shares_top_topic(levels[d], top)]
    return other_department(on_topic, departments, own) + rest


def related_items(index, item_id: str, limit: int = DEFAULT_LIMIT) -> list[Hit] | None:
    """Return the items on the same topic as `item_id`, best first; None if there is no item.

    Each hit's score is Whoosh's score for the topic's words, and its highlight marks them. The
    item itself and its restatements (【再掲】) are left out.

    :param index: a `PolicyIndex`
    """
    snapshot = index.current()
    docnum = snapshot.by_id.get(item_id)
    if docnum is None:
        return None
    with snapshot.reading:  # Whoosh's files take one reader at a time (indexer.snapshot)
        return _related(snapshot, docnum, limit)


def _related(snapshot, docnum: int, limit: int) -> list[Hit]:
    stored = snapshot.stored(docnum)
    concepts = topic(snapshot, stored["text"])
    if not concepts:
        return _more_like_this(snapshot, docnum, stored, limit)
    same_text = RESTATED.sub("", stored["text"])
    levels = held_levels(snapshot.matching, concepts)
    own = levels.pop(docnum, None)
    # A restatement holds every concept the item holds (but the 再掲 of its mark): only the
    # items that do are read and compared, not every item holding some concept.
    marks = {at for at, concept in enumerate(concepts) if set(concept.terms) <= RESTATED_MARK}

    def may_restate(held: list[float]) -> bool:
        return own is None or all(h >= o for at, (h, o) in enumerate(zip(held, own, strict=True))
                                  if at not in marks)  # fmt: skip

    levels = {
        other: held
        for other, held in levels.items()
        if not may_restate(held) or RESTATED.sub("", snapshot.stored(other)["text"]) != same_text
    }
    concepts, levels = strong_concepts(concepts, levels)
    if not levels:
        return []
    forms = [(w, concept.weight * level) for concept in concepts for w, level in concept.forms]
    query = wq.Or([form_query(word, boost) for word, boost in forms])
    ranked_docs = np.fromiter(levels, dtype=np.int64, count=len(levels))
    ranked_docs.sort()
    values, held = snapshot.matching.scores_at(query, ranked_docs)
    scores = dict(zip(ranked_docs[held].tolist(), values[held].tolist(), strict=True))
    ranked = rank(snapshot, levels, scores, stored["department"])
    words = [word for word, _ in forms]
    return [make_hit(snapshot.stored(d), scores.get(d, 0.0), words) for d in ranked[:limit]]


def _more_like_this(snapshot, docnum: int, stored: dict, limit: int) -> list[Hit]:
    """Return the items most like one with no topic word: key terms, other departments first."""
    terms = key_terms(snapshot, stored["text"])
    if not terms:
        return []
    query = wq.Or([wq.Term(FIELD, term, boost=weight) for term, weight in terms])
    found = snapshot.searcher.search(query, limit=None, mask={docnum})
    scored = [(hit.docnum, hit.score) for hit in found]
    if not scored:
        return []
    best, order = max(score for _, score in scored), snapshot.columns["order"]
    scored.sort(key=lambda pair: (-pair[1], order[pair[0]]))
    same_text = RESTATED.sub("", stored["text"])
    kept = [
        (other, score)
        for other, score in scored
        if score >= best * MIN_SHARE
        and RESTATED.sub("", snapshot.stored(other)["text"]) != same_text
    ]
    ranked = other_department(
        [d for d, _ in kept], snapshot.columns["department"], stored["department"]
    )
    scores = dict(kept)
    return [make_hit(snapshot.stored(d), scores[d], []) for d in ranked[:limit]]
