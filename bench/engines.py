"""The engines of the relevance benchmark: this one and four peers built from the same items.

Each takes the corpus's items, the corpus directory and a working directory, and answers a
query string, exactly as typed in the judged set, with its whole ranked list of item ids.

* this engine: `PolicyIndex.search`, page after page.
* Groonga: the `groonga` program, TokenBigram + NormalizerAuto, its own query syntax.
* SQLite FTS5 trigram: a small translator (`to_sqlite`) from our query syntax to SQL.
* substring: Python `in` over the item text, our query syntax, document order.
* Whoosh default: `StandardAnalyzer` and Whoosh's `QueryParser`, nothing Japanese.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser

from indexer.build import build_index
from indexer.corpus import PolicyItem
from indexer.search import MAX_PER_PAGE, PolicyIndex

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
        ids: list[str] = []
        page = 1
        while True:
            result = self.index.search(query, page=page, per_page=MAX_PER_PAGE)
            ids += [hit.id for hit in result.hits]
            if len(ids) >= result.total or not result.hits:
                return ids
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


EngineFactory = Callable[[list[PolicyItem], Path, Path], Engine]
ENGINES: dict[str, EngineFactory] = {
    engine.name: engine
    for engine in (
        ThisEngine,
        GroongaEngine,
        SqliteTrigramEngine,
        SubstringEngine,
        WhooshDefaultEngine,
    )
}
