"""The Sudachi tokenizer and filters: offsets into the original text, width, spread letters."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis import (
    GAP,
    PartOfSpeechFilter,
    SudachiTokenizer,
    japanese_analyzer,
    normalize,
)

analyzer = japanese_analyzer()


def tokens(text: str) -> list[tuple[str, int, str]]:
    """Return (term, position, original characters) for each token."""
    stream = analyzer(text, positions=True, chars=True)
    return [(t.text, t.pos, text[t.startchar : t.endchar]) for t in stream]


def test_offsets_point_at_the_original_characters_on_full_width_text():
    assert tokens("ＤＸの推進") == [("dx", 0, "ＤＸ"), (GAP, 1, "の"), ("推進", 2, "推進")]


def test_spread_letters_become_one_term_spanning_the_spaces():
    text = "職場の特性に応じたO J Tに取り組みます"
    assert ("ojt", "O J T") in [(term, original) for term, _, original in tokens(text)]
    assert ("sdgs", "SDG s") in [(term, original) for term, _, original in tokens("SDG s 未来都市")]
    assert [(t, o) for t, _, o in tokens("P D C Aサイクル")][:2] == [
        ("pdcaサイクル", "P D C Aサイクル"),
        ("pdca", "P D C A"),
    ]


def test_full_width_spread_letters_and_mixed_scripts():
    assert tokens("Ｏ Ｊ Ｔと２０２５年") == [
        ("ojt", 0, "Ｏ Ｊ Ｔ"),
        (GAP, 1, "と"),
        ("2025", 2, "２０２５"),
        ("年", 3, "年"),
    ]


def test_words_are_kept_apart_where_no_letter_is_alone():
    assert [t for t, _, _ in tokens("ICT 推進 DX")] == ["ict", "推進", "dx"]
    assert normalize("SDGs ローカライズ")[0] == "SDGs ローカライズ"


def test_particles_leave_a_gap_and_symbols_and_spaces_vanish():
    assert [(t, p) for t, p, _ in tokens("防災・防犯の「強化」を図る。")] == [
        ("防災", 0),
        ("防犯", 1),
        (GAP, 2),
        ("強化", 3),
        (GAP, 4),
        ("図る", 5),
    ]
    assert [t for t, _, _ in tokens("推進します")] == ["推進", "為る", GAP]


def test_normalized_form_joins_spelling_variants():
    for text in ("子ども", "こども", "子供"):
        assert [t for t, _, _ in tokens(text)] == ["子供"]
    assert [t for t, _, _ in tokens("附属")] == [t for t, _, _ in tokens("付属")]


def test_long_units_hold_their_parts_at_consecutive_positions():
    assert tokens("個人情報保護") == [
        ("個人情報保護", 0, "個人情報保護"),
        ("個人", 0, "個人"),
        ("情報", 1, "情報"),
        ("保護", 2, "保護"),
    ]
    assert ("委員会", 2, "委員会") in tokens("選挙管理委員会")


def test_a_word_split_in_context_is_a_long_unit_over_its_pieces():
    # Sudachi reads 係長級 as 係|長|級 and 南口駅前 as 南口駅|前; typed alone, 係長 and 駅前
    # are one unit each: the pieces side by side yield the word too, where they stand.
    assert tokens("係長級")[:3] == [("係", 0, "係"), ("係長", 0, "係長"), ("長", 1, "長")]
    assert ("駅前", 3, "駅前") in tokens("上板橋駅南口駅前地区")
    assert [t for t, _, _ in tokens("個人情報の保護")] == ["個人情報", "個人", "情報", GAP, "保護"]


def test_filter_keeps_the_place_of_particles_but_not_of_symbols():
    stream = (SudachiTokenizer() | PartOfSpeechFilter())("情報の保護・活用", positions=True)
    assert [(t.text, t.pos) for t in stream] == [("情報", 0), (GAP, 1), ("保護", 2), ("活用", 3)]


def test_long_text_is_analysed_in_pieces_without_losing_offsets():
    text = "防災訓練を実施します。" * 1000  # longer than Sudachi accepts at once
    found = [(t.startchar, t.endchar) for t in analyzer(text, chars=True) if t.text == "防災"]
    assert len(found) == 1000
    assert all(text[start:end] == "防災" for start, end in found)


def test_one_tokenizer_per_thread():
    expected = [t for t, _, _ in tokens("板橋区の防災")]
    assert "防災" in expected
    results = []

    def work():
        results.append([t for t, _, _ in tokens("板橋区の防災")])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_offsets_are_in_bounds_and_ordered_for_any_text(text):
    starts = []
    for token in analyzer(text, positions=True, chars=True):
        assert 0 <= token.startchar < token.endchar <= len(text)
        assert token.text
        starts.append((token.pos, token.startchar))
    assert [p for p, _ in starts] == sorted(p for p, _ in starts)


@pytest.mark.parametrize("text", ["", " ", "\u3000", "\x00", "😀", "ｶﾞｯｺｳ", "①②"])
def test_odd_inputs_do_not_raise(text):
    for term, _, original in tokens(text):
        assert term and original
