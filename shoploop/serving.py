"""Serving helpers: an ASGI app on a background thread (tests, benchmarks), and worker processes that
each listen on a socket of their own (SO_REUSEPORT)."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from shoploop.broker import free_port

log = logging.getLogger(__name__)


@contextmanager
def serving(app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Serve `app` on a background thread until the block ends; yields its base URL."""
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that other sockets may share, the kernel balancing between them."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_workers(
    worker: Callable[[int, socket.socket], None], *, host: str, port: int, workers: int, name: str
) -> int:
    """Run `worker(index, socket)` in `workers` spawned processes, each on a SO_REUSEPORT socket of its own
    on (host, port), until SIGINT/SIGTERM; a worker that dies is replaced. Returns the exit code.

    uvicorn's own `--workers` share one listening socket, and whichever worker wakes first accepts a whole
    burst of new connections: with keep-alive clients one worker can end up holding every connection. With a
    socket each, the kernel spreads connections over the workers by hashing each connection.
    """
    sockets = [reuse_port_socket(host, port) for _ in range(workers)]
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, stop)

    def start(index: int) -> BaseProcess:
        process = spawn.Process(target=worker, args=(index, sockets[index]), name=f"{name}-{index}")
        process.start()
        return process

    processes = [start(index) for index in range(workers)]
    exit_code = 0
    while not stopping.wait(0.5):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                # The app cannot start (settings, imports): restarting would fail the same way.
                log.error("worker failed to start", extra={"worker": name, "pid": process.pid})
                exit_code = STARTUP_FAILURE
                stopping.set()
                break
            log.warning(
                "worker died", extra={"worker": name, "pid": process.pid, "exitcode": process.exitcode}
            )
            processes[index] = start(index)
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
