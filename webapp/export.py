"""Downloads of every item a search finds, as CSV for Excel and as JSON.

`/export.csv` and `/export.json` take the parameters of `/search` (the page number aside) and
treat them the same way: filter values the index does not hold are left out, the query is cut
to the length the search reads.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from urllib.parse import quote

from flask import Blueprint, Response, request, url_for

from indexer.results import AllHits, all_hits
from indexer.schema import FACETS
from indexer.search import ITEM_FIELDS, Hit
from webapp import get_index
from webapp.facets import PARAMS, SearchState

bp = Blueprint("export", __name__)

EXPORT_FIELDS = (*ITEM_FIELDS, "score", "matched", "missing", "url")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with this
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\s\x00-\x1f\x7f]+')
NAME_PREFIX = "経営方針検索"


def exported(state: SearchState) -> AllHits:
    """Return every hit of the search a page state asks for, unknown filter values left out."""
    index = get_index()
    state, _ = state.keeping_only({name: index.facet_values(name) for name in FACETS})
    return all_hits(
        index,
        state.query,
        departments=state.selected("department"),
        categories=state.selected("category"),
        columns=state.selected("column"),
        match=state.match,
        expand=state.expand,
        names=state.names,
    )


def record(hit: Hit) -> dict:
    """Return the exported fields of a hit; its URL is absolute, for use outside the site."""
    fields = {name: getattr(hit, name) for name in EXPORT_FIELDS if name != "url"}
    return {**fields, "url": url_for("views.item", item_id=hit.id, _external=True)}


def csv_cell(value: object) -> object:
    """Keep a spreadsheet from reading a text cell as a formula.

    >>> csv_cell("=1+1"), csv_cell("防災"), csv_cell(3), csv_cell(None)
    ("'=1+1", '防災', 3, '')
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cell_text(value: object) -> object:
    """Write a list (the missing words) as one cell, its values joined by 、."""
    return "、".join(value) if isinstance(value, list) else value


def csv_text(records: Iterable[dict]) -> str:
    """Write records as CSV with a header row, starting with the byte order mark."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)  # \r\n line ends, as Excel writes them
    writer.writerow(EXPORT_FIELDS)
    for entry in records:
        writer.writerow(csv_cell(cell_text(entry[name])) for name in EXPORT_FIELDS)
    return out.getvalue()


def download_name(query: str, extension: str) -> str:
    """Name the file after the query, without characters a file system refuses.

    >>> download_name("防災 訓練", "csv"), download_name("", "json"), download_name("a/b", "csv")
    ('経営方針検索_防災_訓練.csv', '経営方針検索_全項目.json', '経営方針検索_a_b.csv')
    """
    words = UNSAFE_IN_NAME.sub("_", query).strip("_.")[:40] or "全項目"
    return f"{NAME_PREFIX}_{words}.{extension}"


def attachment(body: str, mimetype: str, name: str) -> Response:
    """Return `body` as a download named `name` (with an ASCII name for old clients)."""
    response = Response(body, mimetype=mimetype)
    fallback = "policy-search." + name.rsplit(".", 1)[-1]
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    )
    return response


@bp.get("/export.csv")
def csv_export() -> Response:
    """Download every item the search finds as CSV (UTF-8 with BOM, for Excel)."""
    state = SearchState.from_pairs(request.args.items(multi=True))
    found = exported(state)
    body = csv_text(record(hit) for hit in found.hits)
    return attachment(body, "text/csv", download_name(found.query, "csv"))


@bp.get("/export.json")
def json_export() -> Response:
    """Download every item the search finds as JSON: the query, filters, total and hits."""
    state = SearchState.from_pairs(request.args.items(multi=True))
    found = exported(state)
    body = {
        "query": found.query,
        "filters": {PARAMS[name]: list(found.filters.get(name, ())) for name in FACETS},
        "total": found.total,
        "total_all": found.total_all,
        "hits": [record(hit) for hit in found.hits],
    }
    text = json.dumps(body, ensure_ascii=False, indent=1)
    return attachment(text, "application/json", download_name(found.query, "json"))
