"""Serving helpers: an ASGI app on a background thread (tests, benchmarks), and worker processes that
each listen on a socket of their own (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import functools
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

log = logging.getLogger(__name__)


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port on `host`, held until it is served or closed: a caller that needs the URL
    before the app exists (a notify URL, a client's base URL) takes the port from it, and nothing else can take the
    port meanwhile (probing a free port and binding it later races other processes)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


@contextmanager
def serving(app: FastAPI, *, sock: socket.socket | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a background thread until the block ends; yields its base URL. On `sock` (from
    `bound_socket`) when given, else on a free port of `host`; the socket is closed when the block ends."""
    sock = sock or bound_socket(host)
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} did not start")
            time.sleep(0.02)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
    worker: Callable[[int, socket.socket], None],
    *,
    host: str,
    port: int,
    workers: int,
    name: str,
    hand_over_connections: bool = False,
) -> int:
    """Run `worker(index, socket)` in `workers` spawned processes, each on a SO_REUSEPORT socket of its own
    on (host, port), until SIGINT/SIGTERM; a worker that dies is replaced. Returns the exit code.

    uvicorn's own `--workers` share one listening socket, and whichever worker wakes first accepts a whole
    burst of new connections: with keep-alive clients one worker can end up holding every connection. With a
    socket each, the kernel spreads connections over the workers by hashing each connection.

    With `hand_over_connections` this process accepts every connection itself and hands them to the workers in
    turn, so that each worker holds its share exactly; `worker` then gets the channel the connections arrive on
    and serves them with `HandedOverConnectionsServer`. Hashing splits a handful of keep-alive connections
    unevenly (16 over 2 workers: 10 and 6 as often as not), and the worker with more waits longer on each.
    """
    stopping = threading.Event()
    acceptor: threading.Thread | None = None
    if hand_over_connections:
        listener = reuse_port_socket(host, port)
        channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(workers)]
        # The workers' ends stay open here too, so that a worker's replacement takes over its channel.
        sockets = [worker_end for _, worker_end in channels]
        acceptor = threading.Thread(
            target=_hand_over,
            args=(listener, [own_end for own_end, _ in channels], stopping),
            name=f"{name}-acceptor",
            daemon=True,
        )
        acceptor.start()
    else:
        sockets = [reuse_port_socket(host, port) for _ in range(workers)]
    spawn = multiprocessing.get_context("spawn")

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
    if acceptor is not None:
        acceptor.join()  # it stops accepting within its accept timeout
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


def _hand_over(listener: socket.socket, channels: list[socket.socket], stopping: threading.Event) -> None:
    """Accept connections and send each to the next worker's channel, in turn (SCM_RIGHTS)."""
    listener.settimeout(0.5)  # to notice `stopping`
    turn = 0
    with listener:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError as error:  # out of file descriptors, a connection reset before it was accepted
                log.warning("accept failed", extra={"error": repr(error)})
                time.sleep(0.01)
                continue
            with connection:
                channel = channels[turn % len(channels)]
                turn += 1
                try:
                    socket.send_fds(channel, [b"c"], [connection.fileno()])
                except OSError as error:
                    log.warning("connection not handed over", extra={"error": repr(error)})


class HandedOverConnectionsServer(uvicorn.Server):
    """A uvicorn server that listens on no socket: it serves the connections that `run_workers` accepted and
    handed over on `channel`."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self._channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        # What uvicorn's own startup hands to create_server, for connections accepted elsewhere.
        protocol = functools.partial(  # type: ignore[call-arg]  # as uvicorn's own call: the class takes them
            self.config.http_protocol_class,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        self._channel.setblocking(False)
        loop.add_reader(self._channel.fileno(), self._take_connections, loop, protocol)

    def _take_connections(
        self, loop: asyncio.AbstractEventLoop, protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        while True:
            try:
                _, fds, _, _ = socket.recv_fds(self._channel, 1, 1)
            except BlockingIOError:
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                connection.setblocking(False)
                loop.create_task(loop.connect_accepted_socket(protocol, connection))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self._channel.fileno())
        await super().shutdown(sockets=sockets)
