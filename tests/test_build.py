"""Building: a real Whoosh index on disk, swapped in atomically, never replaced by a bad build."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from whoosh import index as whoosh_index

from indexer.build import BuildError, build_index, build_lock
from indexer.corpus import CorpusError
from indexer.search import PolicyIndex
from indexer.snapshot import IndexUnavailable
from tests.conftest import CORPUS, FIXTURES, ROOT


@pytest.fixture
def corpus(tmp_path):
    """A private copy of the seed corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def test_build_writes_a_whoosh_index_behind_a_link(corpus, tmp_path):
    summary = build_index(corpus, tmp_path / "index")
    assert summary.items == 475
    assert summary.per_department["教育委員会事務局"] == 38
    assert len(summary.per_department) == 20
    link = tmp_path / "index"
    assert link.is_symlink() and link.resolve() == summary.generation
    assert whoosh_index.exists_in(str(link))
    with whoosh_index.open_dir(str(link)).searcher() as searcher:
        assert searcher.doc_count() == 475


def test_rebuild_swaps_in_a_new_generation_and_the_open_index_follows(corpus, tmp_path):
    index_dir = tmp_path / "index"
    first = build_index(corpus, index_dir)
    policy_index = PolicyIndex(index_dir)
    assert policy_index.search("防災").total > 0
    assert policy_index.search('"子育て支援の充実"').total == 0

    add_second_document(corpus)
    second = build_index(corpus, index_dir)
    third = build_index(corpus, index_dir)
    assert index_dir.resolve() == third.generation
    assert second.generation.exists(), "the previous generation stays for readers still on it"
    assert not first.generation.exists(), "older generations are removed"
    assert policy_index.doc_count == 486
    assert policy_index.search('"子育て支援の充実"').total == 1


def test_a_broken_corpus_fails_and_the_old_index_keeps_serving(corpus, tmp_path):
    index_dir = tmp_path / "index"
    good = build_index(corpus, index_dir)
    policy_index = PolicyIndex(index_dir)
    seed = corpus / "itabashi-r5-keiei-hoshin.txt"
    seed.write_text(seed.read_text(encoding="utf-8").replace("\n改革\t", "\n改善\t", 1))
    with pytest.raises(CorpusError, match=r"itabashi-r5-keiei-hoshin\.txt:\d+: unknown row label"):
        build_index(corpus, index_dir)
    assert index_dir.resolve() == good.generation
    assert policy_index.search("防災").total == 16
    assert sorted(p.name for p in tmp_path.glob(".index-*")) == [good.generation.name]


def test_a_build_interrupted_half_way_leaves_the_old_index(corpus, tmp_path):
    index_dir = tmp_path / "index"
    good = build_index(corpus, index_dir)

    def interrupt(done, total):
        if done == 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, index_dir, progress=interrupt)
    assert index_dir.resolve() == good.generation
    assert [p.name for p in tmp_path.glob(".index-*")] == [good.generation.name]


def test_a_killed_build_leaves_the_old_index_and_the_next_build_cleans_up(corpus, tmp_path):
    index_dir = tmp_path / "index"
    good = build_index(corpus, index_dir)
    slow_build = (
        "import sys, time; from indexer.build import build_index; "
        "build_index(sys.argv[1], sys.argv[2], progress=lambda d, t: time.sleep(0.02))"
    )
    child = subprocess.Popen([sys.executable, "-c", slow_build, corpus, index_dir], cwd=ROOT)
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob(".index-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert len(list(tmp_path.glob(".index-*"))) == 2, "the half-written generation is left"
    assert index_dir.resolve() == good.generation
    assert PolicyIndex(index_dir).doc_count == 475

    newest = build_index(corpus, index_dir)
    left = sorted(p.name for p in tmp_path.glob(".index-*"))
    assert left == sorted([good.generation.name, newest.generation.name])


def test_two_builds_at_once_take_turns(corpus, tmp_path):
    index_dir = tmp_path / "index"
    results, errors = [], []

    def run():
        try:
            results.append(build_index(corpus, index_dir))
        except Exception as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 2
    assert PolicyIndex(index_dir).doc_count == 475


def test_a_build_that_cannot_get_the_lock_says_so(corpus, tmp_path):
    index_dir = tmp_path / "index"
    with (
        build_lock(index_dir),
        pytest.raises(BuildError, match="another build .* is still running"),
    ):
        build_index(corpus, index_dir, lock_wait=0.2)
    assert not index_dir.exists()


def test_a_directory_that_is_not_an_index_is_never_replaced(corpus, tmp_path):
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / "notes.txt").write_text("keep me")
    with pytest.raises(BuildError, match="holds something other than an index"):
        build_index(corpus, index_dir)
    assert (index_dir / "notes.txt").read_text() == "keep me"


def test_missing_and_corrupt_indexes_give_a_clear_message(corpus, tmp_path):
    with pytest.raises(IndexUnavailable, match="no index at .*python -m indexer build"):
        PolicyIndex(tmp_path / "nothing")
    index_dir = tmp_path / "index"
    summary = build_index(corpus, index_dir)
    for segment in summary.generation.glob("*.seg"):
        segment.write_bytes(b"garbage")
    with pytest.raises(IndexUnavailable, match="cannot be read.*rebuild it"):
        PolicyIndex(index_dir)


def add_second_document(corpus):
    shutil.copy(FIXTURES / "second_year" / "r6.txt", corpus / "r6.txt")
    manifest = (FIXTURES / "second_year" / "manifest.toml").read_text(encoding="utf-8")
    with open(corpus / "manifest.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + manifest)


@pytest.mark.parametrize("problem", ["missing", "not json", "wrong shape"])
def test_an_unusable_synonym_dictionary_fails_the_build_and_the_old_index_stays(
    corpus, tmp_path, monkeypatch, problem
):
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir)
    before = index_dir.resolve()
    dictionary = tmp_path / "synonyms.json"
    if problem == "not json":
        dictionary.write_text("{not json", encoding="utf-8")
    elif problem == "wrong shape":
        dictionary.write_text('{"groups": []}', encoding="utf-8")
    monkeypatch.setenv("SUDACHI_SYNONYMS", str(dictionary))
    with pytest.raises(BuildError) as failure:
        build_index(corpus, index_dir)
    assert "synonym dictionary" in str(failure.value) and str(dictionary) in str(failure.value)
    if problem == "missing":
        assert "npm ci" in str(failure.value)
    assert index_dir.resolve() == before
    assert PolicyIndex(index_dir).search("年寄り").total_all > 0  # the old index, expansions too
