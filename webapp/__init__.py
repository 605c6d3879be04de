"""The web layer: a Flask app factory over one shared `PolicyIndex`, its searches cached."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, Response, current_app
from flask.json.provider import DefaultJSONProvider

from indexer.build import build_index
from indexer.corpus import CorpusError, read_manifest
from indexer.search import PolicyIndex
from indexer.snapshot import IndexUnavailable
from indexer.vectors import VECTORS_DIR
from webapp.cache import RESULT_CACHE_SIZE, CachedIndex

ROOT = Path(__file__).resolve().parent.parent

# Only the app's own files: no inline script or style, no other origin, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class EscapingJSONProvider(DefaultJSONProvider):
    """Write JSON with orjson: Japanese as it is, keys in order, <, > and & as \\u escapes.

    The escapes keep user text inert even where JSON ends up inside HTML. orjson writes a page
    of 20 hits in a fifteenth of the time the standard library takes; options of `json.dumps`
    (Jinja's `tojson` asks for sorted keys) go to the standard library as before.
    """

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:
            return _escape(super().dumps(obj, **kwargs))
        return self.encode(obj).decode()

    def encode(self, obj: Any) -> bytes:
        """Return `obj` as JSON in UTF-8, escaped."""
        try:
            data = orjson.dumps(obj, default=self.default)
        except orjson.JSONEncodeError:  # an integer past 64 bits (`page=999…`), for one
            return _escape(super().dumps(obj)).encode()
        return data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Answer with `jsonify`'s arguments as JSON, without a round trip through `str`."""
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.encode(obj) + b"\n", mimetype=self.mimetype)


def _escape(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then POLICY_* environment variables, then `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(
        INDEX_DIR=str(ROOT / "index"),
        CORPUS_DIR=str(ROOT / "corpus"),
        PER_PAGE=20,
        MAX_CONTENT_LENGTH=16 * 1024,  # every route is a GET: no request needs a body
        PROVIDE_AUTOMATIC_OPTIONS=False,  # so that every method but GET (and HEAD) is a 405
        RESULT_CACHE_SIZE=RESULT_CACHE_SIZE,  # searches kept per process; 0: none (webapp/cache.py)
        VECTORS_DIR=str(VECTORS_DIR),  # word vectors for words no item holds; "": none
    )
    app.config.from_prefixed_env("POLICY")
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json = EscapingJSONProvider(app)

    app.extensions["policy_index"] = index = open_index(app)
    app.extensions["cached_index"] = CachedIndex(index, int(app.config["RESULT_CACHE_SIZE"]))
    app.extensions["policy_documents"] = document_titles(app.config["CORPUS_DIR"])

    from webapp import api, errors, export, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(export.bp)
    errors.register(app)
    app.after_request(add_security_headers)
    return app


def open_index(app: Flask) -> PolicyIndex:
    """Open the index once, building it from the corpus first if there is none."""
    index_dir = Path(app.config["INDEX_DIR"])
    vectors = Path(app.config["VECTORS_DIR"]) if app.config["VECTORS_DIR"] else None
    try:
        index = PolicyIndex(index_dir, vectors=vectors)
    except IndexUnavailable as error:
        problem = str(error)
        if index_dir.is_symlink() and not index_dir.exists():
            problem = f"the index link {index_dir} points to {os.readlink(index_dir)}, now gone"
        app.logger.warning("%s; building it from %s", problem, app.config["CORPUS_DIR"])
        summary = build_index(app.config["CORPUS_DIR"], index_dir)
        app.logger.info(
            "built the index at %s: %d items in %.1f s", index_dir, summary.items, summary.seconds
        )
        index = PolicyIndex(index_dir, vectors=vectors)
    # One search loads the Sudachi dictionary now rather than on the first request.
    index.search("検索", per_page=1)
    return index


def document_titles(corpus_dir: str | Path) -> dict[str, dict[str, str]]:
    """Return each document's title and issuer by id, or nothing if the corpus is not at hand."""
    try:
        documents = read_manifest(corpus_dir)
    except CorpusError:
        return {}
    return {doc.id: {"title": doc.title, "issuer": doc.issuer} for doc in documents}


def get_index() -> CachedIndex:
    """Return the app's shared index, whose searches go through the result cache."""
    return current_app.extensions["cached_index"]


def add_security_headers(response: Response) -> Response:
    """Allow only the app's own scripts and styles, and no content sniffing."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
