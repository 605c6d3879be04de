"""Soak the production server: concurrent loopback clients for a bounded time, memory watched.

``python -m bench.soak [--clients 8] [--seconds 30] [--index DIR]`` starts `python -m webapp`
on a free loopback port (or uses ``--url``), runs the clients, and prints requests, errors,
throughput, latency percentiles and the server's resident memory at the start and the end.
"""

from __future__ import annotations

import http.client
import itertools
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench.serving import ROOT, memory_kb, production_server
from indexer.build import build_index

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


@dataclass
class SoakReport:
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    rss_start_kb: int = 0
    rss_end_kb: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def soak(url: str, pid: int, clients: int = 8, seconds: float = 30.0, paths=PATHS) -> SoakReport:
    """Send requests from `clients` threads for `seconds`; every non-200 answer is an error."""
    parsed = urllib.parse.urlsplit(url)
    report = SoakReport(rss_start_kb=memory_kb(pid))
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
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - started
    report.rss_end_kb = memory_kb(pid)
    return report


@click.command()
@click.option("--clients", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--seconds", default=30.0, show_default=True, type=click.FloatRange(1, 600))
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index to serve.")
def main(clients: int, seconds: float, index_dir: Path | None) -> None:
    """Soak a freshly started production server and print what happened."""
    with tempfile.TemporaryDirectory() as scratch:
        if index_dir is None:
            index_dir = Path(scratch) / "index"
            build_index(ROOT / "corpus", index_dir)
        with production_server(index_dir, Path(scratch) / "server.log") as (url, pid):
            soak(url, pid, clients=1, seconds=2)  # warm up: caches, lazy imports
            report = soak(url, pid, clients, seconds)
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
        f"server memory (PSS of all its processes) {report.rss_start_kb / 1024:.1f} MiB -> "
        f"{report.rss_end_kb / 1024:.1f} MiB"
    )
    if report.errors:
        raise click.ClickException(f"errors: {report.errors[:5]}")


if __name__ == "__main__":
    main()
