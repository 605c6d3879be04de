"""The words and phrases of an index, by spelling and by reading, for prefix and fuzzy lookups.

Every long unit (Sudachi's mode C), every middle unit (mode B) and every short run of nouns with
their affixes (デジタル + 化 → デジタル化) of the item texts, each under its normalized form, the
spellings the documents use and its katakana reading. The build collects it while it indexes
and writes it beside the index; a server reads it once per index generation (an index built
before that is read whole on first use instead). Fragments (a short unit inside a longer one)
and terms that are a single character or only digits are left out: nobody wants
トランスフォーメーション offered for トラ.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.analysis import Unit, sudachi_units
from indexer.query import HIRAGANA_TO_KATAKANA

CONTENT_POS = frozenset({"名詞", "形状詞"})  # nouns and na-adjectives: what people search for
AFFIX_POS = frozenset({"接頭辞", "接尾辞"})
MAX_COMPOUND = 3  # long units in a phrase: 地域 + 防災 + 計画
LOOSE_SUFFIXES = frozenset({"等", "達", "ら", "毎"})  # 防犯等 is not a phrase anyone looks for
KANA = re.compile(r"^[ぁ-ゖァ-ヺー]+$")
ASCII_WORD = re.compile(r"[0-9A-Za-z]")
CACHED_GENERATIONS = 4
VOCABULARY_FILE = "vocabulary.json"  # written into each index generation by the build


@dataclass(frozen=True)
class Term:
    """One word or phrase of the index: shown as `text`, found under `key` and `readings`."""

    text: str  # the spelling the documents use most
    key: str  # Sudachi's normalized form, lower-cased: what the index holds
    readings: tuple[str, ...]
    items: int  # how many items hold it
    whole: bool  # stands as a word of its own somewhere, not only inside a longer one


@dataclass
class _Entry:
    spellings: Counter = field(default_factory=Counter)
    readings: set[str] = field(default_factory=set)
    items: int = 0
    whole: bool = False


def to_katakana(text: str) -> str:
    """Turn hiragana into katakana, leaving everything else.

    >>> to_katakana("ぼうさい"), to_katakana("デジ")
    ('ボウサイ', 'デジ')
    """
    return text.translate(HIRAGANA_TO_KATAKANA)


def is_kana(text: str) -> bool:
    """Tell whether `text` is written in kana alone.

    >>> is_kana("ぼう"), is_kana("デジ"), is_kana("防ぼ")
    (True, True, False)
    """
    return bool(KANA.match(text))


def fold(text: str) -> str:
    """Fold width and case the way lookups compare words.

    >>> fold("ＤＸ推進")
    'dx推進'
    """
    return unicodedata.normalize("NFKC", text).lower()


def worth_offering(text: str) -> bool:
    """Tell whether a term is worth offering: two characters or more, not only digits.

    >>> [worth_offering(t) for t in ("防災", "化", "2025", "23区", "No.")]
    [True, False, False, True, False]
    """
    return (
        len(text) > 1
        and any(c.isalpha() for c in text)
        and unicodedata.category(text[-1])[0] != "P"
    )


def candidate_units(text: str) -> Iterator[tuple[list[Unit], bool]]:
    """Yield the words and phrases of `text` to offer, as (units, whole).

    >>> ["".join(u.text for u in units) for units, _ in candidate_units("行政手続きのデジタル化")]
    ['行政', '手続き', '行政手続き', 'デジタル', 'デジタル化']
    """
    run: list[Unit] = []
    long_end = -1
    for unit in sudachi_units(text):
        if unit.start >= long_end:  # the long unit comes first among the units it holds
            long_end = unit.end
            if unit.part_of_speech in CONTENT_POS:
                yield [unit], True
            if unit.part_of_speech in CONTENT_POS | AFFIX_POS and run and run[-1].end == unit.start:
                run.append(unit)
                yield from _phrases(run)
            else:
                run = [unit] if unit.part_of_speech in CONTENT_POS | AFFIX_POS else []
        elif not unit.fine and unit.part_of_speech in CONTENT_POS:
            yield [unit], False  # a middle unit: 委員会 in 選挙管理委員会


def _phrases(run: list[Unit]) -> Iterator[tuple[list[Unit], bool]]:
    """Yield the phrases that end with the last unit of `run`."""
    if run[-1].part_of_speech == "接頭辞" or run[-1].text in LOOSE_SUFFIXES:
        return
    for size in range(2, min(MAX_COMPOUND, len(run)) + 1):
        units = run[-size:]
        if units[0].part_of_speech != "接尾辞":
            yield units, True


class Vocabulary:
    """The terms of one index generation, sorted for prefix lookups by spelling and reading."""

    def __init__(self, terms: Iterable[Term]):
        self.terms = sorted(terms, key=lambda t: (-t.items, not t.whole, len(t.text), t.text))
        writing, reading = [], []
        for number, term in enumerate(self.terms):
            spellings = {term.key, fold(term.text)}
            writing += [(spelling, number) for spelling in spellings]
            if not ASCII_WORD.search(term.text):
                reading += [(r, number) for r in term.readings]
        self._writing = sorted(set(writing))
        self._reading = sorted(set(reading))
        self._writing_keys = [key for key, _ in self._writing]
        self._reading_keys = [key for key, _ in self._reading]

    def __len__(self) -> int:
        return len(self.terms)

    def starting_with(self, prefix: str) -> list[Term]:
        """Return the terms whose spelling or (for kana) reading starts with `prefix`.

        The terms come most frequent first, whole words before fragments.
        """
        prefix = fold(prefix)
        if not prefix:
            return []
        found = set(_prefixed(self._writing, self._writing_keys, prefix))
        if is_kana(prefix):
            found.update(_prefixed(self._reading, self._reading_keys, to_katakana(prefix)))
        return [self.terms[number] for number in sorted(found)]


def _prefixed(pairs: list[tuple[str, int]], keys: list[str], prefix: str) -> Iterator[int]:
    at = bisect_left(keys, prefix)
    while at < len(keys) and keys[at].startswith(prefix):
        yield pairs[at][1]
        at += 1


def build_vocabulary(texts: Iterable[str]) -> Vocabulary:
    """Collect the terms of the given item texts (one text per item).

    >>> vocabulary = build_vocabulary(["防災訓練の実施", "防犯カメラ", "防災"])
    >>> [(t.text, t.items) for t in vocabulary.starting_with("ぼう")]
    [('防災', 2), ('防犯', 1), ('防災訓練', 1), ('防犯カメラ', 1)]
    """
    collecting = VocabularyBuilder()
    for text in texts:
        collecting.add(text)
    return collecting.vocabulary()


class VocabularyBuilder:
    """Collect the terms of item texts one item at a time; a text seen before is not analysed again.

    The build adds each item as it indexes it (the analysis of its text is then still cached).
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._seen: dict[str, tuple[tuple[str, str], ...]] = {}  # text → its (key, spelling)s

    def add(self, text: str) -> None:
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = tuple(self._analyse(text))
        for key, spelling in found:
            self._entries[key].spellings[spelling] += 1
        for key in {key for key, _ in found}:
            self._entries[key].items += 1

    def _analyse(self, text: str) -> Iterator[tuple[str, str]]:
        for units, whole in candidate_units(text):
            spelling = unicodedata.normalize("NFKC", text[units[0].start : units[-1].end])
            if not worth_offering(spelling):
                continue
            key = "".join(u.text for u in units).lower()
            entry = self._entries.setdefault(key, _Entry())
            entry.readings.add("".join(u.reading for u in units))
            entry.whole = entry.whole or whole
            yield key, spelling

    def merge(self, other: VocabularyBuilder) -> None:
        """Add the items another builder has seen (a writer process's share of the corpus)."""
        for key, theirs in other._entries.items():
            entry = self._entries.setdefault(key, _Entry())
            entry.spellings.update(theirs.spellings)
            entry.readings |= theirs.readings
            entry.items += theirs.items
            entry.whole = entry.whole or theirs.whole

    def __getstate__(self) -> dict:
        return {"_entries": self._entries, "_seen": {}}  # what it has seen is not passed on

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(
            Term(
                text=entry.spellings.most_common(1)[0][0],
                key=key,
                readings=tuple(sorted(entry.readings)),
                items=entry.items,
                whole=entry.whole,
            )
            for key, entry in self._entries.items()
        )


def write_vocabulary(vocabulary: Vocabulary, path: Path) -> None:
    """Write a vocabulary as JSON, one [text, key, readings, items, whole] per term."""
    terms = [[t.text, t.key, list(t.readings), t.items, t.whole] for t in vocabulary.terms]
    path.write_text(json.dumps(terms, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def read_vocabulary(path: Path) -> Vocabulary:
    """Read a vocabulary written by `write_vocabulary`."""
    terms = json.loads(path.read_text(encoding="utf-8"))
    return Vocabulary(
        Term(text, key, tuple(readings), items, whole)
        for text, key, readings, items, whole in terms
    )


_cache: dict[str, Vocabulary] = {}
_cache_lock = threading.Lock()


def index_vocabulary(index) -> Vocabulary:
    """Return the vocabulary of the index generation in use, building it on first use.

    It is kept by the generation's directory, which a rebuild never reuses, so that every
    `PolicyIndex` open on the same generation shares it and a rebuild gets a new one.
    """
    return snapshot_vocabulary(index.current())


def snapshot_vocabulary(snapshot) -> Vocabulary:
    """Return the vocabulary of an open index snapshot (indexer.snapshot), built on first use."""
    vocabulary = _cache.get(snapshot.target)
    if vocabulary is None:
        with _cache_lock:
            vocabulary = _cache.get(snapshot.target)
            if vocabulary is None:
                vocabulary = _read_or_build(snapshot)
                while len(_cache) >= CACHED_GENERATIONS:
                    _cache.pop(next(iter(_cache)))
                _cache[snapshot.target] = vocabulary
    return vocabulary


def _read_or_build(snapshot) -> Vocabulary:
    """Read the vocabulary the build wrote; build it from the stored texts for an older index."""
    path = Path(snapshot.target) / VOCABULARY_FILE
    if path.exists():
        return read_vocabulary(path)
    searcher = snapshot.searcher
    with snapshot.reading:
        texts = [searcher.stored_fields(d)["text"] for d in range(searcher.doc_count_all())]
    return build_vocabulary(texts)
