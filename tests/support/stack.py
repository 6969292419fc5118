"""The embedded stack for tests, one piece at a time: real processes and real servers on free ports.

Each piece is a context manager that starts the real thing (a server: until it answers), and on the way
out stops it (terminate, then kill); a subprocess keeps its output in a log file the test can read (see
`log_tail`). Compose them with `with`:

    with embedded_broker() as bootstrap, serving(collector_app) as collector_url:
        with order_core_and_sandbox(settings, merchant_key) as core, streams_worker(...) as worker:
            ...

The broker itself is `shoploop.broker.embedded_broker` and an in-process ASGI app is
`shoploop.serving.serving`; this module adds the order core with its WeChat sandbox, the `shoploop`
subprocesses (streams, sink, …) and the polling that waits for them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from fastapi import FastAPI

from api.bootstrap import create_app
from api.migrate import upgrade_database
from api.settings import ApiSettings
from api.wechat import signing
from api.wechat.sandbox import Sandbox, create_sandbox_app
from shoploop.processes import stop_process
from shoploop.serving import bound_socket, serving

SHOPLOOP = Path(sys.executable).parent / "shoploop"
T = TypeVar("T")


# -- waiting ------------------------------------------------------------------------------------------------
def wait_for(check: Callable[[], T], *, timeout_s: float, what: str = "", every_s: float = 0.3) -> T:
    """Poll until `check` returns something truthy; that value. An AssertionError names `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'}: not within {timeout_s:.0f} s")
        time.sleep(every_s)


def wait_healthy(url: str, process: subprocess.Popen[bytes], *, timeout_s: float = 60) -> None:
    """Until `url` answers 200; fails at once when the process that should serve it has exited."""

    def healthy() -> bool:
        assert process.poll() is None, f"{url} exited with {process.returncode}"
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout_s=timeout_s, what=f"{url} healthy")


# -- ports --------------------------------------------------------------------------------------------------
def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports that nothing listens on now, chosen by the OS (never the demo's ports)."""
    with ExitStack() as held:
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((host, 0))  # every probe stays bound until all are chosen: no port twice
        return [int(probe.getsockname()[1]) for probe in probes]


def connections_to(port: int) -> int:
    """How many TCP connections this process holds open to 127.0.0.1:`port` (from /proc, Linux only): a client
    that was shut down holds none."""
    sockets = set()
    for descriptor in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            sockets.add(target[len("socket:[") : -1])
    held = 0
    for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        # 01 ESTABLISHED, 02 SYN_SENT: a connection kept or being made again
        if remote_port == port and state in ("01", "02") and inode in sockets:
            held += 1
    return held


# -- processes ----------------------------------------------------------------------------------------------
def log_tail(path: Path, characters: int = 3000) -> str:
    """The end of a process's log, for an assertion message."""
    return path.read_text(errors="replace")[-characters:] if path.exists() else f"(no log at {path})"


def start_process(
    command: Sequence[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `command` with its output (stdout and stderr) in the file `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(list(command), cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)


@contextmanager
def running(
    command: Sequence[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` runs for the duration of the block, its output in `log`; stopped on the way out."""
    process = start_process(command, log=log, env=env, cwd=cwd)
    try:
        yield process
    finally:
        stop_process(process)


def shoploop_command(*arguments: str) -> list[str]:
    """`shoploop <arguments>` from this virtual environment, as the Procfile runs it."""
    return [str(SHOPLOOP), *arguments]


def streams_worker_environment(
    bootstrap: str, *, partitions: int, sandbox_url: str, **settings: str
) -> dict[str, str]:
    """The environment of `shoploop streams` against a test broker; `settings` are SHOPLOOP_STREAMS_*."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SHOPLOOP_KAFKA_DEFAULT_PARTITIONS": str(partitions),
        "SHOPLOOP_STREAMS_WECHAT_API_BASE_URL": sandbox_url,
        **{f"SHOPLOOP_STREAMS_{name.upper()}": value for name, value in settings.items()},
    }


@contextmanager
def streams_worker(
    bootstrap: str, *, partitions: int, sandbox_url: str, log: Path, **settings: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`shoploop streams` as a subprocess (so a test can SIGKILL it); `settings` are SHOPLOOP_STREAMS_*."""
    env = streams_worker_environment(bootstrap, partitions=partitions, sandbox_url=sandbox_url, **settings)
    with running(shoploop_command("streams", "--loglevel", "info"), log=log, env=env) as worker:
        yield worker


def sink_environment(bootstrap: str, data_dir: Path, *, flush_s: float = 0.5) -> dict[str, str]:
    """The environment of `shoploop sink` writing the lake under `data_dir`."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SHOPLOOP_WAREHOUSE_DATA_DIR": str(data_dir),
        "SHOPLOOP_STREAMS_SINK_FLUSH_S": str(flush_s),
    }


@contextmanager
def sink_worker(bootstrap: str, data_dir: Path, *, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`shoploop sink` as a subprocess, writing the lake under `data_dir`; its output in `log`."""
    with running(shoploop_command("sink"), log=log, env=sink_environment(bootstrap, data_dir)) as sink:
        yield sink


# -- the order core and its WeChat sandbox ------------------------------------------------------------------
def write_merchant_key(path: Path) -> RSAPrivateKey:
    """A fresh merchant key at `path`, shared by the order core (signs) and the sandbox (verifies)."""
    key = signing.generate_private_key()
    path.write_bytes(signing.private_key_pem(key))
    return key


def sandbox_for(settings: ApiSettings, merchant_key: RSAPrivateKey, **options: Any) -> FastAPI:
    """The loopback WeChat sandbox that knows the order core's app, merchant and keys."""
    return create_sandbox_app(
        appid=settings.wechat_appid,
        app_secret=settings.wechat_app_secret.get_secret_value(),
        mchid=settings.wechat_pay_mchid,
        merchant_serial=settings.wechat_pay_merchant_serial,
        merchant_public_key_pem=signing.public_key_pem(merchant_key.public_key()),
        apiv3_key=settings.wechat_pay_apiv3_key.get_secret_value().encode(),
        **options,
    )


@dataclass
class OrderCore:
    """The order core's app served on a loopback port, with the WeChat sandbox it talks to."""

    api_url: str
    sandbox_url: str
    sandbox: Sandbox
    settings: ApiSettings
    app: FastAPI


@contextmanager
def order_core_and_sandbox(
    settings: ApiSettings,
    merchant_key: RSAPrivateKey,
    *,
    sandbox_options: dict[str, Any] | None = None,
    prepare: Callable[[FastAPI], object] | None = None,
) -> Iterator[OrderCore]:
    """The real order core on a free port and the real sandbox, pointed at each other.

    `settings` need no URLs: the payment notifications and WeChat's base URLs are set here. The database is
    migrated first; `prepare(app)` seeds it (catalogue, staff, …) before the order core starts serving.
    """
    api_socket = bound_socket()
    api_port = api_socket.getsockname()[1]
    settings = settings.model_copy(update={"notify_base_url": f"http://127.0.0.1:{api_port}"})
    sandbox_app = sandbox_for(settings, merchant_key, **(sandbox_options or {}))
    upgrade_database(settings.database_url)
    with serving(sandbox_app) as sandbox_url:
        settings = settings.model_copy(
            update={"wechat_api_base_url": sandbox_url, "wechat_pay_base_url": sandbox_url}
        )
        app = create_app(settings)
        if prepare is not None:
            prepare(app)
        with serving(app, sock=api_socket) as api_url:
            yield OrderCore(
                api_url=api_url,
                sandbox_url=sandbox_url,
                sandbox=sandbox_app.state.sandbox,
                settings=settings,
                app=app,
            )
