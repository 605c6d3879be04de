"""Japanese search quality: each failure mode of a naive index, checked on the seed."""

from __future__ import annotations

import os
import shutil

import pytest

from indexer.dictionary import USER_DICTIONARY_CSV, compile_user_dictionary, sudachi_dictionary
from indexer.synonyms import mine_abbreviations


def ids(policy_index, query: str) -> set[str]:
    """Return the items holding every word of the query (partial matches follow them)."""
    return {hit.id for hit in policy_index.search(query, per_page=100, match="all").hits}


def texts(policy_index, query: str) -> list[str]:
    return [hit.text for hit in policy_index.search(query, per_page=100, match="all").hits]


def with_substring(seed_items, *needles: str) -> set[str]:
    return {item.id for item in seed_items if any(n in item.text for n in needles)}


# Sub-words inside compounds


def test_a_word_finds_the_compounds_that_hold_it(policy_index, seed_items):
    found = texts(policy_index, "情報")
    for compound in ("個人情報", "情報発信", "情報システム"):
        assert any(compound in text for text in found), compound
    assert ids(policy_index, "情報") == with_substring(seed_items, "情報")


def test_a_middle_unit_inside_a_long_unit(policy_index, seed_items):
    assert ids(policy_index, "コロナ") == with_substring(seed_items, "コロナ")
    assert ids(policy_index, "委員会") == with_substring(seed_items, "委員会")
    found = policy_index.search("委員会", per_page=100, match="all").hits
    assert all("<mark>委員会</mark>" in hit.highlight for hit in found)


def test_phrases_cross_long_unit_boundaries(policy_index, seed_items):
    # 情報保護 spans the long units 個人情報保護 | 法改正 … only as short units in a row.
    assert ids(policy_index, '"情報保護"') == with_substring(seed_items, "情報保護")
    assert ids(policy_index, '"保護法"') == with_substring(seed_items, "保護法")


def test_the_whole_long_unit_ranks_above_scattered_parts(policy_index):
    hits = policy_index.search("個人情報保護", match="all").hits
    assert "個人情報保護" in hits[0].text
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


# Width and spacing


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("PDCA", "P D C A"),
        ("OJT", "O J T"),
        ("SDGs", "SDG s"),
        ("RPA", "R P A"),
        ("EBPM", "E B P M"),
    ],
)
def test_letters_spread_in_the_source_are_found_typed_normally(policy_index, typed, written):
    hits = [h for h in policy_index.search(typed, per_page=100).hits if written in h.text]
    assert hits, typed
    assert all(f"<mark>{written}</mark>" in h.highlight for h in hits)


def test_full_width_queries_meet_half_width_text(policy_index):
    assert ids(policy_index, "ＳＤＧｓ") == ids(policy_index, "SDGs") != set()
    assert ids(policy_index, "ＩＣＴ") == ids(policy_index, "ICT") != set()


# Orthographic variants


def test_each_spelling_finds_all_spellings(policy_index, seed_items):
    balance = with_substring(
        seed_items, "ワークライフバランス", "ワーク・ライフ・バランス", "ワークライフ・バランス"
    )
    for spelling in ("ワークライフバランス", "ワーク・ライフ・バランス", "ワークライフ・バランス"):
        assert ids(policy_index, spelling) == balance, spelling
    children = with_substring(seed_items, "子ども", "こども", "子供")
    for spelling in ("子ども", "こども", "子供"):
        assert ids(policy_index, spelling) >= children - with_substring(seed_items, "子ども家庭庁")
    assert (
        ids(policy_index, "付属") == ids(policy_index, "附属") == with_substring(seed_items, "附属")
    )


# Readings


@pytest.mark.parametrize(
    ("kana", "kanji"),
    [
        ("ほいく", "保育"),
        ("ぼうはん", "防犯"),
        ("ぼうさい", "防災"),
        ("けんこう", "健康"),
        ("こうれいしゃ", "高齢者"),
    ],
)
def test_kana_finds_the_kanji_word(policy_index, seed_items, kana, kanji):
    assert ids(policy_index, kana) == with_substring(seed_items, kanji)
    full = policy_index.search(kana, match="all").hits
    assert full and all(f"<mark>{kanji}</mark>" in h.highlight for h in full)


def test_a_local_name_in_kana_is_not_flooded_by_its_reading(policy_index, seed_items):
    assert ids(policy_index, "いたばし") == with_substring(seed_items, "いたばし")


# Abbreviations and synonyms


def test_abbreviations_are_mined_from_the_corpus(seed_items):
    pairs = mine_abbreviations(item.text for item in seed_items)
    assert ["DX", "デジタルトランスフォーメーション"] in pairs
    assert ["OJT", "職場内研修"] in pairs


def test_abbreviation_and_full_form_find_each_other(policy_index, seed_items):
    both = with_substring(seed_items, "DX", "D X", "デジタルトランスフォーメーション")
    assert ids(policy_index, "DX") == ids(policy_index, "デジタルトランスフォーメーション") == both
    assert ids(policy_index, "職場内研修") >= with_substring(seed_items, "OJT", "O J T")


def test_curated_synonyms_expand_queries(policy_index, seed_items):
    assert ids(policy_index, "スマートスクール") >= with_substring(seed_items, "GIGA")


# Precision


def test_tokens_not_ngrams(policy_index, seed_items):
    assert with_substring(seed_items, "京都"), "the trap is in the corpus: 東京都 holds 京都"
    assert ids(policy_index, "京都") == set()
    assert ids(policy_index, "東京") == with_substring(seed_items, "東京")
    assert not any("高島平" in t for t in texts(policy_index, "島"))


# Local proper nouns


def test_the_user_dictionary_keeps_local_names_whole(policy_index, seed_items):
    tokenizer = sudachi_dictionary().tokenizer()
    assert [m.surface() for m in tokenizer.tokenize("いたばし")] == ["いたばし"]
    assert ids(policy_index, "わかしお") == with_substring(seed_items, "わかしお")
    assert ids(policy_index, "ばし") == set()


def test_the_user_dictionary_is_compiled_from_csv_once(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICY_CACHE_DIR", str(tmp_path))
    csv = tmp_path / "user_dict.csv"
    shutil.copy(USER_DICTIONARY_CSV, csv)
    first = compile_user_dictionary(csv)
    assert first.parent == tmp_path / "itabashi-policy-search" and first.stat().st_size > 0
    stamp = first.stat().st_mtime_ns
    assert compile_user_dictionary(csv) == first and first.stat().st_mtime_ns == stamp
    with open(csv, "a", encoding="utf-8") as handle:
        handle.write(
            "成増,4786,4786,3000,成増,名詞,固有名詞,地名,一般,*,*,ナリマス,成増,*,A,*,*,*\n"
        )
    second = compile_user_dictionary(csv)
    assert second != first and second.exists()
    assert not [p for p in os.listdir(second.parent) if p.endswith(".tmp")]


# Query language and ranking


def test_words_are_anded_and_or_exclude_phrase_work(policy_index):
    both = policy_index.search("防災 DX", per_page=100, match="all").hits
    assert both and all("防災" in h.text for h in both)
    assert len(ids(policy_index, "保育 OR 防犯")) == len(
        ids(policy_index, "保育") | ids(policy_index, "防犯")
    )
    assert ids(policy_index, "DX -推進") == ids(policy_index, "DX") - ids(policy_index, "推進")


def test_ranking_is_by_score_with_ties_in_document_order(policy_index):
    hits = policy_index.search("推進", per_page=100, match="all").hits
    keys = [(-h.score, policy_index.get(h.id)["order"]) for h in hits]
    assert keys == sorted(keys)


def test_a_phrase_keeps_its_particles_but_separate_words_do_not(policy_index, seed_items):
    assert ids(policy_index, "人材育成") == with_substring(seed_items, "人材育成")
    loose = ids(policy_index, "人材 育成")
    assert loose > ids(policy_index, "人材育成")
    assert loose >= with_substring(seed_items, "人材の育成")
    # A run with a particle is a sentence: its words, the items holding it as typed first.
    typed = with_substring(seed_items, "公民の連携")
    found = [h.id for h in policy_index.search("公民の連携", per_page=100, match="all").hits]
    assert typed and set(found[: len(typed)]) == typed and set(found) > typed
