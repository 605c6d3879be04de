"""The JSON API: the page's search as data, suggestions, an item with its related items."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from urllib.parse import quote

from flask import Blueprint, Response, abort, jsonify, request
from werkzeug.datastructures import MultiDict

from indexer.query import MAX_QUERY_CHARS
from indexer.related import related_items
from indexer.schema import FACETS
from indexer.search import ITEM_FIELDS, MAX_PER_PAGE, Hit, SearchResult, UnknownFilter
from indexer.suggest import suggest as suggestions_for
from webapp import get_index
from webapp.facets import PARAMS
from webapp.openapi import index_document

bp = Blueprint("api", __name__)

HIT_FIELDS = (*ITEM_FIELDS, "highlight", "score", "matched", "missing", "in_part")
ITEM_HIT_FIELDS = (*ITEM_FIELDS, "highlight", "score")  # what an item's own page gives
MATCH_VALUES = ("any", "all")
EXPAND_VALUES = ("on", "off")
# What may stand unquoted in a path segment (https://url.spec.whatwg.org/#url-path-segment-string)
PATH_SEGMENT_SAFE = "!$&'()*+,/:;=@"


class BadParameter(ValueError):
    """A query parameter of the API has a value it cannot take."""


def whole_number(args: MultiDict, name: str, default: int, maximum: int | None = None) -> int:
    """Read a parameter that must be a whole number from 1 (up to `maximum`)."""
    if name not in args:
        return default
    raw = args.get(name, "").strip()
    limit = f" to {maximum}" if maximum else ""
    problem = BadParameter(f"{name} must be a whole number from 1{limit}, not {raw!r}")
    if not (raw.isascii() and raw.isdigit()):
        raise problem
    try:
        number = int(raw)
    except ValueError:  # more digits than Python converts
        raise problem from None
    if number < 1 or (maximum is not None and number > maximum):
        raise BadParameter(f"{name} must be a whole number from 1{limit}, not {number}")
    return number


def choice(args: MultiDict, name: str, values: tuple[str, ...]) -> str:
    """Read a parameter that takes one of a few words; the first is the default."""
    value = args.get(name, values[0])
    if value not in values:
        raise BadParameter(f"{name} must be one of {', '.join(values)}, not {value!r}")
    return value


def bad_request(message: str) -> tuple[Response, int]:
    return jsonify(error=message), 400


@bp.get("/api/search")
def search() -> Response | tuple[Response, int]:
    """Search as the page does and answer with the hits and all facet counts as JSON."""
    args = request.args
    try:
        page = whole_number(args, "page", 1)
        per_page = whole_number(args, "per_page", 20, MAX_PER_PAGE)
        match = choice(args, "match", MATCH_VALUES)
        expand = choice(args, "expand", EXPAND_VALUES) == "on"
        names = choice(args, "names", EXPAND_VALUES) == "on"
    except BadParameter as error:
        return bad_request(str(error))
    try:
        result = get_index().search(
            args.get("q", "")[:MAX_QUERY_CHARS],  # what the search reads, and the answer says
            departments=args.getlist("dept"),
            categories=args.getlist("category"),
            columns=args.getlist("column"),
            page=page,
            per_page=per_page,
            match=match,
            expand=expand,
            names=names,
        )
    except UnknownFilter as error:
        values = ", ".join(error.values)
        return bad_request(
            f"unknown {PARAMS[error.facet]}: {values} (the known values are listed under "
            f"facets.{error.facet} of /api/search)"
        )
    return jsonify(as_json(result))


def as_json(result: SearchResult) -> dict:
    """Return a search result as the API's JSON object."""
    root = request.script_root
    return {
        "query": result.query,
        "total": result.total,
        "total_all": result.total_all,
        "total_related": result.total_related,
        "words": list(result.words),
        "expansions": [
            *({"word": typed, "with": [spelled]} for typed, spelled in result.respelled),
            *({"word": e.word, "with": list(e.with_)} for e in result.expansions),
        ],
        "names": [{"facet": n.facet, "value": n.value, "text": n.text} for n in result.names],
        "dropped": list(result.dropped),
        "unsearchable": result.unsearchable,
        "match": result.match,
        "page": result.page,
        "per_page": result.per_page,
        "hits": [hit_json(hit, root) for hit in result.hits],
        "facets": {
            name: [{"value": f.value, "count": f.count} for f in values]
            for name, values in result.facets.items()
        },
    }


def hit_json(hit: Hit, root: str, fields: tuple[str, ...] = HIT_FIELDS) -> dict:
    """Return a hit as the API writes it: its fields and the URL of its page under `root`."""
    return {**{name: getattr(hit, name) for name in fields}, "url": item_url(hit.id, root)}


def item_url(item_id: str, root: str) -> str:
    """Return the path of an item's page under the app's `root`, as `url_for` does.

    Spelled out because an answer asks for up to 100 of them and `url_for` costs more than
    writing the whole answer; a test checks the two agree.
    """
    return f"{root}/item/{_quoted(item_id)}"


@lru_cache(maxsize=4096)
def _quoted(item_id: str) -> str:
    return quote(item_id, safe=PATH_SEGMENT_SAFE)


@bp.get("/api/suggest")
def suggest() -> Response:
    """Complete what is typed into the search box: indexed words with the items each finds.

    Filters (`dept`, `category`, `column`) count the items as the search under them would;
    anything unusable in `q` gives no suggestions rather than an error.
    """
    query = request.args.get("q", "")[:MAX_QUERY_CHARS]
    filters = {name: tuple(request.args.getlist(PARAMS[name])) for name in FACETS}
    found = suggestions_for(get_index(), query, filters)
    return jsonify(
        query=query,
        suggestions=[{"text": s.text, "count": s.count} for s in found],
    )


@bp.get("/api/item/<item_id>")
def item(item_id: str) -> Response:
    """Answer one item and the items most like it, other departments first."""
    index = get_index()
    stored = index.get(item_id)
    related = related_items(index, item_id)
    if stored is None or related is None:
        abort(404, description=f"no item {item_id!r}")
    hit = Hit(
        **{name: stored[name] for name in ITEM_HIT_FIELDS if name in stored},
        highlight=escape(stored["text"]),
        score=None,
        document=stored["document"],
    )
    root = request.script_root
    return jsonify(
        item=hit_json(hit, root, ITEM_HIT_FIELDS),
        related=[hit_json(h, root, ITEM_HIT_FIELDS) for h in related],
    )


@bp.get("/healthz")
def healthz() -> Response:
    """Tell that the app is up, how many items its index holds, and whether it has vectors."""
    index = get_index()
    return jsonify(status="ok", items=index.doc_count, word_vectors=index.vectors_problem or "ok")


@bp.get("/api/openapi.json")
def openapi() -> Response:
    """Describe the API as an OpenAPI 3.1 document, with the filter values this index holds."""
    return jsonify(index_document(get_index()))
