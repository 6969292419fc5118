"""Serve the collector with uvicorn: one process, or several workers that share the connections evenly.

uvicorn's own `--workers` share one listening socket, and whichever worker wakes first accepts a whole burst of
new connections: with keep-alive clients (SDK batches, official clients, a load generator's pool) one worker can
end up holding every connection while the others idle. A socket per worker on the same port (SO_REUSEPORT) lets
the kernel spread connections by hashing each one, which is fair only on average: 16 keep-alive connections
often split 10 / 6, and the requests of the busier worker wait longer (the collector's p99). Here the parent
process accepts every connection and hands them to the workers in turn (`shoploop.serving.run_workers`).
"""

from __future__ import annotations

import socket
from functools import partial

import uvicorn

from shoploop.serving import HandedOverConnectionsServer, reuse_port_socket, run_workers

__all__ = ["APP", "reuse_port_socket", "serve"]

APP = "ingestion.collector.app:create_app"


def _serve_on(_index: int, channel: socket.socket, *, log_level: str) -> None:
    """A worker: the collector app on the connections its parent hands over (the channel survives a restart)."""
    config = uvicorn.Config(APP, factory=True, log_level=log_level)
    HandedOverConnectionsServer(config, channel).run()


def serve(*, host: str, port: int, workers: int, log_level: str = "warning") -> int:
    """Run the collector until SIGINT/SIGTERM; returns the exit code. A worker that dies is replaced."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return 0
    worker = partial(_serve_on, log_level=log_level)
    # Connections handed to the workers in turn: clients hold a few keep-alive connections for a long time, and
    # the kernel's hashing would leave one worker with more of them, and their requests waiting longer.
    return run_workers(
        worker, host=host, port=port, workers=workers, name="collector-worker", hand_over_connections=True
    )
