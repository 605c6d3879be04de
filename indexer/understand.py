"""Understand a query as people type it: a sentence, a question, several words.

A pipeline of small steps over plain data, each a function:

1. ``has_operators``: ``OR``, ``-word``, ``"…"`` ask for a literal search (`parse_query`).
2. ``content_runs``: split each space-separated piece at particles, auxiliaries, verbs,
   question words and punctuation into runs of content units (介護予防の取り組み → 介護予防,
   取り組み); a compound typed without particles stays one run (個人情報保護).
3. ``analyse_word`` (indexer.query) turns each run into a `Word`; the first MAX_WORDS are kept.
4. ``expand``: the synonym list's other words for it (DX → デジタルトランスフォーメーション).
5. ``loose_forms`` and ``compound_parts``: the same units a particle apart (人材の育成), and the
   compound's own content parts (保育士 → 保育), which find what the word as typed does not.

The page and the API show the outcome: the words used, their expansions, the words dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from indexer.analysis import DROPPED_POS, GAP, exact_units, normalize, sudachi_units
from indexer.dictionary import sudachi_tokenizer
from indexer.lexicon import KANA_RUN, KATAKANA_OR_LATIN, Lexicon
from indexer.names import DEPARTMENT, Name, NameFinder
from indexer.query import HIRAGANA, PIECE, ParsedQuery, Word, analyse_word, clean_query, parse_query

MAX_WORDS = 8
MAX_RELATED = 8  # of the dictionary's words for one query word: a group can hold dozens
MAX_SYNONYMS = 16  # of the curated and mined synonyms of one word
MAX_LOOSE_UNITS = 5  # a longer compound gets no particle-apart forms (they grow as 2**n)
# Units that may stand in a run of content: nouns, adjectival nouns, prefixes and suffixes, and
# symbols inside a word (ワーク・ライフ・バランス); anything else ends the run.
CONTENT_POS = frozenset({"名詞", "形状詞", "接頭辞", "接尾辞"})
JOINING_SYMBOLS = frozenset({"一般"})  # 補助記号 subtypes that do not end a run: ・, ー, -
# Nouns that carry no topic on their own (こと, もの, ため, よう, ところ, ほう, 等): a run of only
# these is no content word. Sudachi's normalized forms.
FORMAL_NOUNS = frozenset(
    {"事", "物", "為", "様", "所", "方", "時", "中", "等", "際", "上",
     "こと", "もの", "ため", "よう", "ところ", "ほう", "とき"}
)  # fmt: skip
PART_POS = frozenset({"名詞", "形状詞"})
OPERATOR_WORDS = frozenset({"OR", "|", "AND", "&", "+", "NOT"})
NEGATED = re.compile(r"^-+\S")
WORD_CHARACTERS = re.compile(r"^\w+$")
FOREIGN_END = re.compile(r"[ァ-ヺーA-Za-z0-9]$")  # a symbol after these joins the next word


@dataclass(frozen=True)
class QueryWord:
    """One content word of a query and the other forms that find it, weaker each."""

    word: Word
    inside: tuple[Word, ...] = ()  # longer katakana/Latin words holding it (サブスク → …リプション)
    expansions: tuple[Word, ...] = ()  # synonyms: the same thing in other words
    related: tuple[Word, ...] = ()  # Sudachi's synonym dictionary: near words (年寄り → 高齢者)
    near: tuple[Word, ...] = ()  # the corpus's curated near concepts (温室効果ガス → 脱炭素)
    guessed: tuple[Word, ...] = ()  # for a word in no item: the nearest by vectors (空き家 → 住宅)
    loose: tuple[Word, ...] = ()  # its short units a particle apart
    parts: tuple[Word, ...] = ()  # a compound's content parts, one by one
    part_forms: tuple[tuple[Word, ...], ...] = ()  # each part's near concepts (ワクチン → 予防接種)
    predicate: bool = False  # a noun used as the query's verb (防止する): says little of its topic

    @property
    def text(self) -> str:
        return self.word.text


@dataclass(frozen=True)
class Understood:
    """What a query asks for: a literal parse, or content words matched graded."""

    query: str  # as cleaned (width folded, control characters gone, length capped)
    words: tuple[QueryWord, ...] = ()
    literal: ParsedQuery | None = None  # set when the query uses operators
    dropped: tuple[str, ...] = ()  # content words past MAX_WORDS, not searched
    expanded: tuple[tuple[Word, tuple[Word, ...]], ...] = ()  # a literal parse's synonyms
    phrases: tuple[tuple[str, ...], ...] = ()  # each sentence as typed, in exact units
    named: tuple[Name, ...] = ()  # departments, rows and columns named: filters, not words
    respelled: tuple[tuple[str, str], ...] = ()  # kana typed → the indexed words it reads as

    @property
    def graded(self) -> bool:
        return self.literal is None

    @property
    def is_empty(self) -> bool:
        """Tell that the query holds nothing to search for (only particles or symbols)."""
        if self.literal is not None:
            return self.literal.is_empty
        return not self.words and not self.named

    @property
    def browses(self) -> bool:
        """Tell that the query only names departments, rows or columns: list their items."""
        return self.literal is None and not self.words and bool(self.named)


def has_operators(text: str) -> bool:
    """Tell whether a query uses the search operators, and so is taken literally.

    >>> has_operators("防災 OR 防犯"), has_operators("DX -推進"), has_operators('"働き方改革"')
    (True, True, True)
    >>> has_operators("介護予防の取り組み"), has_operators("- OR"), has_operators('""')
    (False, False, False)
    """
    pieces = [(m.group(1), m.group(2)) for m in PIECE.finditer(text)]
    words = [bare for _, bare in pieces if bare and bare not in OPERATOR_WORDS and bare.strip("-")]
    if any(phrase and phrase.strip() for phrase, _ in pieces):
        return True
    if any(NEGATED.match(bare) for bare in words):
        return True
    return bool(words) and any(bare in OPERATOR_WORDS for _, bare in pieces if bare)


def content_runs(piece: str) -> list[str]:
    """Split a piece of a query into its runs of content units, as written.

    >>> content_runs("介護予防の取り組み"), content_runs("ひきこもりの相談はどこ？")
    (['介護予防', '取り組み'], ['ひきこもり', '相談'])
    >>> content_runs("特殊詐欺を防ぐには"), content_runs("個人情報保護")
    (['特殊詐欺'], ['個人情報保護'])
    """
    return [piece[start:end] for start, end in content_spans(piece)]


def content_spans(piece: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each run of content units in `piece`.

    A run needs a noun or an adjectival noun: affixes alone (やすい of 分かりやすい) are none.
    """
    normalized, starts, ends = normalize(piece)
    runs: list[tuple[int, int]] = []
    current: list[int] | None = None  # [start, end, has a noun] in piece
    trailing_symbols = 0

    def close() -> None:
        if current is not None and current[2]:
            runs.append((current[0], current[1] - trailing_symbols))

    morphemes = list(sudachi_tokenizer().tokenize(normalized)) if normalized.strip() else []
    for at, morpheme in enumerate(morphemes):
        pos = morpheme.part_of_speech()
        start, end = starts[morpheme.begin()], ends[morpheme.end() - 1]
        if pos[0] == "接尾辞" and current is None:
            pass  # a suffix after a verb (働きやすい) starts no word
        # とき of 災害のとき障がい is a noun but joins neither word: it ends the run
        elif (pos[0] in CONTENT_POS or _nominal(morphemes, at)) and not _adverbial_formal(morpheme):
            if current is None:
                current = [start, end, False]
            else:
                current[1] = end
            current[2] = current[2] or pos[0] in PART_POS or pos[0] == "動詞"
            trailing_symbols = 0
        elif (
            pos[0] == "補助記号"
            and pos[1] in JOINING_SYMBOLS
            and current is not None
            and FOREIGN_END.search(piece[current[0] : current[1]])
        ):  # ワーク・ライフ・バランス is one word; 集約・統廃合 is two
            current[1], trailing_symbols = end, end - start + trailing_symbols
        else:
            close()
            current, trailing_symbols = None, 0
    close()
    return [(start, end) for start, end in runs if not _formal(piece[start:end])]


def _adverbial_formal(morpheme) -> bool:
    """Tell that a unit is a formal noun in kana used as an adverb (とき, ため, ところ).

    >>> [_adverbial_formal(m) for m in sudachi_tokenizer().tokenize("災害のとき障がい")]
    [False, False, True, False]
    """
    pos = morpheme.part_of_speech()
    surface = morpheme.surface()
    return pos[2] == "副詞可能" and surface in FORMAL_NOUNS and bool(HIRAGANA.match(surface))


def _nominal(morphemes: list, at: int) -> bool:
    """Tell that a verb's continuative form stands as a noun: 高齢者の見守り, 見守りを, 見守り強化.

    Before a particle that is not a conjunctive one (見守りについて, not 進めて), before a noun,
    or last; not before an auxiliary (備えた), a suffix (働きやすい) or a comma (防ぎ、).
    """
    pos = morphemes[at].part_of_speech()
    if pos[0] != "動詞" or pos[5] != "連用形-一般":
        return False
    if at + 1 == len(morphemes):
        return True
    following = morphemes[at + 1].part_of_speech()
    return following[0] == "名詞" or (following[0] == "助詞" and following[1] != "接続助詞")


def _only_particles(piece: str) -> bool:
    return all(u.part_of_speech in DROPPED_POS for u in sudachi_units(piece) if u.fine)


def _formal(run: str) -> bool:
    units = [u for u in sudachi_units(run) if u.fine]
    return all(u.text in FORMAL_NOUNS for u in units)


SURU = re.compile(r"(?:する|します|して|した|しな|しよう|させ|され|すれ|せず|できる|でき)")


def piece_words(piece: str) -> tuple[list[Word], str | None, set[str]]:
    """Return the content words of one space-separated piece, the span they stand in, and
    those that stand as its verb (a noun before する, beside another word).

    A piece in hiragana alone is one word (Sudachi's split of bare kana is a guess); a piece
    with no content run (a verb: 防ぐ) is one word as typed. The span, from the first word to
    the last, is given when there are several: the items holding it as typed rank first.

    >>> words, span, verbs = piece_words("学校の働き方改革について")
    >>> [w.text for w in words], span, verbs
    (['学校', '働き方改革'], '学校の働き方改革', set())
    >>> piece_words("児童虐待を防止するために")[2], piece_words("防止する")[2]
    ({'防止'}, set())
    """
    if HIRAGANA.match(piece):
        spans = [] if _only_particles(piece) else [(0, len(piece))]
    else:
        spans = content_spans(piece)
        if not spans and not _only_particles(piece):
            spans = [(0, len(piece))]
    words = [word for word in (analyse_word(piece[s:e]) for s, e in spans) if word is not None]
    span = piece[spans[0][0] : spans[-1][1]] if len(words) > 1 else None
    verbs = {piece[s:e] for s, e in spans if SURU.match(piece, e)} if len(spans) > 1 else set()
    return words, span, verbs


def loose_forms(word: Word) -> tuple[Word, ...]:
    """Return the word's short units with a particle between them.

    One particle at any one boundary, and one at every boundary: 人材育成 meets 人材の育成 and
    人材を育成 but not 人材確保と育成.

    >>> [w.fine for w in loose_forms(Word(("人材", "育成"), text="人材育成"))]
    [('人材', '_', '育成')]
    """
    units = [unit for unit in word.fine if unit != GAP]
    if word.exact or len(units) < 2 or len(units) > MAX_LOOSE_UNITS or GAP in word.fine:
        return ()
    boundaries = range(1, len(units))
    patterns: list[tuple[int, ...]] = []  # the number of gaps after each unit
    for at in boundaries:
        patterns.append(tuple(1 if b == at else 0 for b in boundaries))
    if len(units) > 2:
        patterns.append(tuple(1 for _ in boundaries))
    forms = []
    for pattern in patterns:
        fine = [units[0]]
        for unit, gaps in zip(units[1:], pattern, strict=True):
            fine += [GAP] * gaps + [unit]
        forms.append(Word(tuple(fine), text=word.text))
    return tuple(forms)


def compound_parts(word: Word) -> tuple[Word, ...]:
    """Return the content parts of a compound: its nouns of two characters or more.

    >>> [w.text for w in compound_parts(analyse_word("保育士"))]
    ['保育']
    >>> compound_parts(analyse_word("防災"))
    ()
    """
    if word.exact or len(word.fine) < 2:
        return ()
    parts = []
    for unit in sudachi_units(word.text):
        text, surface = unit.text.lower(), word.text[unit.start : unit.end]
        if (
            unit.fine
            and unit.part_of_speech in PART_POS
            and len(surface) > 1
            and WORD_CHARACTERS.match(surface)
            and not surface.isdigit()
            and text != word.key
        ):
            part = Word((text,), text=surface)
            if part not in parts:
                parts.append(part)
    return tuple(parts)


def inside_forms(word: Word, lexicon: Callable[[], Lexicon] | None) -> tuple[Word, ...]:
    """Return the longer katakana or Latin words of the index holding a katakana/Latin word."""
    if lexicon is None or word.exact or not KATAKANA_OR_LATIN.match(word.key):
        return ()
    found = (analyse_word(longer) for longer in lexicon().inside(word.text))
    return tuple(w for w in found if w is not None and w.key != word.key)


def expand(word: Word, synonyms: dict[str, list[Word]] | None) -> tuple[Word, ...]:
    """Return the synonym list's other words for `word` (none for a word with no key).

    >>> expand(Word((), reading="ヒナンジョ", text="ひなんじょ"), {"": [Word(("もり",))]})
    ()
    """
    if not word.key:
        return ()
    return tuple((synonyms or {}).get(word.key, ()))


def understand(
    text: str,
    synonyms: dict[str, list[Word]] | None = None,
    lexicon: Callable[[], Lexicon] | None = None,
    names: NameFinder | None = None,
    related: dict[str, list[Word]] | None = None,
    near: dict[str, list[Word]] | None = None,
    guess: Callable[[Word, tuple[Word, ...]], tuple[Word, ...]] | None = None,
) -> Understood:
    """Understand a query: literally when it uses operators, else as graded content words.

    :param lexicon: gives the index's words by reading and its katakana words (built lazily)
    :param names: recognises the departments, rows and columns named in the query
    :param related: Sudachi's synonym dictionary, trigger → words (at most MAX_RELATED used)
    :param near: the corpus's curated near concepts, word → words
    :param guess: the corpus words nearest to a word that no item holds, nor any of the
        other words linked to it (indexer.vectors)

    >>> understood = understand("介護予防の取り組み")
    >>> [w.text for w in understood.words], understood.graded
    (['介護予防', '取り組み'], True)
    >>> understand("防災 OR 防犯").graded
    False
    """
    cleaned = clean_query(text)
    if has_operators(cleaned):
        parsed = parse_query(cleaned, synonyms)
        return Understood(
            cleaned, literal=parsed, expanded=tuple(literal_expansions(parsed, synonyms))
        )
    words: list[Word] = []
    phrases: list[tuple[str, ...]] = []
    named: list[Name] = []
    respelled: list[tuple[str, str]] = []
    verbs: set[str] = set()
    pieces = [m.group(2) or m.group(1) or "" for m in PIECE.finditer(cleaned)]
    pieces = [p for p in pieces if p.strip() and p not in OPERATOR_WORDS]
    for piece in pieces:
        name = names.piece(piece) if names else None
        # A row or column typed alone (改革, 施策) is a word of the items too: searched as one.
        if name and (name.facet == DEPARTMENT or len(pieces) > 1):
            named.append(name)
            continue
        if lexicon and KANA_RUN.search(piece):
            spelled = lexicon().respell(piece)
            if spelled != piece:
                respelled.append((piece, spelled))
                piece = spelled
        found, span, piece_verbs = piece_words(piece)
        verbs.update(piece_verbs)
        for word in found:
            if names and (name := names.run(word.text)):
                named.append(name)
            elif word.key not in {w.key for w in words}:
                words.append(word)
        if span:
            phrases.append(exact_units(span))
    kept, dropped = words[:MAX_WORDS], tuple(w.text for w in words[MAX_WORDS:])
    return Understood(
        cleaned,
        tuple(
            query_word(word, synonyms, lexicon, related, near, guess, kept, word.text in verbs)
            for word in kept
        ),
        dropped=dropped,
        phrases=tuple(phrases[:MAX_WORDS]),
        named=tuple(dict.fromkeys(named)),
        respelled=tuple(respelled),
    )


def query_word(
    word: Word,
    synonyms: dict[str, list[Word]] | None,
    lexicon: Callable[[], Lexicon] | None,
    related: dict[str, list[Word]] | None,
    near: dict[str, list[Word]] | None,
    guess: Callable[[Word, tuple[Word, ...]], tuple[Word, ...]] | None,
    query: list[Word] = (),
    predicate: bool = False,
) -> QueryWord:
    """Return a content word with every other form that finds it, strongest first.

    A guess that holds another word of the `query` is left out: 漏えい's nearest word
    個人情報 would count 個人情報 twice in 個人情報の漏えい.
    """
    inside = inside_forms(word, lexicon)
    same = expand(word, synonyms)[:MAX_SYNONYMS]
    linked_words = expand(word, related)
    dictionary = tuple(w for w in linked_words if w not in same)[:MAX_RELATED]
    curated = tuple(w for w in expand(word, near) if w not in (*same, *linked_words))
    parts = compound_parts(word)
    linked = (*inside, *same, *dictionary, *curated)
    return QueryWord(
        word,
        inside,
        same,
        dictionary,
        curated[:MAX_RELATED],
        guessed=tuple(
            g
            for g in (guess(word, linked) if guess else ())
            if not any(other.text in g.text or other.key in g.key for other in query)
        ),
        loose=loose_forms(word),
        parts=parts,
        # Through the curated near concepts only: a common part's synonyms flood the partial
        # matches (児童 of 児童虐待 would bring every item on 子ども).
        part_forms=tuple(expand(part, near)[:MAX_RELATED] for part in parts),
        predicate=predicate,
    )


def literal_expansions(
    parsed: ParsedQuery, synonyms: dict[str, list[Word]] | None
) -> list[tuple[Word, tuple[Word, ...]]]:
    """Return each typed word of a literal parse with the synonyms its clause holds for it."""
    pairs: list[tuple[Word, tuple[Word, ...]]] = []
    added: set[Word] = set()
    for clause in parsed.must:
        for word in clause:
            others = tuple(o for o in expand(word, synonyms) if o in clause)
            if others and not word.exact and word not in added:
                pairs.append((word, others))
                added.update(others)
    return pairs
