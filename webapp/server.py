"""Serve the app on every core: gunicorn's pre-fork arbiter over an app made before the fork.

The app (index open, Sudachi's dictionary loaded) is made once in the first process, which then
forks the workers: they share its pages copy-on-write and start in milliseconds. Forking an open
index is safe because Whoosh maps each segment into memory (no file offset to share); each
worker notices a rebuilt index on its own (`PolicyIndex.current`). The socket is bound before
anything is forked, so a port in use is one sentence; each worker asks Linux to kill it with
the first process, so that after a `kill -9` nothing holds the port.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

GRACE = 4  # seconds that requests under way get to finish after SIGTERM
THREADS = 4  # per worker: requests read while another is searched, idle keep-alive connections
KEEPALIVE = 5  # seconds an idle kept-alive connection stays open
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
M_ARENA_MAX = -8  # from <malloc.h>
MALLOC_ARENAS = 2


def server_url(host: str, port: int) -> str:
    """Return the URL a browser opens for `host` and `port`.

    >>> server_url("127.0.0.1", 8000), server_url("::1", 8080)
    ('http://127.0.0.1:8000/', 'http://[::1]:8080/')
    """
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on `host`:`port`, or say in one sentence why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {server_url(host, port)} ({error.strerror}): is another server "
            "running there? Stop it or choose another --port"
        ) from None
    sock.set_inheritable(True)
    return sock


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


def post_fork(arbiter: Arbiter, _worker) -> None:
    die_with_master(arbiter.pid)
    fewer_malloc_arenas()


class GracefulArbiter(Arbiter):
    """Gunicorn's arbiter, with Ctrl+C as graceful as SIGTERM (gunicorn's own drops requests)."""

    def handle_int(self) -> None:
        raise StopIteration


class PolicyServer(BaseApplication):
    """Gunicorn serving an app that exists already, on a socket that is bound already."""

    def __init__(self, app: Flask, options: dict):
        self.app, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self.app

    def run(self) -> None:
        GracefulArbiter(self).run()


def serve(app: Flask, sock: socket.socket, workers: int, threads: int = THREADS) -> None:
    """Serve `app` on the listening `sock` with `workers` processes until SIGTERM or Ctrl+C.

    On either, the socket is closed, requests under way get `GRACE` seconds to finish, and the
    process exits 0.
    """
    # What the app made stays where it is: the workers' collector never walks it, so they do not
    # copy its pages (copy-on-write) by touching them.
    gc.freeze()
    PolicyServer(
        app,
        {
            "bind": [f"fd://{sock.detach()}"],  # gunicorn takes the descriptor over
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "keepalive": KEEPALIVE,
            # A 500-character query is 4.5 KB of URL, more as the `back` of an item's link;
            # gunicorn's default stops at 4 KB and its largest limit at 8 KB: none, as before.
            "limit_request_line": 0,
            "graceful_timeout": GRACE,
            "preload_app": True,
            "post_fork": post_fork,
            "proc_name": "policy-web",
            "control_socket_disable": True,  # gunicorn's control server: a thread, a file in ~
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
        },
    ).run()
