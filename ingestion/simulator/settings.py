"""Simulator settings; env prefix SHOPLOOP_SIMULATOR_ (e.g. SHOPLOOP_SIMULATOR_SHOPPERS=50)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingestion.simulator.shoppers import Pacing, SubscribePrompts


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_SIMULATOR_", extra="ignore")

    collector_url: str = "http://127.0.0.1:8000"
    # Write keys name a source and are embedded in clients; this one is the demo mini-program's.
    write_key: str = "sl_demo_miniprogram_key"
    shoppers: int = Field(default=300, ge=0, description="first-time shoppers in the mini-program at once")
    # None: a new seed each run, so a restarted demo does not replay the message ids (and order ids) that the
    # collector and the order core already took from the last run; set one to replay a run exactly.
    seed: int | None = None
    duration_s: float | None = Field(default=None, gt=0)
    catalogue_path: Path | None = None  # None: the bundled UCI Online Retail parquet

    # Pacing: with the defaults, 300 shoppers produce roughly 50–70 events per second once the shop has filled up.
    mean_think_s: float = Field(default=12.0, gt=0)
    arrival_ramp_s: float = Field(default=30.0, ge=0)
    mean_next_shopper_gap_s: float = Field(default=6.0, gt=0)
    friend_delay_min_s: float = Field(default=15.0, ge=0)
    friend_delay_max_s: float = Field(default=600.0, ge=0)
    return_delay_min_s: float = Field(default=120.0, ge=0)
    return_delay_max_s: float = Field(default=1_800.0, ge=0)
    push_tap_delay_min_s: float = Field(default=20.0, ge=0)
    push_tap_delay_max_s: float = Field(default=600.0, ge=0)

    # Delivery, as segment-analytics-python does it: ≤100 messages a batch, flushed every 0.5 s.
    flush_interval_s: float = Field(default=0.5, gt=0)
    max_batch_messages: int = Field(default=100, ge=1, le=100)
    request_timeout_s: float = Field(default=10.0, gt=0)
    initial_backoff_s: float = Field(default=0.5, gt=0)
    max_backoff_s: float = Field(default=30.0, gt=0)
    # On stop, keep trying to deliver what is left for at most this long.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    progress_every_s: float = Field(default=10.0, gt=0)

    # The order core and the loopback WeChat: shoppers who check out log in, pay and get refunds there.
    # Without them (or with use_order_core false) checkout is client-side only, as before.
    use_order_core: bool = True
    api_url: str = "http://127.0.0.1:8001"
    sandbox_url: str = "http://127.0.0.1:9480"
    # In the demo every process starts at once: wait this long for the order core before going without it.
    order_core_wait_s: float = Field(default=60.0, ge=0)
    refund_share: float = Field(default=0.05, ge=0, le=1, description="paid orders later refunded")
    refund_delay_min_s: float = Field(default=60.0, ge=0)
    refund_delay_max_s: float = Field(default=180.0, ge=0)
    # Subscribe prompts: the cart reminder is the streams' demo template (streams/automations/demo.py),
    # the order templates are the order core's (ApiSettings.subscribe_templates).
    cart_subscribe_templates: tuple[str, ...] = ("TPL_CART_REMINDER",)
    order_subscribe_templates: tuple[str, ...] = ("TPL-ORDER-PAID", "TPL-ORDER-SHIPPED", "TPL-ORDER-REFUNDED")
    consent_accept_rate: float = Field(default=0.6, ge=0, le=1)
    # Phones read the subscribe messages WeChat (the sandbox) delivered this often; this share is tapped.
    push_open_rate: float = Field(default=0.35, ge=0, le=1)
    push_poll_s: float = Field(default=5.0, gt=0)
    # Back office: an analyst makes sure the demo experiment runs, an operator approves refunds. The
    # defaults are the development accounts the order core seeds for the demo (api/demo_seed.py).
    analyst_username: str = "analyst"
    operator_username: str = "operator"
    staff_password: SecretStr = SecretStr("shoploop-demo-password")
    # The order core has no HTTP route for a first staff account; when the accounts above cannot log in,
    # this creates them with the order core's own use case in its database (SHOPLOOP_API_DATABASE_URL).
    create_staff_in_process: bool = False
    experiment_id: str = "demo-checkout-button"
    experiment_name: str = "结算按钮文案: 立即支付 vs 马上抢购"
    experiment_variants: tuple[str, ...] = ("control", "urgent")

    def prompts(self) -> SubscribePrompts:
        return SubscribePrompts(
            cart_templates=self.cart_subscribe_templates,
            order_templates=self.order_subscribe_templates,
            accept_rate=self.consent_accept_rate,
            open_rate=self.push_open_rate,
        )

    def experiment(self) -> dict[str, object]:
        """The demo experiment as `POST /admin/v1/experiments` takes it: an even split, conversion rate."""
        return {
            "experiment_id": self.experiment_id,
            "name": self.experiment_name,
            "variants": [{"name": name, "weight": 1} for name in self.experiment_variants],
            "target_metric": "conversion_rate",
        }

    def pacing(self) -> Pacing:
        return Pacing(
            mean_think_s=self.mean_think_s,
            arrival_ramp_s=self.arrival_ramp_s,
            mean_next_shopper_gap_s=self.mean_next_shopper_gap_s,
            friend_delay_s=(self.friend_delay_min_s, max(self.friend_delay_min_s, self.friend_delay_max_s)),
            return_delay_s=(self.return_delay_min_s, max(self.return_delay_min_s, self.return_delay_max_s)),
            push_tap_delay_s=(
                self.push_tap_delay_min_s,
                max(self.push_tap_delay_min_s, self.push_tap_delay_max_s),
            ),
        )

    @property
    def batch_url(self) -> str:
        return f"{self.collector_url.rstrip('/')}/v1/batch"
