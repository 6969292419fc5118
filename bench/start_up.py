"""Start-up benchmark: seconds from starting `shoploop collector` to its first answer on /health.

    .venv/bin/python -m bench.start_up --venv DIR [--venv DIR ...] [--code DIR ...] [--rounds 3] [--port 20030]

Each round starts the collector once per `--code` (PYTHONPATH; default this checkout) and `--venv` (its
`bin/shoploop`; default this interpreter's venv), alternating, against one embedded broker; e.g. a venv whose
modules are byte-compiled against one without `.pyc` files. The time covers the interpreter's start, the imports,
the identity database and the Kafka producer's connection (the collector answers only once its lifespan has
started).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from shoploop.broker import embedded_broker
from shoploop.processes import stop_process


def seconds_to_health(shoploop: Path, port: int, env: dict[str, str], *, timeout_s: float = 120) -> float:
    """Start the collector and poll /health every 20 ms until it answers 200."""
    url = f"http://127.0.0.1:{port}/health"
    started = time.perf_counter()
    collector = subprocess.Popen(
        [str(shoploop), "collector", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < timeout_s:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if collector.poll() is not None:
                raise RuntimeError(f"the collector exited with {collector.returncode}")
            time.sleep(0.02)
        raise TimeoutError(f"the collector did not answer within {timeout_s:.0f} s")
    finally:
        stop_process(collector, grace_s=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--venv", action="append", default=[], help="a virtualenv whose bin/shoploop to start"
    )
    parser.add_argument("--code", action="append", default=[], help="a checkout to run (PYTHONPATH)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--port", type=int, default=20030, help="the broker's port; the collector's is the next"
    )
    args = parser.parse_args()
    venvs = [Path(venv) for venv in args.venv] or [Path(sys.executable).parent.parent]
    codes: list[str | None] = list(args.code) or [None]
    results: dict[str, list[float]] = {}
    with (
        embedded_broker(port=args.port) as bootstrap,
        tempfile.TemporaryDirectory(prefix="start-up-") as data,
    ):
        for round_number in range(1, args.rounds + 1):
            for code in codes:
                for venv in venvs:
                    env = {
                        **os.environ,
                        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                        "SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL": f"sqlite:///{data}/identity.db",
                    }
                    if code:
                        env["PYTHONPATH"] = code
                    label = f"{code or 'this checkout'}, {venv}"
                    seconds = seconds_to_health(venv / "bin" / "shoploop", args.port + 1, env)
                    results.setdefault(label, []).append(seconds)
                    print(
                        f"round {round_number}: collector ({label}) answers after {seconds:.2f} s", flush=True
                    )
    print("medians:")
    for label, runs in results.items():
        print(f"  {label:<70} {statistics.median(runs):.2f} s  ({' / '.join(f'{s:.2f}' for s in runs)})")


if __name__ == "__main__":
    main()
