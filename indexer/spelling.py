"""Did you mean: for a query that finds nothing, the closest indexed words that find something.

Each word of the query that finds nothing on its own is compared with the index's vocabulary by
spelling and by reading (ぼうさお → ボウサオ ~ ボウサイ → 防災), and replaced by the closest
terms; a correction is offered only when the corrected query finds items.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

from indexer.analysis import DROPPED_POS, sudachi_units
from indexer.suggest import OPERATORS, count_items, known_filters
from indexer.vocabulary import Term, fold, index_vocabulary, is_kana, to_katakana

MIN_SIMILARITY = 0.6
MAX_WORD_CHARS = 30  # longer "words" are pasted text, not typos
MAX_WORDS = 4
ALTERNATIVES_PER_WORD = 3
DEFAULT_LIMIT = 5


@dataclass(frozen=True)
class Correction:
    query: str  # the corrected query
    word: str  # the word typed
    replacement: str  # the indexed word put in its place
    count: int  # the items the corrected query finds
    keeps_filters: bool  # whether it finds them under the filters asked for


def reading_of(word: str) -> str:
    """Return the katakana reading of a word as Sudachi reads it.

    >>> reading_of("ぼうさお"), reading_of("防災")
    ('ボウサオ', 'ボウサイ')
    """
    if is_kana(word):
        return to_katakana(word)
    return "".join(
        u.reading for u in sudachi_units(word) if u.fine and u.part_of_speech not in DROPPED_POS
    )


def similarity(a: str, b: str) -> float:
    """Return how alike two strings are, from 0 to 1.

    >>> similarity("ボウサオ", "ボウサイ"), similarity("防災", "防犯")
    (0.75, 0.5)
    """
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b).ratio()


def closest_terms(terms: list[Term], word: str, limit: int = ALTERNATIVES_PER_WORD) -> list[Term]:
    """Return the terms closest to `word` by spelling or by reading, best first."""
    spelling, reading = fold(word), reading_of(word)
    scored = []
    for term in terms:
        if term.key == spelling:
            continue
        score = similarity(spelling, term.key)
        if reading and term.readings:
            score = max(score, *(similarity(reading, r) for r in term.readings))
        if score >= MIN_SIMILARITY:
            scored.append((-score, not term.whole, -term.items, term.text, term))
    scored.sort(key=lambda entry: entry[:4])
    return [entry[-1] for entry in scored[:limit]]


def did_you_mean(
    index,
    query: str,
    filters: Mapping[str, tuple[str, ...]] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Correction]:
    """Return corrected queries that find items, for the words of `query` that find none.

    A correction keeps the filters when it finds items under them, and otherwise is offered
    without them (`keeps_filters` tells which).

    :param index: a `PolicyIndex`
    """
    words = fold_words(query)
    unknown = [
        w for w in words[:MAX_WORDS] if w not in OPERATORS and not count_items(index, w, {})
    ]
    if not unknown:
        return []
    filters = known_filters(index, filters)
    terms = index_vocabulary(index).terms
    corrections: list[Correction] = []
    for word in unknown:
        if len(word) > MAX_WORD_CHARS or word[0] in '-"':
            continue
        for term in closest_terms(terms, word):
            corrected = " ".join(term.text if w == word else w for w in words)
            count = count_items(index, corrected, filters)
            keeps_filters = bool(filters) and count > 0
            if not count and filters:
                count = count_items(index, corrected, {})
            if count and all(c.query != corrected for c in corrections):
                corrections.append(Correction(corrected, word, term.text, count, keeps_filters))
    return corrections[:limit]


def fold_words(query: str) -> list[str]:
    """Split a query into its words, width-folded.

    >>> fold_words("ＤＸ　ぼうさお")
    ['DX', 'ぼうさお']
    """
    return unicodedata.normalize("NFKC", query).split()
