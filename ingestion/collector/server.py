"""Serve the collector with uvicorn: one process, or several workers that each listen on a socket of their own.

uvicorn's own `--workers` share one listening socket, and whichever worker wakes first accepts a whole burst of
new connections: with keep-alive clients (SDK batches, official clients, a load generator's pool) one worker can
end up holding every connection while the others idle. Here each worker gets its own socket on the same port
(SO_REUSEPORT) and the kernel spreads connections over the sockets by hashing each connection.
"""

from __future__ import annotations

import socket
from functools import partial

import uvicorn

from shoploop.serving import reuse_port_socket, run_workers

__all__ = ["APP", "reuse_port_socket", "serve"]

APP = "ingestion.collector.app:create_app"


def _serve_on(_index: int, sock: socket.socket, *, log_level: str) -> None:
    """A worker: the collector app on the socket its parent bound (the socket survives a worker's restart)."""
    config = uvicorn.Config(APP, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def serve(*, host: str, port: int, workers: int, log_level: str = "warning") -> int:
    """Run the collector until SIGINT/SIGTERM; returns the exit code. A worker that dies is replaced."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return 0
    worker = partial(_serve_on, log_level=log_level)
    return run_workers(worker, host=host, port=port, workers=workers, name="collector-worker")
