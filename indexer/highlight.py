"""Mark the words of a query in an item's text, on the original characters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from indexer.analysis import forget_analyses, japanese_analyzer
from indexer.query import Word

# The analyzer's tokenizer and its filters, run by hand so that one Sudachi pass gives both the
# indexed terms and every short unit the filters drop (exact phrases need the particles).
_tokenizer, *_filters = japanese_analyzer().items
ANALYSIS_CACHE_SIZE = 8192


@dataclass(frozen=True)
class AnalysedText:
    """An item's text analysed once for highlighting: (term, start, end) by kind of unit."""

    fine: dict[int, tuple[str, int, int]]  # by position
    coarse: list[tuple[str, int, int]]
    readings: list[tuple[str, int, int]]
    exact: list[tuple[str, int, int]]  # every short unit, particles included


@lru_cache(maxsize=ANALYSIS_CACHE_SIZE)
def analyse_text(text: str) -> AnalysedText:
    """Analyse an item's text for highlighting; the last few thousand texts are kept."""
    fine: dict[int, tuple[str, int, int]] = {}
    coarse, readings, exact = [], [], []

    def every_unit(tokens: Iterable) -> Iterable:
        for token in tokens:
            if token.fine and token.part_of_speech != "空白":
                exact.append((token.text.lower(), token.startchar, token.endchar))
            yield token

    tokens = every_unit(_tokenizer(text, positions=True, chars=True))
    for step in _filters:
        tokens = step(tokens)
    for token in tokens:
        readings.append((token.reading, token.startchar, token.endchar))
        if token.fine:
            fine.setdefault(token.pos, (token.text, token.startchar, token.endchar))
        else:
            coarse.append((token.text, token.startchar, token.endchar))
    return AnalysedText(fine, coarse, readings, exact)


def clear_caches() -> None:
    """Forget every analysed text and highlight, as a freshly started process has."""
    analyse_text.cache_clear()
    _highlight.cache_clear()
    forget_analyses()


def match_spans(text: str, words: Iterable[Word]) -> list[tuple[int, int]]:
    """Return the merged (start, end) character spans of `text` that the words match.

    A word of several short units matches only where they stand in a row, so 委員会 marks
    選挙管理委員会's 委員会 but not the 会 of 審議会.

    >>> text = "選挙管理委員会と審議会"
    >>> [text[s:e] for s, e in match_spans(text, [Word(("委員", "会"), frozenset())])]
    ['委員会']
    >>> text = "上板橋駅南口駅前地区"
    >>> [text[s:e] for s, e in match_spans(text, [Word(("駅前",), frozenset())])]
    ['駅前']
    """
    words = list(words)
    if not words:
        return []
    analysed = analyse_text(text)
    spans = []
    for word in words:
        if word.exact:
            spans += exact_spans(text, word.exact)
            continue
        spans += _runs(analysed.fine, word.fine)
        # The word as one unit: 駅前 on the long unit over 駅|前, 一時 (1|時 alone) on 一時.
        whole = {word.whole} if word.whole else set(word.fine) if len(word.fine) == 1 else set()
        units = [*analysed.coarse, *(analysed.fine.values() if word.whole else ())]
        spans += [(s, e) for term, s, e in units if term in word.coarse or term in whole]
        if word.reading:
            spans += [(s, e) for reading, s, e in analysed.readings if reading == word.reading]
    return _merge(spans)


def _runs(fine: dict[int, tuple[str, int, int]], terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Return the spans where `terms` stand at consecutive positions."""
    spans = []
    for position, (first, start, _) in fine.items():
        if not terms or first != terms[0]:
            continue
        run = [fine.get(position + i) for i in range(len(terms))]
        if all(r and r[0] == t for r, t in zip(run, terms, strict=True)):
            spans.append((start, run[-1][2]))
    return spans


def exact_spans(text: str, sequence: tuple[str, ...]) -> list[tuple[int, int]]:
    """Return where the units of `sequence`, particles included, stand in a row in `text`.

    >>> exact_spans("地域経済の活性化と地域経済活性化", ("地域", "経済", "活性", "化"))
    [(9, 16)]
    """
    units = analyse_text(text).exact
    size = len(sequence)
    return [
        (units[i][1], units[i + size - 1][2])
        for i in range(len(units) - size + 1)
        if tuple(u[0] for u in units[i : i + size]) == sequence
    ]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, words: Iterable[Word]) -> str:
    """Return `text` HTML-escaped with every match wrapped in ``<mark>``.

    >>> highlight("<b>防災</b>訓練", [Word(("防災",), frozenset())])
    '&lt;b&gt;<mark>防災</mark>&lt;/b&gt;訓練'
    """
    return _highlight(text, words if isinstance(words, Marks) else Marks(words))


class Marks(tuple):
    """Words to mark, as a tuple that works out its hash once.

    The highlights are remembered by (text, words): a query's words, hashed for each of its
    hits, cost more than marking a remembered text. A search makes its Marks once.
    """

    def __hash__(self) -> int:
        found = self.__dict__.get("hash")
        if found is None:
            found = self.__dict__["hash"] = tuple.__hash__(self)
        return found


@lru_cache(maxsize=ANALYSIS_CACHE_SIZE)
def _highlight(text: str, words: Marks) -> str:
    """Highlight, remembering the last few thousand (text, query words) pairs."""
    parts, last = [], 0
    for start, end in match_spans(text, words):
        parts += [escape(text[last:start]), "<mark>", escape(text[start:end]), "</mark>"]
        last = end
    parts.append(escape(text[last:]))
    return "".join(parts)
