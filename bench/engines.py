"""The engines of the relevance benchmark: this one and five peers built from the same items.

Each takes the corpus's items, the corpus directory and a working directory, and answers a
query string, exactly as typed in the judged set, with its whole ranked list of item ids. An
engine that lists partial matches after the full ones (this one) also has `ranked_and_full`:
the same list and how many of its first hits hold every word, which is what F1 counts.

* this engine: `PolicyIndex.search`, page after page; full matches first, then partial ones.
* Groonga: the `groonga` program, TokenBigram + NormalizerAuto, its own query syntax.
* SQLite FTS5 trigram: a small translator (`to_sqlite`) from our query syntax to SQL.
* substring: Python `in` over the item text, our query syntax, document order.
* Whoosh default: `StandardAnalyzer` and Whoosh's `QueryParser`, nothing Japanese.
* Sudachi OR BM25: what Elasticsearch with analysis-sudachi answers to a default `match` query.
  Plain sudachidict-core in split mode C (none of this project's analysis: no readings, no
  multi-granular units, no synonyms, no user dictionary), particles, auxiliary verbs, symbols
  and white space dropped (`sudachi_part_of_speech`), Lucene's Japanese stop words dropped
  (`sudachi_ja_stop`, on the dictionary form as after `sudachi_baseform`), then the normalized
  form (`sudachi_normalizedform`), lower-cased. The query goes through the same analyzer and
  its terms are OR-ed, ranked by Whoosh's BM25F, ties in document order.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sudachipy
from whoosh import index as whoosh_index
from whoosh.analysis import (
    CompositeAnalyzer,
    Filter,
    LowercaseFilter,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser
from whoosh.query import Or, Term

from indexer.build import build_index
from indexer.corpus import PolicyItem
from indexer.search import MAX_PER_PAGE, Hit, PolicyIndex

TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


class EngineUnavailable(Exception):
    """An engine cannot run on this machine; the message says what to install."""


class Engine(Protocol):
    name: str

    def search(self, query: str) -> list[str]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BooleanQuery:
    must: list[tuple[str, ...]]  # AND of OR-groups
    exclude: list[str]


def parse_boolean(query: str) -> BooleanQuery:
    """Split a query into AND-ed OR-groups and excluded words ("a phrase" is one word).

    >>> parse_boolean('防災 OR 防犯 "働き方改革" -推進')
    BooleanQuery(must=[('防災', '防犯'), ('働き方改革',)], exclude=['推進'])
    """
    must: list[tuple[str, ...]] = []
    exclude: list[str] = []
    joining = False
    for minus, quoted, plain in TOKEN.findall(query):
        if plain == "OR":
            joining = bool(must)
            continue
        negated = bool(minus) or (plain.startswith("-") and len(plain) > 1)
        word = quoted if not plain else plain[1:] if negated else plain
        if not word.strip() or word == "-":
            continue
        if negated:
            exclude.append(word)
        elif joining:
            must[-1] = (*must[-1], word)
        else:
            must.append((word,))
        joining = False
    return BooleanQuery(must, exclude)


class ThisEngine:
    """This project's index: SudachiPy analysis, synonyms, readings, Whoosh BM25F."""

    name = "this engine"

    def __init__(self, items: list[PolicyItem], corpus_dir: Path, workdir: Path):
        build_index(corpus_dir, workdir / "index")
        self.index = PolicyIndex(workdir / "index")

    def search(self, query: str) -> list[str]:
        return [hit.id for hit in self._hits(query)]

    def ranked_and_full(self, query: str) -> tuple[list[str], int]:
        """Return the ranked ids and how many of the first hold every word of the query."""
        hits = self._hits(query)
        full = next((n for n, hit in enumerate(hits) if hit.matched != "all"), len(hits))
        return [hit.id for hit in hits], full

    def _hits(self, query: str) -> list[Hit]:
        hits: list[Hit] = []
        page = 1
        while True:
            result = self.index.search(query, page=page, per_page=MAX_PER_PAGE)
            hits += result.hits
            if len(hits) >= result.total or not result.hits:
                return hits
            page += 1

    def close(self) -> None:
        self.index.current().searcher.close()


class GroongaEngine:
    """One long-running `groonga` process: bigrams, NormalizerAuto, Groonga's query syntax."""

    name = "Groonga"
    SCHEMA = (
        "table_create Items TABLE_HASH_KEY ShortText",
        "column_create Items text COLUMN_SCALAR Text",
        "column_create Items order COLUMN_SCALAR UInt32",
        "table_create Terms TABLE_PAT_KEY ShortText"
        " --default_tokenizer TokenBigram --normalizer NormalizerAuto",
        "column_create Terms items_text COLUMN_INDEX|WITH_POSITION Items text",
    )

    def __init__(self, items: list[PolicyItem], corpus_dir: Path, workdir: Path):
        program = shutil.which("groonga")
        if program is None:
            raise EngineUnavailable(
                "groonga is not installed (Debian: apt-get install groonga-bin)"
            )
        logs = ["--log-path", str(workdir / "groonga.log")]
        logs += ["--query-log-path", str(workdir / "query.log")]
        self.process = subprocess.Popen(
            [program, *logs, "-n", str(workdir / "db.grn")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        try:
            for command in self.SCHEMA:
                self.command(command)
            records = [{"_key": i.id, "text": i.text, "order": i.order} for i in items]
            self.command("load --table Items\n" + json.dumps(records, ensure_ascii=False))
        except BaseException:
            self.close()
            raise

    def command(self, line: str) -> list:
        """Send one command line and return the response body, raising on a Groonga error."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        response = self.process.stdout.readline()
        if not response:
            raise RuntimeError(f"groonga exited with {self.process.poll()}")
        header, *body = json.loads(response)
        if header[0] != 0:
            raise RuntimeError(f"groonga error {header[0]}: {header[3]}")
        return body

    def search(self, query: str) -> list[str]:
        quoted = '"' + query.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        body = self.command(
            f"select Items --match_columns text --query {quoted} --output_columns _key,_score"
            " --sort_keys -_score,order --limit -1"
        )
        return [row[0] for row in body[0][0][2:]]

    def close(self) -> None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


def to_sqlite(query: str) -> tuple[str, list[str]]:
    r"""Translate a query into SQL over the FTS5 table `items`, with its parameters.

    A word of three or more characters is a quoted trigram MATCH (a substring match); a shorter
    one is `text LIKE '%word%'`, since a trigram index cannot match under three characters. OR
    groups of long words and the AND between them go into one MATCH, which ranks by bm25; a
    group holding a short word, and every `-word`, become SQL conditions (a long word there by
    `rowid IN (… MATCH …)`). Without any MATCH the order is the document order. Limits: no
    normalisation beyond ASCII case (full width, kana and variants do not meet), LIKE-only
    queries are not ranked, a quoted phrase is a plain substring, and no parentheses.

    >>> sql, params = to_sqlite('"働き方改革" 防災 -DX')
    >>> print(sql)  # doctest: +NORMALIZE_WHITESPACE
    SELECT id FROM items WHERE items MATCH ? AND (text LIKE ? ESCAPE '\')
    AND NOT text LIKE ? ESCAPE '\' ORDER BY bm25(items), rowid
    >>> params
    ['("働き方改革")', '%防災%', '%DX%']
    """
    parsed = parse_boolean(query)
    matches, where, params = [], [], []

    def condition(word: str) -> str:
        if len(word) >= 3:
            params.append(_fts5_string(word))
            return "rowid IN (SELECT rowid FROM items WHERE items MATCH ?)"
        params.append("%" + re.sub(r"([\\%_])", r"\\\1", word) + "%")
        return "text LIKE ? ESCAPE '\\'"

    for group in parsed.must:
        if all(len(word) >= 3 for word in group):
            matches.append("(" + " OR ".join(map(_fts5_string, group)) + ")")
        else:
            where.append("(" + " OR ".join(map(condition, group)) + ")")
    where += ["NOT " + condition(word) for word in parsed.exclude]
    order = "rowid"
    if matches:
        where.insert(0, "items MATCH ?")
        params.insert(0, " AND ".join(matches))
        order = "bm25(items), rowid"
    if not parsed.must:
        where.append("0")  # nothing but exclusions matches nothing, as in the other engines
    return f"SELECT id FROM items WHERE {' AND '.join(where)} ORDER BY {order}", params


def _fts5_string(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


class SqliteTrigramEngine:
    """SQLite FTS5 with the trigram tokenizer, queried through `to_sqlite`."""

    name = "SQLite FTS5 trigram"

    def __init__(self, items: list[PolicyItem], corpus_dir: Path, workdir: Path):
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE items USING fts5(id UNINDEXED, text, tokenize='trigram')"
        )
        self.db.executemany(
            "INSERT INTO items (rowid, id, text) VALUES (?, ?, ?)",
            [(item.order + 1, item.id, item.text) for item in items],
        )

    def search(self, query: str) -> list[str]:
        sql, params = to_sqlite(query)
        return [row[0] for row in self.db.execute(sql, params)]

    def close(self) -> None:
        self.db.close()


class SubstringEngine:
    """Case-sensitive Python `in`: words AND-ed, OR groups, `-word` excluded, document order."""

    name = "substring"

    def __init__(self, items: list[PolicyItem], corpus_dir: Path, workdir: Path):
        self.items = sorted(items, key=lambda item: item.order)

    def search(self, query: str) -> list[str]:
        parsed = parse_boolean(query)
        if not parsed.must:
            return []
        return [
            item.id
            for item in self.items
            if all(any(word in item.text for word in group) for group in parsed.must)
            and not any(word in item.text for word in parsed.exclude)
        ]

    def close(self) -> None:
        pass


class WhooshDefaultEngine:
    """Whoosh out of the box: `TEXT()` with StandardAnalyzer and the default QueryParser."""

    name = "Whoosh default"

    def __init__(self, items: list[PolicyItem], corpus_dir: Path, workdir: Path):
        schema = Schema(id=ID(stored=True), text=TEXT(stored=False))
        (workdir / "whoosh").mkdir()
        ix = whoosh_index.create_in(str(workdir / "whoosh"), schema)
        with ix.writer() as writer:
            for item in sorted(items, key=lambda item: item.order):
                writer.add_document(id=item.id, text=item.text)
        self.parser = QueryParser("text", schema)
        self.searcher = ix.searcher()

    def search(self, query: str) -> list[str]:
        results = self.searcher.search(self.parser.parse(query), limit=None)
        return [hit["id"] for hit in results]

    def close(self) -> None:
        self.searcher.close()


# Lucene's `_japanese_` stop words, the list `sudachi_ja_stop` uses.
JA_STOP_WORDS = frozenset(
    """
    の に は を た が で て と し れ さ ある いる も する から な こと として い や れる など
    なっ ない この ため その あっ よう また もの という あり まで られ なる へ か だ これ
    によって により おり より による ず なり られる において ば なかっ なく しかし について
    せ だっ その後 できる それ う ので なお のみ でき き つ における および いう さらに でも
    ら たり その他 に関する たち ます ん なら に対して 特に せる 及び これら とき では にて
    ほか ながら うち そして とともに ただし かつて それぞれ または お ほど ものの に対する
    ほとんど と共に といった です とも ところ ここ
    """.split()
)
# The parts of speech dropped: particles and auxiliary verbs (analysis-sudachi's stop tags),
# symbols and white space (what its tokenizer's `discard_punctuation` drops).
STOP_POS = frozenset({"助詞", "助動詞", "補助記号", "空白"})


@functools.cache
def plain_sudachi() -> sudachipy.Tokenizer:
    """Return a mode C tokenizer over sudachidict-core alone, as analysis-sudachi has it."""
    return sudachipy.Dictionary(dict="core").tokenizer(sudachipy.SplitMode.C)


class PlainSudachiTokenizer(Tokenizer):
    """Yield Sudachi's mode C morphemes as typed, each with `tag`, `base` and `normalized`.

    >>> [(t.text, t.tag) for t in PlainSudachiTokenizer()("介護予防の取り組み")]
    [('介護', '名詞'), ('予防', '名詞'), ('の', '助詞'), ('取り組み', '名詞')]
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
        mode: str = "",
        **kwargs,
    ):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for number, morpheme in enumerate(plain_sudachi().tokenize(value)):
            token.text = morpheme.surface()
            token.tag = morpheme.part_of_speech()[0]
            token.base = morpheme.dictionary_form()
            token.normalized = morpheme.normalized_form()
            token.stopped, token.boost = False, 1.0
            if keeporiginal:
                token.original = token.text
            if positions:
                token.pos = start_pos + number
            if chars:
                token.startchar = start_char + morpheme.begin()
                token.endchar = start_char + morpheme.end()
            yield token


class PartOfSpeechStopFilter(Filter):
    """Drop tokens whose part of speech is in STOP_POS.

    >>> [t.text for t in (PlainSudachiTokenizer() | PartOfSpeechStopFilter())("防災、の")]
    ['防災']
    """

    def __call__(self, tokens):
        return (token for token in tokens if token.tag not in STOP_POS)


class FormFilter(Filter):
    """Replace each token's text with one of Sudachi's forms (`base` or `normalized`).

    >>> [t.text for t in (PlainSudachiTokenizer() | FormFilter("normalized"))("子ども")]
    ['子供']
    """

    def __init__(self, form: str):
        self.form = form

    def __call__(self, tokens):
        for token in tokens:
            token.text = getattr(token, self.form)
            yield token


def words_or_ed(query: str) -> str:
    """Return the query's Sudachi words as typed, OR-ed in Groonga's query syntax.

    What a `match` query over the text asks of a bigram index: any of the words, not the whole
    sentence as one string (the benchmark's second Groonga row for natural queries).

    >>> words_or_ed("介護予防の取り組み")
    '"介護" OR "予防" OR "取り組み"'
    """
    words = [
        token.text
        for token in PlainSudachiTokenizer()(query)
        if token.tag not in STOP_POS and token.base not in JA_STOP_WORDS
    ]
    quoted = (word.replace("\\", "\\\\").replace('"', '\\"') for word in dict.fromkeys(words))
    return " OR ".join(f'"{word}"' for word in quoted)


def sudachi_analyzer() -> CompositeAnalyzer:
    """Return analysis-sudachi's chain: mode C, POS and stop words dropped, normalized, lower.

    >>> [t.text for t in sudachi_analyzer()("学校の働き方改革について")]
    ['学校', '働き方改革', 'つく']
    >>> [t.text for t in sudachi_analyzer()("ＤＸを進めること")]
    ['dx', '進める']
    """
    return (
        PlainSudachiTokenizer()
        | PartOfSpeechStopFilter()
        | FormFilter("base")
        | StopFilter(JA_STOP_WORDS, minsize=1, renumber=False)
        | FormFilter("normalized")
        | LowercaseFilter()
    )


class SudachiOrEngine:
    """Elasticsearch's `match` with analysis-sudachi: the query's terms OR-ed, BM25F."""

    name = "Sudachi OR BM25"

    def __init__(self, items: list[PolicyItem], corpus_dir: Path, workdir: Path):
        self.analyzer = sudachi_analyzer()
        schema = Schema(id=ID(stored=True), text=TEXT(analyzer=self.analyzer, stored=False))
        (workdir / "sudachi-or").mkdir()
        ix = whoosh_index.create_in(str(workdir / "sudachi-or"), schema)
        with ix.writer() as writer:
            for item in sorted(items, key=lambda item: item.order):
                writer.add_document(id=item.id, text=item.text)
        self.searcher = ix.searcher()

    def terms(self, query: str) -> list[str]:
        """Return the query's terms as the analyzer gives them (repeats kept, as ES keeps them)."""
        return [token.text for token in self.analyzer(query, mode="query")]

    def search(self, query: str) -> list[str]:
        terms = self.terms(query)
        if not terms:
            return []  # nothing left to search for: a `match` query finds nothing
        results = self.searcher.search(Or([Term("text", t) for t in terms]), limit=None)
        return [hit["id"] for hit in results]

    def close(self) -> None:
        self.searcher.close()


EngineFactory = Callable[[list[PolicyItem], Path, Path], Engine]
ENGINES: dict[str, EngineFactory] = {
    engine.name: engine
    for engine in (
        ThisEngine,
        GroongaEngine,
        SqliteTrigramEngine,
        SubstringEngine,
        WhooshDefaultEngine,
        SudachiOrEngine,
    )
}
