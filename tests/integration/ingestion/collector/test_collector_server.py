"""`shoploop collector --workers N`: every worker takes connections on the one port, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.collector.server import reuse_port_socket
from shoploop.broker import free_port, wait_until_listening

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads sockets from /proc"),
]


def _workers(pid: int) -> list[int]:
    """The worker processes the collector spawned (not multiprocessing's resource tracker)."""
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _established_on(port: int) -> set[int]:
    """Socket inodes of established IPv4 connections whose local port is `port` (the server's side)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":
            inodes.add(int(fields[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


@pytest.fixture
def collector_with_two_workers(kafka_bootstrap: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "shoploop"), "collector", "--port", str(port), "--workers", "2"],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
    )
    try:
        wait_until_listening("127.0.0.1", port)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=60)


def _health(connection: socket.socket) -> bytes:
    connection.sendall(b"GET /health HTTP/1.1\r\nHost: collector\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"status":"ok"}'):
        chunk = connection.recv(4096)
        assert chunk, "the collector closed the connection"
        answer += chunk
    return answer


def test_keep_alive_connections_are_spread_over_both_workers_and_sigterm_stops_them(
    collector_with_two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = collector_with_two_workers
    # 32 connections opened at once, as a client's pool does: with one shared socket, one worker may take all.
    connections = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(32)]
    try:
        for connection in connections:
            assert _health(connection).startswith(b"HTTP/1.1 200")
        workers = _workers(process.pid)
        assert len(workers) == 2
        established = _established_on(port)
        held = [len(_socket_inodes(worker) & established) for worker in workers]
        assert sum(held) == 32
        assert all(count > 0 for count in held), held
    finally:
        for connection in connections:
            connection.close()

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert all(not Path(f"/proc/{worker}").exists() for worker in workers)


def test_a_clients_keep_alive_connections_are_shared_evenly_between_the_workers(
    collector_with_two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = collector_with_two_workers
    # A load balancer's or a load generator's pool: with the kernel hashing them, 16 split 10 / 6 as often as not.
    connections = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(16)]
    try:
        for connection in connections:
            assert _health(connection).startswith(b"HTTP/1.1 200")
        established = _established_on(port)
        held = sorted(len(_socket_inodes(worker) & established) for worker in _workers(process.pid))
        assert held == [8, 8]
    finally:
        for connection in connections:
            connection.close()


def test_sockets_of_one_port_can_be_bound_once_per_worker() -> None:
    port = free_port()
    first, second = reuse_port_socket("127.0.0.1", port), reuse_port_socket("127.0.0.1", port)
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
    finally:
        first.close()
        second.close()
