"""Every command of `python -m indexer`, its help, and its errors."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from indexer.cli import cli
from tests.conftest import CORPUS, ROOT


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help(runner, command):
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert cli.commands[command].help.splitlines()[0] in result.output
    assert f"`python -m indexer {command}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_build_prints_a_summary(runner, tmp_path):
    result = runner.invoke(cli, ["build", "--corpus", str(CORPUS), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert "   38  教育委員会事務局" in result.output
    assert "475 items from 20 departments indexed into" in result.output


def test_a_broken_corpus_fails_with_file_and_line_and_keeps_the_index(runner, tmp_path):
    index_dir = tmp_path / "ix"
    assert runner.invoke(cli, ["build", "--index", str(index_dir)]).exit_code == 0
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    seed = corpus / "itabashi-r5-keiei-hoshin.txt"
    seed.write_text(seed.read_text(encoding="utf-8").replace("2. 総務部", "3. 総務部"))
    result = runner.invoke(cli, ["build", "--corpus", str(corpus), "--index", str(index_dir)])
    assert result.exit_code == 1
    assert "itabashi-r5-keiei-hoshin.txt:16: heading number 3 out of sequence" in result.output
    search = runner.invoke(cli, ["search", "防災", "--json", "--index", str(index_dir)])
    assert json.loads(search.output)["total"] == 16


def test_search_text_and_json(runner, seed_index_dir):
    text = runner.invoke(cli, ["search", "防災", "--limit", "3", "--index", str(seed_index_dir)])
    assert text.exit_code == 0
    assert text.output.startswith("16 items\n")
    assert "department: 危機管理部 15, まちづくり推進室 1" in text.output
    args = ["search", "防災", "--json", "--dept", "危機管理部", "--index", str(seed_index_dir)]
    data = json.loads(runner.invoke(cli, args).output)
    assert data["total"] == 15 and len(data["hits"]) == 10
    assert data["hits"][0]["highlight"].count("<mark>防災</mark>") >= 1
    departments = {f["value"]: f["count"] for f in data["facets"]["department"]}
    assert departments["危機管理部"] == 15 and departments["まちづくり推進室"] == 1
    assert sum(f["count"] for f in data["facets"]["category"]) == 15


def test_search_prints_what_it_did_with_a_sentence(runner, seed_index_dir):
    args = ["search", "介護予防の取り組み", "--limit", "3", "--index", str(seed_index_dir)]
    output = runner.invoke(cli, args).output
    lines = output.splitlines()
    assert re.fullmatch(r"\d+ items \(1 with every word: すべての語を含む項目\)", lines[0])
    assert lines[1] == "words: 介護予防、取り組み"
    assert "---- 一部の語を含む項目" in output and "含まない語: 取り組み" in output
    only = runner.invoke(cli, [*args, "--match", "all"]).output
    assert only.startswith("1 items\n") and "含まない語" not in only
    old = runner.invoke(cli, ["search", "年寄り", "--index", str(seed_index_dir)]).output
    assert "年寄り → 高齢者 なども検索" in old
    plain = runner.invoke(cli, ["search", "年寄り", "--no-expand", "--index", str(seed_index_dir)])
    assert plain.output.startswith("0 items")
    nothing = runner.invoke(cli, ["search", "のにを", "--index", str(seed_index_dir)])
    assert nothing.exit_code == 0 and "no word to search for" in nothing.output


def test_search_errors_are_sentences(runner, seed_index_dir, tmp_path):
    unknown = runner.invoke(
        cli, ["search", "x", "--dept", "無い部", "--index", str(seed_index_dir)]
    )
    assert unknown.exit_code == 1 and "unknown department: 無い部" in unknown.output
    missing = runner.invoke(cli, ["search", "x", "--index", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no index at" in missing.output


def test_export_jsonl_and_csv(runner, seed_items):
    lines = runner.invoke(cli, ["export"]).output.splitlines()
    assert len(lines) == 475
    records = [json.loads(line) for line in lines]
    assert records[0]["id"] == seed_items[0].id and records[-1]["text"] == seed_items[-1].text
    required = "id fiscal_year department_no department category column position text".split()
    assert set(records[0]) >= set(required)
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(cli, ["export", "--format", "csv"]).output))
    )
    assert len(rows) == 475 and rows[41]["text"] == seed_items[41].text


def test_python_dash_m_indexer_runs(seed_index_dir):
    command = [sys.executable, "-m", "indexer", "search", "ＤＸ", "--json"]
    command += ["--index", str(seed_index_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(done.stdout)["total"] == 30  # 28 hold DX, 2 only its near concepts
