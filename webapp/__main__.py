"""Serve the app with waitress: ``python -m webapp [--host H] [--port P] [--index DIR]``."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import click
import waitress
from flask import Flask
from waitress import wasyncore

from indexer.build import BuildError
from indexer.corpus import CorpusError
from indexer.snapshot import IndexUnavailable
from webapp import create_app

POLL = 0.1  # seconds: how soon the loop notices SIGTERM
GRACE = 4.0  # seconds that requests under way get to finish after SIGTERM


def serve(app: Flask, host: str, port: int, threads: int = 4) -> None:
    """Serve `app` through waitress until SIGTERM or Ctrl+C, then let requests under way finish."""
    try:
        server = waitress.create_server(
            app, host=host, port=port, threads=threads, ident="policy-web"
        )
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {server_url(host, port)} ({error.strerror}): is another server "
            "running there? Stop it or choose another --port"
        ) from None
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    while not stopping:
        wasyncore.loop(POLL, server.adj.asyncore_use_poll, server._map, count=1)
    logging.getLogger("webapp").info("stopping: finishing the requests under way")
    drain(server, GRACE)


def drain(server, grace: float) -> None:
    """Refuse new connections, finish the requests under way (up to `grace` s), then stop."""
    server.del_channel()
    server.socket.close()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        wasyncore.loop(POLL, server.adj.asyncore_use_poll, server._map, count=1)
        channels = [c for c in server._map.values() if isinstance(c, server.channel_class)]
        for channel in channels:
            if not channel.requests and channel.request is None and not channel.total_outbufs_len:
                channel.handle_close()  # idle: between two requests of a kept-alive connection
        if not any(isinstance(c, server.channel_class) for c in server._map.values()):
            break
    server.task_dispatcher.shutdown(timeout=1)


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
    try:
        app = create_app({"INDEX_DIR": str(index_dir)} if index_dir else None)
    except (BuildError, CorpusError, IndexUnavailable) as error:
        raise click.ClickException(f"cannot serve: {error}") from None
    click.echo(
        f"Serving {app.extensions['policy_index'].doc_count} items at "
        f"{server_url(host, port)} (Ctrl+C to stop)"
    )
    serve(app, host, port)


if __name__ == "__main__":
    main()
