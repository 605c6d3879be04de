"""Measure build, search, HTTP, start-up and memory at several corpus sizes, beside Groonga.

``python -m bench.performance --sizes 1,10,100,1000`` runs, for each size: a build of the index
in a fresh process, the search function over a fixed list of queries (first pass with nothing
cached, then warm passes) with a profile of each, the production server (``python -m webapp``)
over loopback with 1 and 8 clients, each keeping its connection or opening one per request,
keyword and natural queries apart, its start-up time and memory, and Groonga's HTTP server on
the same items, queried in turn with ours; then a Zipf mix of the queries with the caches on.
It prints one markdown table and the targets of docs/performance.md, met or not. Size 1 is the
seed corpus; any other size is a synthetic corpus from bench/synthetic.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import click

from bench import groonga
from bench.engines import words_or_ed
from bench.loadgen import median, percentile, zipf_mix
from bench.profile import BUILD_AREAS, build_area_of, profile_areas
from bench.report import markdown_report, public
from bench.servers import OR_ED, Servers
from bench.synthetic import write_synthetic_corpus
from indexer.analysis import forget_analyses
from indexer.build import index_in_process
from indexer.corpus import load_corpus
from indexer.highlight import clear_caches
from indexer.search import PolicyIndex

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SIZES = (1.0, 10.0, 100.0, 1000.0)
# A server waits for the network between requests; this much idle before each query of one
# pass of the search function shows what the wait costs a warm search (CPU caches, clocks).
IDLE_PAUSE = 0.0005
# The build's work per item is profiled on this many items of each corpus, in one process.
BUILD_SAMPLE = 1000


@dataclass(frozen=True)
class BenchQuery:
    """One query of the fixed list: what a person types, the facets they chose, the page."""

    kind: str
    text: str
    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    page: int = 1

    @property
    def filters(self) -> dict[str, tuple[str, ...]]:
        return {
            "departments": self.departments,
            "categories": self.categories,
            "columns": self.columns,
        }

    def api_path(self) -> str:
        """Return the `/api/search` path of this query.

        >>> BenchQuery("filtered", "推進", departments=("福祉部",), page=2).api_path()
        '/api/search?q=%E6%8E%A8%E9%80%B2&dept=%E7%A6%8F%E7%A5%89%E9%83%A8&page=2'
        """
        params = [("q", self.text)] + [("dept", d) for d in self.departments]
        params += [("category", c) for c in self.categories]
        params += [("column", c) for c in self.columns]
        return "/api/search?" + urlencode(params + ([("page", self.page)] if self.page > 1 else []))

    def select_path(self) -> str:
        return groonga.select_path(self.text, self.filters, self.page)

    def select_or_path(self) -> str:
        """Return the `select` path of this query's words OR-ed (`bench.engines.words_or_ed`)."""
        return groonga.select_path(words_or_ed(self.text), self.filters, self.page)


def _queries(kind: str, *texts: str) -> list[BenchQuery]:
    return [BenchQuery(kind, text) for text in texts]


# Every kind a person types, common words (10% of the items) to rare ones and no hit at all.
QUERIES: list[BenchQuery] = [
    *_queries("literal", "推進", "計画", "支援", "強化", "防災", "子育て", "公共施設", "窓口"),
    *_queries("literal", "脱炭素", "絵本のまち", "ペーパーレス", "キャッシュレス", "多文化共生"),
    *_queries("literal", "マイナンバーカード", "人材育成", "情報", "委員会", "高島平"),
    *_queries("literal", "ヤングケアラー", "スライド条項", "ネウボラ"),
    *_queries("width", "ＤＸ", "ＳＤＧｓ", "ＩＣＴ", "ＯＪＴ", "ｺﾛﾅ", "２０５０"),
    *_queries("reading", "ほいく", "ぼうさい", "こうれいしゃ", "けんこう", "こそだて", "ふくし"),
    *_queries("words", "防災 DX", "子ども 相談", "公共施設 あり方", "DX 人材", "窓口 DX"),
    *_queries("words", "情報 共有", "システム 標準化", "推進 計画 強化"),
    *_queries("phrase", '"公共施設のあり方"', '"働き方改革"', '"地域経済活性化"'),
    *_queries("phrase", '"地域防災力"', '"安心・安全"', '"経営革新計画"'),
    *_queries("operator", "防災 OR 防犯", "DX -推進", "コロナ -ポストコロナ", "保育 -保育園"),
    *_queries("operator", "高島平 OR 大山", "OJT OR 研修", "ペーパーレス OR キャッシュレス"),
    BenchQuery("filtered", "推進", departments=("危機管理部",)),
    BenchQuery("filtered", "推進", departments=("危機管理部", "福祉部")),
    BenchQuery("filtered", "計画", categories=("施策",), columns=("重点目標",)),
    BenchQuery("filtered", "DX", columns=("経営方針",)),
    BenchQuery("filtered", "子育て", departments=("子ども家庭部",), categories=("施策",)),
    BenchQuery("filtered", "防災", categories=("No.1プラン2025改訂",)),
    BenchQuery("browse", ""),
    BenchQuery("browse", "", departments=("総務部",)),
    BenchQuery("browse", "", categories=("改革",)),
    BenchQuery("browse", "", page=5),
    BenchQuery("page", "推進", page=3),
    BenchQuery("page", "計画", page=10),
    *_queries("no hit", "京都", "東京タワー"),
    # Queries as people type them, drawn from tests/relevance/natural.toml.
    *_queries("natural", "介護予防の取り組み", "学校の働き方改革について", "公共交通をよくしたい"),
    *_queries("natural", "ひきこもりの相談はどこ？", "特殊詐欺を防ぐには", "保育士 負担"),
    *_queries("natural", "区内の中小企業への支援策", "地震に強いまちにするには？", "年寄り"),
    *_queries("natural", "温室効果ガス", "こうきょうこうつう", "公共こうつう", "特殊さぎ"),
    *_queries("natural", "福祉部の相談窓口", "重点目標 防災", "会計管理室", "サブスク"),
]


@dataclass(frozen=True)
class Plan:
    """How much to measure at one size: passes of the function, rounds and seconds over HTTP."""

    passes: int
    rounds: int
    seconds: float
    starts: int

    @classmethod
    def for_size(cls, scale: float) -> Plan:
        if scale <= 1:
            return cls(passes=20, rounds=10, seconds=5.0, starts=3)
        if scale <= 10:
            return cls(passes=10, rounds=5, seconds=5.0, starts=3)
        if scale <= 100:
            return cls(passes=5, rounds=3, seconds=5.0, starts=1)
        return cls(passes=2, rounds=1, seconds=10.0, starts=1)


def log(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


def size_label(scale: float) -> str:
    """Name a corpus size as a multiple of the seed.

    >>> size_label(1.0), size_label(100.0), size_label(0.1)
    ('1×', '100×', '0.1×')
    """
    return f"{scale:g}×"


# ---- the index build


BUILD = """
import json, resource, sys, time
from indexer.build import build_index
started = time.perf_counter()
summary = build_index(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - started
peak = max(resource.getrusage(who).ru_maxrss for who in
           (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps({"seconds": seconds, "items": summary.items, "peak_kb": peak,
                  "generation": str(summary.generation)}))
"""


def measure_build(corpus_dir: Path, index_dir: Path, repeat: int = 1) -> dict:
    """Build the index in a fresh process `repeat` times (imports not counted); keep the last."""
    runs = []
    for _ in range(repeat):
        command = [sys.executable, "-c", BUILD, str(corpus_dir), str(index_dir)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.splitlines()[-1]))
    generation = Path(runs[-1]["generation"])
    return {
        "items": runs[-1]["items"],
        "build_s": median([run["seconds"] for run in runs]),
        "build_runs": [run["seconds"] for run in runs],
        "build_rss_mb": max(run["peak_kb"] for run in runs) / 1024,
        "disk_mb": directory_bytes(generation) / 2**20,
        "segments": len(list(generation.glob("*.seg"))),
    }


def profile_build(corpus_dir: Path, scratch: Path) -> dict:
    """Time and profile the build's work per item on a sample of the corpus, in one process.

    The sample is indexed three times into fresh directories: once to warm the caches a long
    build has warm, once timed, once under cProfile. The full build spreads the same work per
    item over one writer process per core.
    """
    items = load_corpus(corpus_dir)[:BUILD_SAMPLE]
    seconds = 0.0
    for run in ("warm", "timed", "profiled"):
        directory = scratch / f"build-sample-{run}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        forget_analyses()
        if run == "profiled":
            profiled = partial(index_in_process, directory, items)
            shares = profile_areas(profiled, BUILD_AREAS, build_area_of)
        else:
            started = time.perf_counter()
            index_in_process(directory, items)
            seconds = time.perf_counter() - started
        shutil.rmtree(directory)
    return {"sample": len(items), "ms_per_item": seconds * 1000 / len(items), "areas": shares}


def directory_bytes(path: Path) -> int:
    """Return the bytes the files under `path` take on disk (Groonga's are sparse), logs aside."""
    files = (p for p in path.rglob("*") if p.is_file() and ".log" not in p.name)
    return sum(p.stat().st_blocks * 512 for p in files)


# ---- the search function


def usable(queries: Iterable[BenchQuery], index: PolicyIndex) -> list[BenchQuery]:
    """Keep the queries whose facet values this corpus holds (a tiny one lacks departments)."""
    known = {name: set(index.facet_values(name)) for name in ("department", "category", "column")}
    return [
        q
        for q in queries
        if set(q.departments) <= known["department"]
        and set(q.categories) <= known["category"]
        and set(q.columns) <= known["column"]
    ]


def measure_search_function(index_dir: Path, queries: list[BenchQuery], passes: int) -> dict:
    """Time `PolicyIndex.search` per query: a first pass from cold caches, then warm passes."""
    clear_caches()
    started = time.perf_counter()
    index = PolicyIndex(index_dir)
    opened = time.perf_counter() - started
    queries = usable(queries, index)

    def one_pass(index: PolicyIndex, pause: float = 0.0) -> list[float]:
        times = []
        for q in queries:
            if pause:
                time.sleep(pause)
            started = time.perf_counter()
            index.search(q.text, page=q.page, **q.filters)
            times.append(time.perf_counter() - started)
        return times

    cold = one_pass(index)
    warm = [t for _ in range(passes) for t in one_pass(index)]
    idle = one_pass(index, pause=IDLE_PAUSE)
    by_kind: dict[str, list[float]] = {}
    for q, t in zip(queries * passes, warm, strict=True):
        by_kind.setdefault(q.kind, []).append(t)
    index.current().searcher.close()
    clear_caches()
    index = PolicyIndex(index_dir)  # nothing analysed, stored fields not read yet
    profile_cold = profile_areas(lambda: one_pass(index))
    profile_warm = profile_areas(lambda: one_pass(index))
    index.current().searcher.close()
    return {
        "queries": len(queries),
        "kept_queries": queries,
        "open_s": opened,
        "fn_cold": cold,
        "fn_warm": warm,
        "fn_idle": idle,
        "fn_kind_p95": {kind: percentile(ts, 95) * 1000 for kind, ts in by_kind.items()},
        "profile_cold": profile_cold,
        "profile_warm": profile_warm,
    }


# ---- one size, and the whole run


def by_kind(queries: list[BenchQuery], path: Callable[[BenchQuery], str]) -> dict[str, list[str]]:
    """Split the queries' paths into keyword queries and natural ones (sentences, questions).

    >>> by_kind([BenchQuery("literal", "推進"), BenchQuery("natural", "年寄り")], lambda q: q.text)
    {'keyword': ['推進'], 'natural': ['年寄り']}
    """
    return {
        "keyword": [path(q) for q in queries if q.kind != "natural"],
        "natural": [path(q) for q in queries if q.kind == "natural"],
    }


def prepare_corpus(scale: float, workdir: Path) -> Path:
    if scale == 1:
        return CORPUS
    return write_synthetic_corpus(CORPUS, workdir / "corpus", scale).path


def run_size(
    scale: float,
    workdir: Path,
    queries: list[BenchQuery],
    use_groonga: bool,
    plan: Plan,
    baseline: Path | None = None,
) -> dict:
    """Measure everything at one corpus size."""
    workdir.mkdir(parents=True, exist_ok=True)
    corpus_dir = prepare_corpus(scale, workdir)
    log(f"{size_label(scale)}: building the index")
    result: dict = {"scale": scale}
    result |= measure_build(corpus_dir, workdir / "index", repeat=3 if scale <= 1 else 1)
    log(f"{size_label(scale)}: {result['items']} items in {result['build_s']:.1f} s")
    result["build_profile"] = profile_build(corpus_dir, workdir)
    result |= measure_search_function(workdir / "index", queries, plan.passes)
    kept = result.pop("kept_queries")
    db_dir = None
    if use_groonga:
        log(f"{size_label(scale)}: loading Groonga")
        db_dir = workdir / "groonga"
        result["groonga_load_s"] = groonga.load_database(load_corpus(corpus_dir), db_dir)
        result["groonga_disk_mb"] = directory_bytes(db_dir) / 2**20
    log(f"{size_label(scale)}: HTTP")
    ours, theirs = by_kind(kept, BenchQuery.api_path), by_kind(kept, BenchQuery.select_path)
    # Groonga's select of a sentence is one bigram string, which matches next to nothing: its
    # words OR-ed are a second row, with work like ours (no target is read on it).
    theirs[OR_ED] = [q.select_or_path() for q in kept if q.kind == "natural"]
    mix = zipf_mix(len(kept))
    zipf = ([kept[i].api_path() for i in mix], [kept[i].select_path() for i in mix])
    servers = Servers(workdir / "index", db_dir, workdir / "server.log", baseline)
    result |= servers.measure(
        ours, theirs if db_dir else {}, plan.rounds, plan.seconds, plan.starts, zipf
    )
    return result


def run_benchmark(
    sizes: Iterable[float] = SIZES,
    workdir: Path | None = None,
    queries: list[BenchQuery] | None = None,
    plan: Callable[[float], Plan] = Plan.for_size,
    baseline: Path | None = None,
) -> dict:
    """Run every size; Groonga is left out (with a note) when it is not installed.

    :param baseline: the source tree of another commit, whose server is measured beside ours
    """
    note = None
    try:
        groonga.groonga_program()
    except groonga.GroongaMissing as error:
        if os.environ.get("REQUIRE_GROONGA") == "1":
            raise
        note = str(error)
    report: dict = {"machine": machine(), "sizes": [], "groonga_skipped": note}
    if baseline is not None:
        report["baseline"] = str(baseline)
    with tempfile.TemporaryDirectory(prefix="bench-performance-") as scratch:
        base = Path(workdir) if workdir else Path(scratch)
        for scale in sizes:
            size_dir = base / f"x{scale:g}"
            shutil.rmtree(size_dir, ignore_errors=True)
            result = run_size(
                scale, size_dir, queries or QUERIES, note is None, plan(scale), baseline
            )
            report["sizes"].append(result)
            if workdir is None or scale >= 100:  # keep the big ones off the disk
                shutil.rmtree(size_dir, ignore_errors=True)
    return report


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
    }


@click.command()
@click.option(
    "--sizes",
    default="1,10,100,1000",
    show_default=True,
    help="Corpus sizes as multiples of the seed's items, comma-separated (1 is the seed).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the corpora and indexes of sizes under 100× here (default: a temporary directory).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every figure as JSON to this file.",
)
@click.option(
    "--baseline",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Also measure the server of this source tree (another commit, e.g. from `git "
    "archive`) beside ours, in the same rounds.",
)
def main(sizes: str, workdir: Path | None, json_path: Path | None, baseline: Path | None) -> None:
    """Measure build, search, HTTP, start-up and memory per corpus size, beside Groonga."""
    try:
        scales = [float(size) for size in sizes.split(",") if size.strip()]
    except ValueError:
        raise click.ClickException(f"--sizes takes numbers like 1,10,100, not {sizes!r}") from None
    if not scales or any(scale <= 0 for scale in scales):
        raise click.ClickException("--sizes needs at least one size above 0")
    report = run_benchmark(scales, workdir, baseline=baseline)
    if json_path:
        json_path.write_text(json.dumps(public(report), ensure_ascii=False, indent=2))
    click.echo(markdown_report(report))


if __name__ == "__main__":
    main()
