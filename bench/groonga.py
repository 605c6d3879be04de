"""Groonga, the C full-text engine, as the performance peer: load the same items, serve them over
HTTP on loopback, and turn each benchmark query into a `select` with drilldowns and highlights.

The database mirrors the relevance benchmark's: bigrams (TokenBigram) over NormalizerAuto, one
index with positions on the text. Queries go through Groonga's own query syntax, which shares
ours for words, ``OR``, ``-word`` and ``"phrases"``; facet filters become ``--filter``.
Every `select` passes ``cache=no`` so that Groonga searches each time, as our server does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from bench.serving import stop
from indexer.corpus import PolicyItem

SCHEMA = (
    "table_create Items TABLE_HASH_KEY ShortText",
    "column_create Items text COLUMN_SCALAR Text",
    "column_create Items fiscal_year COLUMN_SCALAR UInt16",
    "column_create Items department COLUMN_SCALAR ShortText",
    "column_create Items category COLUMN_SCALAR ShortText",
    "column_create Items column COLUMN_SCALAR ShortText",
    "column_create Items order COLUMN_SCALAR UInt32",
    "table_create Terms TABLE_PAT_KEY ShortText"
    " --default_tokenizer TokenBigram --normalizer NormalizerAuto",
    "column_create Terms items_text COLUMN_INDEX|WITH_POSITION Items text",
)
LOAD_BATCH = 5000
OUTPUT = "_key,_score,fiscal_year,department,category,column,text,highlight_html(text)"
FACETS = {"departments": "department", "categories": "category", "columns": "column"}


class GroongaMissing(Exception):
    """The `groonga` program is not installed; the message says how to install it."""


def groonga_program() -> str:
    program = shutil.which("groonga")
    if program is None:
        raise GroongaMissing("groonga is not installed (Debian: apt-get install groonga-bin)")
    return program


def load_database(items: Sequence[PolicyItem], db_dir: Path) -> float:
    """Create a Groonga database of `items` in `db_dir`; return the seconds it took."""
    db_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [groonga_program(), *_logs(db_dir), "-n", str(db_dir / "db.grn")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )
    assert process.stdin and process.stdout
    try:
        commands = list(SCHEMA)
        for first in range(0, len(items), LOAD_BATCH):
            records = [_record(item) for item in items[first : first + LOAD_BATCH]]
            commands.append("load --table Items\n" + json.dumps(records, ensure_ascii=False))
        for command in commands:
            process.stdin.write(command + "\n")
            process.stdin.flush()
            header = json.loads(process.stdout.readline())[0]
            if header[0] != 0:
                raise RuntimeError(f"groonga error {header[0]}: {header[3]}")
    finally:
        process.stdin.close()
        process.wait(timeout=600)
        process.stdout.close()
    return time.perf_counter() - started


def _record(item: PolicyItem) -> dict:
    return {
        "_key": item.id,
        "text": item.text,
        "fiscal_year": item.fiscal_year,
        "department": item.department,
        "category": item.category,
        "column": item.column,
        "order": item.order,
    }


def _logs(db_dir: Path) -> list[str]:
    return ["--log-path", str(db_dir / "groonga.log"), "--query-log-path", str(db_dir / "q.log")]


@contextmanager
def http_server(db_dir: Path, port: int) -> Iterator[subprocess.Popen]:
    """Serve the database on 127.0.0.1:`port` until the block ends."""
    command = [groonga_program(), *_logs(db_dir), "-s", "--protocol", "http"]
    command += ["--bind-address", "127.0.0.1", "--port", str(port), str(db_dir / "db.grn")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop(process)


def select_path(
    query: str, filters: Mapping[str, Sequence[str]], page: int = 1, per_page: int = 20
) -> str:
    """Return the `select` URL path for one benchmark query: a page of hits, highlighted text and
    a drilldown per facet.

    >>> select_path("防災", {"departments": ["危機管理部"]}).split("&")[4]
    'filter=%28department+%3D%3D+%22%E5%8D%B1%E6%A9%9F%E7%AE%A1%E7%90%86%E9%83%A8%22%29'
    """
    params = {"table": "Items", "output_columns": OUTPUT, "command_version": "2"}
    params["cache"] = "no"
    conditions = [
        "(" + " || ".join(f"{FACETS[name]} == {_string(v)}" for v in values) + ")"
        for name, values in filters.items()
        if values
    ]
    if conditions:
        params["filter"] = " && ".join(conditions)
    if query.strip():
        params.update(match_columns="text", query=query, sort_keys="-_score,order")
    else:
        params["sort_keys"] = "order"
    params.update(drilldown="department,category,column", drilldown_limit="-1")
    params.update(offset=str((page - 1) * per_page), limit=str(per_page))
    return "/d/select?" + urlencode(params)


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
