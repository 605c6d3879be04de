"""axe-core over every page type and state at desktop and phone widths; the /accessibility page.

Each check is written to docs/accessibility-results.json, which /accessibility shows. axe-core is
the npm package pinned in package-lock.json (`npm ci`), injected into the page under test.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bench.serving import production_server
from tests.test_browser import DESKTOP, PHONE, chromium_browser, require_browser
from webapp import create_app
from webapp.accessibility import AXE_TAGS, load_report, row_key, save_results
from webapp.views import ACCESSIBILITY_RESULTS

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
# A query string that is not UTF-8 gets the Japanese 400 page from the app; the server refuses such
# raw bytes itself, so the browser is handed the app's own answer at this address.
BAD_REQUEST = "/search?q=%FF%FE"


@dataclass(frozen=True)
class Case:
    """A page in one state: where it is, what shows that it is in that state."""

    page: str
    state: str
    path: str
    shows: str  # a selector that must match on the page
    status: int = 200
    typed: str = ""  # typed into the search box, then the suggestion list is awaited


SUGGESTIONS = "[role=listbox] [role=option]"
CASES = [
    Case("トップ", "すべての項目", "/", "#result-count"),
    Case("トップ", "入力候補を表示（「ぼう」と入力）", "/", SUGGESTIONS, typed="ぼう"),
    Case("検索結果", "「防災」", "/search?q=防災", ".hit mark"),
    Case("検索結果", "部局で絞り込み（危機管理部）", "/search?q=防災&dept=危機管理部", ".chip"),
    Case("検索結果", "文章（介護予防の取り組み）", "/search?q=介護予防の取り組み", ".hit-missing"),
    Case("検索結果", "部局名入り（福祉部の相談窓口）", "/search?q=福祉部の相談窓口", ".chip-note"),
    Case("検索結果", "該当なし・もしかして（ぼうさお）", "/search?q=ぼうさお", ".did-you-mean"),
    Case("検索結果", "2ページ目（推進）", "/search?q=推進&page=2", "[aria-current=page]"),
    Case("項目", "検索結果から", "/item/r5-keiei-03-shisaku-hoshin-01?back=q%3D防災", "h1"),
    Case("部局", "危機管理部", "/dept/危機管理部", ".dept-table"),
    Case("エラー", "400（読み取れない検索条件）", BAD_REQUEST, ".error-page", status=400),
    Case("エラー", "404（存在しないページ）", "/no-such-page", ".error-page", status=404),
    Case("アクセシビリティ方針", "最新の検査結果", "/accessibility", "#accessibility-results"),
]
ORDER = [row_key({"path": c.path, "state": c.state, "width": w}) for c in CASES for w in WIDTHS]

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations", "incomplete"],
  });
  const nodes = (rules) => rules.reduce((sum, rule) => sum + rule.nodes.length, 0);
  return {
    version: axe.version,
    rules: result.passes.length + result.violations.length + result.incomplete.length
      + result.inapplicable.length,
    incomplete: nodes(result.incomplete),
    violations: result.violations.map((rule) => ({
      id: rule.id,
      help: rule.help,
      nodes: rule.nodes.map((node) => node.target.join(" ") + ": " + node.failureSummary),
    })),
  };
}"""


def require_axe() -> None:
    """Skip without axe-core, unless REQUIRE_BROWSER=1 asks for the browser tests to run."""
    if AXE.exists():
        return
    missing = f"{AXE.relative_to(ROOT)} is missing (npm ci installs it from package-lock.json)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(missing)


@pytest.fixture(scope="module")
def server(seed_index_dir, tmp_path_factory) -> Iterator[str]:
    """Run `python -m webapp` on a free port over the seed index; stop it afterwards."""
    require_browser()
    require_axe()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with production_server(seed_index_dir, log) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def bad_request_page(seed_index_dir) -> str:
    """The app's Japanese 400 page for a query string that is not UTF-8."""
    client = create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)}).test_client()
    response = client.get("/search", environ_overrides={"QUERY_STRING": "q=\xff\xfe"})
    assert response.status_code == 400
    return response.get_data(as_text=True)


def open_case(browser, server: str, case: Case, width: str, bad_request_page: str):
    """Open the case's page in its state; bypass the CSP so that axe can be injected."""
    context = browser.new_context(viewport=WIDTHS[width], locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    if case.path == BAD_REQUEST:
        page.route(
            lambda url: url.endswith(BAD_REQUEST),
            lambda route: route.fulfill(
                status=400, content_type="text/html; charset=utf-8", body=bad_request_page
            ),
        )
    response = page.goto(server + case.path)
    assert response.status == case.status
    if case.typed:
        page.get_by_role("combobox", name="キーワードで探す").press_sequentially(case.typed)
        page.get_by_role("listbox", name="入力候補").wait_for()
    # Folded parts (facet groups on a phone, the charts) are opened so that axe sees them too.
    page.evaluate("document.querySelectorAll('details:not([open])').forEach(d => d.open = true)")
    assert page.locator(case.shows).count() >= 1, f"{case.path} should show {case.shows}"
    return context, page


@pytest.mark.browser
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("case", CASES, ids=[f"{c.page}-{c.state}" for c in CASES])
def test_axe_finds_no_violation(server, browser, bad_request_page, case, width):
    context, page = open_case(browser, server, case, width, bad_request_page)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(RUN_AXE, list(AXE_TAGS))
    context.close()
    violations = [node for rule in result["violations"] for node in rule["nodes"]]
    row = {
        "page": case.page,
        "state": case.state,
        "path": case.path,
        "width": width,
        "viewport": f"{WIDTHS[width]['width']}×{WIDTHS[width]['height']}",
        "date": date.today().isoformat(),
        "rules": result["rules"],
        "violations": len(violations),
        "violated_rules": [rule["id"] for rule in result["violations"]],
        "incomplete": result["incomplete"],
    }
    save_results(ACCESSIBILITY_RESULTS, result["version"], [row], ORDER)
    assert result["version"] == installed_axe_version()
    assert result["rules"] > 50, "axe should run its WCAG A/AA and best-practice rules"
    assert violations == [], "\n".join(
        f"{rule['id']} ({rule['help']}): {node}"
        for rule in result["violations"]
        for node in rule["nodes"]
    )


def installed_axe_version() -> str:
    package = json.loads((AXE.parent / "package.json").read_text(encoding="utf-8"))
    locked = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert locked["packages"]["node_modules/axe-core"]["version"] == package["version"]
    return package["version"]


@pytest.mark.browser
def test_the_footer_leads_to_the_policy_page_and_its_table_is_the_results_file(server, browser):
    report = load_report(ACCESSIBILITY_RESULTS)
    assert report is not None
    assert [row_key(vars(row)) for row in report.pages] == ORDER, "every case, in order"
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    page = context.new_page()
    page.goto(server + "/")
    page.get_by_role("contentinfo").get_by_role("link", name="アクセシビリティ方針").click()
    page.wait_for_url(re.compile(r"/accessibility$"))
    assert page.locator("h1").inner_text() == "アクセシビリティ方針"
    assert "JIS X 8341-3:2016 適合レベルAA" in page.locator("main").inner_text()
    assert f"axe-core {installed_axe_version()}" in page.locator("main").inner_text()
    rows = page.locator("#accessibility-results tbody tr")
    assert rows.count() == len(CASES) * len(WIDTHS)
    first = rows.first.locator("th, td").all_inner_texts()
    expected = report.pages[0]
    assert first == [
        expected.page,
        expected.state,
        f"パソコン（{expected.viewport}）",
        expected.checked_on.isoformat(),
        str(expected.rules),
        str(expected.violations),
        str(expected.incomplete),
    ]
    shown = rows.evaluate_all("rows => rows.map(r => [r.dataset.path, r.dataset.violations])")
    assert shown == [[row.path, str(row.violations)] for row in report.pages]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


# The page through Flask's test client, over a results file of its own.


def sample_row(**fields) -> dict:
    row = {"page": "検索結果", "state": "「防災」", "path": "/search?q=防災", "width": "desktop"}
    row |= {"viewport": "1280×900", "date": "2024-04-01", "rules": 91, "violations": 0}
    return row | {"violated_rules": [], "incomplete": 0} | fields


def policy_page(seed_index_dir, results: Path) -> str:
    config = {"TESTING": True, "INDEX_DIR": str(seed_index_dir), "ACCESSIBILITY_RESULTS": results}
    response = create_app(config).test_client().get("/accessibility")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_policy_page_shows_the_results_file(seed_index_dir, tmp_path):
    results = tmp_path / "results.json"
    rows = [
        sample_row(),
        sample_row(width="phone", viewport="390×844", date="2024-04-02", violations=3,
                   violated_rules=["color-contrast"], incomplete=2),
    ]
    order = [row_key(row) for row in rows]
    save_results(results, "4.14.1", rows[:1], order)
    save_results(results, "4.14.1", rows[1:], order)  # merged with the first, in order
    assert json.loads(results.read_text())["results"] == rows
    body = policy_page(seed_index_dir, results)
    assert "axe-core 4.14.1" in body
    assert "2024年4月2日の検査で、2件の検査（1種類のページ）のうち" in body
    assert "<strong>違反が3件</strong>見つかりました" in body
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", body.split("<tbody>")[1], re.S)
    assert [re.sub(r"<[^>]+>", "", cell) for cell in cells[7:]] == [
        *("検索結果", "「防災」", "スマートフォン（390×844）", "2024-04-02", "91"),
        *("3（color-contrast）", "2"),
    ]


def test_the_policy_page_without_results_says_so(seed_index_dir, tmp_path):
    body = policy_page(seed_index_dir, tmp_path / "none.json")
    assert "まだ検査結果がありません。" in body
    assert "accessibility-results" not in body


def test_a_case_no_longer_tested_leaves_the_results_file(tmp_path):
    results = tmp_path / "results.json"
    old, new = sample_row(state="古い状態"), sample_row()
    save_results(results, "4.14.0", [old], [row_key(old)])
    save_results(results, "4.14.1", [new], [row_key(new)])
    assert json.loads(results.read_text()) == {
        "axe_version": "4.14.1",
        "tags": list(AXE_TAGS),
        "results": [new],
    }


def test_missing_axe_skips_unless_required(monkeypatch, tmp_path):
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "AXE", tmp_path / "node_modules" / "axe.min.js")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="npm ci"):
        require_axe()
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        require_axe()
