"""The one search function: ranking, filters, facets, browse mode, highlights."""

from __future__ import annotations

import re

import pytest

from indexer.analysis import sudachi_units
from indexer.search import ITEM_FIELDS, MAX_PER_PAGE, PolicyIndex, UnknownFilter


def counts(result, facet):
    return {f.value: f.count for f in result.facets[facet] if f.count}


def test_ranked_hits_with_scores_in_descending_order(policy_index):
    result = policy_index.search("防災")
    assert result.total == 16
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert all("<mark>防災</mark>" in hit.highlight for hit in result.hits)


def test_every_item_containing_a_literal_word_is_found(policy_index, seed_items):
    # 係長, 駅前 and 重点 are split in some items' context (係|長級, 南口駅|前, 2025重|点).
    words = ("防災", "公共施設", "窓口", "絵本のまち", "ワークライフバランス")
    words += ("係長", "駅前", "重点")
    for word in words:
        expected = {item.id for item in seed_items if word in item.text}
        found = {hit.id for hit in policy_index.search(word, per_page=100).hits}
        assert expected <= found, word


def test_a_word_split_in_context_is_found_and_highlighted(policy_index):
    hits = {h.id: h for h in policy_index.search("係長", per_page=100).hits}
    assert "<mark>係長</mark>級職員" in hits["r5-keiei-14-jinzai-hoshin-02"].highlight
    hit = policy_index.search("駅前の再開発").hits[0]
    assert "上板橋駅南口<mark>駅前</mark>地区" in hit.highlight
    # The other way round: 一時 typed alone is 1|時, in the items one unit.
    hits = {h.id: h for h in policy_index.search("一時", per_page=100).hits}
    assert "<mark>一時</mark>保護機能" in hits["r5-keiei-10-shisaku-mokuhyo-06"].highlight


def test_every_noun_finds_every_item_holding_it_as_a_word(policy_index, seed_items):
    """Each noun of the items, searched alone, finds every item where its text stands between two
    unit boundaries, however Sudachi splits it there or typed alone (一時 alone is 1|時)."""
    boundaries, nouns = {}, set()
    for item in seed_items:
        units = [u for u in sudachi_units(item.text) if u.fine]
        boundaries[item.id] = {u.start for u in units} | {u.end for u in units}
        nouns |= {item.text[u.start : u.end] for u in units if u.part_of_speech == "名詞"}
    lost = {}
    for noun in sorted(n for n in nouns if len(n) > 1 and n.isalnum()):
        expected = {
            item.id
            for item in seed_items
            for at in re.finditer(re.escape(noun), item.text)
            if {at.start(), at.end()} <= boundaries[item.id]
        }
        result = policy_index.search(noun, per_page=MAX_PER_PAGE)
        found = {hit.id for hit in result.hits if hit.matched == "all"}
        if len(expected) <= MAX_PER_PAGE and expected - found:
            lost[noun] = sorted(expected - found)
    assert len(nouns) > 1000
    assert lost == {}


def test_full_and_half_width_meet(policy_index):
    half = policy_index.search("DX", per_page=100)
    full = policy_index.search("ＤＸ", per_page=100)
    assert half.total == full.total > 20
    assert [h.id for h in half.hits] == [h.id for h in full.hits]


def test_spread_letters_are_found_and_highlighted_on_the_original(policy_index):
    hit = policy_index.search("PDCA").hits[0]
    assert "<mark>P D C A</mark>サイクル" in hit.highlight
    ojt = policy_index.search("OJT", per_page=100)
    assert {h.id for h in ojt.hits} >= {
        "r5-keiei-02-jinzai-hoshin-01",
        "r5-keiei-02-jinzai-mokuhyo-01",
    }
    spread = [h for h in ojt.hits if h.id == "r5-keiei-02-jinzai-hoshin-01"][0]
    assert "応じた<mark>O J T</mark>に取り組みます" in spread.highlight


def test_ties_keep_document_order(policy_index):
    result = policy_index.search("\"ワークライフバランスの推進\"", per_page=100)
    tied = [h for h in result.hits if h.score == result.hits[0].score]
    assert len(tied) >= 2
    orders = [policy_index.get(h.id)["order"] for h in tied]
    assert orders == sorted(orders)


def test_filters_or_within_a_facet_and_across_facets(policy_index):
    one = policy_index.search("DX", departments=["危機管理部"])
    two = policy_index.search("DX", departments=["危機管理部", "福祉部"])
    assert {h.department for h in one.hits} == {"危機管理部"}
    assert {h.department for h in two.hits} == {"危機管理部", "福祉部"}
    assert two.total == one.total + policy_index.search("DX", departments=["福祉部"]).total
    both = policy_index.search("DX", departments=["危機管理部"], categories=["改革"])
    assert 0 < both.total < one.total
    assert {(h.department, h.category) for h in both.hits} == {("危機管理部", "改革")}


def test_facet_counts_equal_the_filtered_totals(policy_index):
    result = policy_index.search("推進", categories=["施策"])
    for department, count in counts(result, "department").items():
        narrowed = policy_index.search("推進", departments=[department], categories=["施策"])
        assert narrowed.total == count, department
    assert sum(counts(result, "department").values()) == result.total
    for category, count in counts(result, "category").items():
        assert policy_index.search("推進", categories=[category]).total == count


def test_department_facet_lists_all_20_in_document_order(policy_index, seed_items):
    result = policy_index.search("保育")
    departments = [f.value for f in result.facets["department"]]
    assert departments == list(dict.fromkeys(item.department for item in seed_items))
    assert [f.value for f in result.facets["column"]] == ["経営方針", "重点目標", "取り組むこと"]
    selected = policy_index.search("保育", departments=["子ども家庭部"]).facets["department"]
    assert [f.value for f in selected if f.selected] == ["子ども家庭部"]


def test_browse_mode_lists_every_item_in_document_order(policy_index, seed_items):
    result = policy_index.search("", per_page=100, page=5)
    assert result.total == 475 and result.pages == 5
    assert [h.id for h in result.hits] == [item.id for item in seed_items[400:]]
    assert all(h.score is None and "<mark>" not in h.highlight for h in result.hits)
    assert counts(policy_index.search("  \u3000 "), "department")["教育委員会事務局"] == 38


def test_pagination_covers_every_hit_once(policy_index):
    whole = [h.id for h in policy_index.search("推進", per_page=100).hits]
    pages = []
    for page in range(1, policy_index.search("推進", per_page=7).pages + 1):
        pages += [h.id for h in policy_index.search("推進", per_page=7, page=page).hits]
    assert pages == whole
    assert policy_index.search("推進", page=999).hits == []
    assert policy_index.search("", per_page=10_000).per_page == MAX_PER_PAGE


def test_query_language(policy_index):
    either = policy_index.search("防災 OR 防犯").total
    assert either > policy_index.search("防災").total
    both = policy_index.search("防災 防犯", per_page=100)
    full = [h for h in both.hits if h.matched == "all"]
    assert all("防災" in h.text and "防犯" in h.text for h in full) and both.total_all > 0
    assert len(full) == both.total_all and both.total > both.total_all  # then the partial ones
    assert both.hits[: len(full)] == full
    excluded = policy_index.search("防災 -訓練", per_page=100)
    assert excluded.total > 0 and not any("訓練" in h.text for h in excluded.hits)
    phrase = policy_index.search('"公共施設のあり方"', per_page=100)
    assert phrase.total > 0 and all("公共施設のあり方" in h.text for h in phrase.hits)


def test_whoosh_syntax_and_empty_words_are_plain_text(policy_index):
    for query in ("*", "?", "text:", "[a TO", '"', "(", "AND", "OR", "NOT", "の", "^~"):
        assert policy_index.search(query).total == 0, query


def test_highlight_escapes_the_text(policy_index):
    for hit in policy_index.search("推進", per_page=100).hits:
        plain = hit.highlight.replace("<mark>", "").replace("</mark>", "")
        assert "<" not in plain and ">" not in plain


def test_unknown_filter_values_are_refused(policy_index):
    with pytest.raises(UnknownFilter, match="unknown department: 存在しない部"):
        policy_index.search("防災", departments=["存在しない部"])


def test_get_and_items_in_document_order(policy_index, seed_items):
    item = policy_index.get("r5-keiei-03-shisaku-mokuhyo-04")
    assert item["text"] == "防災ガイドの更新" and item["department"] == "危機管理部"
    assert policy_index.get("../../etc/passwd") is None
    same = policy_index.items(department="危機管理部", category="施策")
    expected = [i.id for i in seed_items if (i.department, i.category) == ("危機管理部", "施策")]
    assert [i["id"] for i in same] == expected and item["id"] in expected


def test_hits_carry_the_stored_fields_of_their_items(policy_index):
    for hit in policy_index.search("防災 OR DX", per_page=MAX_PER_PAGE).hits:
        stored = policy_index.get(hit.id)
        assert {name: getattr(hit, name) for name in ITEM_FIELDS} == {
            name: stored[name] for name in ITEM_FIELDS
        }
        assert hit.document == stored["document"] and "<mark>" in hit.highlight


def test_searches_from_many_threads_give_what_one_thread_gets(seed_index_dir):
    # Whoosh's files are read through shared file objects: without one reader at a time,
    # threads read each other's bytes (UnpicklingError, wrong postings) under load.
    import threading

    index = PolicyIndex(seed_index_dir)
    queries = ["公共施設", '"公共施設のあり方"', "計画", "介護予防の取り組み", "防災 DX",
               "年寄り", "こうきょうこうつう", "福祉部の相談窓口", "人材育成", "脱炭素",
               "推進"]  # fmt: skip

    def answer(query: str) -> list[tuple[str, float | None]]:
        return [(h.id, h.score) for h in index.search(query, per_page=100).hits]

    expected = {query: answer(query) for query in queries}
    index.current()._graded.clear()  # every thread matches afresh
    failures: list[str] = []

    def run(offset: int) -> None:
        for n in range(40):
            query = queries[(n + offset) % len(queries)]
            try:
                if answer(query) != expected[query]:
                    failures.append(f"different hits for {query}")
            except Exception as error:  # noqa: BLE001 - any error is the failure reported
                failures.append(f"{query}: {error!r}")
            if n % 7 == 0:
                index.current()._graded.clear()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
