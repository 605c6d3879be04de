"""Serve the app on every core: granian's workers (HTTP in Rust) forked from an app made first.

The app (index open, Sudachi's dictionary loaded) is made once in the first process, which then
forks the workers: they share its pages copy-on-write and start in milliseconds. Forking an open
index is safe because Whoosh maps each segment into memory (no file offset to share); each
worker notices a rebuilt index on its own (`PolicyIndex.current`). The port is tried before
anything is forked, so a port in use is one sentence; each worker asks Linux to kill it with
the first process, so that after a `kill -9` nothing holds the port. Granian parses HTTP and
moves bytes in compiled code, a fifth to a third more searches a second than gunicorn's Python
(docs/performance.md, the HTTP floor).
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
from functools import partial

import click
from flask import Flask
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.log import LogLevels

GRACE = 4  # seconds that requests under way get to finish after SIGTERM
THREADS = 4  # per worker: Python threads running the app (granian's own read the requests)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
M_ARENA_MAX = -8  # from <malloc.h>
MALLOC_ARENAS = 2


def server_url(host: str, port: int) -> str:
    """Return the URL a browser opens for `host` and `port`.

    >>> server_url("127.0.0.1", 8000), server_url("::1", 8080)
    ('http://127.0.0.1:8000/', 'http://[::1]:8080/')
    """
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def check_port(host: str, port: int) -> None:
    """Bind and listen on `host`:`port` once, or say in one sentence why that fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen()
        except OSError as error:
            raise click.ClickException(
                f"cannot listen on {server_url(host, port)} ({error.strerror}): is another "
                "server running there? Stop it or choose another --port"
            ) from None


def die_with_master(master: int) -> None:
    """Have Linux kill this worker when `master` dies; exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the worker notices within a second
        pass
    if os.getppid() != master:
        os._exit(1)


def fewer_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Have glibc share its heaps between threads: each thread's own arena keeps freed memory.

    A worker's threads build and drop large arrays; with an arena each, a worker at 1000x the
    seed held about 100 MB more than with one or two, for no speed measured.
    """
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # not glibc
        pass


def _load_in_worker(app: Flask, master: int, _target: str) -> Flask:
    """Return the app made before the fork, in a worker just forked by granian."""
    die_with_master(master)
    fewer_malloc_arenas()
    return app


def serve(app: Flask, host: str, port: int, workers: int, threads: int = THREADS) -> None:
    """Serve `app` on `host`:`port` with `workers` processes until SIGTERM or Ctrl+C.

    On either, the listening sockets close, requests under way get `GRACE` seconds to finish,
    and the process exits 0. The caller has checked that the port is free (`check_port`).
    """
    # What the app made stays where it is: the workers' collector never walks it, so they do not
    # copy its pages (copy-on-write) by touching them.
    gc.freeze()
    Granian(
        "webapp:made-before-the-fork",  # only named: the loader returns the app itself
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        http=HTTPModes.http1,
        websockets=False,
        workers_kill_timeout=GRACE,
        log_level=LogLevels.warning,
    ).serve(target_loader=partial(_load_in_worker, app, os.getpid()))
