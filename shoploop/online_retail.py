"""Facts about the bundled UCI Online Retail data (CC BY 4.0) that every part using it must agree on."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Final

ONLINE_RETAIL_PATH: Final = (
    Path(__file__).resolve().parent.parent / "datasets" / "online_retail" / "online_retail.parquet"
)

# A fixed rate keeps prices stable across runs and machines; 9.10 is roughly the 2024 GBP/CNY mid rate.
CNY_PER_GBP: Final = Decimal("9.10")


def gbp_to_fen(unit_price_gbp: float) -> int:
    """A GBP unit price as integer fen at CNY_PER_GBP, rounding half up to the fen."""
    yuan = Decimal(str(unit_price_gbp)) * CNY_PER_GBP
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
