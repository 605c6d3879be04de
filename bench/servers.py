"""Our production server and Groonga's HTTP server side by side on loopback, measured in turn.

`Servers.measure` starts ``python -m webapp`` (timing process start to first 200, several times
for a median), starts ``groonga -s --protocol http`` when a database is given, then:

* one client with one connection per server, request after request: each round goes through
  our searches (each followed by ``/healthz``, the floor of the HTTP stack), then Groonga's;
* eight clients for a few seconds, ours and Groonga's in turn, twice;
* the peak resident memory (VmHWM) of both servers.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench import groonga
from bench.loadgen import MAX_PROBLEMS, Connection, LoadResult, median, run_load, timed_get
from bench.serving import free_port, start_server, stop, wait_for_200

Target = tuple[int, list[str]]  # port, paths


def peak_rss_mb(pid: int) -> float:
    """Return the peak resident memory (VmHWM) of a running process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def interleaved(groups: list[dict[str, Target]], rounds: int) -> dict[str, LoadResult]:
    """One client, one connection per server, `rounds` times through the groups in turn.

    Within a group each target's i-th path follows the other's (a search, then `/healthz`), so
    that both see the same moments of the machine; the groups take turns by the pass, so that
    Groonga's requests do not cool our server's CPU caches between two of its own.
    """
    targets = {name: target for group in groups for name, target in group.items()}
    connections = {port: Connection("127.0.0.1", port) for port, _ in targets.values()}
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    errors: dict[str, list[str]] = {name: [] for name in targets}
    started = time.perf_counter()
    for _ in range(rounds):
        for group in groups:
            for i in range(max(len(paths) for _, paths in group.values())):
                for name, (port, paths) in group.items():
                    elapsed, problem = timed_get(connections[port], paths[i % len(paths)])
                    if problem is None:
                        latencies[name].append(elapsed)
                    else:
                        errors[name].append(problem)
    seconds = time.perf_counter() - started
    for connection in connections.values():
        connection.close()
    return {
        name: LoadResult(
            latencies[name], len(errors[name]), seconds, tuple(errors[name][:MAX_PROBLEMS])
        )
        for name in targets
    }


def merged(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        [t for r in results for t in r.latencies],
        sum(r.errors for r in results),
        sum(r.seconds for r in results),
        tuple(problem for r in results for problem in r.problems)[:MAX_PROBLEMS],
    )


@dataclass(frozen=True)
class Servers:
    index_dir: Path
    groonga_db: Path | None
    log_path: Path

    def measure(
        self, ours: list[str], theirs: list[str], rounds: int, seconds: float, starts: int
    ) -> dict:
        """Measure both servers over the paths (`theirs` empty without Groonga)."""
        start_runs = []
        for _ in range(starts - 1):  # extra start-ups, for a median
            process, took = start_server(self.index_dir, free_port(), self.log_path)
            start_runs.append(took)
            stop(process)
        with ExitStack() as stack:
            port = free_port()
            process, took = start_server(self.index_dir, port, self.log_path)
            stack.callback(stop, process)
            start_runs.append(took)
            groups = [{"ours": (port, ours), "healthz": (port, ["/healthz"])}]
            if self.groonga_db is not None:
                g_port = free_port()
                g_process = stack.enter_context(groonga.http_server(self.groonga_db, g_port))
                wait_for_200(g_port, "/d/status", 60, g_process)
                groups.append({"groonga": (g_port, theirs)})
            interleaved(groups, 1)  # warm-up: each query once
            one = interleaved(groups, rounds)
            eight: dict[str, list[LoadResult]] = {}
            for _ in range(2):  # in turn, so that neither has all the quieter moments
                for group in groups:
                    name = next(iter(group))
                    t_port, paths = group[name]
                    load = run_load("127.0.0.1", t_port, paths, 8, 10**6, seconds)
                    eight.setdefault(name, []).append(load)
            result = {
                "start_s": median(start_runs),
                "start_runs": start_runs,
                "one": one,
                "eight": {name: merged(loads) for name, loads in eight.items()},
                "server_rss_mb": peak_rss_mb(process.pid),
            }
            if self.groonga_db is not None:
                result["groonga_rss_mb"] = peak_rss_mb(g_process.pid)
        return result
