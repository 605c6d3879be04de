"""The pages: search with facets and charts, one item with its neighbours, one department."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, url_for

from indexer.crosstab import department_by_category
from indexer.query import MAX_QUERY_CHARS
from indexer.related import related_items
from indexer.schema import FACETS
from indexer.search import PolicyIndex, SearchResult
from indexer.spelling import did_you_mean
from webapp import ROOT, get_index
from webapp.accessibility import AXE_TAGS, TARGET, WIDTHS, load_report
from webapp.charts import department_bars, department_matrix
from webapp.department import department_tables
from webapp.facets import (
    LABELS,
    SearchState,
    active_filters,
    facet_groups,
    hit_sections,
    match_options,
    pagination,
)

bp = Blueprint("views", __name__)

SITE_NAME = "板橋区 経営方針検索"
# Written by tests/test_accessibility.py; ACCESSIBILITY_RESULTS in the config points elsewhere.
ACCESSIBILITY_RESULTS = ROOT / "docs" / "accessibility-results.json"


@bp.app_context_processor
def site() -> dict:
    """Give every page the site's name and the documents it searches."""
    documents = current_app.extensions["policy_documents"].values()
    return {
        "site_name": SITE_NAME,
        "sources": [f"{doc['issuer']}「{doc['title']}」" for doc in documents],
    }


@bp.app_template_filter("wareki")
def wareki(year: int) -> str:
    """Name a fiscal year in the Japanese era, as the city writes it.

    >>> wareki(2023), wareki(2019), wareki(2018)
    ('令和5年度', '令和元年度', '平成30年度')
    """
    for era, first in (("令和", 2019), ("平成", 1989)):
        if year >= first:
            number = year - first + 1
            return f"{era}{'元' if number == 1 else number}年度"
    return f"{year}年度"


def run_search(index: PolicyIndex, state: SearchState) -> SearchResult:
    """Search with a page state's query, filters and page."""
    return index.search(
        state.query,
        departments=state.selected("department"),
        categories=state.selected("category"),
        columns=state.selected("column"),
        page=state.page,
        per_page=current_app.config["PER_PAGE"],
        match=state.match,
        expand=state.expand,
        names=state.names,
    )


def cleared(state: SearchState, result: SearchResult) -> SearchState:
    """Return the state without its filters and without the names its query applied."""
    state = state.without_filters()
    for name in result.names:
        state = state.without_name(name.text)
    return state


def search() -> str:
    """Show the search box, the ranked hits, the facets, the charts and the pages."""
    index = get_index()
    base = url_for("views.search")
    requested = SearchState.from_pairs(request.args.items(multi=True))
    state, ignored = requested.keeping_only({name: index.facet_values(name) for name in FACETS})
    notices = [
        f"{LABELS[name]}「{value}」は見つからないため、この条件を外して表示しています。"
        for name, value in ignored
    ]
    if state.truncated:
        notices.append(f"検索語が長すぎるため、先頭の{MAX_QUERY_CHARS}文字で検索しました。")
    result = run_search(index, state)
    if result.dropped:
        notices.append(
            f"言葉が多いため、最初の{len(result.words)}語で検索しました"
            f"（使わなかった語：{'、'.join(result.dropped)}）。"
        )
    if state.page > result.pages:
        if result.total:
            notices.append(f"{state.page}ページ目はありません。最後のページを表示しています。")
        state = state.at_page(result.pages)
        result = run_search(index, state)
    back = state.query_string() or None
    unfiltered = None
    if not result.total and state.has_filters:
        unfiltered = index.search(state.query, per_page=1, expand=state.expand).total
    corrections = []
    if not result.total_all and state.query and not result.unsearchable:
        corrections = [
            (c, SearchState(c.query, state.filters if c.keeps_filters else {}).url(base))
            for c in did_you_mean(index, state.query, state.filters)
        ]
    matrix = None
    if result.total:
        crosstab = department_by_category(
            index, state.query, state.selected("column"), state.match, state.expand, state.names
        )
        matrix = department_matrix(crosstab, state, base)
    everything = SearchState(
        state.query, state.filters, match=state.match, expand=state.expand, names=state.names
    )
    hits = [(hit, url_for("views.item", item_id=hit.id, back=back)) for hit in result.hits]
    pages = pagination(result, state, base)
    return render_template(
        "search.html",
        state=state,
        result=result,
        sections=hit_sections(result, hits, pages.first),
        options=match_options(result, state, base),
        facets=facet_groups(result, state, base),
        chips=active_filters(state, base, result),
        clear_url=cleared(state, result).url(base),
        pages=pages,
        notices=notices,
        unfiltered=unfiltered,
        several_words=len(state.query.split()) > 1,
        corrections=corrections,
        bars=department_bars(result, state, base),
        matrix=matrix,
        export_csv=everything.url(url_for("export.csv_export")),
        export_json=everything.url(url_for("export.json_export")),
    )


bp.add_url_rule("/search", view_func=search, methods=["GET"])
bp.add_url_rule("/", endpoint="home", view_func=search, methods=["GET"])


@bp.get("/item/<item_id>")
def item(item_id: str) -> str:
    """Show one item whole, the items around it and the way back to the search."""
    index = get_index()
    stored = index.get(item_id)
    if stored is None:
        abort(404)
    base = url_for("views.search")
    # Rebuilt from its parameters, the way back is always this app's own /search.
    back_state = SearchState.from_query_string(request.args.get("back", ""))
    back = back_state.query_string() or None
    group = index.items(department=stored["department"], category=stored["category"])
    columns: dict[str, list[dict]] = {}
    for other in group:
        other["url"] = url_for("views.item", item_id=other["id"], back=back)
        columns.setdefault(other["column"], []).append(other)
    at = next(i for i, other in enumerate(group) if other["id"] == item_id)
    same_group = SearchState(
        filters={"department": (stored["department"],), "category": (stored["category"],)}
    )
    related = [
        (hit, url_for("views.item", item_id=hit.id, back=back))
        for hit in related_items(index, item_id) or []
    ]
    return render_template(
        "item.html",
        item=stored,
        document=current_app.extensions["policy_documents"].get(stored["document"]),
        columns=columns,
        group_size=len(group),
        previous=group[at - 1] if at > 0 else None,
        next=group[at + 1] if at + 1 < len(group) else None,
        back_url=back_state.url(base),
        has_back=back is not None,
        group_url=same_group.url(base),
        related=related,
    )


@bp.get("/dept/<name>")
def department(name: str) -> str:
    """Show a department's items as the document's table, with a search box scoped to it."""
    index = get_index()
    departments = index.facet_values("department")
    if name not in departments:
        abort(404)
    items = index.items(department=name)
    for entry in items:
        entry["url"] = url_for("views.item", item_id=entry["id"])
    at = departments.index(name)
    return render_template(
        "department.html",
        name=name,
        tables=department_tables(items),
        documents=current_app.extensions["policy_documents"],
        total=len(items),
        search_url=SearchState(filters={"department": (name,)}).url(url_for("views.search")),
        previous=departments[at - 1] if at > 0 else None,
        next=departments[at + 1] if at + 1 < len(departments) else None,
        departments=departments,
    )


@bp.get("/accessibility")
def accessibility() -> str:
    """Show the accessibility target, how the pages are checked and the latest results."""
    path = current_app.config.get("ACCESSIBILITY_RESULTS", ACCESSIBILITY_RESULTS)
    return render_template(
        "accessibility.html",
        target=TARGET,
        tags=AXE_TAGS,
        widths=WIDTHS,
        report=load_report(Path(path)),
    )
