"""Word vectors (indexer/vectors.py): the words no item holds, searched through their nearest.

These run on the real chiVe vectors that `make test` downloads and prepares (vendor/chive).
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import vectors as vectors_module
from indexer.search import PolicyIndex
from indexer.vectors import (
    VECTORS_DIR,
    Neighbours,
    Vectors,
    VectorsError,
    open_vectors,
    prepare,
    string_hash,
)
from webapp import create_app


@pytest.fixture(scope="module")
def vectors() -> Vectors:
    found, problem = open_vectors(VECTORS_DIR)
    assert found is not None, f"{problem}: `make test` prepares the vectors"
    return found


def test_spacys_hash_finds_the_words_and_only_them(vectors):
    for word in ("防災", "高齢者", "空き家", "認知症", "マンション"):
        assert vectors.row(word) is not None, word
    assert vectors.row("ぼうさおxyz") is None
    # MurmurHash64A over 8-byte blocks and a tail of every length.
    assert len({string_hash("a" * n) for n in range(20)}) == 20


def test_a_word_no_item_holds_is_searched_through_its_nearest_words(policy_index):
    result = policy_index.search("認知症", per_page=100)
    expansion = {e.word: e.with_ for e in result.expansions}["認知症"]
    assert {"高齢者", "介護"} <= set(expansion)
    assert result.total_all == 0 and result.hits  # guesses never count as holding the word
    for hit in result.hits[:3]:
        assert hit.missing == ["認知症"]
        assert any(word in hit.text for word in ("高齢者", "介護")), hit.text
    assert "<mark>" in result.hits[0].highlight


def test_names_and_precision_traps_get_no_guesses(policy_index):
    # 京都 is a name (its nearest word is 東京, 0.52), 業者 and ドローン have none near enough.
    for query in ("京都", "業者", "ドローンの飛行ルールは？"):
        result = policy_index.search(query)
        assert result.total == 0 and not result.expansions, query


def test_only_common_nouns_are_guessed_for(policy_index):
    snapshot = policy_index.current()
    for query in ("存在", "TO", "to", "京都"):  # a verbal noun, Latin letters, a name
        assert [w.guessed for w in snapshot.understood(query).words] == [()], query
    assert snapshot.understood("物価上昇").words[0].guessed  # a compound ending in one is a thing


def test_a_word_held_or_linked_gets_no_guess(policy_index):
    snapshot = policy_index.current()
    assert [w.guessed for w in snapshot.understood("防災").words] == [()]
    assert [w.guessed for w in snapshot.understood("年寄り").words] == [()]  # → 高齢者 (Sudachi)
    assert snapshot.understood("年寄り", expand=False).words[0].guessed == ()


def test_a_guess_that_holds_another_query_word_is_left_out(policy_index):
    words = policy_index.current().understood("個人情報の漏えいを防ぐ取り組みは？").words
    guessed = {w.text: [g.text for g in w.guessed] for w in words}
    assert not any("個人情報" in g for g in guessed["漏えい"]), guessed


def test_guesses_are_words_of_the_items_and_not_names(policy_index, vectors):
    assert Neighbours.of_terms(vectors, []).guess("認知症", "認知症") == ()  # no corpus words
    snapshot = policy_index.current()
    for query in ("空き家", "老人ホーム", "ハザードマップ", "商店街を元気にしたい"):
        for word in snapshot.understood(query).words:
            for guess in word.guessed:
                assert policy_index.search(guess.text, match="all").total, (query, guess.text)
                assert not vectors_module.proper_noun(guess.text), (query, guess.text)


def test_without_vectors_the_search_runs_and_healthz_says_why(seed_index_dir, tmp_path):
    index = PolicyIndex(seed_index_dir, vectors=tmp_path / "none")
    assert index.vectors is None and "no word vectors" in index.vectors_problem
    result = index.search("認知症")  # as before the vectors: only through its part 認知 (認知度)
    assert not result.expansions and all("認知" in hit.text for hit in result.hits)
    app = create_app(
        {"TESTING": True, "INDEX_DIR": str(seed_index_dir), "VECTORS_DIR": str(tmp_path)}
    )
    answer = app.test_client().get("/healthz").get_json()
    assert answer["status"] == "ok" and answer["word_vectors"] != "ok"
    assert "no word vectors" in answer["word_vectors"]


def test_a_damaged_wheel_is_refused_with_a_message(tmp_path):
    wheel = tmp_path / "ja_ginza.whl"
    wheel.write_bytes(b"not a zip")
    with pytest.raises(VectorsError, match="cannot read the vectors"):
        prepare(wheel, tmp_path / "out")
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other.txt", "x")
    result = CliRunner().invoke(vectors_module.main, ["--wheel", str(wheel), "--out", "x"])
    assert result.exit_code != 0 and "cannot read the vectors" in result.output
    assert not (tmp_path / "out").exists()


def test_mismatched_arrays_are_refused(tmp_path, vectors):
    np.save(tmp_path / "keys.npy", np.asarray(vectors.keys[:10]))
    np.save(tmp_path / "rows.npy", np.full(10, 60000, dtype=np.uint16))
    np.save(tmp_path / "vectors.npy", np.asarray(vectors.vectors[:5]))
    with pytest.raises(VectorsError, match="do not fit"):
        Vectors.open(tmp_path)
