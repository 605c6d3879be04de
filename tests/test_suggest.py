"""Suggestions as one types and "did you mean", over the seed index and a tiny one."""

from __future__ import annotations

import doctest
import shutil

import pytest

import indexer.spelling
import indexer.suggest
import indexer.vocabulary
from indexer.build import build_index
from indexer.search import PolicyIndex
from indexer.spelling import did_you_mean
from indexer.suggest import suggest
from indexer.vocabulary import (
    VOCABULARY_FILE,
    build_vocabulary,
    index_vocabulary,
    read_vocabulary,
)
from tests.conftest import FIXTURES


def texts(suggestions) -> list[str]:
    return [s.text for s in suggestions]


def test_kana_finds_words_by_their_reading(policy_index):
    found = suggest(policy_index, "ぼう")
    assert texts(found)[:3] == ["防災", "防止", "防犯"]
    assert (found[0].text, found[0].count) == ("防災", 16)
    assert ("防犯", 4) in [(s.text, s.count) for s in found]
    # Katakana reads the same, and is also matched as written.
    assert texts(suggest(policy_index, "ボウ")) == texts(found)


def test_counts_are_what_the_search_finds_and_rank_the_suggestions(policy_index):
    for typed in ("ぼう", "デジ", "こそ", "dx", "子ど"):
        found = suggest(policy_index, typed)
        assert found, typed
        counts = [s.count for s in found]
        assert counts == sorted(counts, reverse=True)
        for suggestion in found:
            assert suggestion.count == policy_index.search(suggestion.text).total_all > 0


def test_phrases_and_words_in_katakana(policy_index):
    found = {s.text: s.count for s in suggest(policy_index, "デジ")}
    assert "デジタル化" in found and "デジタルトランスフォーメーション" in found
    # DX is a synonym of the long form, and the search counts it: 4 items spell it out.
    assert found["デジタルトランスフォーメーション"] == 28
    assert found["デジタル化"] == 2


def test_spellings_as_the_documents_write_them(policy_index):
    # Sudachi normalizes 子ども to 子供; the suggestion keeps the documents' spelling.
    assert suggest(policy_index, "子ど")[0].text == "子ども"
    assert suggest(policy_index, "こど")[0].text == "子ども"
    assert suggest(policy_index, "dx")[0].text == "DX"
    assert suggest(policy_index, "ＤＸ")[0].text == "DX"


def test_no_fragments_numbers_or_single_characters(policy_index):
    assert "トランスフォーメーション" not in texts(suggest(policy_index, "トランス"))
    assert all(not s.text.isdigit() for s in suggest(policy_index, "20"))
    for suggestion in suggest(policy_index, "く") + suggest(policy_index, "か"):
        assert len(suggestion.text) > 1


def test_several_words_complete_the_last_one(policy_index):
    found = suggest(policy_index, "防災　くん")
    assert texts(found) == ["防災 訓練"]
    assert found[0].count == policy_index.search("防災 訓練").total_all == 1


def test_filters_count_as_the_search_under_them(policy_index):
    inside = suggest(policy_index, "ぼう", {"department": ("危機管理部",)})
    assert inside[0].text == "防災" and inside[0].count == 15
    for suggestion in inside:
        assert suggestion.count == policy_index.search(suggestion.text, ["危機管理部"]).total_all
    # A value the index does not hold is left out rather than failing.
    assert suggest(policy_index, "ぼう", {"department": ("ない部",)}) == suggest(
        policy_index, "ぼう"
    )


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "\u3000", "防災 ", "-ぼう", '"ぼう', "防災 OR", "あ" * 101, "\x00ぼう"]
    + ["ぼ\u200bう"],
)
def test_nothing_to_complete_gives_nothing(policy_index, typed):
    assert suggest(policy_index, typed) == []


def test_did_you_mean_by_reading_and_by_spelling(policy_index):
    by_reading = did_you_mean(policy_index, "ぼうさお")
    assert [(c.query, c.count) for c in by_reading][:1] == [("防災", 16)]
    by_spelling = did_you_mean(policy_index, "防砕")
    assert by_spelling[0].query == "防災" and by_spelling[0].replacement == "防災"
    assert "でじたるか" not in [c.query for c in did_you_mean(policy_index, "でじたるか")]
    # Kana that reads as indexed words is searched as them, so nothing needs correcting.
    respelled = policy_index.search("でじたるか")
    assert respelled.respelled == (("でじたるか", "デジタル化"),) and respelled.total_all == 2


def test_did_you_mean_keeps_the_other_words_and_the_filters(policy_index):
    corrected = did_you_mean(policy_index, "ぼうさお 訓練")
    assert corrected[0].query == "防災 訓練"
    assert corrected[0].count == policy_index.search("防災 訓練").total_all
    inside = did_you_mean(policy_index, "ぼうさお", {"department": ("危機管理部",)})
    assert (inside[0].count, inside[0].keeps_filters) == (15, True)
    outside = did_you_mean(policy_index, "ぼうさお", {"department": ("総務部",)})
    assert (outside[0].count, outside[0].keeps_filters) == (16, False)


def test_no_correction_for_a_query_that_finds_items(policy_index):
    assert did_you_mean(policy_index, "防災") == []
    assert did_you_mean(policy_index, "防災 ピアノ") == []  # ピアノ is unknown, nothing near it


def test_vocabulary_is_built_once_per_index_generation(tmp_path, policy_index, seed_index_dir):
    assert index_vocabulary(policy_index) is index_vocabulary(PolicyIndex(seed_index_dir))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("manifest.toml", "r6.txt"):
        shutil.copy(FIXTURES / "second_year" / name, corpus / name)
    build_index(corpus, tmp_path / "index")
    small = PolicyIndex(tmp_path / "index")
    before = index_vocabulary(small)
    assert "防犯カメラ" in texts(suggest(small, "ぼう"))
    text = (corpus / "r6.txt").read_text(encoding="utf-8")
    (corpus / "r6.txt").write_text(text.replace("防犯カメラ", "街頭照明"), encoding="utf-8")
    build_index(corpus, tmp_path / "index")
    assert index_vocabulary(small) is not before
    assert "防犯カメラ" not in texts(suggest(small, "ぼう"))
    assert "街頭照明" in texts(suggest(small, "がいとう"))


def terms(vocabulary) -> list[tuple]:
    return [(t.text, t.key, t.readings, t.items, t.whole) for t in vocabulary.terms]


def test_the_build_writes_the_vocabulary_of_the_items(seed_index_dir, seed_items):
    written = read_vocabulary(seed_index_dir.resolve() / VOCABULARY_FILE)
    assert len(written) > 1000
    assert terms(written) == terms(build_vocabulary(item.text for item in seed_items))


def test_a_server_reads_the_vocabulary_and_never_builds_it(tmp_path, seed_index_dir, monkeypatch):
    """The first kana query of a server needs the index's words by reading: read, not analysed.

    Building it from every stored text took 40 s at 100× the seed, inside that first request.
    """
    copy = tmp_path / "index"
    shutil.copytree(seed_index_dir.resolve(), copy)  # a generation no process has opened yet

    def refuse(texts):
        raise AssertionError("the vocabulary was built from the stored texts")

    monkeypatch.setattr(indexer.vocabulary, "build_vocabulary", refuse)
    found = PolicyIndex(copy).search("こうきょうこうつう")
    assert found.total > 0 and any("公共交通" in hit.text for hit in found.hits)
    assert texts(suggest(PolicyIndex(copy), "ぼう"))[:3] == ["防災", "防止", "防犯"]


def test_an_index_without_a_vocabulary_file_builds_it(tmp_path, seed_index_dir):
    copy = tmp_path / "index"
    shutil.copytree(seed_index_dir.resolve(), copy)
    (copy / VOCABULARY_FILE).unlink()
    built = index_vocabulary(PolicyIndex(copy))
    assert terms(built) == terms(read_vocabulary(seed_index_dir.resolve() / VOCABULARY_FILE))


def test_a_text_seen_twice_counts_for_two_items():
    once = build_vocabulary(["防災訓練の実施", "防犯カメラ"])
    twice = build_vocabulary(["防災訓練の実施", "防犯カメラ", "防災訓練の実施"])
    assert {t.text: t.items for t in twice.terms}["防災訓練"] == 2
    assert {t.text: t.items for t in twice.terms}["防犯カメラ"] == 1
    assert {t.key for t in once.terms} == {t.key for t in twice.terms}


def test_vocabulary_from_texts():
    vocabulary = build_vocabulary(["選挙管理委員会の運営", "委員会の開催"])
    found = {t.text: (t.items, t.whole) for t in vocabulary.starting_with("いいん")}
    assert found == {"委員会": (2, True)}
    assert [t.text for t in vocabulary.starting_with("選挙")] == ["選挙管理委員会"]


@pytest.mark.parametrize("module", [indexer.vocabulary, indexer.suggest, indexer.spelling])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
