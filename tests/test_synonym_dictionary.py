"""Sudachi's synonym dictionary: the expandControl flags, folding, bad files, corpus relevance."""

from __future__ import annotations

import json
import os
import time
import unicodedata

import pytest

from indexer.synonym_dictionary import (
    DICTIONARY_FILE,
    DictionaryError,
    SynonymGroup,
    dictionary_file,
    load_dictionary,
    relevant_groups,
)
from tests.conftest import ROOT


def item(midashi: str, control: int = 0) -> dict:
    return {"taigenYogen": "体言", "expandControl": control, "bunya": [], "midashi": midashi}


def write(tmp_path, data) -> object:
    path = tmp_path / "synonyms.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_flags_make_targets_triggers_and_drop_deletions(tmp_path):
    path = write(tmp_path, [
        {"id": "000001", "items": [item("高齢者"), item("老人"), item("シニア", 1), item("老", 2)]},
        {"id": "000002", "items": [item("ごみ"), item("芥", 2)]},  # one usable word
        {"id": "000003", "items": [item("児童"), item("子ども", 1)]},
    ])  # fmt: skip
    assert load_dictionary(path) == [
        SynonymGroup("000001", ("高齢者", "老人", "シニア"), ("高齢者", "老人")),
        SynonymGroup("000003", ("児童", "子ども"), ("児童",)),
    ]


def test_headwords_are_nfkc_folded_and_deduplicated(tmp_path):
    path = write(tmp_path, [
        {"id": "000010", "items": [item("ＤＸ", 1), item("DX"), item("デジタル変革")]},
        {"id": "000011", "items": [item("㎡"), item("m2", 1), item("平方メートル")]},
    ])  # fmt: skip
    assert load_dictionary(path) == [
        # a word that is a trigger in any of its items stays one
        SynonymGroup("000010", ("DX", "デジタル変革"), ("DX", "デジタル変革")),
        SynonymGroup("000011", ("m2", "平方メートル"), ("m2", "平方メートル")),
    ]


def test_missing_file_names_it_and_what_to_run(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(DictionaryError) as error:
        load_dictionary(path)
    assert str(path) in str(error.value)
    assert "make serve" in str(error.value) and "npm ci" in str(error.value)


def test_environment_variable_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SUDACHI_SYNONYMS", raising=False)
    default = ROOT / "node_modules/sudachi-synonyms-dictionary/sudachi-synonyms-dictionary.json"
    assert dictionary_file() == DICTIONARY_FILE == default
    path = write(tmp_path, [{"id": "1", "items": [item("ごみ"), item("ゴミ")]}])
    monkeypatch.setenv("SUDACHI_SYNONYMS", str(path))
    assert load_dictionary() == [SynonymGroup("1", ("ごみ", "ゴミ"), ("ごみ", "ゴミ"))]


def test_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "synonyms.json"
    path.write_text('[{"id": "000001", "items": [', encoding="utf-8")
    with pytest.raises(DictionaryError, match="not a readable JSON") as error:
        load_dictionary(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"id": "000001", "items": []}, "expected a JSON list of groups"),
        ([["高齢者", "老人"]], "group 0 is not an object with a list of items"),
        ([{"id": 1, "items": [item("ごみ"), item("ゴミ")]}], "group 0 has no string id"),
        ([{"id": "000001", "items": [{"expandControl": 0}]}], "without a string midashi"),
        ([{"id": "000001", "items": [item("ごみ", 3)]}], "expandControl that is not 0, 1 or 2"),
        ([{"id": "000001", "items": [{"midashi": "ごみ", "expandControl": "0"}]}], "not 0, 1"),
    ],
)
def test_json_of_the_wrong_shape_is_refused(tmp_path, data, problem):
    path = write(tmp_path, data)
    with pytest.raises(DictionaryError, match=problem) as error:
        load_dictionary(path)
    assert str(path) in str(error.value)


def test_relevant_groups_keep_exactly_those_with_a_word_in_the_texts():
    groups = [
        SynonymGroup("1", ("高齢者", "老人"), ("高齢者", "老人")),  # 高齢者 occurs
        SynonymGroup("2", ("ごみ", "ゴミ"), ("ごみ",)),  # ゴミ occurs as full-width katakana
        SynonymGroup("3", ("犬", "地域包括支援センター連絡会"), ("犬",)),  # none occurs
        SynonymGroup("4", ("DX", "デジタル変革"), ("DX",)),  # ＤＸ occurs in full width
        SynonymGroup("5", ("地域包括支援センター運営協議会", "包括協議会"), ()),  # > max_length
        SynonymGroup("6", ("減量", "削減"), ("減量",)),  # 減 and 量 straddle two texts
    ]
    texts = ["高齢者の見守り", "ｺﾞﾐの減", "量を増やすＤＸ", "地域包括支援センター運営協議会の開催"]
    kept = relevant_groups(groups, texts, max_length=6)
    assert [group.id for group in kept] == ["1", "2", "4", "5"]
    assert relevant_groups(groups, []) == []


@pytest.fixture(scope="module")
def real_dictionary() -> list[SynonymGroup]:
    path = dictionary_file()
    if not path.exists():
        reason = f"the synonym dictionary is not installed ({path}): run `make test` or `npm ci`"
        if os.environ.get("REQUIRE_SYNONYMS") == "1":
            pytest.fail(f"REQUIRE_SYNONYMS=1 but {reason}")
        pytest.skip(reason)
    return load_dictionary()


def test_real_dictionary_over_the_seed_corpus(real_dictionary, seed_items):
    assert len(real_dictionary) > 20_000
    by_id = {group.id: group for group in real_dictionary}
    assert by_id["013456"].triggers == ("高齢者", "年寄り", "老人", "老齢者")  # シニア: target only
    assert "シニア" in by_id["013456"].words

    started = time.perf_counter()
    kept = relevant_groups(real_dictionary, (item.text for item in seed_items))
    elapsed = time.perf_counter() - started
    assert 300 < len(kept) < 2_000
    assert elapsed < 2.0  # about 0.15 s here; generous for a loaded CI machine
    kept_ids = {group.id for group in kept}
    elderly = [g for g in kept if "高齢者" in g.words and {"年寄り", "老人"} & set(g.words)]
    assert [group.id for group in elderly] == ["013456"]
    # ごみ (2 groups), 子ども (2), 避難所, and DX with デジタルトランスフォーメーション
    assert {"008536", "019207", "016008", "019163", "011704", "024907"} <= kept_ids
    corpus = "\0".join(unicodedata.normalize("NFKC", item.text) for item in seed_items)
    assert kept == [g for g in real_dictionary if any(word in corpus for word in g.words)]


def test_the_checked_groups_are_cached_by_the_file_hash(tmp_path, monkeypatch):
    from indexer.synonym_dictionary import load_dictionary

    monkeypatch.setenv("POLICY_CACHE_DIR", str(tmp_path / "cache"))
    dictionary = tmp_path / "synonyms.json"
    group = {"id": "1", "items": [{"midashi": "ごみ", "expandControl": 0},
                                  {"midashi": "ゴミ", "expandControl": 0}]}  # fmt: skip
    dictionary.write_text(json.dumps([group]), encoding="utf-8")
    first = load_dictionary(dictionary)
    cached = list((tmp_path / "cache").rglob("synonyms-*.pickle"))
    assert len(cached) == 1 and load_dictionary(dictionary) == first
    cached[0].write_bytes(b"damaged")  # a damaged cache is read past, never trusted
    assert load_dictionary(dictionary) == first
    group["items"].append({"midashi": "塵", "expandControl": 0})
    dictionary.write_text(json.dumps([group]), encoding="utf-8")  # a new file, a new entry
    assert load_dictionary(dictionary)[0].words == ("ごみ", "ゴミ", "塵")
