"""Run the production server (`python -m webapp`) on a loopback port for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
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
    index_dir: Path,
    port: int,
    log_path: Path,
    timeout: float = 600,
    options: Sequence[str] = (),
    checkout: Path = ROOT,
    environment: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, float]:
    """Start `python -m webapp` on loopback; return it and the seconds to its first 200.

    :param options: more options of the command (``--result-cache 0``)
    :param checkout: the source tree whose `webapp` to run (another commit's, to compare)
    :param environment: variables set for it beside this process's own
    """
    command = [sys.executable, "-m", "webapp", "--host", "127.0.0.1", "--port", str(port)]
    command += options
    with open(log_path, "a") as log_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--index", str(index_dir)],
            cwd=checkout,
            stdout=log_file,
            stderr=log_file,
            env={**os.environ, **(environment or {})},
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
    """Yield (base URL, pid) of the production server over `index_dir`; stop it afterwards.

    The pid is the server's first process, whose children are its workers.
    """
    port = free_port()
    process, _ = start_server(index_dir, port, log, timeout)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        stop(process)


def server_processes(pid: int) -> list[int]:
    """Return `pid` and its children: the server's first process and its workers."""
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
    return found


def _proc_kb(path: str, field: str) -> int:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:  # the process is gone
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(field)), 0)


def memory_kb(pid: int) -> int:
    """Return the memory the server takes from the machine: the PSS of all its processes.

    Pages the workers share with the first process (forked after the index was opened) are
    counted once, shared out among them, where adding their resident sizes would count them in
    every process.
    """
    return sum(_proc_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in server_processes(pid))


def peak_kb(pid: int) -> int:
    """Return the largest peak resident memory (VmHWM) of the server's processes."""
    return max(_proc_kb(f"/proc/{p}/status", "VmHWM:") for p in server_processes(pid))
