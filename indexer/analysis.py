"""Japanese analysis for Whoosh: a SudachiPy tokenizer and the filters after it.

The chain is ``SudachiTokenizer() | PartOfSpeechFilter() | LowercaseFilter()``. The tokenizer
yields Sudachi's normalized form of every unit with character offsets into the *original*
text, so that highlights land on the characters a person sees even where the analysed text
differs from it (full-width letters, letters spread by spaces).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from sudachipy import SplitMode
from whoosh.analysis import Composable, LowercaseFilter, Token, Tokenizer

from indexer.dictionary import sudachi_tokenizer

# Parts of speech that are no search terms. Particles and auxiliary verbs keep their place as a
# GAP token, so a phrase does not match across one (人材育成 is not 人材の育成); symbols and
# white space leave no trace (ワーク・ライフ・バランス is ワークライフバランス).
GAP_POS = frozenset({"助詞", "助動詞"})
CLOSED_POS = frozenset({"補助記号", "記号", "空白"})
DROPPED_POS = GAP_POS | CLOSED_POS
GAP = "_"  # never a term otherwise: "_" itself is a symbol

# Sudachi refuses inputs over about 49 KB; analyse longer text in pieces of this many characters.
CHUNK = 4000
CACHED_TEXTS = 64  # the last texts analysed, with at most this many characters, are kept
CACHED_TEXT_CHARS = 1000
MAX_JOINED = 4  # the longest word that two short units side by side may make (係長, 駅前)

# A space between Latin letters where one side is a lone letter: "P D C A", "SDG s", "D X".
SPREAD_SPACE = re.compile(
    r"(?<![A-Za-z])([A-Za-z]) (?=[A-Za-z])|(?<=[A-Za-z]) (?=[A-Za-z](?![A-Za-z]))"
)


def normalize(text: str) -> tuple[str, list[int], list[int]]:
    """Fold width (NFKC) and join spread letters, keeping where each character came from.

    Returns the normalized text and, for each of its characters, the start and end offset of
    the original character(s) it stands for.

    >>> normalize("Ｐ Ｄ ＣＡ化")[0]
    'PDCA化'
    """
    folded, starts, ends = [], [], []
    for index, char in enumerate(text):
        for piece in unicodedata.normalize("NFKC", char):
            folded.append(piece)
            starts.append(index)
            ends.append(index + 1)
    folded_text = "".join(folded)
    drop = {m.end(1) if m.group(1) else m.start() for m in SPREAD_SPACE.finditer(folded_text)}
    if not drop:
        return folded_text, starts, ends
    keep = [i for i in range(len(folded)) if i not in drop]
    return "".join(folded[i] for i in keep), [starts[i] for i in keep], [ends[i] for i in keep]


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split text for Sudachi into pieces of at most CHUNK characters, at a space if one is near."""
    start = 0
    while len(text) - start > CHUNK:
        cut = max(text.rfind(" ", start, start + CHUNK), text.rfind("。", start, start + CHUNK))
        end = cut + 1 if cut > start + CHUNK // 2 else start + CHUNK
        yield start, text[start:end]
        start = end
    yield start, text[start:]


class Unit(NamedTuple):
    """One unit of analysed text; offsets are into the text as given."""

    text: str  # Sudachi's normalized form
    part_of_speech: str
    position: int
    start: int
    end: int
    fine: bool  # a short unit: phrases are made of these
    reading: str  # katakana
    oov: bool  # not in the dictionary
    local: bool  # from the project's user dictionary


def sudachi_units(text: str) -> Iterator[Unit]:
    """Yield the units of `text` at three granularities (see `_analyse`).

    A short text's units are kept for a while: the build analyses each item's text for three
    fields and its vocabulary, one after the other, and Sudachi runs once for the four.
    """
    if len(text) > CACHED_TEXT_CHARS:
        return _analyse(text)
    return iter(_cached_units(text))


@lru_cache(maxsize=CACHED_TEXTS)
def _cached_units(text: str) -> tuple[Unit, ...]:
    return tuple(_analyse(text))


def forget_analyses() -> None:
    """Drop the units kept of the last texts analysed."""
    _cached_units.cache_clear()


def _analyse(text: str) -> Iterator[Unit]:
    """Yield the units of `text` at three granularities, and the words split in context.

    Each long unit (Sudachi's mode C) sits at the position of its first short unit (mode A), the
    short units follow at consecutive positions, and the middle units (mode B) sit where they
    begin, so that a part and the whole both match and phrases work across long units.

    >>> [(u.text, u.position, u.fine) for u in _analyse("選挙管理委員会")]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('選挙管理委員会', 0, False), ('選挙', 0, True), ('管理', 1, True), ('委員会', 2, False),
     ('委員', 2, True), ('会', 3, True)]

    Sudachi splits some words in context that it keeps whole when typed alone: 係長 of 係長級
    is 係|長, 駅前 of 南口駅前 is 駅|前. Two short units side by side that make one word as
    typed also yield that word (`_Joined`), at the first one's position, as a long unit.

    >>> [(u.text, u.position, u.fine) for u in _analyse("係長級")]
    [('係', 0, True), ('係長', 0, False), ('長', 1, True), ('級', 2, True)]
    """
    normalized, starts, ends = normalize(text)
    position = 0

    def unit_of(unit, at: int, fine: bool, offset: int) -> Unit:
        start, end = offset + unit.begin(), offset + unit.end()
        return Unit(
            unit.normalized_form(),
            unit.part_of_speech()[0],
            at,
            starts[start],
            ends[end - 1],
            fine,
            unit.reading_form(),
            unit.is_oov(),
            unit.dictionary_id() > 0,
        )

    for offset, chunk in _chunks(normalized):
        previous = None  # the position and the last short unit of the morpheme before
        for morpheme in sudachi_tokenizer().tokenize(chunk):
            shorts = list(morpheme.split(SplitMode.A)) or [morpheme]
            middles = list(morpheme.split(SplitMode.B)) or [morpheme]
            first_at = {short.begin(): position + i for i, short in enumerate(shorts)}
            spans = {(short.begin(), short.end()) for short in shorts}
            spans.add((morpheme.begin(), morpheme.end()))
            units = [(position, 0, morpheme, len(shorts) == 1)]
            units += [
                (first_at.get(m.begin(), position), 1, m, False)
                for m in middles
                if (m.begin(), m.end()) not in spans
            ]
            if len(shorts) > 1:
                units += [(position + i, 2, short, True) for i, short in enumerate(shorts)]
            taken = spans | {(m.begin(), m.end()) for m in middles}
            pairs = [(*previous, shorts[0])] if previous else []
            pairs += [(position + i, a, b) for i, (a, b) in enumerate(pairwise(shorts))]
            for at, first, second in pairs:
                joined = _Joined.of(first, second)
                if joined is None or (joined.begin(), joined.end()) in taken:
                    continue
                if at < position:  # across two long units: before the second one's units
                    yield unit_of(joined, at, False, offset)
                else:
                    units.append((at, 1, joined, False))
            for unit_position, _, unit, fine in sorted(units, key=lambda u: u[:2]):
                yield unit_of(unit, unit_position, fine, offset)
            previous = (position + len(shorts) - 1, shorts[-1])
            position += len(shorts)


class _Joined(NamedTuple):
    """Two short units side by side that Sudachi reads as one word when they stand alone."""

    word: object  # Sudachi's morpheme of the two units' text analysed alone
    start: int
    stop: int

    @classmethod
    def of(cls, first, second) -> _Joined | None:
        if first.end() != second.begin():
            return None
        if first.part_of_speech()[0] in DROPPED_POS or second.part_of_speech()[0] in DROPPED_POS:
            return None
        word = _one_word(first.surface() + second.surface())
        return cls(word, first.begin(), second.end()) if word else None

    def begin(self) -> int:
        return self.start

    def end(self) -> int:
        return self.stop

    def normalized_form(self) -> str:
        return self.word.normalized_form()

    def part_of_speech(self) -> tuple[str, ...]:
        return self.word.part_of_speech()

    def reading_form(self) -> str:
        return self.word.reading_form()

    def is_oov(self) -> bool:
        return False

    def dictionary_id(self) -> int:
        return self.word.dictionary_id()


@lru_cache(maxsize=65536)
def _one_word(surface: str):
    """Return Sudachi's noun for `surface` typed alone if it is one short unit, else None."""
    if len(surface) > MAX_JOINED:
        return None
    morphemes = sudachi_tokenizer().tokenize(surface, SplitMode.A)
    if len(morphemes) != 1:
        return None
    word = morphemes[0]
    return word if not word.is_oov() and word.part_of_speech()[0] == "名詞" else None


def exact_units(text: str) -> tuple[str, ...]:
    """Return every short unit of `text` but white space, particles included, lower-cased.

    Exact phrases compare these: "地域経済の活性化" is not "地域経済活性化".

    >>> exact_units("ＤＸの推進")
    ('dx', 'の', '推進')
    """
    units = sudachi_units(text)
    return tuple(u.text.lower() for u in units if u.fine and u.part_of_speech != "空白")


class SudachiTokenizer(Tokenizer):
    """Tokenize Japanese text with SudachiPy into multi-granular units.

    Each token carries ``part_of_speech``, ``fine`` (a short unit), ``reading``, ``oov`` and
    ``local`` (from the user dictionary) beside the usual Whoosh attributes.

    >>> [t.text for t in SudachiTokenizer()("個人情報の保護")]
    ['個人情報', '個人', '情報', 'の', '保護']
    """

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost, token.stopped, token.part_of_speech, token.fine = 1.0, False, "", True
            token.reading, token.oov, token.local = value, False, False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for unit in sudachi_units(value):
            token.text = unit.text
            token.boost, token.stopped = 1.0, False
            token.part_of_speech, token.fine = unit.part_of_speech, unit.fine
            token.reading, token.oov, token.local = unit.reading, unit.oov, unit.local
            if keeporiginal:
                token.original = value[unit.start : unit.end]
            if positions:
                token.pos = start_pos + unit.position
            if chars:
                token.startchar, token.endchar = start_char + unit.start, start_char + unit.end
            yield token


class PartOfSpeechFilter(Composable):
    """Turn particles and auxiliary verbs into GAP tokens; drop symbols and white space.

    A phrase then needs its words side by side as written, particles included, as with
    Lucene's stop filter; symbols and spaces between words do not count.

    >>> analyzer = SudachiTokenizer() | PartOfSpeechFilter()
    >>> [(t.text, t.pos) for t in analyzer("情報の保護・活用", positions=True)]
    [('情報', 0), ('_', 1), ('保護', 2), ('活用', 3)]
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        removed, last_dropped = 0, None
        for token in tokens:
            position = getattr(token, "pos", None)
            if token.part_of_speech in CLOSED_POS:
                if token.fine and isinstance(position, int) and position != last_dropped:
                    removed, last_dropped = removed + 1, position
                continue
            if token.part_of_speech in GAP_POS:
                token.text = GAP
            if isinstance(position, int):
                token.pos = position - removed
            yield token


def japanese_analyzer():
    """Return the analyzer used for both indexing and queries.

    >>> [t.text for t in japanese_analyzer()("ＤＸを推進するP D C Aサイクル")]
    ['dx', '_', '推進', '為る', 'pdcaサイクル', 'pdca', 'サイクル']
    """
    return SudachiTokenizer() | PartOfSpeechFilter() | LowercaseFilter()


class ReadingFilter(Composable):
    """Replace each token's text with its reading, in katakana.

    >>> [t.text for t in (SudachiTokenizer() | ReadingFilter())("保育")]
    ['ホイク']
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if token.text != GAP:
                token.text = token.reading
                yield token


def reading_analyzer():
    """Return the analyzer of the reading field: the same units, indexed by their readings.

    >>> [t.text for t in reading_analyzer()("高齢者の健康")]
    ['コウレイシャ', 'コウレイ', 'シャ', 'ケンコウ']
    """
    return SudachiTokenizer() | PartOfSpeechFilter() | ReadingFilter()
