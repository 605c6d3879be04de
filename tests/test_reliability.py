"""Reliability: hostile input never gives a 5xx, rebuilds under load lose nothing, soak holds."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.serving import ROOT, production_server, server_processes
from bench.soak import soak
from indexer.build import build_index
from tests.conftest import CORPUS, FIXTURES
from tests.test_faults import page_total

HOSTILE_QUERIES = [
    "",
    "   ",
    "\u3000\u3000",
    "防災" * 5000,  # 10,000 characters
    "*",
    "?",
    ":",
    "^",
    "~",
    "[a TO",
    '"unbalanced',
    "(防災",
    "AND",
    "OR",
    "NOT",
    "nosuchfield:防災",
    "text:",
    "\x00防災\x01\x7f",
    "😀🏯 防災 𠮷",
    "<script>alert(1)</script>",
    "'\"><img src=x onerror=alert(1)>",
    "&lt;b&gt;",
]


@pytest.fixture(scope="module")
def app(seed_index_dir):
    from webapp import create_app

    return create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_in_the_page_and_the_api(client, query):
    page = client.get("/search", query_string={"q": query})
    assert page.status_code == 200
    api = client.get("/api/search", query_string={"q": query})
    assert api.status_code == 200
    assert isinstance(api.get_json()["total"], int)
    body = page.get_data(as_text=True)
    for raw in ("<script>alert", "<img src=x", "\x00"):
        assert raw not in body
    assert "<script>" not in json.dumps(api.get_json()["hits"])


def test_a_long_query_is_cut_with_a_notice(client):
    body = client.get("/search", query_string={"q": "防災" * 5000}).get_data(as_text=True)
    assert "先頭の500文字で検索しました" in body


@pytest.mark.parametrize(
    "raw",
    [b"q=%ff%fe", b"q=%E3%81", b"q=%zz%", b"q=\xff\xfe", b"dept=%ff", b"page=%00", b"q=%00"],
)
def test_broken_encodings_in_the_url(client, raw):
    environ = {"QUERY_STRING": raw.decode("latin-1")}  # WSGI carries the raw bytes as latin-1
    page = client.get("/search", environ_overrides=environ)
    if b"\xff" in raw:  # raw bytes that are not UTF-8: refused, in Japanese
        assert page.status_code == 400
        assert "リクエストを読み取れませんでした" in page.get_data(as_text=True)
    else:
        assert page.status_code == 200
    assert client.get("/api/search", environ_overrides=environ).status_code < 500


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"dept": "存在しない部"}, 400),
        ({"category": "<b>"}, 400),
        ({"page": "0"}, 400),
        ({"page": "-1"}, 400),
        ({"page": "9" * 400}, 200),
        ({"page": "一"}, 400),
        ({"per_page": "0"}, 400),
        ({"per_page": "101"}, 400),
        ({"per_page": "NaN"}, 400),
        ({"page": "99999"}, 200),
    ],
)
def test_bad_api_parameters_are_400_with_a_message(client, args, status):
    response = client.get("/api/search", query_string={"q": "防災", **args})
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"]
        assert "<b>" not in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["0", "-3", "abc", "9" * 400, "99999"])
def test_bad_page_numbers_in_the_page(client, page):
    assert client.get("/search", query_string={"q": "防災", "page": page}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/item/..%2F..%2Fetc%2Fpasswd", "/item/%00", "/item/" + "x" * 5000, "/item/<b>"]
)
def test_hostile_item_ids_are_a_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "<b>" not in response.get_data(as_text=True)


def test_hostile_requests_to_the_real_server(seed_index_dir, tmp_path):
    """What a WSGI test client cannot send: raw bytes and odd request lines, through granian."""
    with production_server(seed_index_dir, tmp_path / "server.log") as (url, _):
        port = urllib.parse.urlsplit(url).port
        raw_utf8 = "/api/search?q=防災".encode()  # what curl sends unless told to encode
        for target in (
            b"/search?q=%ff%fe",
            b"/search?q=\xff\xfe",
            raw_utf8,
            b"/item/%2e%2e/etc/passwd",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                with raw.makefile("rb") as reader:
                    status_line = reader.readline()
            status = int(status_line.split()[1])
            assert status < 500, target
            if target == raw_utf8:  # what curl sends: read as the encoded URL would be
                assert status == 200, target
            elif not target.isascii():  # bytes that are not UTF-8: refused by the server itself
                assert status == 400, target
        # A long query is cut with a notice, not refused: 54 KB of URL (a 500-character query,
        # the longest kept, is 4.5 KB), and its way back through an item's page.
        long_query = urllib.parse.quote("防災" * 3000)
        item = "/item/r5-keiei-01-shisaku-hoshin-01"
        for path in (f"/search?q={long_query}", f"{item}?back=q%3D{long_query}"):
            with urllib.request.urlopen(f"{url}{path}", timeout=30) as answer:
                assert answer.status == 200
        # Past 64 KB of request line the server refuses it: 414, never a 5xx.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/search?q={long_query * 2}", timeout=10)
        refused.value.close()
        assert refused.value.code == 414
        big = urllib.request.Request(f"{url}/api/search", data=b"x" * 100_000, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(big, timeout=10)
        refused.value.close()
        assert refused.value.code in (405, 413)


def test_rebuilds_under_load_serve_the_old_or_the_new_index(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir)
    answers: list[tuple[int, int, int]] = []  # (status, total, sum of department counts)
    failures: list[str] = []
    stop = threading.Event()

    def client(url: str) -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(
                    f"{url}/api/search?q=%E9%98%B2%E7%81%BD", timeout=10
                ) as r:
                    data = json.load(r)
                    facets = sum(f["count"] for f in data["facets"]["department"])
                    answers.append((r.status, data["total"], facets))
            except Exception as error:  # every failure is a lost request
                failures.append(repr(error))

    with production_server(index_dir, tmp_path / "server.log") as (url, _):
        clients = [threading.Thread(target=client, args=(url,)) for _ in range(6)]
        for thread in clients:
            thread.start()
        time.sleep(0.5)
        shutil.copy(FIXTURES / "second_year" / "r6.txt", corpus / "r6.txt")
        manifest = (FIXTURES / "second_year" / "manifest.toml").read_text(encoding="utf-8")
        with open(corpus / "manifest.toml", "a", encoding="utf-8") as handle:
            handle.write("\n" + manifest)
        for _ in range(3):
            build_index(corpus, index_dir)
        time.sleep(0.5)
        stop.set()
        for thread in clients:
            thread.join()
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            assert json.load(response)["items"] == 486
    assert failures == []
    assert len(answers) > 50
    assert {status for status, _, _ in answers} == {200}
    # 防災 is in 16 items of the seed and 3 of the second document: never anything between.
    assert {total for _, total, _ in answers} == {16, 19}
    assert all(total == facets for _, total, facets in answers)


def test_every_worker_follows_a_rebuild(tmp_path):
    """Each worker process reopens the index on its own: after a rebuild all of them map it."""
    index_dir = tmp_path / "index"
    build_index(CORPUS, index_dir)
    with production_server(index_dir, tmp_path / "server.log") as (url, pid):
        deadline = time.monotonic() + 20
        while len(workers := server_processes(pid)[1:]) < len(os.sched_getaffinity(0)):
            assert time.monotonic() < deadline, "the workers are not all there"  # forked in turn
            time.sleep(0.05)
        new = build_index(CORPUS, index_dir).generation
        # Each worker maps its own copy of the generation's segments (indexer/storage.py), named
        # as the files are: a new generation's segments have new names.
        segments = [path.name for path in new.glob("*.seg")]
        assert segments

        def maps_new(worker: int) -> bool:
            maps = Path(f"/proc/{worker}/maps").read_text()
            return all(f"memfd:{name}" in maps for name in segments)

        while not all(maps_new(w) for w in workers):
            assert time.monotonic() < deadline, "a worker still serves the old index"
            with ThreadPoolExecutor(8) as pool:  # at once, so that every worker gets some
                totals = pool.map(lambda _: page_total(url), range(16))
            assert set(totals) == {475}


def test_two_build_commands_at_once(tmp_path):
    index_dir = tmp_path / "index"
    command = [sys.executable, "-m", "indexer", "build", "--index", str(index_dir)]
    builds = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(2)]  # fmt: skip
    outputs = [build.communicate(timeout=120) for build in builds]
    assert [build.returncode for build in builds] == [0, 0], outputs
    check = [sys.executable, "-m", "indexer", "search", "防災", "--json", "--index", str(index_dir)]
    done = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["total"] == 16
    assert len(list(tmp_path.glob(".index-*"))) == 2


def test_a_corrupt_index_is_rebuilt_at_start(tmp_path, caplog):
    from webapp import create_app

    index_dir = tmp_path / "index"
    summary = build_index(CORPUS, index_dir)
    for segment in summary.generation.glob("*.seg"):
        segment.write_bytes(b"not an index")
    app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)})
    assert app.test_client().get("/healthz").get_json()["items"] == 475
    assert "cannot be read" in caplog.text


def test_a_short_soak_has_no_errors_and_flat_memory(seed_index_dir, tmp_path):
    with production_server(seed_index_dir, tmp_path / "server.log") as (url, pid):
        # Memory rises under the first seconds of load, until every worker has filled its
        # caches and touched the pages it shares with the first process (136 → 182 → 216 →
        # 217 → 217 MB over 4-s windows here); what is left to see after that is a leak.
        soak(url, pid, clients=8, seconds=8)
        first = soak(url, pid, clients=8, seconds=5)
        report = soak(url, pid, clients=8, seconds=5)
    assert first.errors == report.errors == []
    assert report.requests > 100
    assert report.rss_end_kb - report.rss_start_kb < 30 * 1024  # flat once warmed up


def test_a_soak_through_a_rebuild_has_no_errors_and_memory_settles(tmp_path):
    index_dir = tmp_path / "index"
    first = build_index(CORPUS, index_dir).generation
    with production_server(index_dir, tmp_path / "server.log") as (url, pid):
        soak(url, pid, clients=2, seconds=2)  # warm up
        report = soak(url, pid, clients=4, seconds=8, rebuild=(CORPUS, index_dir, 1.0))
        with urllib.request.urlopen(url + "/healthz") as answer:
            assert json.load(answer)["items"] == 475
    assert report.errors == [] and report.requests > 50
    assert report.rebuild_s > 0 and index_dir.resolve() != first.resolve()
    assert report.rss_end_kb - report.rss_before_rebuild_kb < 40 * 1024
