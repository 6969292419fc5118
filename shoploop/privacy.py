"""`shoploop privacy forget`: erase one shopper everywhere ShopLoop's analytics keep them.

The identity graph gives every id the shopper was seen under; a tombstone in the lake records them and the time
(the lake's writers, the sink and compaction, drop the person's rows that arrive later); their identities leave
the graph; their rows leave every lake table; the warehouse is rebuilt from the lake so no mart keeps them, and
the next build starts from scratch again (a build that was running meanwhile may publish them once more). A
failure half-way can be re-run: the tombstone still names every id. Before the lake's rewrite, the streams are told
on `shoploop.privacy.erasures` (streams.erasure: carts, scheduled pushes, share tree), the order core erases their
accounts through its service layer (api.privacy.erase_accounts: profile gone, orders, payments and refunds kept as
the law requires) and every saved recommender run loses the person (recsys.registry.ModelRegistry.erase_people;
serving reloads). A shopper's own 注销 reaches this function through `shoploop privacy worker`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from api.privacy import OrderCoreErasure, erase_accounts
from api.settings import ApiSettings
from ingestion.collector.identity import IdentityGraph, person_of_new_identity
from ingestion.collector.settings import CollectorSettings
from recsys.settings import RecsysSettings
from recsys.train import erase_people as erase_from_recommender
from shoploop.kafka import KafkaSettings
from shoploop.tombstone import Tombstone
from streams.erasure import announce_erasure
from warehouse.erasure import erase_people, read_tombstones, write_tombstone
from warehouse.lake import request_full_refresh
from warehouse.publish import build_and_publish
from warehouse.settings import WarehouseSettings


@dataclass(frozen=True)
class ErasureReport:
    person_id: str
    ids: list[str]
    erased_at: datetime
    rows_removed: dict[str, int] = field(default_factory=dict)
    is_warehouse_rebuilt: bool = False
    recommender_rows_removed: dict[str, int] = field(default_factory=dict)  # per model run rewritten
    order_core: OrderCoreErasure | None = None
    # Why the streams' state was not erased (Kafka unreachable): None once the erasure is on their topic.
    streams_not_told: str | None = None


def forget(
    shopper_id: str,
    *,
    collector: CollectorSettings | None = None,
    warehouse: WarehouseSettings | None = None,
    rebuild: bool = True,
    recsys: RecsysSettings | None = None,
    order_core: ApiSettings | None = None,
    kafka: KafkaSettings | None = None,
) -> ErasureReport:
    collector = collector or CollectorSettings()
    warehouse = warehouse or WarehouseSettings()
    graph = IdentityGraph.from_url(collector.identity_database_url)
    person = graph.person_of(shopper_id) or shopper_id
    people = {person, *graph.merged_with(person)}
    identities = {person_of_new_identity(i) for someone in people for i in graph.identities_of(someone)}
    # A re-run after a failure past the graph's erasure finds the ids in the lake's tombstones instead.
    for earlier in read_tombstones(warehouse.lake_dir):
        if shopper_id in earlier.person_ids | earlier.ids:
            people |= earlier.person_ids
            identities |= earlier.ids
    identities.add(shopper_id)
    ids = sorted(people | identities)
    # The tombstone goes first, so the ids outlive the graph's mappings until the erasure is done.
    _write_tombstone(warehouse, people=people, ids=identities)
    for someone in people:
        graph.forget(someone)
    # Again once the collectors are told (they apply the graph's erasure log within a second): the times that
    # bound the tombstone's rules start here. And before the rewrite: a sink batch or a compaction that read the
    # tombstones before this one has its file in place by the time this one is (`writing_to_lake`), so the
    # rewrite finds that file; one that starts after drops the rows itself.
    erased_at = _write_tombstone(warehouse, people=people, ids=identities)
    # The streams erase their own state (carts, scheduled pushes, share tree) from their erasures topic.
    streams_not_told = announce_erasure(person_ids=people, ids=people | identities, erased_at=erased_at,
        person_window=timedelta(seconds=warehouse.erasure_person_window_s), kafka=kafka or KafkaSettings())  # fmt: skip
    # The order core and the recommender before the slow part (the lake's rewrite and the warehouse's rebuild): the
    # push agent asks the order core for her openid at every send, and serving reads the rewritten runs.
    order_core_erasure = erase_accounts(ids, order_core)
    recommender_rows_removed = erase_from_recommender(ids, recsys)
    rows_removed = {
        table_dir.name: erase_people(table_dir, ids)
        for table_dir in (warehouse.events_dir, warehouse.order_book_dir, warehouse.pushes_dir)
    }
    is_rebuilt = rebuild and warehouse.warehouse_path.exists() and build_and_publish(warehouse) == 0
    if any(rows_removed.values()):
        # Asked again after this rebuild, which consumed the request: a periodic build that started before the
        # erasure (incremental, from a warehouse holding the person, over the lake before the rewrite) may publish
        # after this rebuild, and would otherwise be the next build's starting point, keeping the person for good.
        request_full_refresh(warehouse.lake_dir)
    return ErasureReport(
        person_id=person,
        ids=ids,
        erased_at=erased_at,
        rows_removed=rows_removed,
        is_warehouse_rebuilt=is_rebuilt,
        recommender_rows_removed=recommender_rows_removed,
        order_core=order_core_erasure,
        streams_not_told=streams_not_told,
    )


def _write_tombstone(warehouse: WarehouseSettings, *, people: set[str], ids: set[str]) -> datetime:
    erased_at = datetime.now(UTC)
    write_tombstone(
        warehouse.lake_dir,
        Tombstone(
            erased_at=erased_at,
            people_until=erased_at + timedelta(seconds=warehouse.erasure_person_window_s),
            person_ids=frozenset(people),
            ids=frozenset(ids),
        ),
    )
    return erased_at
