"""`shoploop privacy forget`: erase one shopper everywhere ShopLoop's analytics keep them.

The identity graph gives every id the shopper was seen under; their rows leave every lake table; the
warehouse is rebuilt from the lake so no mart keeps them; their identities leave the graph last, so a
failure half-way can be re-run. The order core keeps what the law requires for orders and invoices and
erases its own profile data through its own API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion.collector.identity import IdentityGraph, person_of_new_identity
from ingestion.collector.settings import CollectorSettings
from warehouse.erasure import erase_people
from warehouse.publish import build_and_publish
from warehouse.settings import WarehouseSettings


@dataclass(frozen=True)
class ErasureReport:
    person_id: str
    ids: list[str]
    rows_removed: dict[str, int] = field(default_factory=dict)
    is_warehouse_rebuilt: bool = False


def forget(
    shopper_id: str,
    *,
    collector: CollectorSettings | None = None,
    warehouse: WarehouseSettings | None = None,
    rebuild: bool = True,
) -> ErasureReport:
    collector = collector or CollectorSettings()
    warehouse = warehouse or WarehouseSettings()
    graph = IdentityGraph.from_url(collector.identity_database_url)
    person = graph.person_of(shopper_id) or shopper_id
    people = {person, *graph.merged_with(person)}
    mapped = {person_of_new_identity(i) for someone in people for i in graph.identities_of(someone)}
    ids = sorted(people | mapped | {shopper_id})
    rows_removed = {
        table_dir.name: erase_people(table_dir, ids)
        for table_dir in (warehouse.events_dir, warehouse.order_book_dir, warehouse.pushes_dir)
    }
    is_rebuilt = rebuild and warehouse.warehouse_path.exists() and build_and_publish(warehouse) == 0
    # The graph goes last, so an erasure that fails half-way can be re-run and still find every id.
    for someone in people:
        graph.forget(someone)
    return ErasureReport(
        person_id=person, ids=ids, rows_removed=rows_removed, is_warehouse_rebuilt=is_rebuilt
    )
