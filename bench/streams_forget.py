"""What an erasure costs the decisions task, without Kafka: `Engine.forget` of one shopper in an engine holding
N shoppers (each with a cart, a share, a device and a placed order), and the checkpoint batch that rewrites the
rows naming her (plain dicts for the tables), timed by process CPU time.

    .venv/bin/python -m bench.streams_forget [--persons 100000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from streams.automations.rules import PushPolicy, Rule
from streams.engine.checkpoint import Checkpoint, CheckpointTables
from streams.engine.core import Engine
from streams.inputs import Activity, OrderFact

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    persons = parser.parse_args().persons
    engine = Engine(policy=PushPolicy(), allowed_lateness=timedelta(0))
    engine.publish_rule(Rule(rule_id="cart", version=1, kind="abandoned_cart", delay_s=3600, template_id="T"))
    for n in range(persons):
        at = MORNING + timedelta(milliseconds=n)
        added = {"product_id": "p-teapot", "sku": "sku-teapot", "quantity": 1}
        engine.offer(Activity(f"a{n}", f"p{n}", at, "track", "Product Added", user_id=f"u{n}", device_id=f"d{n}",
                              properties=added))  # fmt: skip
        engine.offer(Activity(f"s{n}", f"p{n}", at, "track", "Product Shared", user_id=f"u{n}",
                              properties={"share_id": f"sh{n}", "share_depth": 1}))  # fmt: skip
        engine.offer(
            OrderFact(f"o{n}", "OrderPlaced", at, user_id=f"u{n}", order_id=f"SL{n}"), partition=None
        )
    engine.advance_to(MORNING + timedelta(milliseconds=persons + 1000))
    checkpoint = Checkpoint(CheckpointTables({}, {}, {}, {}, {}, {}))
    checkpoint.write(engine)
    checkpoint.commit(engine)
    clock = time.process_time
    for who in (f"p{persons // 100}", f"p{persons // 2}", f"p{persons - 1}"):
        at = clock()
        forgotten = engine.forget({who}, {who.replace("p", "u")})
        forgetting = clock() - at
        at = clock()
        checkpoint.write(engine)
        checkpoint.commit(engine)
        writing = clock() - at
        print(
            f"{who}: Engine.forget {forgetting * 1000:.0f} ms, its checkpoint {writing * 1000:.0f} ms; {forgotten}"
        )
    at = clock()
    checkpoint.write(engine)
    checkpoint.commit(engine)
    print(f"a batch without erasure, nothing changed: checkpoint {(clock() - at) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
