"""The relevance benchmark: every engine runs a small judged subset and the table reports it."""

from __future__ import annotations

import doctest
import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import bench.engines
from bench.engines import ENGINES, parse_boolean
from bench.relevance import main, markdown_table, run_benchmark

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
JUDGMENTS = Path(__file__).resolve().parent / "relevance" / "queries.toml"
SUBSET = ("防災", "ＤＸ", "ぼうさい", '"働き方改革"', "DX -推進", "京都")
HAS_GROONGA = shutil.which("groonga") is not None


@pytest.fixture(scope="module")
def subset_path(tmp_path_factory) -> Path:
    blocks = JUDGMENTS.read_text(encoding="utf-8").split("[[query]]")[1:]
    chosen = [block for block in blocks if tomllib.loads(block)["q"] in SUBSET]
    assert len(chosen) == len(SUBSET)
    path = tmp_path_factory.mktemp("bench") / "subset.toml"
    path.write_text("".join("[[query]]" + block for block in chosen), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report(subset_path) -> dict:
    return run_benchmark(CORPUS, subset_path)


def test_the_table_names_every_engine_and_kind(report):
    expected = [name for name in ENGINES if HAS_GROONGA or name != "Groonga"]
    assert report["engines"] == expected
    table = markdown_table(report)
    header = table.splitlines()[0]
    assert all(f" {name} |" in header for name in expected)
    kinds = ["literal", "width", "reading", "precision", "phrase", "operator"]
    assert report["kinds"] == [*kinds, "overall"]
    rows = [line.split(" | ")[0].strip("| *") for line in table.splitlines()[2:9]]
    assert rows == report["kinds"]
    assert f"Errors (queries scored 0): {', '.join(f'{n} 0' for n in expected)}." in table


def test_every_engine_returns_ids_of_the_corpus(report, seed_items):
    known = {item.id for item in seed_items}
    for name in report["engines"]:
        assert set(report["ranked"][name]) == set(SUBSET)
        for query, ranked in report["ranked"][name].items():
            assert isinstance(ranked, list)
            assert set(ranked) <= known and len(set(ranked)) == len(ranked), (name, query)
    assert len(report["ranked"]["substring"]["防災"]) == 16
    assert report["ranked"]["substring"]["京都"] != []  # 東京都 holds 京都


def test_this_engine_scores_at_least_the_substring_engine(report):
    mine, substring = report["scores"]["this engine"], report["scores"]["substring"]
    assert mine["overall"]["f1"] >= substring["overall"]["f1"]
    assert mine["overall"]["ndcg10"] >= substring["overall"]["ndcg10"]
    assert "this engine" in report["best"]["overall"]


def test_groonga_runs_when_installed(report):
    if not HAS_GROONGA:
        if os.environ.get("REQUIRE_GROONGA") == "1":
            pytest.fail("REQUIRE_GROONGA=1 but groonga is not installed (groonga-bin)")
        pytest.skip("groonga is not installed")
    assert report["errors"]["Groonga"] == 0
    ranked = report["ranked"]["Groonga"]
    assert ranked["ＤＸ"] and ranked["DX -推進"]
    assert set(ranked["DX -推進"]) < set(ranked["ＤＸ"])  # NormalizerAuto folds the width


def test_a_missing_groonga_is_skipped_with_a_note(subset_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    result = run_benchmark(CORPUS, subset_path, engines=["Groonga", "substring"])
    assert result["engines"] == ["substring"]
    assert "apt-get install groonga-bin" in result["skipped"]["Groonga"]
    assert "Skipped Groonga: groonga is not installed" in markdown_table(result)


class BrokenEngine:
    name = "broken"

    def __init__(self, items, corpus_dir, workdir):
        pass

    def search(self, query: str) -> list[str]:
        raise ValueError("no")

    def close(self) -> None:
        pass


def test_an_engine_that_fails_scores_zero_and_is_counted(subset_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "broken", BrokenEngine)
    result = run_benchmark(CORPUS, subset_path, engines=["broken"])
    assert result["errors"]["broken"] == len(SUBSET)
    assert result["scores"]["broken"]["precision"] == {"f1": 0.0, "ndcg10": 0.0}
    assert result["error_queries"]["broken"]["京都"] == "ValueError: no"


def test_query_syntax_shared_by_the_translating_peers():
    query = parse_boolean('保育 -保育園 "安心・安全" ＤＸ OR DX')
    assert query.must == [("保育",), ("安心・安全",), ("ＤＸ", "DX")]
    assert query.exclude == ["保育園"]


def test_docstring_examples():
    result = doctest.testmod(bench.engines)
    assert result.attempted > 0 and result.failed == 0


def test_the_command_prints_json_and_has_help(subset_path):
    runner = CliRunner()
    assert "nDCG@10" in runner.invoke(main, ["--help"]).output
    args = ["--judgments", str(subset_path), "--engine", "substring", "--format", "json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["engines"] == ["substring"] and "ranked" not in data
