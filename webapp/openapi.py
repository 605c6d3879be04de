"""The OpenAPI 3.1 description of the JSON API and the downloads, and a check of answers against it.

Written by hand as plain data: the views read their parameters themselves (no schema library
stands between a request and the search), so a generator would describe only what it is told.
The facet values the index holds are the values `dept`, `category` and `column` of
`/api/search` take (anything else is a 400 there); the other routes ignore values they do not
know, so there they are any text. Tests validate every JSON answer they receive against this
document, and Schemathesis fuzzes the running server with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from indexer.query import MAX_QUERY_CHARS
from indexer.schema import FACETS
from indexer.search import MAX_PER_PAGE
from webapp.facets import PARAMS

JSON = "application/json"
SCHEMAS = "#/components/schemas/"
ITEM_ID = "r5-keiei-03-kaikaku-hoshin-02"


def ref(name: str) -> dict:
    return {"$ref": SCHEMAS + name}


def strings(description: str = "") -> dict:
    schema = {"type": "array", "items": {"type": "string"}}
    return {**schema, "description": description} if description else schema


def json_answer(description: str, schema: str, example: Any = None) -> dict:
    """Describe a JSON answer whose body is the schema named `schema`."""
    content: dict[str, Any] = {"schema": ref(schema)}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {JSON: content}}


ERROR_400 = json_answer(
    "a parameter has a value it cannot take",
    "Error",
    {"error": "per_page must be a whole number from 1 to 100, not 101"},
)
ERROR_404 = json_answer(
    "no such item", "Error", {"error": "no item 'r5-keiei-99-shisaku-hoshin-01'"}
)
ERROR_503 = json_answer(
    "the index is missing or cannot be read",
    "Error",
    {"error": "the search index is not available; try again later"},
)

ITEM_PROPERTIES = {
    "id": {"type": "string", "examples": [ITEM_ID]},
    "fiscal_year": {"type": "integer", "examples": [2023]},
    "department_no": {"type": "integer", "minimum": 1, "examples": [3]},
    "department": {"type": "string", "examples": ["危機管理部"]},
    "category": {"type": "string", "examples": ["改革"]},
    "column": {"type": "string", "examples": ["経営方針"]},
    "position": {"type": "integer", "minimum": 1},
    "text": {"type": "string", "description": "the item as the document writes it"},
}
SCORE = {"type": ["number", "null"], "description": "BM25F; null when nothing was searched for"}
MATCHED = {"type": "string", "enum": ["all", "partial"]}
MISSING = strings("the query's words the item does not hold")
IN_PART = strings("of those, the ones it holds apart or in part")
HIGHLIGHT = {
    "type": "string",
    "description": "the text HTML-escaped, the words found in <mark>",
    "examples": ["<mark>防災</mark>ガイドの更新"],
}


def closed(properties: dict, description: str = "") -> dict:
    """Return an object schema that has exactly `properties`, every one of them required."""
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    return {**schema, "description": description} if description else schema


def schemas(values: Mapping[str, Sequence[str]]) -> dict:
    """Return the schemas of every answer."""
    url = {
        "type": "string",
        "description": "the path of the item's page",
        "examples": [f"/item/{ITEM_ID}"],
    }
    facet_value = closed({"value": {"type": "string"}, "count": {"type": "integer", "minimum": 0}})
    return {
        "Error": closed({"error": {"type": "string"}}, "what was wrong, in a sentence"),
        "Hit": closed(
            {
                **ITEM_PROPERTIES,
                "highlight": HIGHLIGHT,
                "score": SCORE,
                "matched": MATCHED,
                "missing": MISSING,
                "in_part": IN_PART,
                "url": url,
            }
        ),
        "Item": closed({**ITEM_PROPERTIES, "highlight": HIGHLIGHT, "score": SCORE, "url": url}),
        "FacetValue": facet_value,
        "SearchAnswer": closed(
            {
                "query": {"type": "string", "description": "q as sent"},
                "total": {"type": "integer", "minimum": 0, "description": "every listed hit"},
                "total_all": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "hits with every word",
                },
                "total_related": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "hits holding no word, only near the best hits' topic",
                },
                "words": strings("the content words searched for"),
                "expansions": {
                    "type": "array",
                    "items": closed({"word": {"type": "string"}, "with": strings()}),
                    "description": "the synonyms and respellings searched for too",
                },
                "names": {
                    "type": "array",
                    "items": closed(
                        {
                            "facet": {"type": "string", "enum": list(FACETS)},
                            "value": {"type": "string"},
                            "text": {"type": "string", "description": "as the query wrote it"},
                        }
                    ),
                    "description": "departments, rows or columns named in the query: filters",
                },
                "dropped": strings("content words past the limit of 8, not searched for"),
                "unsearchable": {"type": "boolean", "description": "the query holds no word"},
                "match": {"type": "string", "enum": ["any", "all"]},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "hits": {"type": "array", "items": ref("Hit"), "maxItems": MAX_PER_PAGE},
                "facets": closed(
                    {name: {"type": "array", "items": ref("FacetValue")} for name in FACETS},
                    "the count of each value over every hit, under the other facets' filters",
                ),
            }
        ),
        "SuggestAnswer": closed(
            {
                "query": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                "suggestions": {
                    "type": "array",
                    "items": closed(
                        {"text": {"type": "string"}, "count": {"type": "integer", "minimum": 0}}
                    ),
                },
            }
        ),
        "ItemAnswer": closed(
            {
                "item": ref("Item"),
                "related": {"type": "array", "items": ref("Item"), "description": "score first"},
            }
        ),
        "Health": closed(
            {
                "status": {"type": "string", "const": "ok"},
                "items": {"type": "integer", "minimum": 0},
                "word_vectors": {
                    "type": "string",
                    "description": "`ok`, or why words no item holds are not guessed",
                },
            }
        ),
        "ExportHit": closed(
            {
                **ITEM_PROPERTIES,
                "score": SCORE,
                "matched": MATCHED,
                "missing": MISSING,
                "url": {"type": "string", "format": "uri", "description": "absolute"},
            }
        ),
        "ExportAnswer": closed(
            {
                "query": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                "filters": closed(
                    {
                        PARAMS[name]: {
                            "type": "array",
                            "items": {"type": "string", "enum": list(values.get(name, ()))},
                        }
                        for name in FACETS
                    },
                    "the filter values applied (those the index does not hold are left out)",
                ),
                "total": {"type": "integer", "minimum": 0},
                "total_all": {"type": "integer", "minimum": 0},
                "hits": {"type": "array", "items": ref("ExportHit")},
            }
        ),
    }


def query_param(name: str, schema: dict, description: str, **examples: Any) -> dict:
    """Describe a query parameter; a list schema makes it repeatable (`dept=a&dept=b`)."""
    param = {"name": name, "in": "query", "description": description, "schema": schema}
    if schema.get("type") == "array":
        param |= {"style": "form", "explode": True}
    if examples:
        param["examples"] = {key: {"value": value} for key, value in examples.items()}
    return param


def search_params(values: Mapping[str, Sequence[str]]) -> list[dict]:
    """Describe the parameters of `/api/search`: filters are the values the index holds."""
    return [
        query_param(
            "q",
            {"type": "string"},
            f'what to search for: words, a sentence, AND/OR/-word/"phrase"; read up to '
            f"{MAX_QUERY_CHARS} characters (the rest is ignored, never an error); empty lists "
            "every item in document order",
            word="防災",
            sentence="介護予防の取り組み",
            fullwidth="ＤＸ",
            named="危機管理部の防災訓練",
        ),
        *(
            query_param(
                PARAMS[name],
                {"type": "array", "items": {"type": "string", "enum": [*values.get(name, ()), ""]}},
                f"only the items of these {name} values (any of them; repeat the parameter); "
                "an empty value is ignored, one the index does not hold is a 400",
                **({"one": [values[name][0]]} if values.get(name) else {}),
            )
            for name in FACETS
        ),
        query_param("page", {"type": "integer", "minimum": 1, "default": 1}, "the page, from 1"),
        query_param(
            "per_page",
            {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20},
            "hits per page",
        ),
        query_param(
            "match",
            {"type": "string", "enum": ["any", "all"], "default": "any"},
            "all: only the items holding every word; any: partial matches follow them",
        ),
        query_param(
            "expand",
            {"type": "string", "enum": ["on", "off"], "default": "on"},
            "off: search without synonyms and respellings",
        ),
        query_param(
            "names",
            {"type": "string", "enum": ["on", "off"], "default": "on"},
            "off: a department, row or column named in the query is searched as words",
        ),
    ]


def lenient_params() -> list[dict]:
    """Describe the parameters of the routes that ignore what they cannot use."""
    return [
        query_param(
            "q",
            {"type": "string"},
            f"what to search for, cut to {MAX_QUERY_CHARS} characters",
            word="防災",
            sentence="介護予防の取り組み",
        ),
        *(
            query_param(
                PARAMS[name],
                strings(),
                f"only the items of these {name} values (repeat the parameter); values the "
                "index does not hold are ignored",
            )
            for name in FACETS
        ),
    ]


def switches() -> list[dict]:
    """Describe `match`, `expand` and `names` as the page reads them: never an error."""
    return [
        query_param("match", {"type": "string"}, "all: only the items holding every word"),
        query_param("expand", {"type": "string"}, "off: without synonyms; anything else: with"),
        query_param("names", {"type": "string"}, "off: names in the query are words"),
    ]


def download(mimetype: str, schema: dict, description: str) -> dict:
    """Describe a download: its body and the file name it carries."""
    return {
        "description": description,
        "headers": {
            "Content-Disposition": {
                "required": True,
                "schema": {"type": "string", "pattern": "^attachment; "},
                "description": "a file name after the query (経営方針検索_防災.csv)",
            }
        },
        "content": {mimetype: {"schema": schema}},
    }


def operation(operation_id: str, summary: str, params: list[dict], answers: dict) -> dict:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": params,
            "responses": answers,
        }
    }


def document(values: Mapping[str, Sequence[str]]) -> dict:
    """Return the OpenAPI document for an index holding these facet `values`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "板橋区 経営方針 検索 API",
            "version": "1",
            "description": "Full-text search over the policy items, as JSON; every route is a "
            "GET. Percent-encode Japanese in the URL.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/search": operation(
                "search",
                "Search as the page does: ranked hits, what the query was read as, facet counts",
                search_params(values),
                {"200": json_answer("a page of hits", "SearchAnswer"), "400": ERROR_400},
            ),
            "/api/suggest": operation(
                "suggest",
                "Complete what is typed: indexed words and phrases with the items each finds",
                lenient_params(),
                {
                    "200": json_answer(
                        "suggestions, none for unusable input",
                        "SuggestAnswer",
                        {"query": "ぼう", "suggestions": [{"text": "防災", "count": 16}]},
                    )
                },
            ),
            "/api/item/{id}": {
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "examples": {"item": {"value": ITEM_ID}},
                    }
                ],
                **operation(
                    "item",
                    "One item and the items most like it, other departments first",
                    [],
                    {"200": json_answer("the item", "ItemAnswer"), "404": ERROR_404},
                ),
            },
            "/healthz": operation(
                "health",
                "Whether the app is up, and how many items it holds",
                [],
                {
                    "200": json_answer(
                        "up", "Health", {"status": "ok", "items": 475, "word_vectors": "ok"}
                    ),
                    "503": ERROR_503,
                },
            ),
            "/export.csv": operation(
                "export_csv",
                "Every hit of the search as CSV (UTF-8 with BOM, for Excel)",
                [*lenient_params(), *switches()],
                {"200": download("text/csv", {"type": "string"}, "a header row, then a hit a row")},
            ),
            "/export.json": operation(
                "export_json",
                "Every hit of the search as JSON",
                [*lenient_params(), *switches()],
                {"200": download(JSON, ref("ExportAnswer"), "the query, filters, total and hits")},
            ),
        },
        "components": {"schemas": schemas(values)},
    }


def index_document(index: Any) -> dict:
    """Return the document for an open `PolicyIndex`."""
    return document({name: index.facet_values(name) for name in FACETS})


@lru_cache(maxsize=8)
def _openapi(text: str) -> Any:
    from openapi_core import OpenAPI  # a test dependency: the app itself never validates

    return OpenAPI.from_dict(json.loads(text))


def validate_response(spec: dict, url: str, response: Any) -> None:
    """Raise if a Flask test `response` to GET `url` is not what the document `spec` describes."""
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder

    request = EnvironBuilder(path=url).get_request()
    _openapi(json.dumps(spec, sort_keys=True)).validate_response(
        WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response)
    )
