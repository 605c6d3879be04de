"""Queries as people type them: sentences, several words, names, kana, parts, other words.

The issues' tables are checked row by row, through the search function, the JSON API and the
page; each step of understanding a query and each ranking rule has its own test.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indexer.search as search_module
from indexer.graded import RULES, coverage, every_word
from indexer.names import NameFinder, aliases
from indexer.understand import MAX_WORDS, content_runs, has_operators, understand
from webapp import create_app
from webapp.openapi import validate_response


@pytest.fixture(scope="module")
def client(seed_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)}).test_client()


def api(client, status: int = 200, **args) -> dict:
    url = "/api/search?" + urlencode(args, doseq=True)
    response = client.get(url)
    assert response.status_code == status, response.data[:300]
    validate_response(client.get("/api/openapi.json").get_json(), url, response)
    return response.get_json()


def page(client, **args) -> str:
    response = client.get("/search?" + urlencode(args, doseq=True))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def texts(result) -> list[str]:
    return [hit.text for hit in result.hits]


# Understanding: each step of the pipeline


def test_a_sentence_is_split_into_its_content_words():
    assert content_runs("介護予防の取り組み") == ["介護予防", "取り組み"]
    assert content_runs("ひきこもりの相談はどこ？") == ["ひきこもり", "相談"]
    assert content_runs("公共交通をよくしたい") == ["公共交通"]
    assert content_runs("ワーク・ライフ・バランスの推進") == ["ワーク・ライフ・バランス", "推進"]
    assert content_runs("防災のためにできること") == ["防災"]  # ため, こと carry no topic
    assert content_runs("人材育成") == ["人材育成"]  # a compound stays one word


def test_a_formal_noun_in_kana_joins_neither_word_beside_it():
    # Sudachi gives とき, ため as nouns: they used to join the next noun (とき障がい, ため支援).
    assert content_runs("災害のとき障がいのある人") == ["災害", "障がい", "人"]
    assert content_runs("子どものため支援") == ["子ども", "支援"]
    assert content_runs("災害時の医療") == ["災害時", "医療"]  # a kanji suffix stays in its word
    assert content_runs("ものづくり支援") == ["ものづくり支援"]  # もの here is part of a word


def test_a_verbs_noun_form_is_a_word_and_a_suffix_starts_none():
    assert content_runs("高齢者の見守りについて") == ["高齢者", "見守り"]
    assert content_runs("見守り強化") == ["見守り強化"]
    assert content_runs("ごみの持ち去り") == ["ごみ", "持ち去り"]
    # A verb that acts stays out: before an auxiliary, a conjunctive particle or a comma.
    assert content_runs("災害に備えた訓練") == ["災害", "訓練"]
    assert content_runs("計画を進めて") == ["計画"]
    assert content_runs("詐欺を防ぎ、安心") == ["詐欺", "安心"]
    assert content_runs("働きやすい職場") == ["職場"]  # not やすい職場


def test_operators_are_taken_literally_and_alone_are_nothing():
    assert has_operators("防災 OR 防犯") and has_operators('"人材育成"')
    assert has_operators("DX -推進")
    for text in ("OR", "-", '""', "のにを", "？？", "。、", "😀", "\x00\x07"):
        understood = understand(text)
        assert understood.is_empty, text


def test_long_paragraphs_keep_their_first_words_and_say_which_were_dropped():
    words = ["防災", "子育て", "介護", "環境", "文化", "産業", "道路", "公園", "選挙", "監査"]
    understood = understand(("、".join(words) + "。") * 10)
    assert [w.text for w in understood.words] == words[:MAX_WORDS]
    assert understood.dropped == ("選挙", "監査")


def test_names_are_recognised_with_the_forms_people_type():
    finder = NameFinder(
        {"department": ["教育委員会事務局", "区議会事務局", "福祉部"], "column": ["重点目標"]}
    )
    assert aliases("教育委員会事務局") == {"教育委員会事務局", "教育委員会"}
    assert finder.piece("議会事務局").value == "区議会事務局"
    assert finder.run("福祉部").value == "福祉部"
    assert finder.piece("重点目標").facet == "column"
    assert finder.run("重点目標") is None  # a row or column only as a word of its own
    assert finder.piece("福祉") is None


# Graded ranking: the rules, in order


def test_the_rules_are_one_visible_list():
    names = [name for name, _ in RULES]
    assert names == ["every_word", "as_typed", "some_word", "coverage", "relevance"]
    from indexer.search import COVERAGE

    assert names.index("coverage") == COVERAGE  # where search.py reads it in a rule prefix
    assert every_word([1.0, 0.8]) and not every_word([1.0, 0.6])
    assert coverage([1.0, 0.0], [4.0, 1.0]) > coverage([0.0, 1.0], [4.0, 1.0])


def test_items_with_every_word_come_first_then_the_rest_by_coverage(policy_index):
    result = policy_index.search("介護予防の取り組み", per_page=100)
    assert result.graded and result.words == ("介護予防", "取り組み")
    matched = [hit.matched for hit in result.hits]
    assert matched == sorted(matched)  # "all" before "partial"
    assert result.total_all == matched.count("all") >= 1
    assert all("介護予防" in hit.text for hit in result.hits[: result.total_all])
    # A rare word weighs more than a generic one: 介護 or 予防 items before 取組-only items.
    partial = [hit for hit in result.hits if hit.matched == "partial"]
    generic = [i for i, h in enumerate(partial) if h.missing == ["介護予防"] and not h.in_part]
    assert generic and all("介護" in h.text or "予防" in h.text for h in partial[: generic[0]])
    for hit in partial:
        assert hit.missing and set(hit.missing) <= {"介護予防", "取り組み"}
        assert set(hit.in_part) <= set(hit.missing)


def test_a_compound_finds_its_parts_a_particle_apart_below_the_compound(policy_index, seed_items):
    result = policy_index.search("人材育成", per_page=100)
    full = [hit.text for hit in result.hits if hit.matched == "all"]
    assert full and all("人材育成" in text for text in full)
    apart = [hit for hit in result.hits if "人材の育成" in hit.text and "人材育成" not in hit.text]
    assert apart and all(hit.matched == "partial" and hit.in_part == ["人材育成"] for hit in apart)
    assert "<mark>人材の育成</mark>" in apart[0].highlight


def test_a_verbs_noun_form_finds_its_items(policy_index, seed_items):
    result = policy_index.search("高齢者の見守りについて", per_page=100)
    assert result.words == ("高齢者", "見守り")
    assert any("見守り" in hit.text for hit in result.hits)
    assert any("高齢者" in hit.text for hit in result.hits[:3])
    workplace = policy_index.search("働きやすい職場", per_page=100)
    assert workplace.words == ("職場",)  # やすい is no word: every 職場 item matches in full
    assert workplace.total_all == sum("職場" in item.text for item in seed_items)


def test_a_generic_head_weighs_less_than_the_topic(policy_index):
    # 備え is in one item only (備えた), 水害 in several: the query is about 水害.
    result = policy_index.search("水害への備え", per_page=3)
    assert all("水害" in hit.text for hit in result.hits), texts(result)


def test_the_best_items_departments_lead_the_partial_matches(policy_index):
    # One item holds 図書館 and あり方, and it belongs to the library's department; of the many
    # items holding あり方 alone (清掃事業のあり方, 健康福祉センター…), that department's first.
    result = policy_index.search("図書館のあり方を見直す", per_page=5)
    first = result.hits[0]
    assert first.matched == "all" and "図書館" in first.text
    assert {hit.department for hit in result.hits} == {first.department}, texts(result)


def test_the_department_share_only_reorders(policy_index, monkeypatch):
    # Being in a best item's department reorders the items holding some word; it adds none, so
    # the totals and every facet count stay those of the topic alone.
    def counts():
        result = policy_index.search("区内の中小企業への支援策", per_page=100)
        facets = {name: [(v.value, v.count) for v in got] for name, got in result.facets.items()}
        return result.total, result.total_all, sorted(hit.id for hit in result.hits), facets

    with_departments = counts()
    monkeypatch.setattr(search_module, "DEPARTMENT_SHARE", 0.0)
    assert counts() == with_departments


def test_a_noun_used_as_the_verb_weighs_less_than_its_object(policy_index):
    words = policy_index.current().understood("児童虐待を防止するために").words
    assert [(w.text, w.predicate) for w in words] == [("児童虐待", False), ("防止", True)]
    assert not policy_index.current().understood("防止").words[0].predicate  # alone: the topic
    result = policy_index.search("児童虐待を防止するために", per_page=3)
    assert all("児童" in hit.text for hit in result.hits), texts(result)  # not 事務ミス防止


def test_kana_read_only_as_a_whole_gets_no_stray_synonyms(policy_index):
    # ひなんじょ has no units of its own, only a reading: it once looked up the empty key.
    snapshot = policy_index.current()
    assert "" not in snapshot.related and "" not in snapshot.synonyms
    assert not policy_index.search("ひなんじょ").expansions


def test_match_all_lists_only_the_full_matches_and_counts_agree(policy_index):
    every = policy_index.search("介護予防の取り組み", match="all", per_page=100)
    assert every.total == every.total_all == len(every.hits) == 1
    assert not every.graded
    graded = policy_index.search("介護予防の取り組み")
    assert sum(f.count for f in graded.facets["department"]) == graded.total
    assert sum(f.count for f in every.facets["department"]) == every.total


def test_a_query_of_plain_words_never_comes_back_empty_while_an_item_holds_one(policy_index):
    assert policy_index.search("存在しない言葉 防災").total == 16
    assert policy_index.search("存在しない言葉 -防災").total == 0  # operators: literally


# The issues' tables, row by row


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("介護予防の取り組み", "介護予防"),
        ("学校の働き方改革について", "学校における働き方改革推進プラン"),
        ("ひきこもりの相談はどこ？", "ひきこもり相談窓口"),
        ("特殊詐欺を防ぐには", "特殊詐欺対策の推進"),
        ("公共交通をよくしたい", "公共交通サービス"),
        ("保育士 負担", "保育士がより保育に注力できる環境"),
    ],
)
def test_part_one_queries_find_what_a_person_expects_first(policy_index, typed, first):
    result = policy_index.search(typed)
    assert first in result.hits[0].text, (typed, texts(result)[:3])


def test_ひきこもり_is_counted_per_department(policy_index):
    result = policy_index.search("ひきこもりの相談はどこ？")
    counts = {f.value: f.count for f in result.facets["department"] if f.count}
    assert counts["福祉部"] >= 2 and sum(counts.values()) == result.total


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("年寄り", "高齢者"),
        ("老人", "高齢者"),
        ("ゴミ", "ごみ"),
        ("温室効果ガス", ("脱炭素", "温暖化", "省エネ", "ゼロカーボン")),
        ("こうきょうこうつう", "公共交通"),
        ("公共こうつう", "公共交通"),
        ("特殊さぎ", "特殊詐欺"),
        ("サブスク", "サブスクリプション"),
        ("ケアラー", "ヤングケアラー"),
        ("フリッジ", "コミュニティフリッジ"),
        ("ネウボ", "ネウボラ"),
    ],
)
def test_other_words_for_the_same_thing(policy_index, typed, found):
    result = policy_index.search(typed)
    assert result.total_all > 0, typed
    full = [hit for hit in result.hits if hit.matched == "all"]
    found = (found,) if isinstance(found, str) else found
    assert all(any(f in hit.text for f in found) for hit in full[:3]), (typed, texts(result)[:3])
    assert any(f"<mark>{f}" in hit.highlight for hit in full for f in found)


def test_a_compounds_part_is_searched_through_its_near_concepts(policy_index):
    # コロナワクチン holds ワクチン, and the curated list links ワクチン to 予防接種: the item
    # 予防接種 (no コロナ, no ワクチン) is a partial match, named as an expansion and marked.
    result = policy_index.search("コロナワクチンはまだ受けられる？", per_page=100)
    assert result.hits[0].text.startswith("希望する人が受けられるコロナワクチン接種体制")
    [hit] = [hit for hit in result.hits if hit.text == "予防接種"]
    assert hit.matched == "partial" and "<mark>予防接種</mark>" in hit.highlight
    assert ("ワクチン", ("予防接種",)) in [(e.word, e.with_) for e in result.expansions]
    # Without expansions it is not found.
    plain = policy_index.search("コロナワクチン", expand=False, per_page=100)
    assert "予防接種" not in texts(plain)
    # 児童 has synonyms (子ども) but no near concept: 児童福祉 is not widened through it.
    assert all(e.word != "児童" for e in policy_index.search("児童福祉").expansions)


def test_kanji_keep_their_boundaries(policy_index):
    assert all("京都" in h.text.replace("東京都", "") for h in policy_index.search("京都").hits)


@pytest.mark.parametrize(
    ("typed", "facet", "value", "about"),
    [
        ("都市整備部 交通", "department", "都市整備部", "交通"),
        ("福祉部の相談窓口", "department", "福祉部", "窓口"),
        ("重点目標 防災", "column", "重点目標", "防災"),
    ],
)
def test_a_name_in_the_query_is_a_filter(policy_index, typed, facet, value, about):
    result = policy_index.search(typed)
    assert [(n.facet, n.value) for n in result.names] == [(facet, value)]
    assert result.total > 0 and all(getattr(h, facet) == value for h in result.hits)
    assert about in result.hits[0].text
    plain = policy_index.search(typed, names=False)  # the name searched as words instead
    assert not plain.names


def test_a_query_of_only_a_name_browses_the_department(policy_index):
    result = policy_index.search("会計管理室", per_page=100)
    assert result.total == 18 and {h.department for h in result.hits} == {"会計管理室"}


def test_a_row_typed_alone_is_a_word_and_with_others_a_filter(policy_index):
    alone = policy_index.search("改革", per_page=100, match="all")
    assert not alone.names and alone.total and all("改革" in h.text for h in alone.hits)
    both = policy_index.search("改革 DX")
    assert [(n.facet, n.value) for n in both.names] == [("category", "改革")]


# The API and the page say what was done


def test_the_api_names_words_expansions_names_and_missing_words(client):
    data = api(client, q="介護予防の取り組み")
    assert data["words"] == ["介護予防", "取り組み"] and data["total_all"] == 1
    assert data["total"] > data["total_all"] and data["match"] == "any"
    assert [h["matched"] for h in data["hits"][:2]] == ["all", "partial"]
    assert data["hits"][1]["missing"] == ["取り組み"]
    only = api(client, q="介護予防の取り組み", match="all")
    assert only["total"] == only["total_all"] == 1
    old = api(client, q="年寄り")
    assert {"word": "年寄り", "with": ["高齢者"]} in old["expansions"]
    assert api(client, q="年寄り", expand="off")["total"] == 0
    kana = api(client, q="公共こうつう")
    assert {"word": "公共こうつう", "with": ["公共交通"]} in kana["expansions"]
    named = api(client, q="福祉部の相談窓口")
    assert named["names"] == [{"facet": "department", "value": "福祉部", "text": "福祉部"}]
    assert "error" in api(client, 400, q="防災", match="some")
    assert "error" in api(client, 400, q="防災", expand="maybe")


def test_the_page_shows_both_sections_and_the_missing_words(client):
    html = page(client, q="介護予防の取り組み")
    assert "すべての語を含む項目 1件" in html and "一部の語を含む項目" in html
    assert html.index("すべての語を含む項目 1件") < html.index("一部の語を含む項目")
    assert "含まない語：" in html and "取り組み" in html
    assert "すべての語を含む項目だけを表示（1件）" in html
    assert "検索した語：" in html
    only = page(client, q="介護予防の取り組み", match="all")
    assert "一部の語を含む項目も表示" in only and "含まない語：" not in only


def test_the_page_names_expansions_respellings_and_name_chips(client):
    assert "年寄り → 高齢者 なども検索" in page(client, q="年寄り")
    assert "言い換えを使わずに検索" in page(client, q="年寄り")
    assert "「公共こうつう」を「公共交通」として検索しました" in page(client, q="公共こうつう")
    html = page(client, q="福祉部の相談窓口")
    assert "検索語「福祉部」から絞り込み" in html and "「福祉部」を言葉として検索" in html
    assert "names=off" in html


def test_a_query_of_only_particles_says_why_it_lists_nothing(client):
    for text in ("のにを", "？？", "。、"):
        html = page(client, q=text)
        assert "検索に使える言葉がありません" in html
        assert re.search(r'id="result-count"><strong>0</strong>', html)
    assert api(client, q="のにを")["unsearchable"] is True


def test_a_long_paragraph_is_capped_and_the_page_says_so(client):
    html = page(client, q="防災と子育てと介護と環境と文化と産業と道路と公園と選挙と監査について")
    assert "最初の8語で検索しました" in html and "選挙、監査" in html


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
natural_pieces = st.sampled_from(
    ["介護予防", "の", "取り組み", "は", "どこ", "？", "ひきこもり", "を", "防ぐ", "には", "福祉部",
     "重点目標", "こうきょう", "サブ", "スク", "年寄り", "OR", "-", '"', " ", "😀", "\x00", "。"]
)  # fmt: skip
natural_queries = st.one_of(
    st.text(max_size=40), st.lists(st.one_of(natural_pieces, st.text(max_size=3))).map("".join)
)


@SETTINGS
@given(query=natural_queries)
def test_any_text_gives_a_200_and_missing_words_are_query_words(client, query):
    response = client.get("/api/search?" + urlencode({"q": query, "per_page": 50}))
    assert response.status_code == 200
    data = response.get_json()
    words = set(data["words"])
    for hit in data["hits"]:
        assert hit["matched"] in ("all", "partial")
        assert set(hit["missing"]) <= words
        assert (hit["matched"] == "partial") == bool(hit["missing"])
    assert data["total_all"] <= data["total"]
    assert client.get("/search?" + urlencode({"q": query})).status_code == 200


def test_items_near_the_best_hits_topic_follow_and_hold_none_of_the_words(policy_index):
    result = policy_index.search("介護予防の取り組み", per_page=100)
    topic_only = [hit for hit in result.hits if hit.missing == ["介護予防", "取り組み"]]
    topic_only = [hit for hit in topic_only if not hit.in_part]
    assert result.total_related == len(topic_only) > 0
    assert result.hits[-len(topic_only) :] == topic_only  # after every item holding a word
    assert any("高齢者" in hit.text for hit in topic_only)  # the topic of the 介護予防 items
    assert all("<mark>" in hit.highlight for hit in topic_only)  # the topic words they share
    keyword = policy_index.search("防災")  # a word many items hold gets no topic items
    assert keyword.total_related == 0 and keyword.total == keyword.total_all == 16


def test_an_exploding_expansion_stays_bounded(policy_index):
    from indexer.graded import _forms
    from indexer.query import analyse_word
    from indexer.understand import MAX_LOOSE_UNITS, MAX_RELATED, MAX_SYNONYMS

    words = ["防災", "子育て", "介護", "環境", "文化", "産業", "道路", "公園", "選挙"]
    many = [analyse_word(f"語{n}") for n in range(60)]
    related = {analyse_word(w).key: many for w in words}
    understood = understand(" ".join(words), synonyms=related, related=related, near=related)
    assert len(understood.words) == MAX_WORDS
    for qword in understood.words:
        assert len(qword.related) <= MAX_RELATED and len(qword.near) <= MAX_RELATED
        assert len(qword.expansions) <= MAX_SYNONYMS
        assert len(qword.loose) <= MAX_LOOSE_UNITS
        forms = sum(len(words) for _, words in _forms(qword)) + len(qword.parts)
        assert forms <= 1 + 12 + MAX_SYNONYMS + 2 * MAX_RELATED + 9 + 5
    # The synonym list's own groups are few; through the index it still answers at once.
    assert policy_index.search(" ".join(words)).total > 0


@pytest.mark.parametrize("query", ["年寄り", "介護予防の取り組み", "特殊詐欺を防ぐには"])
def test_counts_add_up_across_filters_with_topic_items(policy_index, query):
    from indexer.crosstab import department_by_category

    result = policy_index.search(query)
    crosstab = department_by_category(policy_index, query)
    assert crosstab.total == result.total
    for facet in result.facets["department"]:
        assert crosstab.department_total(facet.value) == facet.count
        assert policy_index.search(query, departments=[facet.value]).total == facet.count
