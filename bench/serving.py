"""Run the production server (`python -m webapp`) on a loopback port for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.loadgen import Connection, timed_get

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_200(port: int, path: str, timeout: float, process: subprocess.Popen) -> None:
    """Ask `path` every 10 ms until it answers 200; fail if the process exits first."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        connection = Connection("127.0.0.1", port, timeout=5)
        try:
            if timed_get(connection, path)[1] is None:
                return
        finally:
            connection.close()
        time.sleep(0.01)
    raise RuntimeError(f"no 200 from 127.0.0.1:{port}{path} within {timeout:.0f} s")


def start_server(
    index_dir: Path, port: int, log_path: Path, timeout: float = 600
) -> tuple[subprocess.Popen, float]:
    """Start `python -m webapp` on loopback; return it and the seconds to its first 200."""
    command = [sys.executable, "-m", "webapp", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "a") as log_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--index", str(index_dir)], cwd=ROOT, stdout=log_file, stderr=log_file
        )
    try:
        wait_for_200(port, "/healthz", timeout, process)
    except RuntimeError as error:
        stop(process)
        raise RuntimeError(f"{error}; its log:\n{log_path.read_text()[-4000:]}") from None
    except BaseException:
        stop(process)
        raise
    return process, time.perf_counter() - started


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def production_server(index_dir: Path, log: Path, timeout: float = 60) -> Iterator[tuple[str, int]]:
    """Yield (base URL, pid) of a waitress server over `index_dir`; stop it afterwards."""
    port = free_port()
    process, _ = start_server(index_dir, port, log, timeout)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        stop(process)
