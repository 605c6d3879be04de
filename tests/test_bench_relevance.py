"""The relevance benchmark: every engine runs small judged subsets and the tables report them."""

from __future__ import annotations

import doctest
import json
import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import bench.engines
from bench.engines import ENGINES, SudachiOrEngine, ThisEngine, parse_boolean
from bench.relevance import (
    main,
    markdown_report,
    markdown_table,
    natural_table,
    run_benchmark,
    run_benchmarks,
    run_natural,
)
from indexer.relevance import load_graded, load_judgments

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
JUDGMENTS = Path(__file__).resolve().parent / "relevance" / "queries.toml"
NATURAL = Path(__file__).resolve().parent / "relevance" / "natural.toml"
SUBSET = ("防災", "ＤＸ", "ぼうさい", '"働き方改革"', "DX -推進", "京都")
NATURAL_SUBSET = (  # one query of six kinds, one of them with nothing relevant
    "介護予防の取り組み",
    "ドローンの飛行ルールは？",
    "保育士 負担",
    "かいごよぼう",
    "福祉部の相談窓口",
    "ケアラー",
)
NATURAL_KINDS = ["sentence", "question", "sparse", "kana", "name", "katakana_part"]
HAS_GROONGA = shutil.which("groonga") is not None
SUDACHI_OR = "Sudachi OR BM25"


def _subset(source: Path, queries: tuple[str, ...], path: Path) -> Path:
    blocks = source.read_text(encoding="utf-8").split("[[query]]")[1:]
    chosen = [block for block in blocks if tomllib.loads(block)["q"] in queries]
    assert len(chosen) == len(queries)
    path.write_text("".join("[[query]]" + block for block in chosen), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def subset_path(tmp_path_factory) -> Path:
    return _subset(JUDGMENTS, SUBSET, tmp_path_factory.mktemp("bench") / "subset.toml")


@pytest.fixture(scope="module")
def natural_path(tmp_path_factory) -> Path:
    return _subset(NATURAL, NATURAL_SUBSET, tmp_path_factory.mktemp("bench") / "natural.toml")


@pytest.fixture(scope="module")
def reports(subset_path, natural_path) -> dict:
    return run_benchmarks(CORPUS, {"keyword": subset_path, "natural": natural_path})


@pytest.fixture(scope="module")
def report(reports) -> dict:
    return reports["keyword"]


@pytest.fixture(scope="module")
def natural(reports) -> dict:
    return reports["natural"]


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


def test_an_engine_that_fails_natural_queries_scores_zero(natural_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "broken", BrokenEngine)
    result = run_natural(CORPUS, natural_path, engines=["broken"])
    assert result["errors"]["broken"] == len(NATURAL_SUBSET)
    # nothing is relevant for the drone question, so it is no zero result, but it scores 0
    assert result["scores"]["broken"]["question"] == {
        "ndcg10": 0.0,
        "zero_result_rate": 0.0,
        "success3": 0.0,
    }
    assert result["scores"]["broken"]["overall"]["zero_result_rate"] == 5 / 6
    assert result["best"]["overall"] == ["broken"]


def test_query_syntax_shared_by_the_translating_peers():
    query = parse_boolean('保育 -保育園 "安心・安全" ＤＸ OR DX')
    assert query.must == [("保育",), ("安心・安全",), ("ＤＸ", "DX")]
    assert query.exclude == ["保育園"]


def test_docstring_examples():
    result = doctest.testmod(bench.engines)
    assert result.attempted > 0 and result.failed == 0


def test_the_command_prints_json_and_has_help(subset_path, natural_path):
    runner = CliRunner()
    help_text = runner.invoke(main, ["--help"]).output
    assert "nDCG@10" in help_text and "success@3" in help_text and "--set" in help_text
    args = ["--judgments", str(subset_path), "--natural", str(natural_path)]
    result = runner.invoke(main, [*args, "--engine", "substring", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["keyword", "natural"]
    assert data["keyword"]["engines"] == ["substring"] and "ranked" not in data["keyword"]
    assert data["natural"]["engines"] == ["substring"] and "ranked" not in data["natural"]
    overall = data["natural"]["scores"]["substring"]["overall"]
    assert overall["zero_result_rate"] == 4 / 6  # found: ケアラー; nothing to find: ドローン
    assert overall["success3"] == 2 / 6 and 0 < overall["ndcg10"] < 1
    assert data["keyword"]["scores"]["substring"]["overall"]["f1"] < 1


def test_the_command_runs_one_set_and_names_itself(natural_path):
    args = ["--set", "natural", "--natural", str(natural_path), "--engine", "substring"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("## Natural set (natural.toml)\n")
    assert "Keyword set" not in result.output
    command = (
        f"Command: `.venv/bin/python -m bench.relevance --set natural --natural {natural_path}"
        " --engine substring`."
    )
    assert command in result.output.splitlines()


def test_the_natural_table_names_every_engine_and_kind(natural):
    expected = [name for name in ENGINES if HAS_GROONGA or name != "Groonga"]
    assert natural["engines"] == expected
    assert natural["kinds"] == [*NATURAL_KINDS, "overall"]
    table = natural_table(natural, "python -m bench.relevance")
    lines = table.splitlines()
    assert lines[0] == "| kind | queries | " + " | ".join(expected) + " | best |"
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:9]]
    assert [row[0].strip("*") for row in rows] == natural["kinds"]
    assert [row[1] for row in rows] == ["1"] * 6 + ["6"]
    cell = re.compile(r"^[01]\.\d\d / \d{1,3} % / [01]\.\d\d$")
    assert all(cell.match(value) for row in rows for value in row[2:-1]), rows
    assert "this engine" in rows[-1][-1].split(", ")  # best overall by nDCG@10
    assert "Command: `python -m bench.relevance`." in lines
    assert f"Errors (queries scored 0): {', '.join(f'{n} 0' for n in expected)}." in lines


def test_every_engine_answers_natural_queries_with_ids_of_the_corpus(natural, seed_items):
    known = {item.id for item in seed_items}
    for name in natural["engines"]:
        assert set(natural["ranked"][name]) == set(NATURAL_SUBSET)
        for query, ranked in natural["ranked"][name].items():
            assert set(ranked) <= known and len(set(ranked)) == len(ranked), (name, query)


def test_the_sudachi_or_peer_finds_what_substring_misses(natural):
    ranked, scores = natural["ranked"], natural["scores"]
    on_topic = {"r5-keiei-06-shisaku-hoshin-01", "r5-keiei-06-shisaku-mokuhyo-02"}
    assert ranked["substring"]["介護予防の取り組み"] == []  # the sentence is one word for it
    assert set(ranked[SUDACHI_OR]["介護予防の取り組み"][:3]) & on_topic  # 介護 OR 予防 OR 取り組み
    assert scores["substring"]["sentence"] == {
        "ndcg10": 0.0,
        "zero_result_rate": 1.0,
        "success3": 0.0,
    }
    sentence = scores[SUDACHI_OR]["sentence"]
    assert sentence["zero_result_rate"] == 0.0 and sentence["success3"] == 1.0
    assert sentence["ndcg10"] > 0.5
    # ヤングケアラー is one mode C word: no subword match, where substring finds it
    assert ranked[SUDACHI_OR]["ケアラー"] == [] and len(ranked["substring"]["ケアラー"]) == 1


def test_the_sudachi_or_peer_analyses_like_analysis_sudachi(tmp_path, seed_items):
    engine = SudachiOrEngine(seed_items, CORPUS, tmp_path)
    try:
        assert engine.terms("介護予防の取り組み") == ["介護", "予防", "取り組み"]
        assert engine.terms("子どもたちの居場所がほしい？") == ["子供達", "居場所", "欲しい"]
        assert engine.terms("選挙管理委員会") == ["選挙管理委員会"]  # mode C, no shorter units
        assert engine.terms("ＤＸ DX") == ["dx", "dx"]  # ES keeps repeats: both count
        assert engine.terms("こと。、 の") == [] and engine.search("ですます") == []
        assert "いたばし" not in engine.terms("いたばし")  # not this project's user dictionary
        # no query syntax: OR, quotes and minus are text like any other
        terms = engine.terms('防災 OR 防犯 "働き方改革" -推進')
        assert terms == ["防災", "or", "防犯", "働き方改革", "推進"]
        either = set(engine.search("防災")) | set(engine.search("防犯"))
        assert set(engine.search("防災 防犯")) == either
    finally:
        engine.close()


def test_this_engine_counts_the_hits_holding_every_word(policy_index):
    engine = ThisEngine.__new__(ThisEngine)  # the session's index, not a second build
    engine.index = policy_index
    ranked, full = engine.ranked_and_full("介護予防の取り組み")
    hits = policy_index.search("介護予防の取り組み", per_page=100).hits
    assert ranked == engine.search("介護予防の取り組み") == [hit.id for hit in hits]
    assert 0 < full < len(ranked)
    assert full == sum(hit.matched == "all" for hit in hits)
    assert engine.ranked_and_full("防災") == (engine.search("防災"), 16)


class WholeListEngine:
    """Every relevant item, then one that is not."""

    name = "whole list"

    def __init__(self, items, corpus_dir, workdir):
        self.extra = items[0].id
        self.relevant = {j.query: sorted(j.relevant) for j in load_judgments(JUDGMENTS)}

    def search(self, query: str) -> list[str]:
        return [*self.relevant[query], self.extra]

    def close(self) -> None:
        pass


class PartialEngine(WholeListEngine):
    """The same list, telling that its last hit does not hold every word."""

    name = "partial"

    def ranked_and_full(self, query: str) -> tuple[list[str], int]:
        return self.search(query), len(self.relevant[query])


def test_f1_counts_only_the_full_matches_of_an_engine_that_tells_them(subset_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "partial", PartialEngine)
    monkeypatch.setitem(ENGINES, "whole list", WholeListEngine)
    result = run_benchmark(CORPUS, subset_path, engines=["partial", "whole list"])
    assert result["scores"]["partial"]["overall"]["f1"] == 1.0
    assert result["scores"]["whole list"]["overall"]["f1"] < 1.0
    assert (
        result["scores"]["partial"]["overall"]["ndcg10"]
        == result["scores"]["whole list"]["overall"]["ndcg10"]
    )


def test_both_sets_render_as_sections(reports):
    text = markdown_report(reports, "make it so")
    assert text.startswith("## Keyword set (subset.toml)\n\n| kind | queries |")
    assert "\n\n## Natural set (natural.toml)\n\n| kind | queries |" in text
    assert text.count("Command: `make it so`.") == 2
    assert markdown_table(reports["keyword"]) in text


def test_the_natural_set_is_whole_and_judged_on_corpus_items(seed_items):
    judgments = load_graded(NATURAL)
    known = {item.id for item in seed_items}
    assert len(judgments) == 104 and len({j.query for j in judgments}) == 104
    assert all(set(j.grades) <= known for j in judgments)
