"""A bounded HTTP/1.1 load generator for loopback servers: plain sockets, one thread per client.

Each client either keeps its connection open while the server allows it (ours does; Groonga's
HTTP server closes after every answer, so its figures include a new TCP connection per request)
or opens a new connection for every request (``keep_alive=False``: ``Connection: close``, as a
browser's first visit or a script calling the API does). A run stops after a number of requests
or seconds, whichever comes first, and counts every answer that is not a 200 (or no answer at
all) as an error.
"""

from __future__ import annotations

import itertools
import math
import random
import socket
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_PROBLEMS = 5


class HttpError(Exception):
    """The server broke the connection or answered something that is not HTTP/1.1."""


@dataclass(frozen=True)
class LoadResult:
    latencies: list[float]  # seconds, one per answered request
    errors: int
    seconds: float
    problems: tuple[str, ...] = ()  # what the first few errors were

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Return the `p`-th percentile latency in milliseconds (nearest rank)."""
        return percentile(self.latencies, p) * 1000


def percentile(values: Sequence[float], p: float) -> float:
    """Return the nearest-rank `p`-th percentile of `values` (0 when there are none).

    >>> percentile([4, 1, 3, 2], 50), percentile([4, 1, 3, 2], 95), percentile([], 50)
    (2, 4, 0)
    """
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def zipf_mix(count: int, draws: int = 2000, exponent: float = 1.0, seed: int = 14) -> list[int]:
    """Return `draws` indices below `count`, the one ranked r-th drawn with weight 1 / r**exponent.

    Who is ranked first is itself drawn, so that the most asked query is not the list's first.

    >>> mix = zipf_mix(3, 600)
    >>> [mix.count(i) for i in range(3)]  # 1 ranked first, then 2, then 0
    [118, 340, 142]
    """
    rng = random.Random(seed)
    ranked = list(range(count))
    rng.shuffle(ranked)
    weights = [1 / rank**exponent for rank in range(1, count + 1)]
    return rng.choices(ranked, weights=weights, k=draws)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


class Connection:
    """One client connection to `host:port`, reopened whenever the server closed it.

    With `keep_alive` false every request asks the server to close after its answer, so each
    one pays for a new TCP connection.
    """

    def __init__(self, host: str, port: int, timeout: float = 60.0, keep_alive: bool = True):
        self.host, self.port, self.timeout = host, port, timeout
        self.keep_alive = keep_alive
        self.sock: socket.socket | None = None
        self.buffer = b""

    def get(self, path: str) -> tuple[int, bytes]:
        """Send GET `path` and return the status and the body."""
        close = "" if self.keep_alive else "Connection: close\r\n"
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{close}\r\n"
        try:
            if self.sock is None:
                self.sock = socket.create_connection((self.host, self.port), self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buffer = b""
            self.sock.sendall(request.encode("ascii"))
            head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
            status = int(head[0].split()[1])
            headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
            if headers.get("transfer-encoding") == "chunked":
                body = self._read_chunked()
            else:
                body = self._read_exactly(int(headers.get("content-length", 0)))
        except (OSError, ValueError, IndexError) as error:
            self.close()
            raise HttpError(f"{error.__class__.__name__}: {error}") from None
        if headers.get("connection") == "close" or not self.keep_alive:
            self.close()
        return status, body

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            self._fill()
        data, self.buffer = self.buffer[:end], self.buffer[end + len(marker) :]
        return data

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
            parts.append(self._read_exactly(size))
            self._read_exactly(2)
        self._read_until(b"\r\n")  # no trailers are expected
        return b"".join(parts)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def timed_get(connection: Connection, path: str) -> tuple[float, str | None]:
    """Return the seconds one request took and what went wrong (None for a 200)."""
    started = time.perf_counter()
    try:
        status, _ = connection.get(path)
    except HttpError as error:
        return time.perf_counter() - started, f"{error} ({path})"
    problem = None if status == 200 else f"HTTP {status} ({path})"
    return time.perf_counter() - started, problem


def run_load(
    host: str,
    port: int,
    paths: Iterable[str],
    clients: int = 1,
    requests: int = 1000,
    seconds: float = 10.0,
    keep_alive: bool = True,
) -> LoadResult:
    """Send the paths (cycled) from `clients` concurrent clients; stop at either bound."""
    source = itertools.cycle(list(paths))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    budget = [requests]
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = Connection(host, port, keep_alive=keep_alive)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                    path = next(source)
                elapsed, problem = timed_get(connection, path)
                with lock:
                    if problem is None:
                        latencies.append(elapsed)
                    else:
                        errors.append(problem)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return LoadResult(latencies, len(errors), seconds, tuple(errors[:MAX_PROBLEMS]))
