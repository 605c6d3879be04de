"""Error pages in Japanese for people, and JSON errors for the API."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from indexer.snapshot import IndexUnavailable

MESSAGES = {
    400: ("リクエストを読み取れませんでした", "入力した内容をご確認ください。"),
    404: ("ページが見つかりません", "お探しのページは移動または削除されたか、URL が誤っています。"),
    405: ("この操作には対応していません", "このページは表示（GET）のみに対応しています。"),
    413: ("リクエストが大きすぎます", "入力した内容を短くしてお試しください。"),
    500: ("問題が発生しました", "しばらくしてから、もう一度お試しください。"),
    503: ("検索を利用できません", "検索の準備ができていません。しばらくしてからお試しください。"),
}


def wants_json() -> bool:
    """Tell whether the request went to the JSON API rather than to a page."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(code: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """Render an error as JSON for the API or as a Japanese page for people."""
    if wants_json():
        response = jsonify(error=detail)
    else:
        title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
        response = Response(render_template("error.html", code=code, title=title, message=message))
    response.status_code = code
    response.headers.update(headers or {})
    return response


def handle_http_error(error: HTTPException) -> Response:
    """Answer a 4xx or 5xx raised by routing or a view."""
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    detail = (error.description or error.name) if wants_json() else error.name
    return error_response(error.code or 500, detail, headers)


def handle_index_unavailable(error: IndexUnavailable) -> Response:
    """Answer 503 when the index has gone missing or cannot be read."""
    current_app.logger.error("%s", error)
    return error_response(503, "the search index is not available; try again later")


def reject_undecodable_url() -> Response | None:
    """Refuse a query string that is not UTF-8 (werkzeug would fail to read it) with a 400."""
    try:
        request.query_string.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, "the query string is not UTF-8 text")
    return None


def register(app: Flask) -> None:
    """Install the error handlers on `app`."""
    app.before_request(reject_undecodable_url)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(IndexUnavailable, handle_index_unavailable)
