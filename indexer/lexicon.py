"""What understanding a query needs to know of the index: its words by reading and its katakana.

* Kana typed for words the documents write in kanji (こうきょうこうつう, 公共こうつう, 特殊さぎ)
  is rewritten into the index's own words by reading: the kana's katakana reading is split into
  the readings of indexed words, fewest pieces first (コウキョウ + コウツウ → 公共交通).
* A katakana or Latin word also finds the longer katakana or Latin words of the index that hold
  it (サブスク → サブスクリプション, ケアラー → ヤングケアラー); kanji never do (京都 ≠ 東京都).

One `Lexicon` per index generation, built from its vocabulary (indexer.vocabulary) on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.analysis import sudachi_units
from indexer.vocabulary import Vocabulary, fold, to_katakana

KANA_RUN = re.compile(r"[ぁ-ゖー]{2,}")
KATAKANA_OR_LATIN = re.compile(r"^(?:[ァ-ヺー]{2,}|[a-z][a-z0-9]+)$")
# A part shorter than this is not looked for inside longer words: AI is not in AIP, nor ケア
# in every ケア…; ケアラー (4) and ネウボ (3) are.
INSIDE_FROM = {"katakana": 3, "latin": 4}
HAS_KANJI_OR_KATAKANA = re.compile(r"[一-龥々ァ-ヺ]")
MAX_READING = 24  # katakana of the longest indexed word a piece of kana may stand for
MAX_INSIDE = 12  # longer words found inside a katakana word, most frequent first


@dataclass(frozen=True)
class Lexicon:
    """The index's words by reading (kanji or katakana spelled) and its katakana/Latin words."""

    by_reading: dict[str, tuple[str, int]]  # katakana reading → (spelling, items holding it)
    kana_words: frozenset[str]  # words the documents themselves write in hiragana
    foreign: tuple[tuple[str, str, int], ...]  # (key, spelling, items) of katakana/Latin words

    def spell(self, kana: str) -> str | None:
        """Return the indexed words that `kana` reads as, joined, or None.

        >>> lexicon = Lexicon({"コウキョウ": ("公共", 3), "コウツウ": ("交通", 2)}, frozenset(), ())
        >>> lexicon.spell("こうきょうこうつう"), lexicon.spell("こうきょう"), lexicon.spell("こう")
        ('公共交通', '公共', None)
        """
        reading = to_katakana(kana)
        size = len(reading)
        # best[i]: the fewest words that spell reading[:i], most items first among equals.
        best: list[tuple[int, int, list[str]] | None] = [None] * (size + 1)
        best[0] = (0, 0, [])
        for start in range(size):
            if best[start] is None:
                continue
            pieces, items, words = best[start]
            for end in range(start + 2, min(size, start + MAX_READING) + 1):
                found = self.by_reading.get(reading[start:end])
                if found is None:
                    continue
                candidate = (pieces + 1, items - found[1], [*words, found[0]])
                if best[end] is None or candidate[:2] < best[end][:2]:
                    best[end] = candidate
        return "".join(best[size][2]) if best[size] else None

    def respell(self, piece: str) -> str:
        """Rewrite the runs of kana in `piece` that stand for indexed words written otherwise.

        A run is left as it is where it begins inside a word (okurigana: 進める), where the
        documents write it in kana themselves (まち, ひきこもり), or where no indexed words
        spell it.
        """
        runs = list(KANA_RUN.finditer(piece))
        if not runs:
            return piece
        starts = {unit.start for unit in sudachi_units(piece) if unit.fine}
        parts, last, unspelled = [], 0, False
        for run in runs:
            kana = run.group()
            if kana in self.kana_words:
                continue
            spelled = self.spell(kana) if run.start() in starts else None
            if spelled:
                parts += [piece[last : run.start()], spelled]
                last = run.end()
            else:
                unspelled = True
        if unspelled and not parts:
            return self._respell_whole(piece) or piece
        return "".join(parts) + piece[last:]

    def _respell_whole(self, piece: str) -> str | None:
        """Spell a whole piece by its reading, keeping the kanji it was typed with (脱たんそ)."""
        reading = "".join(
            to_katakana(part) if _is_kana(part) else _reading(part)
            for part in re.findall(r"[ぁ-ゖー]+|[^ぁ-ゖー]+", piece)
        )
        spelled = self.spell(reading)
        if not spelled:
            return None
        typed = [c for c in piece if HAS_KANJI_OR_KATAKANA.match(c)]
        left = iter(spelled)
        return spelled if all(c in left for c in typed) else None

    def inside(self, word: str) -> list[str]:
        """Return the longer katakana or Latin words of the index that hold `word`.

        >>> lexicon = Lexicon({}, frozenset(), (("ヤングケアラー", "ヤングケアラー", 2),))
        >>> lexicon.inside("ケアラー"), lexicon.inside("京都")
        (['ヤングケアラー'], [])
        """
        key = fold(word)
        if not KATAKANA_OR_LATIN.match(key):
            return []
        if len(key) < INSIDE_FROM["latin" if key.isascii() else "katakana"]:
            return []
        found = [(items, spelling) for k, spelling, items in self.foreign if key in k and k != key]
        found.sort(key=lambda pair: (-pair[0], pair[1]))
        return [spelling for _, spelling in found[:MAX_INSIDE]]


def build_lexicon(vocabulary: Vocabulary) -> Lexicon:
    """Collect the readings and the katakana/Latin words of a vocabulary."""
    by_reading: dict[str, tuple[str, int]] = {}
    kana_words: set[str] = set()
    foreign: dict[str, tuple[str, int]] = {}
    for term in vocabulary.terms:  # most items first: the first spelling of a reading wins
        if HAS_KANJI_OR_KATAKANA.search(term.text):
            for reading in term.readings:
                by_reading.setdefault(reading, (term.text, term.items))
        elif re.fullmatch(r"[ぁ-ゖー]+", term.text):
            kana_words.add(term.text)
        if KATAKANA_OR_LATIN.match(term.key) and term.whole:
            foreign.setdefault(term.key, (term.text, term.items))
    return Lexicon(
        by_reading,
        frozenset(kana_words),
        tuple((key, spelling, items) for key, (spelling, items) in foreign.items()),
    )


def _is_kana(text: str) -> bool:
    return bool(re.fullmatch(r"[ぁ-ゖー]+", text))


def _reading(text: str) -> str:
    return "".join(unit.reading for unit in sudachi_units(text) if unit.fine)
