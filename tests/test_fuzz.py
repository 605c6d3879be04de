"""Schemathesis against the production server: every operation of /api/openapi.json, fuzzed.

The test runs `st run` over the document the server itself serves, with Schemathesis's default
checks (no 5xx, answers and headers as described, content types, invalid input refused, valid
input accepted, methods other than GET refused) and a bounded number of examples per operation.
This file is also the run's hooks module (`SCHEMATHESIS_HOOKS`): its hooks put Japanese and
random Unicode in every free-text parameter, beside the strings Schemathesis makes itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st

from bench.serving import production_server

MAX_EXAMPLES = 40
SEED = 13
ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = 6

WORDS = [
    "防災",
    "介護予防の取り組み",
    "ＤＸ",
    "危機管理部",
    "ぼう",
    "こうれいしゃ",
    "ﾃﾞｼﾞﾀﾙ",
    "\u3000",
    "防災\u3000訓練",
    "😀",
    "👨‍👩‍👧",
    "𠮷野家",
    "〜",
    '"防災訓練"',
    "-防災",
    "OR",
    "の",
    "\u202e",
    "\ufeff",
]
FREE_TEXT = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(st.characters(codec="utf-8"), max_size=6)),
    min_size=1,
    max_size=4,
).map("".join)
FREE_LIST = st.lists(FREE_TEXT, min_size=1, max_size=3)
# The parameters that take any text: on /api/search the filters and switches have their values.
TEXT_PARAMS = {"/api/search": {"q"}}
LIST_PARAMS = {"dept", "category", "column"}
DEFAULT_TEXT_PARAMS = {"q", "match", "expand", "names", *LIST_PARAMS}


def japanese(query: dict[str, Any], names: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Return `query` with some of the named parameters replaced by Japanese or any text."""
    replaced = st.fixed_dictionaries(
        {},
        optional={name: FREE_LIST if name in LIST_PARAMS else FREE_TEXT for name in names},
    )
    return replaced.map(lambda extra: {**query, **extra})


@schemathesis.hook
def flatmap_query(context, query):
    """Put Japanese and random Unicode in the free-text parameters of every operation."""
    if query is None or context.operation is None or context.operation.path == "/api/item/{id}":
        return st.just(query)
    names = TEXT_PARAMS.get(context.operation.path, DEFAULT_TEXT_PARAMS)
    return st.one_of(st.just(query), japanese(query, names))


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Ask for items whose id is Japanese or any text, beside the ids Schemathesis makes."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), FREE_TEXT.map(lambda text: {"id": text}))


def run_schemathesis(base_url: str, report: Path) -> subprocess.CompletedProcess:
    """Run `st run` over the served document; its JSON report goes to `report`."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{base_url}/api/openapi.json",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.test_fuzz"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_schemathesis_finds_no_failure_on_any_operation(seed_index_dir, tmp_path):
    with production_server(seed_index_dir, tmp_path / "server.log") as (base_url, _):
        assert base_url.startswith("http://127.0.0.1:")
        run = run_schemathesis(base_url, tmp_path / "report.json")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["operations"]["tested"] == report["operations"]["total"] == OPERATIONS
    assert report["failures"] == report["errors"] == []
    assert report["test_cases"]["with_failures"] == report["test_cases"]["errored"] == 0
    ran = {name for name, phase in report["phases"].items() if phase["status"] == "success"}
    assert ran >= {"examples", "coverage", "fuzzing"}
    cases = report["test_cases"]["generated"]
    assert cases >= OPERATIONS * MAX_EXAMPLES
    seconds = report["running_time"]
    print(f"{OPERATIONS} operations, {cases} test cases, 0 failures in {seconds:.0f} s")
