"""Faults of the machine: killed builds, a full or read-only disk, a killed or stopped server.

Real processes, real signals, real file systems: a size-limited tmpfs (mounted as root, as CI
runs; those cases skip otherwise) for the full and the read-only disk.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.serving import free_port, production_server, server_processes, start_server, stop
from bench.synthetic import write_synthetic_corpus
from indexer.build import build_index
from indexer.storage import CHECK_EVERY
from tests.conftest import CORPUS, FIXTURES, ROOT

SEED_ITEMS, SECOND_ITEMS = 475, 486
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI is)")

# Runs a build, stopping for good at one moment after writing `marker`: the test kills it there.
DRIVER = """
import sys, time
from pathlib import Path
import whoosh.writing
import indexer.build as build
corpus, index, moment, marker = sys.argv[1:]

def halt():
    Path(marker).write_text(moment)
    time.sleep(60)

def before(function):
    return lambda *args, **kwargs: (halt(), function(*args, **kwargs))[1]

def after(function):
    return lambda *args, **kwargs: (function(*args, **kwargs), halt())[0]

progress = None
if moment == "parsing":
    build.load_corpus = before(build.load_corpus)
elif moment == "writing":
    progress = lambda done, total: done == total // 2 and halt()
elif moment == "commit":
    whoosh.writing.SegmentWriter._commit_toc = before(whoosh.writing.SegmentWriter._commit_toc)
elif moment == "before swap":
    build._swap_in = before(build._swap_in)
elif moment == "after swap":
    build._swap_in = after(build._swap_in)
build.build_index(corpus, index, progress=progress)
"""


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    """The seed, the seed with a second document (486 items) and 10× the seed (4,847)."""
    root = tmp_path_factory.mktemp("corpora")
    second = root / "second"
    shutil.copytree(CORPUS, second)
    shutil.copy(FIXTURES / "second_year" / "r6.txt", second / "r6.txt")
    manifest = (FIXTURES / "second_year" / "manifest.toml").read_text(encoding="utf-8")
    with open(second / "manifest.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + manifest)
    tenfold = write_synthetic_corpus(CORPUS, root / "tenfold", 10)
    return {"seed": CORPUS, "second": second, "tenfold": tenfold.path}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A seed index and the production server over it: (index dir, base URL)."""
    index_dir = tmp_path_factory.mktemp("served") / "index"
    build_index(CORPUS, index_dir)
    with production_server(index_dir, index_dir.parent / "server.log") as (base, _):
        yield index_dir, base


# ---- what is left: processes, locks, generations, what the page answers


def running(pid: int) -> bool:
    """Return whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def still_running(pids: list[int], within: float = 3.0) -> list[int]:
    deadline = time.monotonic() + within
    while (alive := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def lock_is_free(index_dir: Path) -> bool:
    with open(index_dir.parent / f".{index_dir.name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def generations(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.parent.glob(f".{index_dir.name}-*")}


def page_total(base: str) -> int:
    """Return the count of every item the API browses, checked against its facet counts."""
    with urllib.request.urlopen(f"{base}/api/search?q=&per_page=1", timeout=10) as answer:
        data = json.loads(answer.read())
    assert sum(f["count"] for f in data["facets"]["department"]) == data["total"]
    return data["total"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def tmpfs(directory: Path, size: str):
    """Mount a tmpfs of `size` at `directory` for the block; unmount it after."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", directory], check=False)


# ---- kill -9 of a build


def kill_build_at(moment: str, corpus: Path, index_dir: Path, marker: Path) -> list[int]:
    """Start a build, SIGKILL it at `moment`; return the processes it had started."""
    marker.unlink(missing_ok=True)
    command = [sys.executable, "-c", DRIVER, str(corpus), str(index_dir), moment, str(marker)]
    build = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not marker.exists():
        assert build.poll() is None, build.stderr.read().decode()
        assert time.monotonic() < deadline, f"the build never reached {moment}"
        time.sleep(0.02)
    started = children(build.pid)
    os.kill(build.pid, signal.SIGKILL)
    build.wait()
    build.stderr.close()
    return started


@pytest.mark.parametrize(
    ("size", "moment"),
    [
        ("second", "parsing"),
        ("second", "writing"),
        ("second", "commit"),
        ("second", "before swap"),
        ("second", "after swap"),
        ("tenfold", "writing"),  # the slow one: the parallel writer of a large corpus
    ],
)
def test_a_build_killed_at_any_moment_leaves_no_process_no_lock_and_a_whole_index(
    served, corpora, tmp_path, size, moment
):
    index_dir, base = served
    if page_total(base) != SEED_ITEMS:  # every case ends on the seed; one that failed may not
        build_index(CORPUS, index_dir)
    old = index_dir.resolve()
    assert page_total(base) == SEED_ITEMS
    kept = generations(index_dir)

    workers = kill_build_at(moment, corpora[size], index_dir, tmp_path / "marker")
    if size == "tenfold":
        assert workers, "the parallel writer had started its processes"
    assert still_running(workers) == [], "a writer process outlived the build"
    assert lock_is_free(index_dir)
    swapped = moment == "after swap"
    assert (index_dir.resolve() != old) is swapped
    assert page_total(base) == (SECOND_ITEMS if swapped else SEED_ITEMS)
    left = generations(index_dir) - kept - {index_dir.resolve().name}
    assert len(left) == (0 if moment in ("parsing", "after swap") else 1), left

    current = index_dir.resolve().name
    newest = build_index(CORPUS, index_dir, lock_wait=0)  # at once: nobody holds the lock
    assert generations(index_dir) == {newest.generation.name, current}, "leftovers removed"
    assert page_total(base) == SEED_ITEMS


# ---- a full disk, a read-only one, a link to nothing


@as_root
@pytest.mark.parametrize("size", ["seed", "tenfold"])
def test_a_full_disk_fails_the_build_in_one_sentence_and_the_old_index_serves(
    corpora, tmp_path, size
):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        index_dir = disk / "index"
        build_index(CORPUS, index_dir)
        used = shutil.disk_usage(disk).used
        # Room for a third of another seed index (1.5 MB), none for a tenfold one.
        subprocess.run(["mount", "-o", f"remount,size={used + 512 * 1024}", disk], check=True)
        old = index_dir.resolve()
        with production_server(index_dir, tmp_path / "server.log") as (base, _):
            build = run_cli(
                "-m", "indexer", "build", "--corpus", str(corpora[size]), "--index", str(index_dir)
            )
            assert build.returncode == 1
            assert "Traceback" not in build.stderr + build.stdout
            errors = [line for line in build.stderr.splitlines() if "Error" in line]
            assert errors == [
                f"Error: the disk is full (No space left on device) while writing the index at "
                f"{index_dir}: nothing was changed, the index in use stays"
            ], build.stderr
            assert index_dir.resolve() == old
            assert generations(index_dir) == {old.name}, "no partial generation left"
            assert lock_is_free(index_dir)
            assert builds_of(index_dir) == [], "no build or writer process is left"
            assert page_total(base) == SEED_ITEMS


def builds_of(index_dir: Path) -> list[int]:
    """Return the running processes (builds and their writers) that name `index_dir`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"indexer" in words and str(index_dir).encode() in words:
            found.append(int(cmdline.parent.name))
    return [pid for pid in found if running(pid)]


@as_root
def test_a_read_only_index_directory_fails_the_build_clearly_and_still_serves(tmp_path):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        index_dir = disk / "index"
        build_index(CORPUS, index_dir)
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        build = run_cli("-m", "indexer", "build", "--index", str(index_dir))
        assert build.returncode == 1
        assert build.stderr.strip().splitlines()[-1] == (
            f"Error: the file system is read-only (Read-only file system) while writing the "
            f"index at {index_dir}: nothing was changed, the index in use stays"
        )
        with production_server(index_dir, tmp_path / "server.log") as (base, _):
            assert page_total(base) == SEED_ITEMS  # reading needs no write

        # A link to nothing on a read-only disk: the server cannot build one, and says so.
        subprocess.run(["mount", "-o", "remount,rw", disk], check=True)
        index_dir.unlink()
        index_dir.symlink_to(".index-gone")
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        server = run_cli("-m", "webapp", "--port", str(free_port()), "--index", str(index_dir))
        assert server.returncode == 1
        assert "Traceback" not in server.stderr
        assert f"the index link {index_dir} points to .index-gone, now gone" in server.stderr
        assert server.stderr.strip().splitlines()[-1] == (
            f"Error: cannot serve: the file system is read-only (Read-only file system) while "
            f"writing the index at {index_dir}: nothing was changed, the index in use stays"
        )


def test_an_index_link_to_nothing_is_replaced_by_the_build_and_rebuilt_at_start(tmp_path):
    index_dir = tmp_path / "index"
    index_dir.symlink_to(".index-gone")
    build = run_cli("-m", "indexer", "build", "--index", str(index_dir))
    assert build.returncode == 0, build.stderr
    assert f"{SEED_ITEMS} items from 20 departments indexed into {index_dir}" in build.stdout
    assert index_dir.resolve().exists()

    shutil.rmtree(index_dir.resolve())
    log = tmp_path / "server.log"
    with production_server(index_dir, log) as (base, _):
        assert page_total(base) == SEED_ITEMS
    assert log.read_text().count(f"the index link {index_dir} points to") == 1


# ---- a segment file damaged under a running server

# Queries of several kinds, none asked of the server before the damage: their postings and
# stored fields are read after it. The empty query browses (stored fields of the first page).
DAMAGE_QUERIES = ("防災", "子育て支援", "脱炭素", "窓口", '"経営革新計画"', "高齢者 見守り", "")
DAMAGE_PAGES = (
    f"/search?q={urllib.parse.quote('公共施設')}",
    "/item/r5-keiei-01-shisaku-hoshin-01",
)
DAMAGE_LOGGED = "changed on disk after they were read"


def damage_segment(index_dir: Path, damage: str) -> Path:
    """Truncate the segment file of the index in use to half, or overwrite its bytes in place."""
    segment = next(index_dir.resolve().glob("*.seg"))
    size = segment.stat().st_size
    if damage == "truncated":
        os.truncate(segment, size // 2)
    else:  # the same size, every byte but the first and last 64 replaced
        with open(segment, "r+b") as handle:
            handle.seek(64)
            handle.write(random.Random(15).randbytes(size - 128))
    return segment


def served_answer(base: str, query: str) -> tuple:
    """Return what the API answers for `query`: totals, hits and facet counts (a 200 only)."""
    url = f"{base}/api/search?q={urllib.parse.quote(query)}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        data = json.loads(answer.read())
    facets = {
        name: [(f["value"], f["count"]) for f in facet] for name, facet in data["facets"].items()
    }
    return data["total"], [(h["id"], h["highlight"]) for h in data["hits"]], facets


def searched_answer(index, query: str) -> tuple:
    """Return what `served_answer` gives, from a `PolicyIndex` searched in this process."""
    result = index.search(query)
    facets = {name: [(f.value, f.count) for f in values] for name, values in result.facets.items()}
    return result.total, [(h.id, h.highlight) for h in result.hits], facets


def count_logged(log: Path, text: str, base: str) -> int:
    """Count `text` in the log once it is there and requests have gone on for a while.

    The server looks at its files on requests, at most every `CHECK_EVERY` seconds: ask
    /healthz until the line is there (at most 5 s), then through one more such interval, in
    which a line said per request or per look would come again.
    """
    deadline = time.monotonic() + 5
    while text not in log.read_text() and time.monotonic() < deadline:
        assert served_total(base) == SEED_ITEMS
        time.sleep(0.05)
    deadline = time.monotonic() + CHECK_EVERY + 0.2
    while time.monotonic() < deadline:
        assert served_total(base) == SEED_ITEMS
        time.sleep(0.05)
    return log.read_text().count(text)


def said_by(log: Path) -> list[str]:
    """Return the process of each line of the log that says the index was damaged."""
    lines = [line for line in log.read_text().splitlines() if DAMAGE_LOGGED in line]
    return [re.search(r"said once by process (\d+)", line).group(1) for line in lines]


def served_total(base: str) -> int:
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
        assert answer.status == 200
        return json.loads(answer.read())["items"]


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_segment_under_a_running_server_is_answered_from_its_copy_until_a_rebuild(
    seed_index_dir, policy_index, corpora, tmp_path, damage
):
    index_dir, log = tmp_path / "index", tmp_path / "server.log"
    shutil.copytree(seed_index_dir.resolve(), tmp_path / ".index-seed")
    index_dir.symlink_to(".index-seed")
    with production_server(index_dir, log) as (base, pid):
        segment = damage_segment(index_dir, damage)
        for query in DAMAGE_QUERIES:  # what the seed index answers, undamaged
            assert served_answer(base, query) == searched_answer(policy_index, query), query
        for path in DAMAGE_PAGES:
            with urllib.request.urlopen(f"{base}{path}", timeout=10) as page:
                assert page.status == 200
        assert running(pid), "the server lives on"
        # Once by each worker process that noticed (each holds its own copy of the index).
        said = count_logged(log, DAMAGE_LOGGED, base)
        lines = [line for line in log.read_text().splitlines() if DAMAGE_LOGGED in line]
        workers = len(server_processes(pid)) - 1
        assert 1 <= said <= workers and len(set(said_by(log))) == said, lines
        assert f"{segment.name}: " in lines[0] and "python -m indexer build" in lines[0]

        build = run_cli(
            "-m", "indexer", "build", "--corpus", str(corpora["second"]), "--index", str(index_dir)
        )
        assert build.returncode == 0, build.stderr
        assert index_dir.resolve().name != ".index-seed"
        assert served_total(base) == SECOND_ITEMS, "the server answers from the new generation"
        assert page_total(base) == SECOND_ITEMS
        assert served_answer(base, "防災")[0] == 19  # 16 of the seed, 3 of the second document
    said = said_by(log)  # a worker that noticed the damage only later says it once too
    assert len(said) == len(set(said)) <= workers, log.read_text()
    assert "Traceback" not in log.read_text()


# ---- the server: kill -9 under load, SIGTERM with requests under way, a port in use


def load(base: str, stop_at: threading.Event, answers: list) -> None:
    """Ask searches until `stop_at` is set; append each answer's status or error."""
    query = urllib.parse.quote("防災")
    while not stop_at.is_set():
        try:
            with urllib.request.urlopen(f"{base}/api/search?q={query}", timeout=10) as answer:
                answer.read()
                answers.append(answer.status)
        except Exception as error:  # refused or reset once the server is gone: recorded
            answers.append(type(error).__name__)
            time.sleep(0.1)


def index_files(index_dir: Path) -> dict[str, tuple[int, int]]:
    generation = index_dir.resolve()
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in generation.iterdir()}


def test_a_server_killed_under_load_serves_again_within_two_seconds(served, tmp_path):
    index_dir, _ = served
    link, files = os.readlink(index_dir), index_files(index_dir)
    port, log = free_port(), tmp_path / "server.log"
    server, _ = start_server(index_dir, port, log, timeout=60)
    stop_at, answers = threading.Event(), []
    clients = [
        threading.Thread(target=load, args=(f"http://127.0.0.1:{port}", stop_at, answers))
        for _ in range(4)
    ]
    try:
        for client in clients:
            client.start()
        time.sleep(1)
        served_before = answers.count(200)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        restarted, seconds = start_server(index_dir, port, log, timeout=30)
        try:
            assert seconds <= 2, f"serving again took {seconds:.2f} s"
            time.sleep(0.3)
            assert answers[-1] == 200
        finally:
            stop_at.set()
            for client in clients:
                client.join()
            stop(restarted)
    finally:
        stop_at.set()
        if server.poll() is None:
            server.kill()
    assert served_before > 0
    assert not any(isinstance(a, int) and a != 200 for a in answers), "no 5xx, ever"
    assert (os.readlink(index_dir), index_files(index_dir)) == (link, files), "index untouched"


def test_sigterm_lets_requests_under_way_finish_and_exits_0(served, tmp_path):
    index_dir, _ = served
    port = free_port()
    server, _ = start_server(index_dir, port, tmp_path / "server.log", timeout=60)
    stop_at, answers = threading.Event(), []
    clients = [
        threading.Thread(target=load, args=(f"http://127.0.0.1:{port}", stop_at, answers))
        for _ in range(3)
    ]
    try:
        for client in clients:
            client.start()
        # A request under way: its first line sent, the rest of it after the signal.
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(b"GET /api/search?q=%E9%98%B2%E7%81%BD HTTP/1.1\r\n")
        time.sleep(0.5)
        os.kill(server.pid, signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.3)
        slow.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = http.client.HTTPResponse(slow)
        response.begin()
        body = response.read()
        assert response.status == 200
        assert json.loads(body)["total"] > 0
        slow.close()
        assert server.wait(timeout=5) == 0
        assert time.monotonic() - signalled < 5
    finally:
        stop_at.set()
        for client in clients:
            client.join()
        if server.poll() is None:
            server.kill()
            server.wait()
    assert answers.count(200) > 0
    assert not any(isinstance(a, int) and a != 200 for a in answers)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_server_on_a_port_in_use_says_so_and_exits_non_zero(seed_index_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = run_cli("-m", "webapp", "--port", str(port), "--index", str(seed_index_dir))
    assert server.returncode == 1
    assert "Traceback" not in server.stderr
    assert server.stderr.strip().splitlines()[-1] == (
        f"Error: cannot listen on http://127.0.0.1:{port}/ (Address already in use): is another "
        "server running there? Stop it or choose another --port"
    )
