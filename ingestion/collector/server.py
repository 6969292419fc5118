"""Serve the collector with uvicorn: one process, or several workers that each listen on a socket of their own.

uvicorn's own `--workers` share one listening socket, and whichever worker wakes first accepts a whole burst of
new connections: with keep-alive clients (SDK batches, official clients, a load generator's pool) one worker can
end up holding every connection while the others idle. Here each worker gets its own socket on the same port
(SO_REUSEPORT) and the kernel spreads connections over the sockets by hashing each connection.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = structlog.get_logger(__name__)

APP = "ingestion.collector.app:create_app"


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that other sockets may share, the kernel balancing between them."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve_on(sock: socket.socket, log_level: str) -> None:
    """A worker: the collector app on the socket its parent bound (the socket survives a worker's restart)."""
    config = uvicorn.Config(APP, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def serve(*, host: str, port: int, workers: int, log_level: str = "warning") -> int:
    """Run the collector until SIGINT/SIGTERM; returns the exit code. A worker that dies is replaced."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return 0
    sockets = [reuse_port_socket(host, port) for _ in range(workers)]
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, stop)

    def start(sock: socket.socket) -> BaseProcess:
        process = spawn.Process(target=_serve_on, args=(sock, log_level), name="collector-worker")
        process.start()
        return process

    processes = [start(sock) for sock in sockets]
    exit_code = 0
    while not stopping.wait(0.5):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                # The app cannot start (settings, imports): restarting would fail the same way.
                log.error("collector_worker_failed_to_start", pid=process.pid)
                exit_code = STARTUP_FAILURE
                stopping.set()
                break
            log.warning("collector_worker_died", pid=process.pid, exitcode=process.exitcode)
            processes[index] = start(sockets[index])
    for process in processes:
        process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    for sock in sockets:
        sock.close()
    return exit_code
