"""Related items, the department × category counts and reading every hit of a search."""

from __future__ import annotations

from collections import Counter

import pytest

from indexer import related
from indexer.analysis import normalize
from indexer.crosstab import department_by_category
from indexer.graded import HELD
from indexer.related import (
    BOILERPLATE_WEIGHT,
    PER_DEPARTMENT,
    content_counts,
    held_levels,
    key_terms,
    related_items,
    strong_concepts,
    topic,
)
from indexer.results import all_hits

# 危機管理部: 防災分野でのデジタルトランスフォーメーション（DX）が進んできており、…
DX_ITEM = "r5-keiei-03-kaikaku-hoshin-02"
DX_WORDS = ("DX", "デジタルトランスフォーメーション")
GUIDE_ITEM = "r5-keiei-03-shisaku-mokuhyo-04"  # 危機管理部: 防災ガイドの更新

# Judged by reading the corpus (`python -m indexer export --format jsonl`) before tuning: for an
# item, what its six related items should be about, as groups of words (an item is on the topic
# when its text holds a word of every group), and how many of the six at least must be so.
JUDGED = {
    # 危機管理部「防災ガイドの更新」: 防災 (16 items hold it), not 更新 (a system, kitchen
    # equipment, a plan revision).
    GUIDE_ITEM: ((("防災", "災害", "避難", "水害", "減災"),), 5),
    # 子ども家庭部「各種子育て支援サービスのニーズと効果及び国、東京都の少子化対策を踏まえ、
    # サービスの質の向上及び拡大に取り組みます。」: 子育て, not every サービス or 東京都.
    "r5-keiei-09-shisaku-hoshin-02": ((("子育て", "子ども", "子供", "こども", "保育", "児童"),), 5),
    # 都市整備部「窓口業務のデジタル化」: counters going digital (区民文化部's 窓口 and
    # 手続きのデジタル化, the department's own 窓口 DX), not every 窓口 nor every DX.
    "r5-keiei-12-kaikaku-mokuhyo-02": (
        (("窓口",), ("デジタル", "DX", "キャッシュレス", "オンライン", "ICT")),
        4,
    ),
    # 資源環境部「プラスチックごみの再資源化を推進します。」: ごみ, 清掃, リサイクル.
    "r5-keiei-11-shisaku-hoshin-01": (
        (("ごみ", "プラスチック", "清掃", "リサイクル", "資源循環"),),
        5,
    ),
    # 健康生きがい部「在宅医療・介護連携の推進と、高齢者の保健事業と介護予防の一体的実施の
    # 着実な実行」: 介護, 高齢者, 医療, 保健; not 一体的 (SDGs, 絵本のまち) nor 予防接種.
    "r5-keiei-06-shisaku-mokuhyo-02": ((("介護", "高齢", "医療", "保健", "健康"),), 4),
    # 選挙管理委員会事務局「将来を見据えた執行体制及び投票環境の向上方策を検討します。」:
    # elections and voting, not 資金運用 or 感染症 (将来) nor 予算執行 (執行).
    "r5-keiei-18-kaikaku-hoshin-02": ((("選挙", "投票", "有権者"),), 4),
    # 区民文化部「外国籍の住民が増加する状況に鑑み、…多文化共生社会の実現に向けた取組を推進
    # します。」: the four items on 多文化共生 and 国際交流.
    "r5-keiei-04-shisaku-hoshin-05": ((("多文化共生", "国際", "外国"),), 4),
    # 土木部「水害対策の手法・手段を常に最適化し、発災時の被害を最小限に抑えます。」: 水害 and
    # disasters, not 管理手法の最適化. Only three other items name 水害, and the index knows no
    # link from 水害 to 災害: three is what its understanding can find.
    "r5-keiei-14-shisaku-hoshin-03": ((("水害", "災害", "防災", "発災", "被害", "浸水"),), 3),
}


def on_topic(text: str, groups: tuple[tuple[str, ...], ...]) -> bool:
    folded = normalize(text)[0]  # ＤＸ, D X → DX
    return all(any(word in folded for word in group) for group in groups)


@pytest.mark.parametrize("item_id", list(JUDGED))
def test_related_items_are_on_the_judged_topic(policy_index, item_id):
    groups, at_least = JUDGED[item_id]
    related = related_items(policy_index, item_id)
    assert len(related) == 6
    on = [hit.id for hit in related if on_topic(hit.text, groups)]
    assert len(on) >= at_least, [hit.text[:30] for hit in related]


def test_the_guide_is_related_to_disaster_prevention_not_to_updates(policy_index):
    related = related_items(policy_index, GUIDE_ITEM, limit=100)
    assert len(related) == 15 and all("防災" in hit.text for hit in related)
    assert all("<mark>防災</mark>" in hit.highlight for hit in related)
    ids = [hit.id for hit in related]
    # Sharing only 更新 (あいキッズ入退室システムの更新, 給食設備・備品の更新) is no relation.
    assert "r5-keiei-17-kaikaku-mokuhyo-03" not in ids
    assert "r5-keiei-16-shisaku-mokuhyo-16" not in ids
    # The only other department's item on 防災 (まちづくり推進室, 高島平's four themes) first.
    assert related[0].id == "r5-keiei-13-plan-torikumi-01"
    assert {hit.department for hit in related[1:]} == {"危機管理部"}


def test_sharing_only_generic_words_is_not_related(policy_index):
    snapshot = policy_index.current()
    assert "更新" in dict(key_terms(snapshot, "防災ガイドの更新"))
    assert [c.terms for c in topic(snapshot, "防災ガイドの更新")] == [("ガイド",), ("防災",)]
    # 給食設備・備品の更新や給食室環境の改善: no other item is about 給食; 環境 stands everywhere.
    ids = [hit.id for hit in related_items(policy_index, "r5-keiei-16-shisaku-mokuhyo-16", 100)]
    assert ids == ["r5-keiei-15-kaikaku-hoshin-03", "r5-keiei-15-kaikaku-mokuhyo-04"]  # 備品


def test_related_items_exclude_the_item_and_put_other_departments_first(policy_index):
    related = related_items(policy_index, DX_ITEM)
    assert len(related) == 6
    assert DX_ITEM not in [hit.id for hit in related]
    assert all(hit.department != "危機管理部" for hit in related)
    # The council's own DX item is the closest in another department.
    assert related[0].id == "r5-keiei-20-kaikaku-hoshin-02"
    assert "<mark>デジタルトランスフォーメーション</mark>" in related[0].highlight
    assert all(on_topic(hit.text, (DX_WORDS,)) for hit in related)
    scores = [hit.score for hit in related]
    assert scores == sorted(scores, reverse=True)


def test_synonyms_in_an_item_are_one_concept(policy_index):
    snapshot = policy_index.current()
    concepts = topic(snapshot, policy_index.get(DX_ITEM)["text"])
    # DX twice and デジタルトランスフォーメーション once outweigh 防災 twice.
    assert set(concepts[0].terms) == {"dx", "デジタルトランスフォーメーション"}
    assert concepts[0].weight == 1.0 and concepts[1].terms == ("防災",)


def test_other_departments_come_first_only_among_items_on_the_topic(policy_index):
    # Before, two items of every other department came first, whatever they shared (推進, 情報,
    # 管理 …): now only among the items on DX, the department's own DX items before the rest.
    related = related_items(policy_index, DX_ITEM, limit=60)
    holds = [on_topic(hit.text, (DX_WORDS,)) for hit in related]
    on = holds.index(False)
    assert on >= 20 and not any(holds[on:]), "the items on DX first, then the others"
    departments = [hit.department for hit in related[:on]]
    first_own = departments.index("危機管理部")
    chosen = Counter(departments[:first_own])
    assert "危機管理部" not in chosen and max(chosen.values()) == PER_DEPARTMENT
    own_dx = {"r5-keiei-03-kaikaku-mokuhyo-06", "r5-keiei-03-plan-torikumi-02",
              "r5-keiei-03-jinzai-mokuhyo-03"}  # fmt: skip
    assert own_dx <= {hit.id for hit in related[:on]}
    # Off the topic (and its near concepts: 窓口業務のデジタル化) no department comes first:
    # 危機管理部's 防災 items lead, by score.
    off = [hit for hit in related[on:] if not on_topic(hit.text, (("デジタル化", "ICT化"),))]
    assert off[0].department == "危機管理部" and "防災" in off[0].text


def test_a_same_department_item_on_the_topic_outranks_other_departments_off_it(policy_index):
    # 投票環境: the department's items on voting, not 資金運用 or 感染症 (将来) elsewhere.
    related = related_items(policy_index, "r5-keiei-18-kaikaku-hoshin-02")
    assert [hit.department for hit in related[:4]] == ["選挙管理委員会事務局"] * 4
    assert all("投票" in hit.text for hit in related[:3])
    # 介護連携: its near twin (高齢者の保健事業と介護予防の一体的実施) was not shown at all.
    ids = [hit.id for hit in related_items(policy_index, "r5-keiei-06-shisaku-mokuhyo-02")]
    assert {"r5-keiei-06-shisaku-hoshin-01", "r5-keiei-06-shisaku-mokuhyo-01"} == set(ids[:2])


def test_a_topic_word_weighs_more_than_a_way_of_speaking(policy_index):
    snapshot = policy_index.current()
    childcare = policy_index.get("r5-keiei-09-shisaku-hoshin-02")["text"]
    weights = {c.terms[0]: c.weight for c in topic(snapshot, childcare)}
    assert content_counts(childcare)["サービス"] == 2  # said twice, but everywhere in the ward
    assert weights["子育て"] > 1.5 * weights["サービス"]
    floods = policy_index.get("r5-keiei-14-shisaku-hoshin-03")["text"]
    weights = {c.terms[0]: c.weight for c in topic(snapshot, floods)}
    assert weights["水害"] == 1.0 and weights["最適化"] < 0.2 and weights["手法"] < 0.4


def test_near_concepts_find_items_holding_neither_word(policy_index):
    # プラスチックごみ: 清掃 is a curated near concept of ごみ.
    related = related_items(policy_index, "r5-keiei-11-shisaku-hoshin-01")
    cleaning = [hit for hit in related if hit.id == "r5-keiei-11-shisaku-mokuhyo-02"]
    assert cleaning and cleaning[0].highlight.startswith("<mark>清掃</mark>事業")
    # 外国人: 国際交流 and 多文化共生 are.
    ids = [hit.id for hit in related_items(policy_index, "r5-keiei-04-shisaku-hoshin-05")]
    assert "r5-keiei-04-kaikaku-hoshin-03" in ids[:3]


@pytest.mark.parametrize("item_id", [DX_ITEM, *JUDGED])
def test_the_order_is_the_ranking_rules_bucket_by_bucket(policy_index, item_id):
    snapshot = policy_index.current()
    stored = policy_index.get(item_id)
    concepts = topic(snapshot, stored["text"])
    levels = held_levels(snapshot.matching, concepts)
    levels.pop(snapshot.by_id[item_id])
    concepts, levels = strong_concepts(concepts, levels)
    related = related_items(policy_index, item_id, limit=500)
    assert {hit.id for hit in related} == {snapshot.stored(d)["id"] for d in levels}
    assert all(isinstance(hit.score, float) and hit.score > 0 for hit in related)
    top = min(at for held in levels.values() for at, level in enumerate(held) if level >= HELD)
    holds = [levels[snapshot.by_id[hit.id]][top] >= HELD for hit in related]
    on = holds.index(False) if False in holds else len(holds)
    assert not any(holds[on:])
    own = stored["department"]
    first_own = next((i for i, hit in enumerate(related[:on]) if hit.department == own), on)
    shown = Counter(hit.department for hit in related[:first_own])
    assert not shown or max(shown.values()) <= PER_DEPARTMENT
    for part in (related[:first_own], related[on:]):
        scores = [hit.score for hit in part]
        assert scores == sorted(scores, reverse=True)


def test_a_restatement_is_not_related_to_itself(policy_index):
    # 政策経営部 repeats one policy under 改革 with 【再掲】.
    ids = [hit.id for hit in related_items(policy_index, "r5-keiei-01-kaikaku-hoshin-01", 100)]
    assert "r5-keiei-01-shisaku-hoshin-01" not in ids
    assert "r5-keiei-01-kaikaku-hoshin-01" not in ids


def test_an_item_of_generic_words_only_gets_more_like_this(policy_index, monkeypatch):
    snapshot = policy_index.current()
    common = related.common_terms(snapshot) | {"防災", "ガイド"}
    monkeypatch.setattr(related, "common_terms", lambda snapshot: common)
    assert topic(snapshot, "防災ガイドの更新") == []
    hits = related_items(policy_index, GUIDE_ITEM)
    assert len(hits) == 6 and GUIDE_ITEM not in [hit.id for hit in hits]
    assert hits[0].department != "危機管理部" and all("<mark>" not in h.highlight for h in hits)


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
