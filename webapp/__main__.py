"""Serve the app: ``python -m webapp [--host H] [--port P] [--index DIR] [--workers N]``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from indexer.build import BuildError
from indexer.corpus import CorpusError
from indexer.snapshot import IndexUnavailable
from webapp import create_app
from webapp.server import check_port, serve, server_url

CORES = len(os.sched_getaffinity(0))


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
@click.option(
    "--workers",
    default=CORES,
    show_default=f"the number of cores, {CORES}",
    type=click.IntRange(1, 64),
    help="Processes answering requests, so that as many searches run at once.",
)
@click.option(
    "--result-cache",
    "cache_size",
    type=click.IntRange(0),
    help="Search results each process keeps for the same search asked again; 0 turns the "
    "cache off (default: 512, or POLICY_RESULT_CACHE_SIZE).",
)
def main(
    host: str, port: int, index_dir: Path | None, workers: int, cache_size: int | None
) -> None:
    """Serve the policy search site and its JSON API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config: dict = {}
    if index_dir:
        config["INDEX_DIR"] = str(index_dir)
    if cache_size is not None:
        config["RESULT_CACHE_SIZE"] = cache_size
    try:
        app = create_app(config or None)
    except (BuildError, CorpusError, IndexUnavailable) as error:
        raise click.ClickException(f"cannot serve: {error}") from None
    check_port(host, port)
    click.echo(
        f"Serving {app.extensions['policy_index'].doc_count} items at "
        f"{server_url(host, port)} with {workers} worker{'s' if workers > 1 else ''} "
        "(Ctrl+C to stop)"
    )
    serve(app, host, port, workers)


if __name__ == "__main__":
    main()
