"""The web layer through Flask's test client: pages, JSON API, errors and headers."""

from __future__ import annotations

import csv
import doctest
import html
import io
import json
import math
import re
import shutil
from collections import Counter
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from flask import request, url_for
from hypothesis import given, settings
from hypothesis import strategies as st

import webapp
import webapp.__main__
import webapp.api
import webapp.cache
import webapp.charts
import webapp.department
import webapp.export
import webapp.facets
import webapp.server
import webapp.views
from bench.serving import free_port
from indexer.build import build_index
from indexer.search import PolicyIndex, SearchResult
from webapp import create_app
from webapp.export import EXPORT_FIELDS
from webapp.facets import SearchState, facet_groups, pagination
from webapp.openapi import validate_response

TOTAL = 475
DEPARTMENT_COUNT = 20


@pytest.fixture()
def app(seed_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def shared_client(seed_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)}).test_client()


# Read what the page shows from its markup.


def page_text(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.content_type == "text/html; charset=utf-8"
    return response.get_data(as_text=True)


def shown_total(page: str) -> int:
    return int(re.search(r'id="result-count"><strong>(\d+)</strong>', page)[1])


def shown_hits(page: str) -> list[tuple[str, str]]:
    """Return (id, department) of each hit on the page, in order."""
    return re.findall(r'<li class="hit" data-id="([^"]+)" data-department="([^"]+)"', page)


def shown_facets(page: str, name: str) -> list[tuple[str, int]]:
    group = re.search(rf'data-facet="{name}".*?</details>', page, re.S)[0]
    return [
        (html.unescape(value), int(count))
        for value, count in re.findall(r'data-value="([^"]+)" data-count="(\d+)"', group)
    ]


def facet_link(page: str, value: str) -> str:
    match = re.search(rf'href="([^"]+)"\s+data-value="{re.escape(value)}"', page)
    return html.unescape(match[1])


def hrefs(page: str, css_class: str) -> list[str]:
    return [
        html.unescape(href) for href in re.findall(rf'class="{css_class}" href="([^"]*)"', page)
    ]


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def api(client, status: int = 200, **args) -> dict:
    url = "/api/search?" + urlencode(args, doseq=True)
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.content_type == "application/json"
    validate_response(client.get("/api/openapi.json").get_json(), url, response)
    return response.get_json()


# The search page.


def test_home_browses_every_item_in_document_order(client, seed_items):
    page = page_text(client, "/")
    assert '<html lang="ja">' in page
    assert shown_total(page) == TOTAL
    assert [item_id for item_id, _ in shown_hits(page)] == [i.id for i in seed_items[:20]]
    assert "1〜20件目を表示（掲載順）" in page
    assert page == page_text(client, "/search")


def test_search_ranks_and_highlights(client, policy_index):
    page = page_text(client, "/search?q=防災")
    expected = policy_index.search("防災")
    assert shown_total(page) == expected.total == 16
    assert [item_id for item_id, _ in shown_hits(page)] == [hit.id for hit in expected.hits]
    assert 'value="防災"' in page
    assert page.count("<mark>防災</mark>") >= 16
    assert '「<span class="summary-query">防災</span>」の検索結果' in page
    assert "関連度の高い順" in page


def test_department_filter_alone_and_with_category(client, seed_items):
    with_word = [i for i in seed_items if "防災" in i.text]
    in_department = [i for i in with_word if i.department == "危機管理部"]
    page = page_text(client, "/search?q=防災&dept=危機管理部")
    assert shown_total(page) == len(in_department) == 15
    assert {dept for _, dept in shown_hits(page)} == {"危機管理部"}

    reform = [i for i in in_department if i.category == "改革"]
    page = page_text(client, "/search?q=防災&dept=危機管理部&category=改革")
    assert shown_total(page) == len(reform) == 5
    assert {item_id for item_id, _ in shown_hits(page)} == {i.id for i in reform}

    page = page_text(client, "/search?q=防災&dept=危機管理部&category=改革&column=重点目標")
    expected = [i for i in reform if i.column == "重点目標"]
    assert shown_total(page) == len(expected) == 3


def test_departments_are_or_ed(client, seed_items):
    page = page_text(client, "/search?q=防災&dept=危機管理部&dept=まちづくり推進室")
    assert shown_total(page) == 16
    assert {dept for _, dept in shown_hits(page)} == {"危機管理部", "まちづくり推進室"}
    chips = hrefs(page, "chip")
    assert len(chips) == 2
    # Removing one chip keeps the other filter and the query.
    assert params(chips[0]) == {"q": ["防災"], "dept": ["まちづくり推進室"]}


def test_facet_panel_lists_all_departments_with_counts(client, policy_index):
    page = page_text(client, "/search?q=防災")
    departments = shown_facets(page, "department")
    assert [value for value, _ in departments] == policy_index.facet_values("department")
    assert len(departments) == DEPARTMENT_COUNT
    assert dict(departments)["危機管理部"] == 15
    assert dict(departments)["まちづくり推進室"] == 1
    assert sum(count for _, count in departments) == 16
    assert [v for v, _ in shown_facets(page, "category")] == policy_index.facet_values("category")
    assert dict(shown_facets(page, "column")) == {"経営方針": 5, "重点目標": 8, "取り組むこと": 3}
    assert "部局" in page and "区分" in page and "列" in page


def test_facet_links_toggle_values(client):
    page = page_text(client, "/search?q=防災&page=1")
    add = facet_link(page, "危機管理部")
    assert urlsplit(add).path == "/search"
    assert params(add) == {"q": ["防災"], "dept": ["危機管理部"]}
    page = page_text(client, add)
    assert shown_total(page) == 15
    assert 'aria-current="true"' in page
    remove = facet_link(page, "危機管理部")
    assert params(remove) == {"q": ["防災"]}
    also = facet_link(page, "まちづくり推進室")
    assert params(also) == {"q": ["防災"], "dept": ["危機管理部", "まちづくり推進室"]}
    # A department with no hits is shown with its zero but is not a link.
    empty = r'<span class="facet-value is-empty" data-value="総務部" data-count="0">'
    assert re.search(empty, page)


def test_selected_filters_show_as_chips_with_clear_all(client):
    page = page_text(client, "/search?q=防災&dept=危機管理部&category=改革")
    assert [html.unescape(c) for c in re.findall(r'class="chip-facet">([^<]+)<', page)] == [
        "部局",
        "区分",
    ]
    assert hrefs(page, "clear-all") == ["/search?q=%E9%98%B2%E7%81%BD"]
    assert "すべて解除" in page
    # The search form carries the filters along as hidden fields.
    assert '<input type="hidden" name="dept" value="危機管理部">' in page
    assert '<input type="hidden" name="category" value="改革">' in page


def test_pages_and_their_edges(client, seed_items):
    last = math.ceil(TOTAL / 20)
    page = page_text(client, "/search?page=2")
    assert [i for i, _ in shown_hits(page)] == [i.id for i in seed_items[20:40]]
    assert "21〜40件目を表示" in page
    assert 'rel="prev">前へ</a>' in page and 'rel="next">次へ</a>' in page

    page = page_text(client, f"/search?page={last}")
    assert [i for i, _ in shown_hits(page)] == [i.id for i in seed_items[(last - 1) * 20 :]]
    assert len(shown_hits(page)) == TOTAL - (last - 1) * 20 == 15
    assert '<span class="page-step is-disabled">次へ</span>' in page

    beyond = page_text(client, f"/search?page={last + 5}")
    assert shown_hits(beyond) == shown_hits(page)
    assert f"{last + 5}ページ目はありません" in beyond

    first = shown_hits(page_text(client, "/search"))
    for bad in ("0", "-3", "abc", "1.5", "", "9" * 5000):
        assert shown_hits(page_text(client, f"/search?page={bad}")) == first
    assert shown_hits(page_text(client, "/search?page=" + "9" * 4000)) == shown_hits(page)


def test_page_links_keep_query_and_filters(client):
    page = page_text(client, "/search?q=推進&dept=都市整備部&dept=教育委員会事務局")
    assert shown_total(page) == 26
    next_url = html.unescape(re.search(r'href="([^"]+)" rel="next"', page)[1])
    assert params(next_url) == {
        "q": ["推進"],
        "dept": ["都市整備部", "教育委員会事務局"],
        "page": ["2"],
    }
    page2 = page_text(client, next_url)
    assert len(shown_hits(page2)) == 6
    assert '<span class="page-number is-current" aria-current="page">2</span>' in page2


def test_unknown_filter_values_are_ignored_with_a_notice(client):
    page = page_text(client, "/search?dept=存在しない部&category=改革&column=列X")
    assert shown_total(page) == 128
    assert "部局「存在しない部」は見つからないため、この条件を外して表示しています。" in page
    assert "列「列X」は見つからないため" in page
    assert 'role="status"' in page
    assert params(hrefs(page, "chip")[0]) == {}  # only the known filter became a chip


def test_no_results_page_suggests_what_to_try(client):
    page = page_text(client, "/search?q=存在しないことば+防災&dept=総務部")
    assert shown_total(page) == 0
    assert "該当する項目はありません" in page
    assert "言葉の数を減らす" not in page  # plain words: any one of them would have been shown
    assert "絞り込み条件を外す" in page
    page = page_text(client, "/search?" + urlencode({"q": '"存在しないことば" 防災'}))
    assert shown_total(page) == 0 and "言葉の数を減らす" in page  # operators: as written
    page = page_text(client, "/search?q=防災&dept=総務部")
    assert "（条件を外すと 16 件あります）" in page
    assert "言葉の数を減らす" not in page
    assert '<ol class="hits"' not in page


def test_long_query_is_cut_with_a_notice(client):
    page = page_text(client, "/search?q=" + "防災" * 300)
    assert "先頭の500文字で検索しました" in page
    value = re.search(r'id="q" name="q" type="search" value="([^"]*)"', page)[1]
    assert value == "防災" * 250
    assert "先頭の500文字" not in page_text(client, "/search?q=防災")


def test_user_input_is_escaped(client):
    attack = "<script>alert(1)</script>"
    page = page_text(client, "/search?" + urlencode({"q": attack, "dept": '"><img src=x>'}))
    assert attack not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page
    assert "&lt;img src=x&gt;" in page
    data = api(client, q=attack)
    assert all("<script" not in hit["highlight"] for hit in data["hits"])
    # Whatever a hit's text holds, only <mark> comes out unescaped in the highlight.
    for hit in api(client, q="DX", per_page=100)["hits"]:
        assert re.sub(r"</?mark>", "", hit["highlight"]) == html.escape(hit["text"], quote=True)


def test_json_escapes_markup_and_keeps_japanese(app, client):
    response = client.get("/api/search?" + urlencode({"q": "防災 <b>&"}))
    body = response.get_data()
    assert b"<" not in body and b">" not in body and b"&" not in body
    assert '"query":"防災 \\u003cb\\u003e\\u0026"'.encode() in body
    assert json.loads(body)["query"] == "防災 <b>&"
    # The standard library's options (Jinja's tojson sorts keys) give the same escapes.
    assert app.json.dumps({"b": "<&>", "a": "防災"}) == '{"b":"\\u003c\\u0026\\u003e","a":"防災"}'
    assert app.json.dumps({"b": "<", "a": 1}, sort_keys=True) == '{"a": 1, "b": "\\u003c"}'
    # orjson stops at 64-bit integers (`page=999…`); the standard library writes those.
    big = app.json.dumps({"page": 10**30, "q": "<"})
    assert json.loads(big) == {"page": 10**30, "q": "<"} and "<" not in big


@pytest.mark.parametrize("item_id", ["r5-keiei-03-shisaku-hoshin-01", "a b/c?d#e%f", "防災&x=1"])
@pytest.mark.parametrize("script_root", ["", "/search-app"])
def test_api_item_urls_are_the_ones_url_for_builds(app, item_id, script_root):
    with app.test_request_context("/api/search", base_url=f"http://localhost{script_root}/"):
        url = webapp.api.item_url(item_id, request.script_root)
        assert url == url_for("views.item", item_id=item_id)
        assert url.startswith(f"{script_root}/item/")


APP_JS = '<script src="/static/app.js" defer>'
SUGGEST_JS = '<script src="/static/suggest.js" defer>'


@pytest.mark.parametrize(
    ("url", "scripts"),
    [
        ("/", [APP_JS, SUGGEST_JS]),
        ("/search?q=防災&dept=危機管理部", [APP_JS, SUGGEST_JS]),
        ("/search?q=ぼうさお", [APP_JS, SUGGEST_JS]),
        ("/dept/危機管理部", [APP_JS, SUGGEST_JS]),
        ("/item/r5-keiei-03-shisaku-hoshin-01", [APP_JS]),
    ],
)
def test_pages_have_no_inline_script_or_style(client, url, scripts):
    page = page_text(client, url)
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"<script[^>]*>", page) == scripts
    assert '<link rel="stylesheet" href="/static/style.css">' in page
    assert '<label class="search-label" for="q">' in page or "/item/" in url


def test_static_files_are_served(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "Hiragino Sans" in response.get_data(as_text=True)
    assert ":focus-visible" in response.get_data(as_text=True)
    response.close()
    response = client.get("/static/app.js")
    assert response.status_code == 200
    response.close()


# The item page.


def test_item_page_shows_the_item_and_its_neighbours(client, seed_items):
    item = next(i for i in seed_items if i.id == "r5-keiei-03-shisaku-hoshin-02")
    page = page_text(client, f"/item/{item.id}")
    assert f'<p class="item-text">{item.text}</p>' in html.unescape(page)
    assert "令和5年度（2023年度）" in page
    assert "<dd>3. 危機管理部</dd>" in page and "<dd>施策</dd>" in page
    assert "経営方針（2番目）" in page
    assert "板橋区「令和5年度 各部の経営方針」" in page
    group = [i for i in seed_items if (i.department, i.category) == ("危機管理部", "施策")]
    entry = r'<li class="neighbour[^"]*"[^>]*>\s*(?:<a href="/item/([^"?]+)|<span)'
    listed = re.findall(entry, page)
    current = [i.id for i in group].index(item.id)
    assert [x or item.id for x in listed] == [i.id for i in group]
    assert len(group) == 11 and current == 1
    assert re.search(r'class="neighbour is-current" aria-current="true">\s*<span', page)
    assert f'href="/item/{group[0].id}" rel="prev"' in page
    assert f'href="/item/{group[2].id}" rel="next"' in page
    assert hrefs(page, "back-link") == ["/search"]
    assert "検索ページへ" in page


def test_item_page_links_back_to_the_search(client):
    search = page_text(client, "/search?q=防災&dept=危機管理部")
    link = html.unescape(re.search(r'class="hit-text" href="([^"]+)"', search)[1])
    assert urlsplit(link).path.startswith("/item/r5-keiei-03-")
    back = params(link)["back"][0]
    assert parse_qs(back) == {"q": ["防災"], "dept": ["危機管理部"]}
    page = page_text(client, link)
    assert "検索結果に戻る" in page
    back_url = hrefs(page, "back-link")[0]
    assert urlsplit(back_url).path == "/search"
    assert params(back_url) == {"q": ["防災"], "dept": ["危機管理部"]}
    # Neighbours keep the way back too.
    neighbour = re.search(r'<li class="neighbour"><a href="([^"]+)"', page)[1]
    assert params(html.unescape(neighbour))["back"] == [back]


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/",
        "//evil.example/search?q=1",
        "javascript:alert(1)",
        "/\\evil.example",
        "q=防災&next=https://evil.example",
    ],
)
def test_back_link_is_never_an_open_redirect(client, back):
    page = page_text(client, "/item/r5-keiei-03-shisaku-hoshin-01?back=" + quote(back))
    (back_url,) = hrefs(page, "back-link")
    assert back_url.startswith("/search")
    assert "evil" not in back_url and "javascript" not in back_url
    assert "evil" not in page.split('class="back-link"')[1][:200]


@pytest.mark.parametrize(
    "path",
    [
        "/item/r5-keiei-99-shisaku-hoshin-01",
        "/item/../../etc/passwd",
        "/item/..%2F..%2Fetc%2Fpasswd",
        "/item/%00",
    ],
)
def test_unknown_item_is_a_japanese_404(client, path):
    page = page_text(client, path, status=404)
    assert '<html lang="ja">' in page
    assert "ページが見つかりません" in page
    assert "root:" not in page


# The JSON API.


def test_api_contract(client):
    data = api(client, q="DX", per_page=5)
    assert list(data) == [
        "query", "total", "total_all", "total_related", "words", "expansions", "names", "dropped",
        "unsearchable", "match",
        "page", "per_page", "hits", "facets",
    ]  # fmt: skip
    # 28 items hold DX or its full form; 2 more only デジタル化 or ICT化, near concepts: partial.
    assert data["query"] == "DX" and (data["total"], data["total_all"]) == (30, 28)
    assert data["words"] == ["DX"] and data["dropped"] == [] and data["match"] == "any"
    with_ = ["デジタルトランスフォーメーション", "デジタル化", "IT化", "ICT化"]
    assert data["expansions"] == [{"word": "DX", "with": with_}]
    assert data["page"] == 1 and data["per_page"] == 5
    assert len(data["hits"]) == 5
    types = {
        "id": str,
        "fiscal_year": int,
        "department_no": int,
        "department": str,
        "category": str,
        "column": str,
        "position": int,
        "text": str,
        "highlight": str,
        "score": float,
        "matched": str,
        "missing": list,
        "in_part": list,
        "url": str,
    }
    for hit in data["hits"]:
        assert list(hit) == list(types)
        assert hit["matched"] == "all" and hit["missing"] == hit["in_part"] == []
        assert {key: type(value) for key, value in hit.items()} == types
        assert hit["url"] == f"/item/{hit['id']}"
        assert hit["fiscal_year"] == 2023
        assert "<mark>DX</mark>" in hit["highlight"]
    scores = [hit["score"] for hit in data["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert list(data["facets"]) == ["department", "category", "column"]
    for entries in data["facets"].values():
        assert all(list(entry) == ["value", "count"] for entry in entries)
        assert all(isinstance(e["value"], str) and isinstance(e["count"], int) for e in entries)
    assert len(data["facets"]["department"]) == DEPARTMENT_COUNT
    # Counts cover the whole result set, not just the page.
    assert sum(e["count"] for e in data["facets"]["department"]) == 30
    assert sum(e["count"] for e in data["facets"]["column"]) == 30


def test_api_item_url_opens_the_item(client):
    hit = api(client, q="防災", per_page=1)["hits"][0]
    page = page_text(client, hit["url"])
    assert html.escape(hit["text"], quote=False) in page


def test_api_facet_counts_equal_filtered_totals(client):
    facets = api(client, q="DX")["facets"]
    checked = 0
    for entry in facets["department"]:
        if entry["count"]:
            assert api(client, q="DX", dept=entry["value"])["total"] == entry["count"]
            checked += 1
    assert checked == 16
    for entry in facets["category"]:
        assert api(client, q="DX", category=entry["value"])["total"] == entry["count"]
    # Under a department filter, the category counts are those of that department.
    inside = api(client, q="DX", dept="危機管理部")
    for entry in inside["facets"]["category"]:
        both = api(client, q="DX", dept="危機管理部", category=entry["value"])
        assert both["total"] == entry["count"]
    # ... while the department counts stay those without it, for adding another.
    assert inside["facets"]["department"] == facets["department"]


def test_api_filters(client, seed_items):
    data = api(client, q="防災", dept="危機管理部", category="改革", column="重点目標")
    expected = [
        i.id
        for i in seed_items
        if "防災" in i.text
        and (i.department, i.category, i.column) == ("危機管理部", "改革", "重点目標")
    ]
    assert sorted(hit["id"] for hit in data["hits"]) == sorted(expected)
    assert data["total"] == 3
    data = api(client, q="防災", dept=["危機管理部", "まちづくり推進室"], per_page=100)
    assert data["total"] == 16
    assert {h["department"] for h in data["hits"]} == {"危機管理部", "まちづくり推進室"}


def test_api_browse_mode(client, seed_items):
    data = api(client, per_page=100)
    assert data["total"] == TOTAL and data["query"] == ""
    assert [hit["id"] for hit in data["hits"]] == [i.id for i in seed_items[:100]]
    assert all(hit["score"] is None for hit in data["hits"])
    assert all(hit["highlight"] == html.escape(hit["text"]) for hit in data["hits"])


def test_api_pages(client, seed_items):
    assert [h["id"] for h in api(client, per_page=1)["hits"]] == [seed_items[0].id]
    assert [h["id"] for h in api(client, per_page=1, page=475)["hits"]] == [seed_items[-1].id]
    assert len(api(client, per_page=100)["hits"]) == 100
    last = api(client, per_page=100, page=5)
    assert len(last["hits"]) == 75 and last["total"] == TOTAL
    beyond = api(client, per_page=100, page=6)
    assert beyond["hits"] == [] and beyond["total"] == TOTAL and beyond["page"] == 6
    assert api(client, per_page=20, page=2)["hits"][0]["id"] == seed_items[20].id


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": ""}, "page"),
        ({"page": "9" * 5000}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "-5"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "x"}, "per_page"),
        ({"per_page": "２"}, "per_page"),
        ({"dept": "存在しない部"}, "存在しない部"),
        ({"category": "施策", "column": "列X"}, "列X"),
    ],
)
def test_api_bad_parameters_are_400(client, args, word):
    data = api(client, status=400, **args)
    assert list(data) == ["error"]
    assert word in data["error"]


def test_api_accepts_the_names_in_the_document(client, seed_items):
    for param, field, value in [
        ("dept", "department", "危機管理部"),
        ("category", "category", "改革"),
        ("column", "column", "重点目標"),
    ]:
        expected = sum(getattr(i, field) == value for i in seed_items)
        assert expected > 0
        assert api(client, **{param: value})["total"] == expected
    assert api(client, per_page=100)["per_page"] == 100


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "items": TOTAL, "word_vectors": "ok"}


# Methods, headers, errors.


@pytest.mark.parametrize("path", ["/", "/search", "/api/search", "/healthz", "/item/x"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "patch", "options"])
def test_only_get_is_allowed(client, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    if path.startswith(("/api", "/healthz")):
        assert "error" in response.get_json()
    else:
        assert "この操作には対応していません" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/api/search?q=DX", "/item/nope", "/healthz"])
def test_security_headers(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_request_bodies_are_capped(app):
    assert 0 < app.config["MAX_CONTENT_LENGTH"] <= 64 * 1024


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_missing_index_at_run_time_is_503(tmp_path):
    index_dir = tmp_path / "index"
    build_index(webapp.ROOT / "corpus", index_dir)
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    index_dir.unlink()
    page = page_text(client, "/search?q=防災", status=503)
    assert "検索を利用できません" in page
    response = client.get("/healthz")
    assert response.status_code == 503 and "error" in response.get_json()
    assert str(tmp_path) not in response.get_data(as_text=True)


ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
PARAM = st.sampled_from(["q", "dept", "category", "column", "page", "per_page", "back"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(PARAM, ANY_TEXT), max_size=5))
def test_no_parameters_make_a_server_error(shared_client, pairs):
    query = urlencode(pairs)
    for path in ("/search", "/api/search", "/item/r5-keiei-01-shisaku-hoshin-01"):
        status = shared_client.get(f"{path}?{query}").status_code
        assert status in ((200, 400) if path.startswith("/api") else (200,))


# The app factory.


def test_index_is_opened_once_per_app(monkeypatch, seed_index_dir):
    opened = []

    class CountingIndex(PolicyIndex):
        def __init__(self, index_dir, **options):
            opened.append(index_dir)
            super().__init__(index_dir, **options)

    monkeypatch.setattr(webapp, "PolicyIndex", CountingIndex)
    app = create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)})
    client = app.test_client()
    for url in ("/search?q=防災", "/api/search?q=DX", "/item/r5-keiei-01-shisaku-hoshin-01"):
        assert client.get(url).status_code == 200
    assert len(opened) == 1
    assert isinstance(app.extensions["policy_index"], CountingIndex)


def test_config_from_environment(monkeypatch, seed_index_dir):
    monkeypatch.setenv("POLICY_INDEX_DIR", str(seed_index_dir))
    app = create_app()
    assert app.config["INDEX_DIR"] == str(seed_index_dir)
    assert not app.debug
    monkeypatch.setenv("POLICY_INDEX_DIR", "/nonexistent/ignored")
    assert create_app({"INDEX_DIR": str(seed_index_dir)}).config["INDEX_DIR"] == str(seed_index_dir)


def test_default_paths_are_in_the_repository(seed_index_dir):
    app = create_app({"INDEX_DIR": str(seed_index_dir)})
    assert app.config["CORPUS_DIR"] == str(webapp.ROOT / "corpus")
    assert (webapp.ROOT / "webapp" / "__init__.py").is_file()


def test_missing_index_is_built_from_the_corpus(tmp_path, caplog):
    index_dir = tmp_path / "fresh" / "index"
    app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)})
    assert index_dir.is_symlink()
    assert "building it from" in caplog.text
    client = app.test_client()
    assert client.get("/healthz").get_json()["items"] == TOTAL
    # A rebuild swaps a new generation in; the open app follows it.
    before = app.extensions["policy_index"].current().target
    build_index(app.config["CORPUS_DIR"], index_dir)
    assert client.get("/healthz").get_json()["items"] == TOTAL
    assert app.extensions["policy_index"].current().target != before
    assert shown_total(page_text(client, "/search?q=防災")) == 16


# The server command.


def test_server_command_help():
    result = CliRunner().invoke(webapp.__main__.main, ["--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output and "--index" in result.output
    assert "Serve the policy search site" in result.output


def test_server_command_serves_through_granian_on_every_core(monkeypatch, seed_index_dir):
    served = {}

    def fake_serve(app, host, port, workers):
        served.update(app=app, address=(host, port), workers=workers)

    monkeypatch.setattr(webapp.__main__, "serve", fake_serve)
    port = free_port()
    result = CliRunner().invoke(
        webapp.__main__.main,
        ["--port", str(port), "--index", str(seed_index_dir), "--result-cache", "0"],
    )
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/ with {webapp.__main__.CORES} worker" in result.output
    assert served["address"] == ("127.0.0.1", port) and served["workers"] == webapp.__main__.CORES
    assert served["app"].config["INDEX_DIR"] == str(seed_index_dir)
    assert served["app"].config["RESULT_CACHE_SIZE"] == 0
    assert not served["app"].debug
    arguments = ["--port", str(port), "--index", str(seed_index_dir), "--workers", "3"]
    CliRunner().invoke(webapp.__main__.main, arguments)
    assert served["workers"] == 3 and served["app"].config["RESULT_CACHE_SIZE"] == 512
    usage = CliRunner().invoke(webapp.__main__.main, ["--help"]).output
    assert "--workers" in usage and "--result-cache" in usage


def test_server_command_rejects_a_bad_port():
    result = CliRunner().invoke(webapp.__main__.main, ["--port", "0"])
    assert result.exit_code == 2


# View data, without Flask.


def test_search_state_round_trips_through_the_url():
    state = SearchState.from_query_string("q=防災&dept=危機管理部&dept=総務部&page=3&x=1")
    assert state.query == "防災" and state.page == 3
    assert state.selected("department") == ("危機管理部", "総務部")
    assert SearchState.from_query_string(state.query_string()) == state
    assert state.toggled("department", "総務部").pairs() == [("q", "防災"), ("dept", "危機管理部")]
    assert state.toggled("column", "列").url("/search").endswith("&column=%E5%88%97")
    assert SearchState().url("/search") == "/search"


def test_facet_groups_and_pagination_are_plain_data(policy_index):
    state = SearchState("推進", {"department": ("都市整備部",)}, page=1)
    result: SearchResult = policy_index.search("推進", departments=["都市整備部"], per_page=2)
    groups = facet_groups(result, state, "/search")
    assert [g.name for g in groups] == ["department", "category", "column"]
    selected = [v for v in groups[0].values if v.selected]
    assert [(v.value, v.count, v.toggle_url) for v in selected] == [
        ("都市整備部", 14, "/search?q=%E6%8E%A8%E9%80%B2")
    ]
    pages = pagination(result, state, "/search", window=1)
    assert pages.pages == 7 and pages.first == 1 and pages.last == 2
    assert [link.number for link in pages.links] == [1, 2, None, 7]
    assert pages.prev_url is None and pages.next_url.endswith("&page=2")


@pytest.mark.parametrize("module", [webapp.facets, webapp.views, webapp.server, webapp.cache])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


# Suggestions, related items, department pages, charts and exports.

def get_json(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.content_type == "application/json"
    validate_response(client.get("/api/openapi.json").get_json(), url, response)
    return response.get_json()


def suggestions(client, **args) -> list[tuple[str, int]]:
    data = get_json(client, "/api/suggest?" + urlencode(args, doseq=True))
    assert list(data) == ["query", "suggestions"]
    assert all(list(s) == ["text", "count"] for s in data["suggestions"])
    return [(s["text"], s["count"]) for s in data["suggestions"]]


def test_api_suggest_contract_and_kana(client):
    data = get_json(client, "/api/suggest?q=" + quote("ぼう"))
    assert data["query"] == "ぼう"
    found = suggestions(client, q="ぼう")
    assert found[0] == ("防災", 16)
    assert ("防犯", 4) in found
    assert [count for _, count in found] == sorted((c for _, c in found), reverse=True)
    digital = dict(suggestions(client, q="デジ"))
    assert digital["デジタル化"] == 2 and digital["デジタルトランスフォーメーション"] == 28
    # Each count is the number of items holding every word that searching for it gives.
    for text, count in found:
        assert api(client, q=text)["total_all"] == count


def test_api_suggest_counts_under_the_filters(client):
    found = suggestions(client, q="ぼう", dept="危機管理部")
    assert found[0] == ("防災", 15)
    for text, count in found:
        assert api(client, q=text, dept="危機管理部")["total_all"] == count
    assert suggestions(client, q="ぼう", dept="ない部") == suggestions(client, q="ぼう")


@pytest.mark.parametrize(
    "query",
    ["", " ", "\u3000", "x" * 5000, "\x00", "ぼ\x01う", "\u202eぼう", "防災 ", "-ぼう", "OR"],
)
def test_api_suggest_bad_input_is_empty_not_an_error(client, query):
    data = get_json(client, "/api/suggest?" + urlencode({"q": query}))
    assert data["suggestions"] == []
    assert get_json(client, "/api/suggest")["suggestions"] == []


def test_api_item_with_related_items(client, policy_index):
    item_id = "r5-keiei-03-kaikaku-hoshin-02"
    data = get_json(client, f"/api/item/{item_id}")
    assert list(data) == ["item", "related"]
    item = data["item"]
    assert list(item) == [*webapp.api.ITEM_HIT_FIELDS, "url"]
    assert item["id"] == item_id and item["department"] == "危機管理部"
    assert item["text"] == policy_index.get(item_id)["text"]
    assert item["url"] == f"/item/{item_id}" and item["score"] is None
    related = data["related"]
    assert len(related) == 6
    assert item_id not in [r["id"] for r in related]
    assert all(r["department"] != "危機管理部" for r in related)
    assert all(list(r) == list(item) and isinstance(r["score"], float) for r in related)
    assert related[0]["id"] == "r5-keiei-20-kaikaku-hoshin-02"
    assert [r["score"] for r in related] == sorted((r["score"] for r in related), reverse=True)
    error = get_json(client, "/api/item/r5-keiei-99-shisaku-hoshin-01", status=404)
    assert list(error) == ["error"]


def test_item_page_shows_related_items_from_other_departments(client):
    item_id = "r5-keiei-03-kaikaku-hoshin-02"
    page = page_text(client, f"/item/{item_id}?back=" + quote("q=防災"))
    entry = r'<li class="related-item" data-id="([^"]+)" data-department="([^"]+)"'
    listed = re.findall(entry, page)
    expected = get_json(client, f"/api/item/{item_id}")["related"]
    assert [i for i, _ in listed] == [r["id"] for r in expected]
    assert item_id not in [i for i, _ in listed]
    assert "危機管理部" not in [d for _, d in listed]
    links = [html.unescape(h) for h in re.findall(r'class="related-text" href="([^"]+)"', page)]
    assert urlsplit(links[0]).path == f"/item/{listed[0][0]}"
    assert parse_qs(params(links[0])["back"][0]) == {"q": ["防災"]}  # the way back is kept


def dept_url(name: str) -> str:
    return "/dept/" + quote(name)


def test_department_labels_link_to_the_department_page(client):
    page = page_text(client, "/search?q=防災")
    labels = re.findall(r'<a class="label label-department" href="([^"]+)">', page)
    assert len(labels) == 16
    assert set(labels) == {dept_url("危機管理部"), dept_url("まちづくり推進室")}
    item = page_text(client, "/item/r5-keiei-03-shisaku-hoshin-01")
    assert f'<a class="label label-department" href="{dept_url("危機管理部")}">' in item


def test_department_page_lists_exactly_its_items_in_document_order(client, seed_items):
    page = page_text(client, dept_url("危機管理部"))
    mine = [i for i in seed_items if i.department == "危機管理部"]
    assert re.findall(r'<li class="dept-item[^"]*" data-id="([^"]+)"', page) == [i.id for i in mine]
    assert len(mine) == 27 and "27項目" in page
    assert "<h1 class=\"dept-title\">危機管理部</h1>" in page
    assert re.findall(r'<th scope="col">([^<]+)</th>', page) == ["経営方針", "重点目標"]
    assert re.findall(r'<tr data-category="([^"]+)">', page) == ["施策", "改革", "人材育成・活用"]
    assert "No.1プラン2025改訂に向けて取り組むこと" in page
    # Each cell holds the items of its row and column.
    cell = re.search(r'data-category="改革">.*?data-column="重点目標">(.*?)</td>', page, re.S)[1]
    in_cell = [i.id for i in mine if (i.category, i.column) == ("改革", "重点目標")]
    assert re.findall(r'data-id="([^"]+)"', cell) == in_cell
    # The search box searches this department only.
    assert '<input type="hidden" name="dept" value="危機管理部">' in page
    assert '<label class="search-label" for="q">危機管理部の項目を探す</label>' in page
    assert f'href="{dept_url("総務部")}" rel="prev"' in page
    assert f'href="{dept_url("区民文化部")}" rel="next"' in page


def test_department_page_of_every_department(client, policy_index, seed_items):
    for name in policy_index.facet_values("department"):
        page = page_text(client, dept_url(name))
        ids = re.findall(r'<li class="dept-item[^"]*" data-id="([^"]+)"', page)
        assert ids == [i.id for i in seed_items if i.department == name]


def test_department_page_has_a_table_per_document(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(webapp.ROOT / "corpus", corpus)
    shutil.copy(webapp.ROOT / "tests/fixtures/second_year/r6.txt", corpus / "r6.txt")
    manifest = (webapp.ROOT / "tests/fixtures/second_year/manifest.toml").read_text("utf-8")
    with open(corpus / "manifest.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + manifest)
    build_index(corpus, tmp_path / "index")
    client = create_app(
        {"TESTING": True, "INDEX_DIR": str(tmp_path / "index"), "CORPUS_DIR": str(corpus)}
    ).test_client()
    page = page_text(client, dept_url("危機管理部"))
    assert re.findall(r'<table class="dept-table" data-document="([^"]+)">', page) == [
        "r5-keiei",
        "r6-keiei",
    ]
    assert "令和6年度 各部の経営方針" in page
    assert "r6-keiei-01-plan-torikumi-01" in page


@pytest.mark.parametrize("name", ["ない部", "..", "%00", "危機管理部x"])
def test_unknown_department_is_a_japanese_404(client, name):
    page = page_text(client, "/dept/" + quote(name), status=404)
    assert "ページが見つかりません" in page


def bars(page: str) -> list[tuple[str, str, int]]:
    """Return (href, department, count) of each bar of the chart, top to bottom."""
    return [
        (html.unescape(href), html.unescape(value), int(count))
        for href, value, count in re.findall(
            r'<a class="bar[^"]*" href="([^"]+)"\s+data-value="([^"]+)" data-count="(\d+)"', page
        )
    ]


def test_bar_chart_draws_hits_per_department_and_links_apply_the_filter(client):
    page = page_text(client, "/search?q=DX")
    drawn = bars(page)
    facet = {v: c for v, c in shown_facets(page, "department") if c}
    assert {d: c for _, d, c in drawn} == facet and len(drawn) == 16
    assert [c for _, _, c in drawn] == sorted(facet.values(), reverse=True)
    widths = [float(w) for w in re.findall(r'<rect class="bar-fill"[^>]* width="([\d.]+)"', page)]
    assert widths[0] == 100.0
    assert widths == [round(100 * c / drawn[0][2], 1) for _, _, c in drawn]
    href, department, count = drawn[1]
    assert params(href) == {"q": ["DX"], "dept": [department]}
    filtered = page_text(client, href)
    assert shown_total(filtered) == count
    assert {d for _, d in shown_hits(filtered)} == {department}
    assert re.search(rf'class="bar is-selected" href="[^"]+"\s+data-value="{department}"', filtered)
    assert "部局別の件数" in page and "棒を選ぶと" in page  # the text alternative


def test_bar_chart_link_replaces_the_department_filter(client):
    page = page_text(client, "/search?q=防災&dept=危機管理部")
    drawn = {department: (href, count) for href, department, count in bars(page)}
    assert list(drawn) == ["危機管理部", "まちづくり推進室"]
    href, count = drawn["まちづくり推進室"]
    assert count == 1
    assert params(href) == {"q": ["防災"], "dept": ["まちづくり推進室"]}
    # Bars count under the other filters: no 防災 item of まちづくり推進室 is a 重点目標.
    page = page_text(client, "/search?q=防災&dept=危機管理部&column=重点目標")
    assert [department for _, department, _ in bars(page)] == ["危機管理部"]


def matrix_cells(page: str) -> list[tuple[str, str, str, int]]:
    return [
        (html.unescape(href), html.unescape(dept), html.unescape(category), int(count))
        for href, dept, category, count in re.findall(
            r'<a class="cell-link" href="([^"]+)" data-department="([^"]+)"\s+'
            r'data-category="([^"]+)" data-count="(\d+)"',
            page,
        )
    ]


def test_matrix_counts_departments_by_category_and_cells_apply_both_filters(client, seed_items):
    page = page_text(client, "/search?q=防災&column=重点目標")
    cells = matrix_cells(page)
    expected = Counter(
        (i.department, i.category)
        for i in seed_items
        if "防災" in i.text and i.column == "重点目標"
    )
    assert {(d, c): n for _, d, c, n in cells} == dict(expected)
    href, department, category, count = next(c for c in cells if c[1:3] == ("危機管理部", "改革"))
    assert count == 3
    assert params(href) == {
        "q": ["防災"],
        "dept": ["危機管理部"],
        "category": ["改革"],
        "column": ["重点目標"],
    }
    filtered = page_text(client, href)
    assert shown_total(filtered) == count
    assert re.search(r'<td class="heat-\d is-selected">', filtered)
    header = re.search(r'<table class="matrix">.*?</thead>', page, re.S)[0]
    assert re.findall(r'<th scope="col">([^<]+)</th>', header) == [
        "部局",
        "施策",
        "改革",
        "人材育成・活用",
        "No.1プラン2025改訂",
        "計",
    ]


def test_no_results_offer_the_closest_words(client):
    page = page_text(client, "/search?q=ぼうさお")
    assert shown_total(page) == 0
    corrections = [
        html.unescape(h) for h in re.findall(r'<a class="correction" href="([^"]+)">', page)
    ]
    assert corrections[0] == "/search?q=" + quote("防災")
    assert ">防災</a><span class=\"correction-count\">（16件）</span>" in page
    assert shown_total(page_text(client, corrections[0])) == 16
    # Under a filter that leaves nothing, the correction is offered without the filter.
    page = page_text(client, "/search?q=ぼうさお&dept=総務部")
    assert "（16件・絞り込みなし）" in page
    page = page_text(client, "/search?q=ぼうさお&dept=危機管理部")
    link = html.unescape(re.search(r'<a class="correction" href="([^"]+)">', page)[1])
    assert params(link) == {"q": ["防災"], "dept": ["危機管理部"]}
    assert "もしかして" not in page_text(client, "/search?q=防災")


def read_csv(response) -> list[dict]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8")[1:]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(EXPORT_FIELDS)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_export_csv_has_the_bom_every_field_and_every_matching_item(client):
    response = client.get("/export.csv?q=防災&dept=危機管理部&page=2")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="policy-search.csv"; filename*=UTF-8')
    assert quote("経営方針検索_防災.csv") in disposition
    rows = read_csv(response)
    hits = api(client, q="防災", dept="危機管理部", per_page=100)["hits"]
    assert len(rows) == len(hits) == 15
    assert [r["id"] for r in rows] == [h["id"] for h in hits]
    first, hit = rows[0], hits[0]
    assert first["text"] == hit["text"] and first["department"] == "危機管理部"
    assert first["fiscal_year"] == "2023" and float(first["score"]) == hit["score"]
    assert first["url"] == "http://localhost" + hit["url"]
    assert b"\r\n" in response.get_data()  # Excel's line ends


def test_export_csv_of_everything_is_not_one_page(client, seed_items):
    rows = read_csv(client.get("/export.csv"))
    assert [r["id"] for r in rows] == [i.id for i in seed_items]
    assert all(r["score"] == "" for r in rows)
    assert {r["category"] for r in rows} == {i.category for i in seed_items}


def test_export_json_has_the_query_filters_total_and_every_hit(client):
    response = client.get("/export.json?q=DX&category=改革&dept=ない部")
    assert response.status_code == 200 and response.content_type == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert list(data) == ["query", "filters", "total", "total_all", "hits"]
    assert data["query"] == "DX"
    assert data["filters"] == {"dept": [], "category": ["改革"], "column": []}
    assert data["total"] == len(data["hits"]) == api(client, q="DX", category="改革")["total"]
    assert all(list(hit) == list(EXPORT_FIELDS) for hit in data["hits"])


def test_results_page_links_to_the_exports_with_its_parameters(client):
    page = page_text(client, "/search?q=防災&dept=危機管理部&page=1")
    csv_link, json_link = hrefs(page, "export-link")
    assert urlsplit(csv_link).path == "/export.csv"
    assert urlsplit(json_link).path == "/export.json"
    assert params(csv_link) == params(json_link) == {"q": ["防災"], "dept": ["危機管理部"]}
    assert "15件すべてをダウンロード" in page
    assert "export-link" not in page_text(client, "/search?q=存在しないことば")


@pytest.mark.parametrize(
    "path", ["/api/suggest", "/api/item/x", "/dept/総務部", "/export.csv", "/export.json"]
)
def test_new_routes_take_only_get(client, path):
    assert client.get(path).status_code in (200, 404)
    response = client.post(path)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


NEW_PATHS = ["/api/suggest", "/export.csv", "/export.json", "/dept/{}", "/api/item/{}"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(PARAM, ANY_TEXT), max_size=4), ANY_TEXT.filter(lambda t: "/" not in t))
def test_no_parameters_make_a_server_error_on_the_new_routes(shared_client, pairs, name):
    query = urlencode(pairs)
    for path in NEW_PATHS:
        url = path.format(quote(name, safe="")) if "{}" in path else path
        assert shared_client.get(f"{url}?{query}").status_code in (200, 404)


@pytest.mark.parametrize("module", [webapp.charts, webapp.department, webapp.export])
def test_new_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
