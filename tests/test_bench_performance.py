"""The performance benchmark: smoke-run at a tenth of the seed, so that it cannot rot.

Timings are not checked (the suite runs on any machine): every row is there, every figure is a
sane number, no request failed, and the synthetic corpus goes through the real parser.
"""

from __future__ import annotations

import doctest
import multiprocessing
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner

import bench.groonga
import bench.loadgen
import bench.performance
import bench.profile
import bench.report
import bench.synthetic
from bench.performance import QUERIES, BenchQuery, Plan, main, run_benchmark
from bench.profile import AREAS
from bench.report import ROWS, markdown_report, public, targets
from bench.synthetic import DEPARTMENTS_PER_DOCUMENT, EXTRA_DEPARTMENTS, write_synthetic_corpus
from indexer import build
from indexer.corpus import load_corpus
from indexer.search import PolicyIndex

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
HAS_GROONGA = shutil.which("groonga") is not None
# One query of each kind; at 0.1× the department filters name departments it may lack.
SMOKE = [
    next(q for q in QUERIES if q.kind == kind) for kind in dict.fromkeys(q.kind for q in QUERIES)
]
SMOKE.append(BenchQuery("filtered", "計画", categories=("施策",), columns=("重点目標",)))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    if not HAS_GROONGA and os.environ.get("REQUIRE_GROONGA") == "1":
        pytest.fail("REQUIRE_GROONGA=1 but groonga is not installed (groonga-bin)")
    plan = Plan(passes=2, rounds=1, seconds=0.3, starts=1)
    workdir = tmp_path_factory.mktemp("performance")
    return run_benchmark([0.1], workdir, SMOKE, lambda scale: plan)


def test_the_table_has_every_row_and_the_size(report):
    text = markdown_report(report)
    assert "| | 0.1× |" in text
    for label, _ in ROWS:
        assert f"| {label} |" in text, label
    assert all(f"| {area} |" in text for area in AREAS)
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
    one, eight = size["one"], size["eight"]
    assert len(one["ours"].latencies) == size["queries"] and one["healthz"].latencies
    assert eight["ours"].throughput > 0
    json_ready = public(report)["sizes"][0]
    assert json_ready["one"]["ours"]["errors"] == 0 and json_ready["fn_warm"]["p95_ms"] > 0


def test_no_request_failed(report):
    (size,) = report["sizes"]
    results = [*size["one"].values(), *size["eight"].values()]
    assert results and all(r.errors == 0 for r in results)
    assert all(met for name, met, _ in targets(report) if "errors" in name)


def test_groonga_answers_the_same_queries_when_installed(report):
    if not HAS_GROONGA:
        assert "apt-get install groonga-bin" in report["groonga_skipped"]
        pytest.skip("groonga is not installed")
    (size,) = report["sizes"]
    assert report["groonga_skipped"] is None
    assert size["groonga_load_s"] > 0 and size["groonga_rss_mb"] > 0
    assert len(size["one"]["groonga"].latencies) == size["queries"]
    assert size["eight"]["groonga"].throughput > 0
    assert "| ours ÷ Groonga, p50 (1 client) | –" not in markdown_report(report)


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
    [bench.performance, bench.loadgen, bench.groonga, bench.profile, bench.report, bench.synthetic],
)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
