"""Our production server and Groonga's HTTP server side by side on loopback, measured in turn.

`Servers.measure` starts ``python -m webapp --result-cache 0`` (timing process start to first
200, several times for a median), starts ``groonga -s --protocol http`` when a database is
given, then, once with each client keeping its connection open and once with a new connection
per request (`MODES`):

* one client with one connection per server, request after request: each round goes through
  our keyword searches (each followed by ``/healthz``, the floor of the HTTP stack), Groonga's,
  our natural queries (each followed by ``/healthz``), Groonga's;
* eight clients for a few seconds per kind of query, ours and Groonga's in turn, twice;

then a Zipf mix of the queries (a few asked often, most rarely) from eight clients, against our
server without its result cache, a second one with it, and Groonga with its own cache; and the
memory of both servers. The figures the issue's targets are read on have every cache off.

With a `baseline` (the source tree of another commit) its server is measured too, in the same
rounds and turns as ours: before and after a change, on the same moments of the machine.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench import groonga
from bench.loadgen import MAX_PROBLEMS, Connection, LoadResult, median, run_load, timed_get
from bench.serving import free_port, memory_kb, peak_kb, start_server, stop, wait_for_200

Target = tuple[int, list[str]]  # port, paths
MODES = {"keep-alive": True, "new connection": False}
KINDS = ("keyword", "natural")
OR_ED = "natural, words OR-ed"  # Groonga only: the natural queries' words OR-ed
NO_CACHE = ("--result-cache", "0")
HEALTHZ = ["/healthz"]
# The warm-up's bound in time: at 1000× a query asked for the first time can take seconds, so
# the bound is wide; the report says how much of the warm-up was done.
WARM_UP_S = 600


def peak_rss_mb(pid: int) -> float:
    """Return the peak resident memory (VmHWM) of a running process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def interleaved(
    groups: list[dict[str, Target]], rounds: int, keep_alive: bool = True
) -> dict[str, LoadResult]:
    """One client, one connection per server, `rounds` times through the groups in turn.

    Within a group each target's i-th path follows the other's (a search, then `/healthz`), so
    that both see the same moments of the machine; the groups take turns by the pass, so that
    Groonga's requests do not cool our server's CPU caches between two of its own. A name in
    several groups (`/healthz`) gathers the requests of all of them.
    """
    ports = {port for group in groups for port, _ in group.values()}
    connections = {port: Connection("127.0.0.1", port, keep_alive=keep_alive) for port in ports}
    names = dict.fromkeys(name for group in groups for name in group)
    latencies: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, list[str]] = {name: [] for name in names}
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
        for name in names
    }


def merged(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        [t for r in results for t in r.latencies],
        sum(r.errors for r in results),
        sum(r.seconds for r in results),
        tuple(problem for r in results for problem in r.problems)[:MAX_PROBLEMS],
    )


def in_turn(
    targets: dict[str, Target], seconds: float, keep_alive: bool = True, turns: int = 2
) -> dict[str, LoadResult]:
    """Eight clients on each target for `seconds`, the targets in turn, `turns` times."""
    loads: dict[str, list[LoadResult]] = {}
    for _ in range(turns):  # in turn, so that none has all the quieter moments
        for name, (port, paths) in targets.items():
            load = run_load("127.0.0.1", port, paths, 8, 10**6, seconds, keep_alive=keep_alive)
            loads.setdefault(name, []).append(load)
    return {name: merged(results) for name, results in loads.items()}


@dataclass(frozen=True)
class Servers:
    index_dir: Path
    groonga_db: Path | None
    log_path: Path
    baseline: Path | None = None

    def measure(
        self,
        ours: dict[str, list[str]],
        theirs: dict[str, list[str]],
        rounds: int,
        seconds: float,
        starts: int,
        zipf: tuple[list[str], list[str]] = ([], []),
    ) -> dict:
        """Measure both servers over the paths of each kind (`theirs` empty without Groonga).

        :param zipf: our paths and Groonga's, in the order of a Zipf mix
        """
        start_runs = []
        for _ in range(starts - 1):  # extra start-ups, for a median
            process, took = start_server(
                self.index_dir, free_port(), self.log_path, options=NO_CACHE
            )
            start_runs.append(took)
            stop(process)
        with ExitStack() as stack:
            port = free_port()
            process, took = start_server(self.index_dir, port, self.log_path, options=NO_CACHE)
            stack.callback(stop, process)
            start_runs.append(took)
            b_port = None
            if self.baseline is not None:
                b_port = free_port()
                # Its cache off as ours is, by the variable that trees older than the option read.
                b_process, b_took = start_server(
                    self.index_dir, b_port, self.log_path, checkout=self.baseline,
                    environment={"POLICY_RESULT_CACHE_SIZE": "0"},
                )  # fmt: skip
                stack.callback(stop, b_process)
            g_port = None
            if self.groonga_db is not None:
                g_port = free_port()
                g_process = stack.enter_context(groonga.http_server(self.groonga_db, g_port))
                wait_for_200(g_port, "/d/status", 60, g_process)
            kinds = [kind for kind in KINDS if ours.get(kind)]
            groups = []
            for kind in kinds:
                groups.append({f"ours {kind}": (port, ours[kind]), "healthz": (port, HEALTHZ)})
                if b_port is not None:
                    before = {f"before {kind}": (b_port, ours[kind])}
                    groups.append(before | {"before healthz": (b_port, HEALTHZ)})
                if g_port is not None:
                    groups.append({f"groonga {kind}": (g_port, theirs[kind])})
                    if kind == "natural" and theirs.get(OR_ED):
                        groups.append({f"groonga {OR_ED}": (g_port, theirs[OR_ED])})
            # Warm-up: each query once per server, then from eight clients at once, so that every
            # worker of ours (each its own caches) has seen them.
            interleaved(groups, 1)
            everything = [path for kind in kinds for path in ours[kind]]
            for warm_port in (port, b_port):
                if warm_port is not None:
                    requests = 4 * len(everything)
                    load = run_load(
                        "127.0.0.1", warm_port, everything, 8, requests, WARM_UP_S, False
                    )
                    if warm_port == port:
                        warm_up = (load.requests, requests, load.seconds)
            one, eight = {}, {}
            for mode, keep_alive in MODES.items():
                one[mode] = interleaved(groups, rounds, keep_alive)
                eight[mode] = {}
                for kind in kinds:
                    targets = {f"ours {kind}": (port, ours[kind])}
                    if b_port is not None:
                        targets[f"before {kind}"] = (b_port, ours[kind])
                    if g_port is not None:
                        targets[f"groonga {kind}"] = (g_port, theirs[kind])
                        if kind == "natural" and theirs.get(OR_ED):
                            targets[f"groonga {OR_ED}"] = (g_port, theirs[OR_ED])
                    eight[mode] |= in_turn(targets, seconds, keep_alive)
            result = {
                "start_s": median(start_runs),
                "start_runs": start_runs,
                "one": one,
                "eight": eight,
                "server_rss_mb": memory_kb(process.pid) / 1024,
                "server_peak_mb": peak_kb(process.pid) / 1024,
                "warm_up": warm_up,
            }
            if g_port is not None:
                result["groonga_rss_mb"] = peak_rss_mb(g_process.pid)
            if b_port is not None:
                result["before"] = {"start_s": b_took, "rss_mb": memory_kb(b_process.pid) / 1024}
            if zipf[0]:
                result["zipf"] = self._zipf(stack, port, g_port, zipf, seconds)
        return result

    def _zipf(
        self,
        stack: ExitStack,
        port: int,
        g_port: int | None,
        zipf: tuple[list[str], list[str]],
        seconds: float,
    ) -> dict[str, LoadResult]:
        """Eight keep-alive clients over the Zipf mix: cache off, our cache on, Groonga's on."""
        c_port = free_port()
        cached, _ = start_server(self.index_dir, c_port, self.log_path)
        stack.callback(stop, cached)
        distinct = list(dict.fromkeys(zipf[0]))  # warmed as the others were: each query seen
        run_load("127.0.0.1", c_port, distinct, 8, 4 * len(distinct), 60, keep_alive=False)
        targets = {"ours, cache off": (port, zipf[0]), "ours, cache on": (c_port, zipf[0])}
        if g_port is not None:
            cached_select = [path.replace("cache=no", "cache=yes") for path in zipf[1]]
            targets["groonga, cache on"] = (g_port, cached_select)
        return in_turn(targets, seconds)
