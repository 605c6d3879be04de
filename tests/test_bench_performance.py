"""The performance benchmark: smoke-run at a tenth of the seed, so that it cannot rot.

Timings are not checked (the suite runs on any machine): every row is there, every figure is a
sane number, no request failed, and the synthetic corpus goes through the real parser.
"""

from __future__ import annotations

import doctest
import json
import multiprocessing
import os
import shutil
import urllib.request
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner

import bench.build_curve
import bench.floor
import bench.groonga
import bench.loadgen
import bench.performance
import bench.profile
import bench.report
import bench.synthetic
from bench.engines import words_or_ed
from bench.loadgen import run_load
from bench.performance import QUERIES, BenchQuery, Plan, main, run_benchmark
from bench.profile import AREAS, BUILD_AREAS
from bench.report import BASELINE_ROWS, ROWS, markdown_report, public, targets
from bench.servers import MODES, OR_ED
from bench.serving import free_port, production_server, wait_for_200
from bench.synthetic import DEPARTMENTS_PER_DOCUMENT, EXTRA_DEPARTMENTS, write_synthetic_corpus
from indexer import build
from indexer.corpus import load_corpus
from indexer.search import PolicyIndex
from indexer.vocabulary import VOCABULARY_FILE, read_vocabulary

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
HAS_GROONGA = shutil.which("groonga") is not None
# One query of each kind; at 0.1× the department filters name departments it may lack.
SMOKE = [
    next(q for q in QUERIES if q.kind == kind) for kind in dict.fromkeys(q.kind for q in QUERIES)
]
SMOKE.append(BenchQuery("filtered", "計画", categories=("施策",), columns=("重点目標",)))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("performance")


@pytest.fixture(scope="module")
def report(workdir) -> dict:
    if not HAS_GROONGA and os.environ.get("REQUIRE_GROONGA") == "1":
        pytest.fail("REQUIRE_GROONGA=1 but groonga is not installed (groonga-bin)")
    plan = Plan(passes=2, rounds=1, seconds=0.3, starts=1)
    # The tree itself as the baseline: a second server measured beside ours, as another commit's.
    return run_benchmark([0.1], workdir, SMOKE, lambda scale: plan, baseline=ROOT)


def test_the_table_has_every_row_and_the_size(report):
    text = markdown_report(report)
    assert "| | 0.1× |" in text
    for label, _ in ROWS + BASELINE_ROWS:
        assert f"| {label} |" in text, label
    assert all(f"| {area} |" in text for area in AREAS + BUILD_AREAS)
    assert "Targets:" in text and "0.1×: zero HTTP errors" in text


def test_every_figure_is_sane(report):
    (size,) = report["sizes"]
    assert 20 < size["items"] < 200 and 0 < size["queries"] <= len(SMOKE)
    assert size["build_s"] > 0 and size["disk_mb"] > 0 and size["segments"] == 1
    assert size["build_rss_mb"] > 0 and size["server_rss_mb"] > 0 and size["start_s"] > 0
    for key in ("fn_cold", "fn_warm", "fn_idle"):
        assert size[key] and all(t > 0 for t in size[key])
    assert len(size["fn_warm"]) == 2 * size["queries"]
    assert sum(size["profile_warm"].values()) == pytest.approx(1.0)
    build = size["build_profile"]  # the sample is the whole corpus here
    assert build["sample"] == size["items"] and build["ms_per_item"] > 0
    assert sum(build["areas"].values()) == pytest.approx(1.0)
    assert build["areas"]["Sudachi tokenizer (native)"] > 0
    assert size["server_peak_mb"] > 0 and size["before"]["start_s"] > 0
    natural = sum(q.kind == "natural" for q in SMOKE)
    for mode in MODES:  # keep-alive and a new connection per request: both columns measured
        one, eight = size["one"][mode], size["eight"][mode]
        assert len(one["ours keyword"].latencies) == size["queries"] - natural
        assert len(one["ours natural"].latencies) == natural
        assert len(one["healthz"].latencies) == size["queries"]
        assert eight["ours keyword"].throughput > 0 and eight["ours natural"].throughput > 0
        assert len(one["before natural"].latencies) == natural and eight["before keyword"].requests
    zipf = size["zipf"]
    assert zipf["ours, cache off"].throughput > 0 and zipf["ours, cache on"].throughput > 0
    json_ready = public(report)["sizes"][0]
    assert json_ready["one"]["new connection"]["ours natural"]["errors"] == 0
    assert json_ready["zipf"]["ours, cache on"]["requests"] > 0
    assert json_ready["fn_warm"]["p95_ms"] > 0


def test_the_clients_connect_as_each_column_says(report, workdir, monkeypatch):
    """A keep-alive client opens one connection for its requests, the other one per request."""
    opened = []
    real = bench.loadgen.socket.create_connection
    monkeypatch.setattr(
        bench.loadgen.socket,
        "create_connection",
        lambda *args, **kwargs: opened.append(args) or real(*args, **kwargs),
    )
    with production_server(workdir / "x0.1" / "index", workdir / "again.log") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        for keep_alive, connections in ((True, 1), (False, 5)):
            opened.clear()
            load = run_load("127.0.0.1", port, ["/healthz"], 1, 5, 10, keep_alive=keep_alive)
            assert load.errors == 0 and len(load.latencies) == 5
            assert len(opened) == connections


def test_the_floor_is_measured_through_every_layer(report, workdir):
    figures = bench.floor.measure(workdir / "x0.1" / "index", requests=20, seconds=0.2, rounds=1)
    assert set(figures) == set(bench.floor.SERVERS) >= {"bare", "waitress", "ours"}
    for kind, row in figures.items():
        searched = set() if kind == "bare" else {"search keep-alive", "search new connection"}
        healthz = {"1 keep-alive", "1 new connection", "8 keep-alive", "8 new connection"}
        assert set(row) == healthz | searched and all(value > 0 for value in row.values())
    assert bench.floor.wsgi_microseconds(workdir / "x0.1" / "index", calls=20) > 0
    assert "--requests" in CliRunner().invoke(bench.floor.main, ["--help"]).output


def test_no_request_failed(report):
    (size,) = report["sizes"]
    results = bench.report.results(size, "ours") + bench.report.results(size, "groonga")
    results += bench.report.results(size, "before")
    assert len(results) >= 2 * 2 * 5 + 2 and all(r.errors == 0 for r in results)
    assert all(met for name, met, _ in targets(report) if "errors" in name)


def test_groonga_answers_the_same_queries_when_installed(report):
    if not HAS_GROONGA:
        assert "apt-get install groonga-bin" in report["groonga_skipped"]
        pytest.skip("groonga is not installed")
    (size,) = report["sizes"]
    assert report["groonga_skipped"] is None
    assert size["groonga_load_s"] > 0 and size["groonga_rss_mb"] > 0
    for mode in MODES:
        assert len(size["one"][mode]["groonga keyword"].latencies) == size["queries"] - 1
        assert size["eight"][mode]["groonga natural"].throughput > 0
        # The natural queries' words OR-ed, a row of context beside them.
        or_ed = size["one"][mode][f"groonga {OR_ED}"]
        assert len(or_ed.latencies) == sum(q.kind == "natural" for q in SMOKE)
        assert size["eight"][mode][f"groonga {OR_ED}"].throughput > 0
    assert size["zipf"]["groonga, cache on"].throughput > 0
    text = markdown_report(report)
    assert "| ours ÷ Groonga, natural p50 / p95 (1 client, new connection) | –" not in text
    assert "0.1×: keyword, new connection: throughput ≥ Groonga's (8 clients)" in text


@pytest.mark.skipif(not HAS_GROONGA, reason="groonga is not installed")
def test_groonga_finds_a_sentence_only_through_its_words_or_ed(tmp_path, seed_items):
    bench.groonga.load_database(seed_items, tmp_path)
    port = free_port()
    with bench.groonga.http_server(tmp_path, port) as process:
        wait_for_200(port, "/d/status", 60, process)

        def hits(query: str) -> int:
            path = bench.groonga.select_path(query, {})
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as answer:
                return json.load(answer)[1][0][0][0]

        assert hits("介護予防の取り組み") == 0  # one bigram string: no item holds it
        assert hits(words_or_ed("介護予防の取り組み")) >= 10
        assert hits(words_or_ed("防災")) == hits("防災") > 0


def test_synthetic_corpus_is_deterministic_and_parses(tmp_path):
    first = write_synthetic_corpus(CORPUS, tmp_path / "a", 2.0)
    second = write_synthetic_corpus(CORPUS, tmp_path / "b", 2.0)
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
    items = load_corpus(first.path)
    assert first.documents == 2 and len(items) == first.items == second.items
    assert len({item.id for item in items}) == len(items)
    assert {item.fiscal_year for item in items} == {2023, 2022}
    seed = load_corpus(CORPUS)
    pool = {item.department for item in seed} | set(EXTRA_DEPARTMENTS)
    assert {item.department for item in items} <= pool
    per_document = {(item.document, item.department) for item in items}
    assert len(per_document) == 2 * DEPARTMENTS_PER_DOCUMENT
    seed_words = set("".join(item.text for item in seed))
    assert set("".join(item.text for item in items)) <= seed_words | {" "}


def test_a_parallel_build_searches_exactly_like_one_process(tmp_path, monkeypatch, policy_index):
    monkeypatch.setattr(build, "PARALLEL_FROM", 100)
    build.build_index(CORPUS, tmp_path / "index")
    parallel = PolicyIndex(tmp_path / "index")
    assert len(parallel.current().searcher.reader().leaf_readers()) > 1
    for query in ("推進", "防災 OR 防犯", "DX -推進", '"働き方改革"', "", "ほいく"):
        a = parallel.search(query, per_page=100, categories=["施策", "改革"])
        b = policy_index.search(query, per_page=100, categories=["施策", "改革"])
        assert asdict(a) == asdict(b), query
    # Each writer process collected the vocabulary of its items; merged, it is the whole one.
    generation = (tmp_path / "index").resolve()
    assert not list(generation.glob(build.VOCABULARY_SHARES))
    merged = read_vocabulary(generation / VOCABULARY_FILE)
    whole = read_vocabulary(Path(policy_index.current().target) / VOCABULARY_FILE)
    assert len(merged) > 1000
    assert [vars(term) for term in merged.terms] == [vars(term) for term in whole.terms]


def test_a_failed_parallel_build_leaves_no_index_and_no_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "PARALLEL_FROM", 100)

    def fail_halfway(number: int, total: int) -> None:
        if number == total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build.build_index(CORPUS, tmp_path / "index", progress=fail_halfway)
    assert multiprocessing.active_children() == []
    assert [p.name for p in tmp_path.iterdir()] == [".index.lock"]


def test_the_command_checks_its_sizes_and_has_help():
    runner = CliRunner()
    assert "--sizes" in runner.invoke(main, ["--help"]).output
    result = runner.invoke(main, ["--sizes", "ten"])
    assert result.exit_code != 0 and "--sizes takes numbers" in result.output


@pytest.mark.parametrize(
    "module",
    [
        bench.performance,
        bench.floor,
        bench.loadgen,
        bench.groonga,
        bench.profile,
        bench.report,
        bench.synthetic,
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_the_build_curve_times_each_count_and_pool():
    result = CliRunner().invoke(
        bench.build_curve.main, ["--scale", "0.1", "--items", "10,30", "--pool-mb", "1,64"]
    )
    assert result.exit_code == 0, result.output
    rows = [
        line for line in result.output.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert [row.split(" | ")[:2] for row in rows[1:]] == [
        ["| 10", "1"], ["| 10", "64"], ["| 30", "1"], ["| 30", "64"]
    ]  # fmt: skip
    assert all(float(row.split(" | ")[3].rstrip(" |")) > 0 for row in rows[1:])
    bad = CliRunner().invoke(bench.build_curve.main, ["--items", "ten"])
    assert bad.exit_code == 2 and "whole numbers" in bad.output
