"""Serve the app with waitress: ``python -m webapp [--host H] [--port P] [--index DIR]``."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import waitress
from flask import Flask

from webapp import create_app


def serve(app: Flask, host: str, port: int, threads: int = 4) -> None:
    """Serve `app` through waitress until interrupted."""
    waitress.serve(app, host=host, port=port, threads=threads, ident="policy-web")


def server_url(host: str, port: int) -> str:
    """Return the URL a browser opens for `host` and `port`.

    >>> server_url("127.0.0.1", 8000), server_url("::1", 8080)
    ('http://127.0.0.1:8000/', 'http://[::1]:8080/')
    """
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port."
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (default: index/ in the repository, or POLICY_INDEX_DIR); "
    "built from the corpus when missing.",
)
def main(host: str, port: int, index_dir: Path | None) -> None:
    """Serve the policy search site and its JSON API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app({"INDEX_DIR": str(index_dir)} if index_dir else None)
    click.echo(
        f"Serving {app.extensions['policy_index'].doc_count} items at "
        f"{server_url(host, port)} (Ctrl+C to stop)"
    )
    serve(app, host, port)


if __name__ == "__main__":
    main()
