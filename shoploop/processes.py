"""Child processes of the embedded stack, the benches and the tests: stopped the same way everywhere."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[bytes], *, grace_s: float = 15) -> None:
    """Terminate `process`, killing it when it has not exited after `grace_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
