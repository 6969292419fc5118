"""The traffic simulator: shoppers of a WeChat mini-program shop, driven by a pure, seeded behaviour model."""

from __future__ import annotations

from typing import Final

SIMULATOR_VERSION: Final = "0.1.0"
