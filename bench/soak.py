"""Soak the production server: concurrent loopback clients for a bounded time, memory watched.

``python -m bench.soak [--clients 8] [--seconds 30] [--index DIR] [--size 100] [--rebuild-at S]``
starts `python -m webapp` on a free loopback port, runs the clients, and prints requests,
errors, throughput, latency percentiles and the server's memory (the PSS of the server and its
worker processes together, `bench.serving.memory_kb`) at the start and the end. `--size` serves
a synthetic corpus of that many times the seed (bench/synthetic.py); `--rebuild-at` runs a real
`python -m indexer build` of the same corpus that many seconds in, while the clients go on, and
reports the memory before the rebuild and after the server has moved to the new index.
"""

from __future__ import annotations

import http.client
import itertools
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench.performance import prepare_corpus
from bench.serving import ROOT, memory_kb, production_server
from indexer.build import build_index
from indexer.search import PolicyIndex

PATHS = [
    "/api/search?q=" + urllib.parse.quote("防災"),
    "/api/search?q=" + urllib.parse.quote("ＤＸ") + "&dept=" + urllib.parse.quote("危機管理部"),
    "/search?q=" + urllib.parse.quote("子育て 支援"),
    "/search?q=" + urllib.parse.quote("ほいく"),
    "/api/search?q=" + urllib.parse.quote('"公共施設のあり方" OR 窓口 -改革'),
    "/search?q=&page=3",
    "/item/r5-keiei-03-shisaku-mokuhyo-04",
    "/healthz",
]


def paths_for(index_dir: Path) -> list[str]:
    """Return PATHS with an item and a department of this index (a synthetic corpus has its own)."""
    index = PolicyIndex(index_dir)
    item, department = index.items()[0]["id"], index.facet_values("department")[0]
    return [
        f"/item/{item}" if path.startswith("/item/")
        else path.replace(urllib.parse.quote("危機管理部"), urllib.parse.quote(department))
        for path in PATHS
    ]  # fmt: skip


@dataclass
class SoakReport:
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    rss_start_kb: int = 0
    rss_end_kb: int = 0
    pid: int = 0
    rebuild_s: float = 0.0  # how long the rebuild during the soak took (0: none)
    rss_before_rebuild_kb: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def rebuild_later(corpus: Path, index_dir: Path, delay: float, report: SoakReport):
    """Start a thread that rebuilds `index_dir` from `corpus` after `delay` seconds."""

    def run() -> None:
        time.sleep(delay)
        report.rss_before_rebuild_kb = memory_kb(report.pid)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "indexer", "build", "--corpus", str(corpus),
             "--index", str(index_dir)],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        report.rebuild_s = time.monotonic() - started
        if done.returncode:
            report.errors.append(f"the rebuild failed: {done.stderr.strip()[-300:]}")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def soak(
    url: str,
    pid: int,
    clients: int = 8,
    seconds: float = 30.0,
    paths=PATHS,
    rebuild: tuple[Path, Path, float] | None = None,
) -> SoakReport:
    """Send requests from `clients` threads for `seconds`; every non-200 answer is an error.

    `rebuild` (corpus, index, after seconds) rebuilds the served index while the clients go on.
    """
    parsed = urllib.parse.urlsplit(url)
    report = SoakReport(rss_start_kb=memory_kb(pid), pid=pid)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        for path in itertools.islice(itertools.cycle(paths), number, None):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                problem = None if response.status == 200 else f"{response.status} {path}"
            except (OSError, http.client.HTTPException) as error:
                problem = f"{error.__class__.__name__} {path}"
                connection.close()
                connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
            elapsed = time.perf_counter() - started
            with lock:
                report.requests += 1
                report.latencies.append(elapsed)
                if problem:
                    report.errors.append(problem)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    if rebuild is not None:
        threads.append(rebuild_later(*rebuild, report))
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - started
    report.rss_end_kb = memory_kb(pid)
    return report


@click.command()
@click.option("--clients", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--seconds", default=30.0, show_default=True, type=click.FloatRange(1, 600))
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index to serve.")
@click.option(
    "--size", default=1.0, show_default=True, type=click.FloatRange(0.01, 1000),
    help="Times the seed: 1 serves the seed corpus, others a synthetic one (bench/synthetic.py).",
)  # fmt: skip
@click.option(
    "--rebuild-at", default=0.0, show_default=True, type=click.FloatRange(0, 600),
    help="Rebuild the served index this many seconds in (0: no rebuild).",
)  # fmt: skip
def main(
    clients: int, seconds: float, index_dir: Path | None, size: float, rebuild_at: float
) -> None:
    """Soak a freshly started production server and print what happened."""
    with tempfile.TemporaryDirectory() as scratch:
        corpus = prepare_corpus(size, Path(scratch))
        if index_dir is None:
            index_dir = Path(scratch) / "index"
            build_index(corpus, index_dir)
        rebuild = (corpus, index_dir, rebuild_at) if rebuild_at else None
        paths = paths_for(index_dir)
        with production_server(index_dir, Path(scratch) / "server.log") as (url, pid):
            soak(url, pid, clients=1, seconds=2, paths=paths)  # warm up: caches, lazy imports
            report = soak(url, pid, clients, seconds, paths=paths, rebuild=rebuild)
    rate = report.requests / report.seconds
    click.echo(
        f"{clients} clients, {report.seconds:.1f} s: {report.requests} requests, "
        f"{len(report.errors)} errors, {rate:.0f} requests/s"
    )
    click.echo(
        f"latency p50 {report.percentile(0.5) * 1000:.1f} ms, "
        f"p95 {report.percentile(0.95) * 1000:.1f} ms, "
        f"p99 {report.percentile(0.99) * 1000:.1f} ms"
    )
    click.echo(
        f"server memory (PSS) {report.rss_start_kb / 1024:.1f} MiB -> "
        f"{report.rss_end_kb / 1024:.1f} MiB"
    )
    if report.rebuild_s:
        click.echo(
            f"rebuilt in {report.rebuild_s:.1f} s under load; memory before the rebuild "
            f"{report.rss_before_rebuild_kb / 1024:.1f} MiB, at the end "
            f"{report.rss_end_kb / 1024:.1f} MiB"
        )
    if report.errors:
        raise click.ClickException(f"errors: {report.errors[:5]}")


if __name__ == "__main__":
    main()
