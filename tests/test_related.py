"""Related items, the department × category counts and reading every hit of a search."""

from __future__ import annotations

from collections import Counter

from indexer.crosstab import department_by_category
from indexer.related import BOILERPLATE_WEIGHT, key_terms, related_items
from indexer.results import all_hits

# 危機管理部: 防災分野でのデジタルトランスフォーメーション（DX）が進んできており、…
DX_ITEM = "r5-keiei-03-kaikaku-hoshin-02"


def test_related_items_exclude_the_item_and_put_other_departments_first(policy_index):
    related = related_items(policy_index, DX_ITEM)
    assert len(related) == 6
    assert DX_ITEM not in [hit.id for hit in related]
    assert all(hit.department != "危機管理部" for hit in related)
    # The council's own DX item is the closest in another department.
    assert related[0].id == "r5-keiei-20-kaikaku-hoshin-02"
    assert "<mark>デジタルトランスフォーメーション</mark>" in related[0].highlight
    scores = [hit.score for hit in related]
    assert scores == sorted(scores, reverse=True)


def test_same_department_items_only_fill_the_list_up(policy_index):
    related = related_items(policy_index, DX_ITEM, limit=40)
    departments = [hit.department for hit in related]
    assert "危機管理部" in departments, "the department's own DX items are related too"
    first_same = departments.index("危機管理部")
    chosen = Counter(departments[:first_same])
    assert first_same >= 6 and max(chosen.values()) <= 2  # a few from each department first
    # After that come the department's own items and other departments' third and later ones.
    assert all(d == "危機管理部" or chosen[d] == 2 for d in departments[first_same:])


def test_a_restatement_is_not_related_to_itself(policy_index):
    # 政策経営部 repeats one policy under 改革 with 【再掲】.
    ids = [hit.id for hit in related_items(policy_index, "r5-keiei-01-kaikaku-hoshin-01", 100)]
    assert "r5-keiei-01-shisaku-hoshin-01" not in ids
    assert "r5-keiei-01-kaikaku-hoshin-01" not in ids


def test_boilerplate_is_weighed_down(policy_index):
    terms = dict(key_terms(policy_index.current(), "推進 推進 防災"))
    assert terms["推進"] < terms["防災"] * BOILERPLATE_WEIGHT * 1.5
    assert "推進" not in dict(key_terms(policy_index.current(), policy_index.get(DX_ITEM)["text"]))


def test_unknown_item_has_no_related_items(policy_index):
    assert related_items(policy_index, "r5-keiei-99-shisaku-hoshin-01") is None


def test_crosstab_counts_each_department_and_category(policy_index, seed_items):
    crosstab = department_by_category(policy_index, "防災")
    expected = Counter((i.department, i.category) for i in seed_items if "防災" in i.text)
    assert {pair: n for pair, n in crosstab.counts.items() if n} == dict(expected)
    assert crosstab.count("危機管理部", "改革") == 5
    assert crosstab.total == 16
    assert crosstab.department_total("危機管理部") == 15
    facet = {f.value: f.count for f in policy_index.search("防災").facets["department"]}
    assert {d: crosstab.department_total(d) for d in crosstab.departments} == facet


def test_crosstab_applies_the_column_filter(policy_index, seed_items):
    crosstab = department_by_category(policy_index, "防災", columns=["重点目標"])
    expected = Counter(
        (i.department, i.category)
        for i in seed_items
        if "防災" in i.text and i.column == "重点目標"
    )
    assert {pair: n for pair, n in crosstab.counts.items() if n} == dict(expected)
    assert crosstab.total == 8


def test_all_hits_reads_every_page(policy_index, seed_items):
    everything = all_hits(policy_index)
    assert everything.total == len(everything.hits) == 475
    assert [hit.id for hit in everything.hits] == [i.id for i in seed_items]
    ranked = all_hits(policy_index, "推進")
    pages = [policy_index.search("推進", page=p, per_page=20).hits for p in range(1, 6)]
    assert [h.id for h in ranked.hits] == [h.id for page in pages for h in page]
    assert ranked.total == len(ranked.hits) and ranked.total_all == 96
    filtered = all_hits(policy_index, "防災", departments=["危機管理部"], categories=["改革"])
    assert filtered.total == 5 and {h.department for h in filtered.hits} == {"危機管理部"}
    assert filtered.filters["department"] == ("危機管理部",)
