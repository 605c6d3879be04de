"""Drive the production server with Debian's headless Chromium through Playwright."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.serving import production_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def require_browser() -> None:
    """Skip without Chromium, unless REQUIRE_BROWSER=1 asks for the browser tests to run."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright for Python is not installed"
    if missing and os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def server(seed_index_dir, tmp_path_factory) -> Iterator[str]:
    """Run `python -m webapp` on a free port over the seed index; stop it afterwards."""
    require_browser()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with production_server(seed_index_dir, log) as (url, _):
        yield url
    assert f"{url}/" in log.read_text(), "the server should print its URL"


@contextmanager
def chromium_browser() -> Iterator:
    """Launch Debian's Chromium headless through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser(server):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture()
def errors() -> list[str]:
    """Collect console errors and failed requests (a CSP violation shows as one)."""
    return []


def open_page(browser, errors: list[str], viewport: dict, javascript: bool = True):
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript, locale="ja-JP")
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed_request(r, errors))
    return context, page


def failed_request(request, errors: list[str]) -> None:
    """Count a failed request as an error, but not a suggestion fetch cut short by navigation."""
    aborted = request.resource_type == "fetch" and "ERR_ABORTED" in (request.failure or "")
    if not aborted:
        errors.append(f"failed: {request.url} ({request.failure})")


def shown_count(page) -> int:
    return int(page.locator("#result-count strong").inner_text())


def test_search_filter_and_open_an_item(server, browser, errors, policy_index):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_page(browser, errors, DESKTOP)
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert shown_count(page) == policy_index.doc_count

    page.get_by_label("キーワードで探す").fill("防災")
    page.get_by_role("button", name="検索").click()
    page.wait_for_url(re.compile(r"/search\?q="))
    expected = policy_index.search("防災")
    assert shown_count(page) == expected.total == 16
    assert page.get_by_label("キーワードで探す").input_value() == "防災"
    marks = page.locator(".hit mark").all_inner_texts()
    assert marks and all("防災" in mark for mark in marks)
    hits = page.locator(".hit")
    assert hits.count() == 16
    for i in range(hits.count()):
        assert hits.nth(i).locator("mark").count() >= 1
    assert page.locator(".hit").first.get_attribute("data-id") == expected.hits[0].id
    page.screenshot(path=str(ARTIFACTS / "search-desktop.png"), full_page=True)

    facet = page.locator('a.facet-value[data-value="危機管理部"]')
    facet_count = int(facet.get_attribute("data-count"))
    assert facet_count == 15
    facet.click()
    page.wait_for_url(re.compile(r"dept="))
    assert shown_count(page) == facet_count
    departments = page.locator(".hit").evaluate_all("hits => hits.map(h => h.dataset.department)")
    assert departments == ["危機管理部"] * facet_count
    labels = page.locator(".hit .label-department").all_inner_texts()
    assert all(label.endswith("危機管理部") for label in labels)
    chips = page.locator(".chip").all_inner_texts()
    assert len(chips) == 1 and chips[0].split()[:2] == ["部局", "危機管理部"]
    selected = page.locator('a.facet-value.is-selected[data-value="危機管理部"]')
    assert selected.get_attribute("aria-current") == "true"
    page.screenshot(path=str(ARTIFACTS / "results-desktop.png"), full_page=True)

    first = page.locator(".hit").first
    item_id = first.get_attribute("data-id")
    text = policy_index.get(item_id)["text"]
    first.locator("a.hit-text").click()
    page.wait_for_url(re.compile(rf"/item/{item_id}\?back="))
    assert page.locator(".item-text").inner_text() == text
    assert "危機管理部" in page.locator("h1").inner_text()
    assert "令和5年度（2023年度）" in page.locator(".item-meta").inner_text()
    current = page.locator('.neighbour[aria-current="true"]')
    assert current.count() == 1 and text in current.inner_text()
    page.screenshot(path=str(ARTIFACTS / "item-desktop.png"), full_page=True)

    page.get_by_role("link", name="検索結果に戻る").click()
    page.wait_for_url(re.compile(r"/search\?"))
    assert shown_count(page) == facet_count
    assert page.get_by_label("キーワードで探す").input_value() == "防災"
    context.close()
    assert errors == []


def test_phone_layout(server, browser, errors):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_page(browser, errors, PHONE)
    page.goto(server + "/search?q=防災")
    # The page fits the phone's width: nothing scrolls sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    # The script folds the facet groups so that the hits come first.
    assert page.locator("details.facet[open]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "results-phone.png"), full_page=True)
    page.locator("details.facet[data-facet='department'] summary").click()
    page.locator('a.facet-value[data-value="危機管理部"]').click()
    page.wait_for_url(re.compile(r"dept="))
    assert shown_count(page) == 15
    assert page.locator("details.facet[data-facet='department'][open]").count() == 1
    page.screenshot(path=str(ARTIFACTS / "filtered-phone.png"), full_page=True)
    page.locator(".hit a.hit-text").first.click()
    page.wait_for_url(re.compile(r"/item/"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "item-phone.png"), full_page=True)
    context.close()
    assert errors == []


def test_works_without_javascript_and_by_keyboard(server, browser, errors):
    context, page = open_page(browser, errors, DESKTOP, javascript=False)
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"
    page.get_by_label("キーワードで探す").focus()
    page.keyboard.type("DX")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=DX"))
    total = shown_count(page)
    assert total == 30  # 28 items hold DX, 2 its near concepts (デジタル化)
    page.locator('a.facet-value[data-value="改革"]').click()
    page.wait_for_url(re.compile(r"category="))
    assert shown_count(page) < total
    page.get_by_role("link", name="すべて解除").click()
    page.wait_for_url(re.compile(r"/search\?q=DX$"))
    assert shown_count(page) == total
    context.close()
    assert errors == []


def test_suggest_chart_related_department_and_export(server, browser, errors, policy_index):
    """The issue's path: ぼう → 防災, a bar, an item, a related item, its department, CSV."""
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_page(browser, errors, DESKTOP)
    page.goto(server + "/")
    box = page.get_by_role("combobox", name="キーワードで探す")
    box.press_sequentially("ぼう")
    listbox = page.get_by_role("listbox", name="入力候補")
    listbox.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    options = listbox.get_by_role("option")
    expected = policy_index.search("防災").total
    assert options.first.inner_text().split() == ["防災", f"{expected}件"]
    assert "防犯" in listbox.inner_text()
    page.screenshot(path=str(ARTIFACTS / "suggest-desktop.png"))
    box.press("ArrowDown")
    first = options.first
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=%E9%98%B2%E7%81%BD$"))
    assert shown_count(page) == expected == 16

    bars = page.locator(".bar-chart a.bar")
    assert bars.count() == 2
    bar = bars.first
    assert bar.get_attribute("data-value") == "危機管理部"
    assert bar.get_attribute("data-count") == "15"
    assert bar.locator(".bar-count").inner_text().startswith("15")
    page.screenshot(path=str(ARTIFACTS / "chart-desktop.png"), full_page=True)
    bar.click()
    page.wait_for_url(re.compile(r"dept="))
    assert shown_count(page) == 15
    assert page.locator(".bar-chart a.bar.is-selected").get_attribute("aria-current") == "true"
    results_url = page.url

    page.locator(".hit a.hit-text").first.click()
    page.wait_for_url(re.compile(r"/item/"))
    related = page.locator(".related-item")
    assert related.count() > 0
    elsewhere = page.locator(".related-item:not([data-department='危機管理部'])").first
    department = elsewhere.get_attribute("data-department")
    related_id = elsewhere.get_attribute("data-id")
    elsewhere.locator("a.related-text").click()
    page.wait_for_url(re.compile(rf"/item/{related_id}"))
    assert department in page.locator("h1").inner_text()

    page.locator(".item .label-department").click()
    page.wait_for_url(re.compile(r"/dept/"))
    assert page.locator("h1").inner_text() == department
    listed = page.locator(".dept-item").evaluate_all("items => items.map(i => i.dataset.id)")
    assert listed == [item["id"] for item in policy_index.items(department=department)]
    assert page.locator(".dept-table thead th").all_inner_texts() == ["経営方針", "重点目標"]
    page.screenshot(path=str(ARTIFACTS / "department-desktop.png"), full_page=True)

    page.goto(results_url)
    with page.expect_download() as download_info:
        page.locator("a.export-link", has_text="CSV").click()
    download = download_info.value
    assert download.suggested_filename == "経営方針検索_防災.csv"
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = body.decode("utf-8-sig").splitlines()
    assert rows[0].split(",") == [
        *("id", "fiscal_year", "department_no", "department", "category", "column"),
        *("position", "text", "score", "matched", "missing", "url"),
    ]
    assert len(rows) == 1 + 15
    context.close()
    assert errors == []


def test_department_page_on_a_phone(server, browser, errors):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_page(browser, errors, PHONE)
    page.goto(server + "/dept/" + "危機管理部")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator(".dept-cell-label").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "department-phone.png"), full_page=True)
    page.goto(server + "/search?q=DX")
    page.locator("details.charts summary").click()
    assert page.locator(".bar-chart a.bar").count() == 16
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("details.charts").screenshot(path=str(ARTIFACTS / "chart-phone.png"))
    context.close()
    assert errors == []


def test_missing_chromium_skips_unless_required(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium is missing"):
        require_browser()
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        require_browser()


def test_a_sentence_finds_its_items_and_marks_the_words_a_partial_hit_lacks(
    server, browser, errors, policy_index
):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_page(browser, errors, DESKTOP)
    page.goto(server + "/")
    page.get_by_label("キーワードで探す").fill("介護予防の取り組み")
    page.get_by_label("キーワードで探す").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    expected = policy_index.search("介護予防の取り組み")
    assert shown_count(page) == expected.total > expected.total_all >= 1
    sections = page.locator("h2.hits-section").all_inner_texts()
    assert sections[0] == f"すべての語を含む項目 {expected.total_all}件"
    assert sections[1].startswith("一部の語を含む項目")
    full = page.locator("ol.hits-all .hit")
    assert full.count() == expected.total_all
    assert "介護予防" in full.first.locator("mark").all_inner_texts()
    partial = page.locator("ol.hits-partial .hit").first
    assert partial.get_attribute("data-id") == expected.hits[expected.total_all].id
    assert partial.locator(".hit-missing").inner_text() == "含まない語：取り組み"
    assert page.locator(".understanding-words").inner_text() == "検索した語：介護予防、取り組み"
    page.screenshot(path=str(ARTIFACTS / "sentence-desktop.png"), full_page=True)
    page.get_by_role("link", name=re.compile("すべての語を含む項目だけを表示")).click()
    page.wait_for_url(re.compile(r"match=all"))
    assert shown_count(page) == expected.total_all
    assert page.locator(".hit-missing").count() == 0
    context.close()
    assert errors == []
