"""What one request costs before any search: the HTTP floor, layer by layer, on loopback.

``python -m bench.floor [--index DIR] [--requests N] [--seconds S]`` measures `/healthz` (the
app's cheapest answer) with one client, keeping its connection or opening one per request, and
with eight clients, and the benchmark's unfiltered searches with eight clients, through:

* a bare responder (one Python process answering every request with the same bytes): the
  client, the kernel's loopback and the least a Python server can do;
* waitress, the server before the pre-fork one (one process, 4 threads);
* the production server, ``python -m webapp`` (granian, a worker per core, forked from the app
  made first);
* granian's own command (``granian --interface wsgi --factory``), each worker making the app;

and the app alone, called as WSGI in this process without any HTTP. The servers take turns
round by round, so that each sees the same moments of the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import click

from bench.loadgen import Connection, median, run_load, timed_get
from bench.performance import QUERIES
from bench.serving import ROOT, free_port, start_server, stop, wait_for_200

MODES = ("keep-alive", "new connection")
# The benchmark's queries without filters, which any corpus can answer.
SEARCHES = [query.api_path() for query in QUERIES if not any(query.filters.values())]

# Answers every request on every connection with the same 200, a keep-alive one unless asked
# to close; the least any server written in Python does per request.
BARE = r"""
import selectors, socket, sys
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
BODY = b'{"status":"ok","items":475}'
server = socket.create_server(("127.0.0.1", int(sys.argv[1])), backlog=256)
server.setblocking(False)
poll = selectors.DefaultSelector()
poll.register(server, selectors.EVENT_READ)
pending = {}
while True:
    for key, _ in poll.select():
        if key.fileobj is server:
            client, _ = server.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            poll.register(client, selectors.EVENT_READ)
            pending[client] = b""
            continue
        client = key.fileobj
        data = client.recv(65536)
        if not data:
            poll.unregister(client); client.close(); pending.pop(client, None); continue
        pending[client] += data
        while b"\r\n\r\n" in pending[client]:
            head, pending[client] = pending[client].split(b"\r\n\r\n", 1)
            client.sendall(ANSWER + BODY)
            if b"connection: close" in head.lower():
                poll.unregister(client); client.close(); pending.pop(client, None); break
"""

WAITRESS = """
import sys, waitress
from webapp import create_app
app = create_app({"INDEX_DIR": sys.argv[2], "RESULT_CACHE_SIZE": 0})
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=4, _quiet=True)
"""


def wsgi_microseconds(index_dir: Path, path: str = "/healthz", calls: int = 2000) -> float:
    """Return the median time the app takes for `path` called as WSGI, without HTTP."""
    from webapp import create_app

    app = create_app({"INDEX_DIR": str(index_dir), "RESULT_CACHE_SIZE": 0})
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": sys.stderr,
    }
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        b"".join(app(dict(environ), lambda status, headers, exc_info=None: None))
        times.append(time.perf_counter() - started)
    return median(times) * 1e6


def one_client(port: int, requests: int, keep_alive: bool) -> float:
    """Return the median milliseconds of `/healthz` from one client, request after request."""
    connection = Connection("127.0.0.1", port, keep_alive=keep_alive)
    times = [timed_get(connection, "/healthz") for _ in range(requests)]
    connection.close()
    problems = [problem for _, problem in times if problem]
    if problems:
        raise click.ClickException(f"{len(problems)} requests failed: {problems[0]}")
    return median([elapsed for elapsed, _ in times]) * 1000


def start(kind: str, index_dir: Path, log: Path, stack: ExitStack) -> int:
    port = free_port()
    if kind == "ours":
        process, _ = start_server(index_dir, port, log, options=("--result-cache", "0"))
    elif kind == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(CORES)]
        environment = os.environ | {"POLICY_INDEX_DIR": str(index_dir)}
        environment["POLICY_RESULT_CACHE_SIZE"] = "0"
        process = subprocess.Popen(
            [*command, "webapp:create_app"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_200(port, "/healthz", 60, process)
    else:
        code = BARE if kind == "bare" else WAITRESS
        command = [sys.executable, "-c", code, str(port), str(index_dir)]
        process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
        wait_for_200(port, "/healthz", 60, process)
    stack.callback(stop, process)
    return port


CORES = len(os.sched_getaffinity(0))
SERVERS = {"bare": "bare responder (1 process)", "waitress": "waitress (1 process, 4 threads)"}
SERVERS["ours"] = "granian, `python -m webapp` (a worker per core, forked from the app)"
SERVERS["granian"] = "granian's own command (a worker per core, each making the app)"


def measure(index_dir: Path, requests: int, seconds: float, rounds: int = 3) -> dict:
    """Measure every server in turn, `rounds` times; medians of the rounds."""
    figures: dict[str, dict[str, list[float]]] = {kind: {} for kind in SERVERS}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "server.log"
        ports = {kind: start(kind, index_dir, log, stack) for kind in SERVERS}
        for kind, port in ports.items():
            one_client(port, requests // 10, True)  # warm-up: every worker sees every search
            if kind != "bare":
                run_load("127.0.0.1", port, SEARCHES, 8, 4 * len(SEARCHES), 60, keep_alive=False)
        for _ in range(rounds):
            for kind, port in ports.items():
                row = figures[kind]
                for keep_alive, mode in ((True, "keep-alive"), (False, "new connection")):
                    row.setdefault(f"1 {mode}", []).append(one_client(port, requests, keep_alive))
                    load = run_load(
                        "127.0.0.1", port, ["/healthz"], 8, 10**6, seconds, keep_alive=keep_alive
                    )
                    if load.errors:
                        raise click.ClickException(f"{kind}: {load.problems[0]}")
                    row.setdefault(f"8 {mode}", []).append(load.throughput)
                    if kind == "bare":
                        continue
                    load = run_load(
                        "127.0.0.1", port, SEARCHES, 8, 10**6, seconds, keep_alive=keep_alive
                    )
                    if load.errors:
                        raise click.ClickException(f"{kind}: {load.problems[0]}")
                    row.setdefault(f"search {mode}", []).append(load.throughput)
    return {kind: {k: median(v) for k, v in row.items()} for kind, row in figures.items()}


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def floor_table(figures: dict, wsgi_us: float) -> str:
    """Render the figures as markdown.

    >>> row = {"1 keep-alive": 0.31, "1 new connection": 0.52, "8 keep-alive": 2000.0,
    ...        "8 new connection": 900.0, "search keep-alive": 250.0}
    >>> print(floor_table({"waitress": row}, 57.0).splitlines()[3])
    | waitress (1 process, 4 threads) | 0.31 | 0.52 | 2,000 | 900 | 250 | – |
    """
    lines = [
        "| through | `/healthz`, 1 client, p50 ms: keep-alive | new connection "
        "| `/healthz`, 8 clients, req/s: keep-alive | new connection "
        "| searches, 8 clients, req/s: keep-alive | new connection |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| the app alone (WSGI call, no HTTP) | {wsgi_us / 1000:.3f} | | | | | |",
    ]
    for kind, row in figures.items():
        cells = [f"{row[f'1 {mode}']:.2f}" for mode in MODES]
        cells += [_rate(row.get(f"{what} {mode}")) for what in ("8", "search") for mode in MODES]
        lines.append(f"| {SERVERS[kind]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index to serve.")
@click.option("--requests", default=2000, show_default=True, type=click.IntRange(10))
@click.option("--seconds", default=3.0, show_default=True, type=click.FloatRange(0.1, 60))
def main(index_dir: Path | None, requests: int, seconds: float) -> None:
    """Measure the HTTP floor: `/healthz` through a bare responder, waitress and granian."""
    with tempfile.TemporaryDirectory() as scratch:
        if index_dir is None:
            from indexer.build import build_index

            index_dir = Path(scratch) / "index"
            build_index(ROOT / "corpus", index_dir)
        figures = measure(index_dir, requests, seconds)
        click.echo(floor_table(figures, wsgi_microseconds(index_dir)))


if __name__ == "__main__":
    main()
