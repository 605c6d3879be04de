"""Turn what a person types into a Whoosh query, never failing.

The language is small on purpose: words are AND-ed, ``OR`` between two words or phrases
makes an alternative, a leading ``-`` (or ``NOT``) excludes, and ``"…"`` is an exact phrase.
Everything else, Whoosh syntax included (``*``, ``:``, ``[a TO``), is taken as plain words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from whoosh import query as wq

from indexer.analysis import DROPPED_POS, GAP, exact_units, japanese_analyzer, sudachi_units

FIELD = "text"
READING_FIELD = "reading"
MAX_QUERY_CHARS = 500
HIRAGANA = re.compile(r"^[ぁ-ゖー]{2,}$")
OKURIGANA = re.compile(r"^(?=.*[一-龥々])(?=.*[ぁ-ゖ])[一-龥々ぁ-ゖ]+$")
HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(ord("ぁ"), ord("ゖ") + 1)}
PIECE = re.compile(r'"([^"]*)"?|(\S+)')
WHOLE = re.compile(r"^[一-龥々ァ-ヺーぁ-ゖ]{2,8}$")  # a word that may be one unit in an item


@dataclass(frozen=True)
class Word:
    """One analysed word or phrase: the short units in order and the longer units it holds.

    ``reading`` lets a word match any unit read the same way. It is set for words typed in hiragana
    (ほいく, こうれいしゃ), except the user dictionary's local names (いたばし), and for words
    that mix kanji and kana (引きこもり), which then meet the verb forms they come from
    (ひきこもる, 目指して). Words written in kanji alone never match by reading: homophones.
    """

    fine: tuple[str, ...]
    coarse: frozenset[str] = frozenset()
    reading: str | None = None
    exact: tuple[str, ...] | None = None  # a quoted phrase: every unit, particles included
    text: str = ""  # as typed (or as the synonym list writes it): what the page names
    # The text as one unit where Sudachi splits it typed alone but not in the items (一時 is
    # 1|時 alone, one unit in 一時保護): matched as well as the short units in a row.
    whole: str | None = None

    @property
    def key(self) -> str:
        return "".join(self.fine)


@dataclass(frozen=True)
class ParsedQuery:
    must: tuple[tuple[Word, ...], ...]  # each clause: any one of its words
    must_not: tuple[Word, ...]

    @property
    def is_empty(self) -> bool:
        return not self.must and not self.must_not

    @property
    def positive_words(self) -> list[Word]:
        return [word for clause in self.must for word in clause]


_analyzer = None


def analyse_word(text: str, exact: bool = False) -> Word | None:
    """Analyse a word or phrase into its short units (for the phrase) and long units.

    >>> word = analyse_word("個人情報保護")
    >>> word.fine, word.coarse
    (('個人', '情報', '保護'), frozenset({'個人情報保護'}))
    >>> analyse_word("こうれいしゃ").reading, analyse_word("ほいく").reading
    ('コウレイシャ', 'ホイク')
    >>> analyse_word("の") is None
    True
    """
    global _analyzer
    if _analyzer is None:
        _analyzer = japanese_analyzer()
    fine: dict[int, str] = {}
    coarse = set()
    for token in _analyzer(text, positions=True):
        if token.fine:
            fine.setdefault(token.pos, token.text)
        else:
            coarse.add(token.text)
    ordered = [fine[p] for p in sorted(fine)]
    while ordered and ordered[0] == GAP:
        ordered.pop(0)
    while ordered and ordered[-1] == GAP:
        ordered.pop()
    units = [u for u in sudachi_units(text) if u.fine]
    reading = None
    if HIRAGANA.match(text) and not (len(units) == 1 and units[0].local):
        reading = text.translate(HIRAGANA_TO_KATAKANA)
        if any(u.oov or u.part_of_speech in DROPPED_POS for u in units):
            ordered, coarse = [], set()  # Sudachi's guess at these kana is noise (せんきょ → 為る)
    elif OKURIGANA.match(text):
        reading = "".join(u.reading for u in units)
    if not ordered and not reading:
        return None
    sequence = exact_units(text) if exact else None
    whole = unicodedata.normalize("NFKC", text.strip()).lower()
    if exact or len(ordered) < 2 or whole in coarse or not WHOLE.match(whole):
        whole = None
    return Word(tuple(ordered), frozenset(coarse), reading, sequence, text.strip(), whole)


def synonym_map(groups: list[list[str]]) -> dict[str, list[Word]]:
    """Map each word of a synonym group (by its analysed form) to the others in the group.

    >>> [w.fine for w in synonym_map([["DX", "デジタルトランスフォーメーション"]])["dx"]]
    [('デジタル', 'トランスフォーメーション')]
    """
    mapping: dict[str, list[Word]] = {}
    for group in groups:
        words = [w for w in (analyse_word(clean_query(term)) for term in group) if w]
        for word in filter(lambda w: w.key, words):
            others = mapping.setdefault(word.key, [])
            others += [o for o in words if o.key != word.key and o not in others]
    return mapping


def dictionary_map(groups: list[dict]) -> dict[str, list[Word]]:
    """Map each trigger of the dictionary's groups to the group's other words the items hold.

    >>> [w.text for w in dictionary_map([{"words": ["高齢者"], "triggers": ["年寄り"]}])["年寄り"]]
    ['高齢者']
    """
    targets: dict[str, Word | None] = {}
    mapping: dict[str, list[Word]] = {}
    for group in groups:
        words = [targets.setdefault(t, analyse_word(clean_query(t))) for t in group["words"]]
        for trigger in group["triggers"]:
            key = analysed.key if (analysed := targets.get(trigger)) else _key(trigger)
            if not key:  # nothing to look it up by (a word of kana read only as a whole)
                continue
            others = mapping.setdefault(key, [])
            others += [w for w in words if w and w.key != key and w not in others]
    return {key: words for key, words in mapping.items() if words}


def _key(term: str) -> str | None:
    word = analyse_word(clean_query(term))
    return word.key if word else None


def clean_query(text: str) -> str:
    """Fold width, drop control characters and cap the length of a query."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return text[:MAX_QUERY_CHARS]


def parse_query(text: str, synonyms: dict[str, list[Word]] | None = None) -> ParsedQuery:
    """Parse a query string into AND-ed clauses of OR-ed words and excluded words.

    >>> q = parse_query('防災 OR 防犯 -訓練 "子育て支援"')
    >>> [[w.fine for w in clause] for clause in q.must], [w.fine for w in q.must_not]
    ([[('防災',), ('防犯',)], [('子育て', '支援')]], [('訓練',)])
    """
    must: list[list[Word]] = []
    must_not: list[Word] = []
    join_next, negate_next = False, False
    for match in PIECE.finditer(clean_query(text)):
        phrase, bare = match.group(1), match.group(2)
        if bare in ("OR", "|"):
            join_next = bool(must)
            continue
        if bare in ("AND", "&", "+"):
            continue
        if bare == "NOT":
            negate_next = True
            continue
        negate = negate_next
        if bare and bare.startswith("-"):
            negate, bare = True, bare.lstrip("-")
        word = analyse_word(phrase if phrase is not None else bare, exact=phrase is not None)
        negate_next = False
        if word is None:
            join_next = False
            continue
        words = [word] if word.exact else [word, *(synonyms or {}).get(word.key, [])]
        if negate:
            must_not.extend(words)
        elif join_next:
            must[-1].extend(words)
        else:
            must.append(words)
        join_next = False
    return ParsedQuery(tuple(tuple(c) for c in must), tuple(must_not))


def word_query(word: Word) -> wq.Query:
    """Require the short units in order; rank items holding the same long unit higher."""
    if not word.fine:
        return wq.Term(READING_FIELD, word.reading)
    if len(word.fine) == 1:
        required = wq.Term(FIELD, word.fine[0])
    else:
        required = wq.Phrase(FIELD, list(word.fine))
    extra = [wq.Term(FIELD, text) for text in sorted(word.coarse)]
    if extra:
        required = wq.AndMaybe(required, wq.Or(extra))
    if word.whole:
        required = wq.Or([required, wq.Term(FIELD, word.whole)])
    if word.reading:
        required = wq.Or([required, wq.Term(READING_FIELD, word.reading)])
    return required


def to_whoosh(parsed: ParsedQuery) -> wq.Query:
    """Build the Whoosh query; exclusions alone exclude from every item."""
    clauses = [wq.Or([word_query(w) for w in clause]) for clause in parsed.must]
    if not clauses:
        required = wq.Every()
    else:
        required = clauses[0] if len(clauses) == 1 else wq.And(clauses)
    if parsed.must_not:
        return wq.AndNot(required, wq.Or([word_query(w) for w in parsed.must_not]))
    return required
