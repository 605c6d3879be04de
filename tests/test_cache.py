"""The result cache: a cached answer is the fresh one, a rebuild is seen at once, it is bounded."""

from __future__ import annotations

import shutil

import pytest

from bench.performance import QUERIES
from indexer.build import build_index
from tests.conftest import CORPUS, FIXTURES
from webapp import create_app

# Every query of the benchmark, and the same ones on another page, under a filter, literally.
PATHS = [q.api_path() for q in QUERIES]
PATHS += [f"{path}&page=2&per_page=5" for path in PATHS[:10]]
PATHS += ["/api/search?q=推進&dept=福祉部&dept=危機管理部", "/api/search?q=推進&dept=危機管理部"]
PATHS += ["/api/search?q=保育士 負担&match=all", "/api/search?q=年寄り&expand=off"]
PATHS += ["/api/search?q=福祉部の相談窓口&names=off", "/api/search?q=防災&dept=存在しない部"]
PAGES = ["/search?q=防災", "/search?q=推進&dept=福祉部&page=2", "/search?q=介護予防の取り組み"]
PAGES += ["/search?q=ぼうさお", "/search?q=京都&dept=総務部", "/search?q=推進&page=999"]


def make_app(index_dir, size: int):
    return create_app({"TESTING": True, "INDEX_DIR": str(index_dir), "RESULT_CACHE_SIZE": size})


@pytest.fixture(scope="module")
def apps(seed_index_dir):
    return make_app(seed_index_dir, 512), make_app(seed_index_dir, 0)


def test_a_cached_answer_equals_a_fresh_one(apps):
    cached, fresh = (app.test_client() for app in apps)
    cache = apps[0].extensions["cached_index"].cache
    for path in PATHS:
        first, again, plain = cached.get(path), cached.get(path), fresh.get(path)
        assert first.status_code == again.status_code == plain.status_code, path
        assert first.data == again.data == plain.data, path
    for path in PAGES:
        first, again, plain = (client.get(path) for client in (cached, cached, fresh))
        assert first.status_code == again.status_code == plain.status_code == 200, path
        assert first.data == again.data == plain.data, path
    assert cache.hits >= len(PATHS) - 1 + len(PAGES)  # the unknown department is never kept
    off = apps[1].extensions["cached_index"].cache
    assert off.hits == len(off) == 0


def test_a_rebuild_is_seen_at_once(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    build_index(corpus, index_dir)
    app = make_app(index_dir, 512)
    client, cache = app.test_client(), app.extensions["cached_index"].cache
    for _ in range(2):
        assert client.get("/api/search?q=防災").get_json()["total"] == 16
    assert cache.hits == 1 and len(cache) == 1
    shutil.copy(FIXTURES / "second_year" / "r6.txt", corpus / "r6.txt")
    manifest = (FIXTURES / "second_year" / "manifest.toml").read_text(encoding="utf-8")
    with open(corpus / "manifest.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + manifest)
    build_index(corpus, index_dir)
    assert client.get("/api/search?q=防災").get_json()["total"] == 19
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)  # the old results are gone
    assert "<strong>19</strong>件" in client.get("/search?q=防災").get_data(as_text=True)
    assert cache.hits == 2  # the page's search is the API's


def test_the_cache_is_bounded_and_can_be_turned_off(seed_index_dir, monkeypatch):
    app = make_app(seed_index_dir, 2)
    client, cache = app.test_client(), app.extensions["cached_index"].cache
    for query in ("防災", "推進", "計画", "推進"):
        assert client.get(f"/api/search?q={query}").status_code == 200
    assert len(cache) == 2 and cache.hits == 1
    assert [key[0] for key in cache.keys()] == ["計画", "推進"]  # 防災, used least lately, left
    monkeypatch.setenv("POLICY_RESULT_CACHE_SIZE", "0")
    app = create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)})
    client, cache = app.test_client(), app.extensions["cached_index"].cache
    for _ in range(2):
        assert client.get("/api/search?q=防災").get_json()["total"] == 16
    assert cache.size == 0 and len(cache) == cache.hits == cache.misses == 0
