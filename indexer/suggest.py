"""Suggestions as a person types: the indexed words and phrases that start with what was typed.

Kana-aware: ぼう offers 防災 and 防犯 through their readings, and each suggestion carries the
number of items that searching for it would find, counted by `PolicyIndex.search` itself (so
synonyms and filters are counted as the search counts them). With several words typed, the last
one is completed and the count is that of the whole query.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from indexer.vocabulary import index_vocabulary

MAX_INPUT_CHARS = 100  # longer than anyone types into a search box before picking
DEFAULT_LIMIT = 8
CANDIDATES_PER_SUGGESTION = 3  # terms counted by the search for each suggestion shown
OPERATORS = frozenset({"OR", "AND", "NOT", "|", "&", "+"})
COUNT_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class Suggestion:
    text: str  # the whole query to search for
    count: int  # the items that query finds (under the given filters)


def split_input(text: str) -> tuple[str, str] | None:
    """Split typed text into the words before and the word being typed; None if nothing to do.

    >>> split_input("ぼう"), split_input("防災　く"), split_input("防災 "), split_input("-防")
    (('', 'ぼう'), ('防災', 'く'), None, None)
    """
    if not text or len(text) > MAX_INPUT_CHARS:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        return None
    folded = unicodedata.normalize("NFKC", text)
    if not folded.strip() or folded[-1].isspace():
        return None
    *head, last = folded.split()
    if last in OPERATORS or last[0] in '-"':
        return None
    return " ".join(head), last


class _Counts:
    """How many items a query finds, remembered per index generation and filters."""

    def __init__(self) -> None:
        self._known: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def __call__(self, index, query: str, filters: Mapping[str, tuple[str, ...]]) -> int:
        key = (index.current().target, query, tuple(sorted(filters.items())))
        count = self._known.get(key)
        if count is None:
            count = index.search(
                query,
                departments=filters.get("department", ()),
                categories=filters.get("category", ()),
                columns=filters.get("column", ()),
                per_page=1,
                match="all",  # the items holding every word, not the partial matches after them
            ).total
            with self._lock:
                if len(self._known) >= COUNT_CACHE_SIZE:
                    self._known.clear()
                self._known[key] = count
        return count


count_items = _Counts()


def known_filters(index, filters: Mapping[str, tuple[str, ...]] | None) -> dict:
    """Keep the filter values the index holds, so that a stale value never fails a lookup."""
    return {
        name: tuple(v for v in values if v in index.facet_values(name))
        for name, values in (filters or {}).items()
        if values
    }


def suggest(
    index,
    text: str,
    filters: Mapping[str, tuple[str, ...]] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Suggestion]:
    """Return up to `limit` completions of the last word typed, most items found first.

    :param index: a `PolicyIndex`
    :param filters: facet name → selected values, as `PolicyIndex.search` takes them
    """
    parts = split_input(text)
    if parts is None:
        return []
    head, last = parts
    filters = known_filters(index, filters)
    terms = index_vocabulary(index).starting_with(last)[: limit * CANDIDATES_PER_SUGGESTION]
    ranked = []
    for rank, term in enumerate(terms):
        query = f"{head} {term.text}" if head else term.text
        count = count_items(index, query, filters)
        if count:
            ranked.append((-count, rank, Suggestion(query, count)))
    ranked.sort(key=lambda entry: entry[:2])
    return [suggestion for _, _, suggestion in ranked[:limit]]
