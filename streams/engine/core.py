"""The decision core: one deterministic state machine over tracked events and order facts in event time.

It holds carts, automation state, the share tree and abuse counters, calls the pure decisions of each
domain (carts, automations, referrals, abuse) and returns what to publish. Inputs are buffered and applied
in (event time, id) order once the watermark passes them; pushes fire when their due time passes. The
Faust agents feed it and persist its state; a test can feed it a list. No clock, no I/O.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

import orjson

from ingestion.contract.scenes import SHARE_SCENES
from shoploop.tombstone import Tombstone
from streams.abuse.decisions import is_crowded_device, is_order_burst
from streams.automations.audience import AudienceProfile, ShippingAddress, audience_profile
from streams.automations.decisions import (
    Candidate,
    birthday_due,
    judge,
    local_day,
    nearby_due,
    win_back_due,
)
from streams.automations.rules import PushPolicy, Rule, RuleBook
from streams.carts.decisions import CART_EVENTS, abandoned_due_at, apply_cart_event, apply_verified_payment
from streams.carts.models import Cart
from streams.clock import Watermark
from streams.ids import stable_id
from streams.inputs import Activity, Input, OrderFact
from streams.pushes.messages import render_template_data
from streams.referrals.decisions import attribute, place_share, reward_block_reason
from streams.referrals.models import Buyer, ShareNode, Touch

OPEN_SCENES = frozenset({1014, 1107})
SHARE_EVENTS = frozenset({"Product Shared", "Mini Program Shared"})
ENTRY_EVENTS = frozenset({"Mini Program Launched", "Mini Program Shown"})
DEFAULT_ATTRIBUTION_WINDOW = timedelta(days=7)
# Touches and sends older than this are forgotten (longer than any attribution window or day cap).
MEMORY = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Output:
    """Something to publish: `stream` names the output topic (triggers, attributions, rewards, …)."""

    stream: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `Engine.forget` removed (counts), for the worker's log and the erasure's report."""

    persons: int = 0
    pending_pushes: int = 0
    pending_inputs: int = 0
    parked_facts: int = 0
    index_entries: int = 0
    shares_anonymised: int = 0

    def as_counts(self) -> dict[str, int]:
        return {
            "persons": self.persons,
            "pending_pushes": self.pending_pushes,
            "pending_inputs": self.pending_inputs,
            "parked_facts": self.parked_facts,
            "index_entries": self.index_entries,
            "shares_anonymised": self.shares_anonymised,
        }


@dataclass
class Erased:
    """What erasures removed since the last checkpoint: the rows that hold it must be rewritten or deleted."""

    persons: set[str] = field(default_factory=set)
    # Changing index entries ("kind\x1fkey", as in the entry pages) that must leave the checkpoint entirely.
    entries: set[str] = field(default_factory=set)
    # Growing index facts (kind, key) that changed or went: the fact pages holding them are rewritten.
    facts: set[tuple[str, str]] = field(default_factory=set)
    shares: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.persons or self.entries or self.facts or self.shares or self.inputs)


def anonymised_share(node: ShareNode) -> ShareNode:
    """An erased sharer's share, kept as a node so the tree of the shoppers below it stays whole (their roots,
    depths and attributions), but naming no one: a sharer id of its own (linking none of her shares to each
    other) and no account, openid or device. An order through it is still attributed; its sharer is rewarded
    nothing (no account), the friend and the level above as before."""
    return replace(
        node,
        sharer_person_id=stable_id("erased-sharer", node.share_id),
        sharer_user_id=None,
        sharer_openid=None,
        sharer_device_id=None,
    )


@dataclass
class AbuseLimits:
    order_window: timedelta = timedelta(minutes=10)
    orders_per_window: int = 5
    accounts_per_device: int = 3


@dataclass
class PersonState:
    person_id: str
    user_id: str | None = None
    openid: str | None = None
    device_id: str | None = None
    cart: Cart = field(default_factory=Cart)
    last_active_at: datetime | None = None
    birthday: date | None = None
    quota: dict[str, int] = field(default_factory=dict)
    sends: list[tuple[datetime, str]] = field(default_factory=list)
    last_entered: dict[str, datetime] = field(default_factory=dict)
    closed: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    touches: list[Touch] = field(default_factory=list)
    paid_orders: int = 0
    location: tuple[datetime, float, float, str] | None = None
    # What audience filters read (dim_users' definitions): the latest paid order, the latest placed order's
    # shipping address, and the province of the latest identify traits that named one.
    last_paid_at: datetime | None = None
    shipping: ShippingAddress | None = None
    trait_province: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "user_id": self.user_id,
            "openid": self.openid,
            "device_id": self.device_id,
            "cart": self.cart.to_dict(),
            "last_active_at": _iso(self.last_active_at),
            "birthday": self.birthday.isoformat() if self.birthday else None,
            "quota": self.quota,
            "sends": [[at.isoformat(), rule_id] for at, rule_id in self.sends],
            "last_entered": {rule_id: at.isoformat() for rule_id, at in self.last_entered.items()},
            "closed": self.closed,
            "deferred": {rule_id: [u.isoformat(), e] for rule_id, (u, e) in self.deferred.items()},
            "touches": [[t.at.isoformat(), t.share_id, t.message_id] for t in self.touches],
            "paid_orders": self.paid_orders,
            "location": [self.location[0].isoformat(), *self.location[1:]] if self.location else None,
            "last_paid_at": _iso(self.last_paid_at),
            "shipping": _shipping_to_dict(self.shipping),
            "trait_province": self.trait_province,
        }

    def to_json(self) -> bytes:
        """The same content as `to_dict`, serialised by orjson straight from the dataclasses (~5x faster)."""
        return orjson.dumps(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonState:
        location = data.get("location")
        return cls(
            person_id=data["person_id"],
            user_id=data.get("user_id"),
            openid=data.get("openid"),
            device_id=data.get("device_id"),
            cart=Cart.from_dict(data.get("cart") or {}),
            last_active_at=_parse(data.get("last_active_at")),
            birthday=date.fromisoformat(data["birthday"]) if data.get("birthday") else None,
            quota=dict(data.get("quota") or {}),
            sends=[(datetime.fromisoformat(at), rule_id) for at, rule_id in data.get("sends", ())],
            last_entered={k: datetime.fromisoformat(v) for k, v in (data.get("last_entered") or {}).items()},
            closed=dict(data.get("closed") or {}),
            deferred={
                k: (datetime.fromisoformat(u), e) for k, (u, e) in (data.get("deferred") or {}).items()
            },
            touches=[_touch(touch) for touch in data.get("touches", ())],
            paid_orders=int(data.get("paid_orders") or 0),
            location=(datetime.fromisoformat(location[0]), location[1], location[2], location[3])
            if location
            else None,
            last_paid_at=_parse(data.get("last_paid_at")),
            shipping=_shipping(data.get("shipping")),
            trait_province=data.get("trait_province"),
        )

    def audience_profile(self, *, newest_paid_at: datetime | None, timezone: str) -> AudienceProfile:
        return audience_profile(
            paid_orders=self.paid_orders,
            last_paid_at=self.last_paid_at,
            newest_paid_at=newest_paid_at,
            shipping=self.shipping,
            trait_province=self.trait_province,
            timezone=timezone,
        )


def _shipping_to_dict(shipping: ShippingAddress | None) -> dict[str, Any] | None:
    if shipping is None:
        return None
    return {"placed_at": shipping.placed_at.isoformat(), "province": shipping.province, "city": shipping.city}


def _shipping(data: dict[str, Any] | None) -> ShippingAddress | None:
    # The same object from to_dict and from orjson's form of the dataclass.
    if not data:
        return None
    return ShippingAddress(datetime.fromisoformat(data["placed_at"]), data.get("province"), data.get("city"))


def _apply_address(person: PersonState, fact: OrderFact) -> None:
    """The latest placed order with an address gives the shopper's region (dim_users.province)."""
    if person.shipping is None or fact.at >= person.shipping.placed_at:
        person.shipping = ShippingAddress(fact.at, fact.shipping_province, fact.shipping_city)


def _touch(data: list[str] | dict[str, str]) -> Touch:
    # A list (to_dict) or an object (orjson's form of the dataclass).
    if isinstance(data, dict):
        return Touch(datetime.fromisoformat(data["at"]), data["share_id"], data["message_id"])
    at, share_id, message_id = data
    return Touch(datetime.fromisoformat(at), share_id, message_id)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _birthday(traits: dict[str, Any]) -> date | None:
    value = traits.get("birthday")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


_entry_key = itemgetter(0)  # a pending entry's (event time, id)
_INSERT_AT_MOST = 8  # new pending inputs inserted one by one; more are appended and the buffer sorted


class Engine:
    """The streams' decision core. Feed it with `offer`, move event time with `advance`/`advance_to`."""

    def __init__(
        self,
        *,
        policy: PushPolicy | None = None,
        allowed_lateness: timedelta = timedelta(seconds=30),
        abuse: AbuseLimits | None = None,
    ) -> None:
        self.policy = policy or PushPolicy()
        self.abuse = abuse or AbuseLimits()
        self.rules = RuleBook()
        self.watermark = Watermark(allowed_lateness)
        self.persons: dict[str, PersonState] = {}
        self.shares: dict[str, ShareNode] = {}
        self.person_by_user: dict[str, str] = {}
        self.parked_payments: dict[str, list[OrderFact]] = {}
        # The shopper whose client first reported an order (Order Completed with its order id): the warehouse
        # gives an order to that shopper before the account's (int_orders_placed), and so do the streams.
        self.person_by_order: dict[str, str] = {}
        # order id → account of the order's parked facts (derived from parked_payments; see `index_parked`).
        self._parked_order_user: dict[str, str] = {}
        self.paid_order_ids: set[str] = set()
        # The shop's newest verified payment: RFM recency counts from the shop day after it (as dim_users does).
        self.newest_paid_at: datetime | None = None
        self.orders_by_user: dict[str, list[datetime]] = {}
        self.accounts_by_device: dict[str, set[str]] = {}
        self.flagged_reasons: set[tuple[str, str]] = set()
        self.sold_out: set[str] = set()
        self.now: datetime | None = None
        self.suppressed: dict[str, int] = {}
        self.dirty: set[str] = set()
        # What changed since the last checkpoint, beyond persons: new shares, and shop-wide index entries
        # as (kind, key) with kind paid / orders / device / flag / parked, so a checkpoint writes only those.
        self.new_shares: set[str] = set()
        self.changed_index: set[tuple[str, str]] = set()
        # When a list, `advance_to` appends the id of each input it applies (the agent drops checkpointed
        # pending rows by it, without scanning everything still pending).
        self.applied_ids: list[str] | None = None
        # What erasures removed since the last checkpoint, and the guards against the person's late inputs.
        self.erased = Erased()
        self.erasure_guards: list[Tombstone] = []
        self._guarded_persons: dict[str, datetime] = {}
        self._guarded_ids: dict[str, datetime] = {}
        # Buffered inputs by (event time, id): `_pending` sorted, `_incoming` offered since the last advance.
        # Sorted once per advance rather than a heap: a fetched batch is a few runs already in event-time
        # order (one per partition), which a sort merges in far fewer comparisons than a push and pop each.
        self._pending: list[tuple[tuple[datetime, str], Input]] = []
        self._incoming: list[tuple[tuple[datetime, str], Input]] = []
        self._pending_ids: set[str] = set()
        self._due: list[tuple[datetime, str, str, str]] = []
        # (person, rule) → the (due, episode) last put on `_due`: an activity that leaves a person's
        # candidate unchanged (most do) must not add a duplicate entry, or the heap grows with every event.
        self._scheduled: dict[tuple[str, str], tuple[datetime, str]] = {}
        # (person, abandoned-cart rule) → what its last scheduling read (cart, sold-out set, rule; all
        # immutable, compared by identity) and the entry it left on `_scheduled` (None: nothing to schedule,
        # or the episode is closed). While these are unchanged, scheduling again would change nothing, and
        # most activities (views, consents, shares) leave a cart as it was.
        self._cart_scheduled: dict[tuple[str, str], tuple[Cart, frozenset[str], Rule, Any]] = {}
        # The rule book's active pushes, recomputed only when a rule is published (read on every activity).
        self._active_pushes: list[Rule] = []
        self._sold_out_frozen: frozenset[str] = frozenset()

    # -- feeding ---------------------------------------------------------------------------------------
    def publish_rule(self, rule: Rule) -> list[Output]:
        """A new or changed rule applies from now on: every known person is scheduled for it.

        Pushes it makes due at or before the current event time fire at once (a rule published while
        no events flow still acts); republishing the same rule changes nothing.
        """
        if self.rules.rules.get(rule.rule_id) == rule or not self.rules.publish(rule):
            return []
        self._active_pushes = self.rules.active_pushes()
        outputs: list[Output] = []
        if rule.is_active and rule.is_push and self.now is not None:
            for person in self.persons.values():
                self._schedule_rule(person, rule, self.now)
            self._fire_due(self.now, outputs)
        return outputs

    def offer(
        self, item: Input, *, partition: str | None = "0", seen_at: float | None = None
    ) -> list[Output]:
        """Buffer one input; an input older than what was already applied is dead-lettered as late.

        Inputs from a partition move the watermark; sparse inputs (order facts) pass None and just wait.
        `seen_at` (processing time) lets the watermark leave out partitions that went quiet.
        """
        at = item.at
        if partition is not None:
            self.watermark.observe(partition, at, seen_at=seen_at)
        item_id = item.message_id if type(item) is Activity else item.event_id  # type: ignore[union-attr]
        if self.now is not None and at < self.now:
            return [
                Output(
                    "dead_letters",
                    item_id,
                    {"reason_code": "late_event", "id": item_id, "at": at.isoformat()},
                )
            ]
        if item_id in self._pending_ids:
            return []
        if self.erasure_guards and self._is_erased(item, at):
            return []
        self._pending_ids.add(item_id)
        self._incoming.append(((at, item_id), item))
        return []

    def is_pending(self, input_id: str) -> bool:
        return input_id in self._pending_ids

    def pending(self) -> list[Input]:
        return [item for _, item in self._sorted_pending()]

    def _sorted_pending(self) -> list[tuple[tuple[datetime, str], Input]]:
        if self._incoming:
            # Keys are unique (ids are), so items are never compared. A few new inputs are inserted in place: a
            # replay advancing after every input (run_log) re-sorted the whole buffer each time, which made it
            # quadratic in the inputs within the allowed lateness.
            if len(self._incoming) <= _INSERT_AT_MOST:
                for entry in self._incoming:
                    bisect.insort(self._pending, entry, key=_entry_key)
            else:
                self._pending += self._incoming
                self._pending.sort(key=_entry_key)
            self._incoming = []
        return self._pending

    def advance(self, *, idle_before: float | None = None) -> list[Output]:
        """Apply everything up to the watermark (partitions unseen since `idle_before` do not hold it)."""
        mark = self.watermark.current(idle_before=idle_before)
        return self.advance_to(mark) if mark is not None else []

    def advance_to(self, until: datetime) -> list[Output]:
        """Apply buffered inputs up to `until` in event-time order, firing pushes due before each one."""
        outputs: list[Output] = []
        # The per-input loop of the worker: attribute lookups hoisted, the due-heap checked before a call.
        pending, due = self._sorted_pending(), self._due
        pending_ids, applied_ids = self._pending_ids, self.applied_ids
        count, taken = len(pending), 0
        try:
            while taken < count and pending[taken][0][0] <= until:
                (at, item_id), item = pending[taken]
                taken += 1
                pending_ids.discard(item_id)
                if applied_ids is not None:
                    applied_ids.append(item_id)
                if due and due[0][0] <= at:
                    self._fire_due(at, outputs)
                if self.now is None or at > self.now:
                    self.now = at
                if type(item) is Activity:
                    self._apply_activity(item, outputs)
                else:
                    self._apply_order_fact(item, outputs)  # type: ignore[arg-type]
        finally:
            del pending[:taken]  # what was applied leaves the buffer, as a pop would have taken it
        self._fire_due(until, outputs)
        if self.now is None or until > self.now:
            self.now = until
        if self.erasure_guards and any(self.now > guard.people_until for guard in self.erasure_guards):
            self.set_erasure_guards(
                [guard for guard in self.erasure_guards if self.now <= guard.people_until]
            )
        return outputs

    # -- erasure ---------------------------------------------------------------------------------------
    def forget(
        self,
        person_ids: Iterable[str],
        ids: Iterable[str] = (),
        *,
        guard: Tombstone | None = None,
    ) -> Forgotten:
        """Erase a shopper from the engine's state (PIPL): her person state (cart, episodes, quota, touches), her
        scheduled and deferred pushes, her buffered inputs, her parked order facts, her accounts' order times,
        device links, flags and order links, and the identities on her shares (anonymised, see
        `anonymised_share`). `ids` are her other ids (anonymousIds, userIds). Safe to repeat.

        With a `guard`, inputs of hers offered later are dropped (the tombstone's rules, in event time: `shoploop.tombstone`). An erasure is rare: it
        scans the engine's indexes once rather than keeping reverse indexes for it.
        """
        named = set(person_ids) | set(ids)
        gone = {person_id for person_id in named if person_id in self.persons}
        gone |= {self.person_by_user[user_id] for user_id in named if user_id in self.person_by_user}
        users = set(named)
        devices: set[str] = set()
        for person_id in gone:
            person = self.persons.pop(person_id)
            if person.user_id:
                users.add(person.user_id)
            if person.device_id:
                devices.add(person.device_id)
            self.dirty.discard(person_id)
        self.erased.persons |= gone
        # Scans collect their hits first (no copy of each index: an erasure in a large state stays ~0.1 s).
        linked = [u for u, person_id in self.person_by_user.items() if person_id in gone or u in users]
        for user_id in linked:
            del self.person_by_user[user_id]
        users.update(linked)
        everyone = gone | named
        # Her pushes: what waits on the due-heap (scheduled, deferred to the end of quiet hours).
        pushes = {(person_id, rule_id) for _, person_id, rule_id, _ in self._due if person_id in everyone}
        if pushes:
            self._due = [entry for entry in self._due if entry[1] not in everyone]
            heapq.heapify(self._due)
        for key in [key for key in self._scheduled if key[0] in everyone]:
            del self._scheduled[key]
        for key in [key for key in self._cart_scheduled if key[0] in everyone]:
            del self._cart_scheduled[key]

        # Her inputs still waiting for the watermark.
        def is_hers(item: Input) -> bool:
            if type(item) is Activity:
                return item.person_id in everyone or item.user_id in users
            return item.user_id in users

        buffered = self._sorted_pending()
        kept = [entry for entry in buffered if not is_hers(entry[1])]
        for (_, input_id), item in buffered:
            if is_hers(item):
                self._pending_ids.discard(input_id)
                self.erased.inputs.add(input_id)
        dropped_inputs = len(buffered) - len(kept)
        self._pending[:] = kept
        # Shop-wide indexes naming her accounts, orders and device.
        parked_facts = index_entries = 0
        for user_id in users:
            facts = self.parked_payments.pop(user_id, None)
            if facts is not None:
                parked_facts += len(facts)
                for fact in facts:
                    self._parked_order_user.pop(fact.order_id or "", None)
                self._erase_entry("parked", user_id)
            if self.orders_by_user.pop(user_id, None) is not None:
                index_entries += 1
                self._erase_entry("orders", user_id)
        for order_id in [o for o, person_id in self.person_by_order.items() if person_id in everyone]:
            del self.person_by_order[order_id]
            self._erase_fact("order_person", order_id)
            index_entries += 1
        shared = [d for d, accounts in self.accounts_by_device.items() if not accounts.isdisjoint(users)]
        for device_id in shared:
            accounts = self.accounts_by_device[device_id]
            accounts -= users
            if not accounts:
                del self.accounts_by_device[device_id]
            self._erase_fact("device", device_id)
            index_entries += 1
        for user_id, reason in [flag for flag in self.flagged_reasons if flag[0] in users]:
            self.flagged_reasons.discard((user_id, reason))
            self._erase_fact("flag", f"{user_id}\x1f{reason}")
            index_entries += 1
        # Her shares stay in the tree, naming no one: other shoppers' roots, depths and attributions hold.
        hers = [
            node
            for node in self.shares.values()
            if node.sharer_person_id in everyone or node.sharer_user_id in users
        ]
        for node in hers:
            self.shares[node.share_id] = anonymised_share(node)
            self.erased.shares.add(node.share_id)
        if guard is not None:
            self.set_erasure_guards([*self.erasure_guards, guard])
        return Forgotten(
            persons=len(gone),
            pending_pushes=len(pushes),
            pending_inputs=dropped_inputs,
            parked_facts=parked_facts,
            index_entries=index_entries,
            shares_anonymised=len(hers),
        )

    def _erase_entry(self, kind: str, key: str) -> None:
        self.changed_index.discard((kind, key))  # not written as "gone": the checkpoint drops it altogether
        self.erased.entries.add(f"{kind}\x1f{key}")

    def _erase_fact(self, kind: str, key: str) -> None:
        self.changed_index.discard((kind, key))
        self.erased.facts.add((kind, key))

    def set_erasure_guards(self, guards: list[Tombstone]) -> None:
        self.erasure_guards = guards
        self._guarded_persons, self._guarded_ids = {}, {}
        for guard in guards:
            for person_id in guard.person_ids:
                self._guarded_persons[person_id] = max(
                    guard.people_until, self._guarded_persons.get(person_id, guard.people_until)
                )
            for some_id in guard.ids:
                self._guarded_ids[some_id] = max(
                    guard.erased_at, self._guarded_ids.get(some_id, guard.erased_at)
                )

    def _is_erased(self, item: Input, at: datetime) -> bool:
        if type(item) is Activity:
            until = self._guarded_persons.get(item.person_id)
            if until is not None and at <= until:
                return True
            named: tuple[str | None, ...] = (item.person_id, item.user_id)
        else:
            named = (item.user_id,)
        for some_id in named:
            erased_at = self._guarded_ids.get(some_id) if some_id is not None else None
            if erased_at is not None and at <= erased_at:
                return True
        return False

    # -- restoring -------------------------------------------------------------------------------------
    def restore_shop(self, *, rules: Iterable[Rule], sold_out: Iterable[str]) -> None:
        """Put back the rule book and the sold-out SKUs (before the persons, so they are scheduled)."""
        for rule in rules:
            self.rules.publish(rule)
        self._active_pushes = self.rules.active_pushes()
        self.sold_out = set(sold_out)
        self._sold_out_frozen = frozenset(self.sold_out)

    def restore_person(self, person: PersonState) -> None:
        self.persons[person.person_id] = person
        if person.user_id:
            self.person_by_user[person.user_id] = person.person_id
        for rule_id, (until, episode) in person.deferred.items():
            heapq.heappush(self._due, (until, person.person_id, rule_id, episode))
        if self.now is not None:
            self._schedule(person, self.now)

    # -- activities ------------------------------------------------------------------------------------
    def _person(self, person_id: str) -> PersonState:
        person = self.persons.get(person_id)
        if person is None:
            person = self.persons[person_id] = PersonState(person_id)
        self.dirty.add(person_id)
        return person

    def _apply_activity(self, activity: Activity, outputs: list[Output]) -> None:
        person = self.persons.get(activity.person_id)  # `_person`, inlined: it runs for every event
        if person is None:
            person = self.persons[activity.person_id] = PersonState(activity.person_id)
        self.dirty.add(activity.person_id)
        person.last_active_at = activity.at
        person.openid = activity.openid or person.openid
        person.device_id = activity.device_id or person.device_id
        if activity.user_id and activity.user_id != person.user_id:
            person.user_id = activity.user_id
            self.person_by_user[activity.user_id] = person.person_id
        if activity.type == "identify":
            person.birthday = _birthday(activity.traits) or person.birthday
            province = activity.traits.get("province")
            if isinstance(province, str):
                person.trait_province = province
        if activity.user_id and person.device_id:
            self._watch_device(person.device_id, activity.user_id, activity.at, outputs)
        event = activity.event or ""
        properties = activity.properties
        if activity.type == "track":
            if event in CART_EVENTS:
                person.cart = apply_cart_event(
                    person.cart, event=event, properties=properties, at=activity.at
                )
            elif event == "Subscribe Message Consent":
                for template_id, answer in (properties.get("results") or {}).items():
                    if answer == "accept":
                        person.quota[template_id] = person.quota.get(template_id, 0) + 1
            elif event == "Location Shared":
                latitude, longitude = properties.get("latitude"), properties.get("longitude")
                if isinstance(latitude, int | float) and isinstance(longitude, int | float):
                    person.location = (activity.at, float(latitude), float(longitude), activity.message_id)
            elif event in SHARE_EVENTS:
                self._record_share(person, activity, outputs)
            elif event in ENTRY_EVENTS:
                self._record_entry(person, activity, outputs)
        if event == "Order Completed" and activity.type == "track":
            self._link_order(person, properties.get("order_id"), outputs)
        if activity.user_id and activity.user_id in self.parked_payments:
            self.changed_index.add(("parked", activity.user_id))
            parked = self.parked_payments.pop(activity.user_id)
            for fact in parked:
                self._parked_order_user.pop(fact.order_id or "", None)
            self._apply_parked(person, parked, outputs)
        self._schedule(person, activity.at)

    def _link_order(self, person: PersonState, order_id: object, outputs: list[Output]) -> None:
        """The client's report names the order's shopper (not proof of payment): its facts go to them."""
        if not isinstance(order_id, str) or not order_id or order_id in self.person_by_order:
            return
        self.person_by_order[order_id] = person.person_id
        self.changed_index.add(("order_person", order_id))
        user_id = self._parked_order_user.pop(order_id, None)
        if user_id is None:
            return
        waiting = self.parked_payments.pop(user_id, [])
        self.changed_index.add(("parked", user_id))
        mine = [fact for fact in waiting if fact.order_id == order_id]
        rest = [fact for fact in waiting if fact.order_id != order_id]
        if rest:
            self.parked_payments[user_id] = rest
        self._apply_parked(person, mine, outputs)

    def _apply_parked(self, person: PersonState, facts: list[OrderFact], outputs: list[Output]) -> None:
        for fact in facts:
            if fact.name == "OrderPlaced":
                _apply_address(person, fact)
            else:
                self._apply_payment(person, fact, outputs)

    def _park(self, fact: OrderFact) -> None:
        """Kept until the shopper's tracked events name this account or report this order."""
        assert fact.user_id is not None
        self.parked_payments.setdefault(fact.user_id, []).append(fact)
        self.changed_index.add(("parked", fact.user_id))
        if fact.order_id:
            self._parked_order_user[fact.order_id] = fact.user_id

    def index_parked(self) -> None:
        """Rebuild the order → account lookup of parked facts (after `parked_payments` was restored)."""
        self._parked_order_user = {
            fact.order_id: user_id
            for user_id, facts in self.parked_payments.items()
            for fact in facts
            if fact.order_id
        }

    def _order_person(self, fact: OrderFact) -> str | None:
        assert fact.order_id is not None and fact.user_id is not None
        return self.person_by_order.get(fact.order_id) or self.person_by_user.get(fact.user_id)

    def _record_share(self, person: PersonState, activity: Activity, outputs: list[Output]) -> None:
        share_id = activity.properties.get("share_id")
        if not isinstance(share_id, str) or share_id in self.shares:
            return
        parent = activity.properties.get("parent_share_id")
        parent_share_id = parent if isinstance(parent, str) and parent else None
        depth = activity.properties.get("share_depth")
        root, placed_depth = place_share(
            share_id=share_id,
            parent_share_id=parent_share_id,
            depth=depth if isinstance(depth, int) else 1,
            shares=self.shares,
        )
        node = ShareNode(
            share_id=share_id,
            sharer_person_id=person.person_id,
            shared_at=activity.at,
            root_share_id=root,
            depth=placed_depth,
            parent_share_id=parent_share_id,
            sharer_user_id=person.user_id,
            sharer_openid=person.openid,
            sharer_device_id=person.device_id,
        )
        self.shares[share_id] = node
        self.new_shares.add(share_id)
        outputs.append(
            Output(
                "shares",
                share_id,
                {
                    "share_id": share_id,
                    "sharer_person_id": node.sharer_person_id,
                    "sharer_user_id": node.sharer_user_id,
                    "parent_share_id": parent_share_id,
                    "root_share_id": root,
                    "depth": placed_depth,
                    "shared_at": activity.at.isoformat(),
                    "product_id": activity.properties.get("product_id"),
                },
            )
        )

    def _record_entry(self, person: PersonState, activity: Activity, outputs: list[Output]) -> None:
        properties = activity.properties
        scene = activity.scene if activity.scene is not None else properties.get("scene")
        raw_query = properties.get("query")
        query: dict[str, Any] = raw_query if isinstance(raw_query, dict) else {}
        share_id = properties.get("share_id") or query.get("share_id")
        if scene in SHARE_SCENES and isinstance(share_id, str) and share_id:
            person.touches.append(Touch(activity.at, share_id, activity.message_id))
            person.touches = [t for t in person.touches if t.at >= activity.at - MEMORY]
        push_id = properties.get("push_id") or query.get("push_id")
        if scene in OPEN_SCENES and isinstance(push_id, str) and push_id:
            outputs.append(
                Output(
                    "pushes",
                    push_id,
                    {
                        "trigger_id": push_id,
                        "status": "opened",
                        "person_id": person.person_id,
                        "at": activity.at.isoformat(),
                        "scene": scene,
                    },
                )
            )

    # -- order facts -----------------------------------------------------------------------------------
    def _apply_order_fact(self, fact: OrderFact, outputs: list[Output]) -> None:
        if fact.name == "StockLow" and fact.sku_id:
            if fact.stock == 0:
                self.sold_out.add(fact.sku_id)
            else:
                self.sold_out.discard(fact.sku_id)
            self._sold_out_frozen = frozenset(self.sold_out)
            return
        if fact.user_id is None or fact.order_id is None:
            return
        if fact.name == "OrderPlaced":
            times = [at for at in self.orders_by_user.get(fact.user_id, []) if at > fact.at - MEMORY]
            times.append(fact.at)
            self.orders_by_user[fact.user_id] = times
            self.changed_index.add(("orders", fact.user_id))
            if is_order_burst(
                times, now=fact.at, window=self.abuse.order_window, limit=self.abuse.orders_per_window
            ):
                self._flag(fact.user_id, "order_burst", fact.at, {"orders": len(times)}, outputs)
            if fact.shipping_province is not None or fact.shipping_city is not None:
                placed_by = self._order_person(fact)
                if placed_by is None:
                    self._park(fact)  # like a payment
                else:
                    _apply_address(self._person(placed_by), fact)
            return
        if fact.name == "OrderPaid":
            if fact.order_id in self.paid_order_ids:
                return  # the outbox relays at least once
            if self.newest_paid_at is None or fact.at > self.newest_paid_at:
                self.newest_paid_at = fact.at
            person_id = self._order_person(fact)
            if person_id is None:
                # The shopper's tracked events have not named this account or reported this order yet.
                self._park(fact)
                return
            self._apply_payment(self._person(person_id), fact, outputs)

    def _apply_payment(self, person: PersonState, fact: OrderFact, outputs: list[Output]) -> None:
        assert fact.order_id is not None
        if fact.order_id in self.paid_order_ids:
            return
        self.paid_order_ids.add(fact.order_id)
        self.changed_index.add(("paid", fact.order_id))
        person.cart = apply_verified_payment(person.cart, paid_at=fact.at)
        person.paid_orders += 1
        if person.last_paid_at is None or fact.at > person.last_paid_at:
            person.last_paid_at = fact.at
        is_first_order = person.paid_orders == 1
        rewards = self.rules.active_rewards()
        window = rewards[0].attribution_window if rewards else DEFAULT_ATTRIBUTION_WINDOW
        model = rewards[0].attribution_model if rewards else "last_touch"
        touch = attribute(
            person.touches,
            paid_at=fact.at,
            window=window,
            model=model,
            shares=self.shares,
            buyer_person_id=person.person_id,
        )
        if touch is None:
            return
        share = self._with_current_identity(self.shares[touch.share_id])
        buyer = Buyer(person.person_id, fact.user_id, person.openid, person.device_id)
        blocked = reward_block_reason(buyer, share, self.shares)
        outputs.append(
            Output(
                "attributions",
                fact.order_id,
                {
                    "attribution_id": stable_id("attr", fact.order_id),
                    "order_id": fact.order_id,
                    "buyer_person_id": person.person_id,
                    "buyer_user_id": fact.user_id,
                    "share_id": share.share_id,
                    "sharer_person_id": share.sharer_person_id,
                    "sharer_user_id": share.sharer_user_id,
                    "root_share_id": share.root_share_id,
                    "depth": share.depth,
                    "touched_at": touch.at.isoformat(),
                    "paid_at": fact.at.isoformat(),
                    "total_fen": fact.total_fen,
                    "model": model,
                    "is_first_order": is_first_order,
                    "reward_blocked_reason": blocked,
                },
            )
        )
        if blocked is not None:
            return
        for rule in rewards:
            if rule.first_order_only and not is_first_order:
                continue
            grants: list[tuple[str, str | None, str | None]] = [
                ("sharer", share.sharer_user_id, rule.sharer_campaign_id),
                ("friend", fact.user_id, rule.friend_campaign_id),
            ]
            parent = self.shares.get(share.parent_share_id) if share.parent_share_id else None
            if parent is not None and parent.sharer_user_id not in (None, fact.user_id, share.sharer_user_id):
                grants.append(("second_level", parent.sharer_user_id, rule.second_level_campaign_id))
            for role, user_id, campaign_id in grants:
                if user_id is None or campaign_id is None:
                    continue
                self._reward(rule, role, user_id, campaign_id, fact.order_id, fact.at, outputs)

    def _with_current_identity(self, share: ShareNode) -> ShareNode:
        """The sharer may have logged in after sharing: reward the account they have now."""
        sharer = self.persons.get(share.sharer_person_id)
        if sharer is None:
            return share
        return replace(
            share,
            sharer_user_id=share.sharer_user_id or sharer.user_id,
            sharer_openid=share.sharer_openid or sharer.openid,
            sharer_device_id=share.sharer_device_id or sharer.device_id,
        )

    def _reward(
        self,
        rule: Rule,
        role: str,
        user_id: str,
        campaign_id: str,
        source_id: str,
        at: datetime,
        outputs: list[Output],
    ) -> None:
        command_id = stable_id("reward", rule.rule_id, source_id, role)
        outputs.append(
            Output(
                "rewards",
                user_id,
                {
                    "command_id": command_id,
                    "rule_id": rule.rule_id,
                    "rule_version": rule.version,
                    "role": role,
                    "user_id": user_id,
                    "campaign_id": campaign_id,
                    "source_id": source_id,
                    "at": at.isoformat(),
                },
            )
        )

    def _watch_device(self, device_id: str, user_id: str, at: datetime, outputs: list[Output]) -> None:
        accounts = self.accounts_by_device.setdefault(device_id, set())
        if user_id in accounts:
            return
        accounts.add(user_id)
        self.changed_index.add(("device", device_id))
        if is_crowded_device(accounts, limit=self.abuse.accounts_per_device):
            for account in sorted(accounts):
                self._flag(
                    account,
                    "crowded_device",
                    at,
                    {"device_id": device_id, "accounts": len(accounts)},
                    outputs,
                )

    def _flag(
        self, user_id: str, reason: str, at: datetime, evidence: dict[str, Any], outputs: list[Output]
    ) -> None:
        if (user_id, reason) in self.flagged_reasons:
            return
        self.flagged_reasons.add((user_id, reason))
        self.changed_index.add(("flag", f"{user_id}\x1f{reason}"))
        outputs.append(
            Output(
                "flags",
                user_id,
                {
                    "flag_id": stable_id("flag", user_id, reason),
                    "user_id": user_id,
                    "reason": reason,
                    "at": at.isoformat(),
                    "evidence": evidence,
                },
            )
        )

    # -- pushes ----------------------------------------------------------------------------------------
    def _candidate(self, person: PersonState, rule: Rule, now: datetime) -> Candidate | None:
        if rule.kind == "abandoned_cart":
            due = abandoned_due_at(person.cart, delay=rule.delay, sold_out=self._sold_out_frozen)
            if due is None or person.cart.changed_at is None:
                return None
            first = person.cart.lines[0]
            return Candidate(
                episode=person.cart.changed_at.isoformat(),
                due_at=due,
                context=(
                    ("product_name", first.name or first.product_id),
                    ("items", str(len(person.cart.lines))),
                ),
            )
        if rule.kind == "win_back":
            return win_back_due(person.last_active_at, rule)
        if rule.kind == "birthday":
            return birthday_due(person.birthday, now=now, rule=rule)
        if rule.kind == "nearby_offer":
            return nearby_due(person.location, rule)
        return None

    def _schedule(self, person: PersonState, now: datetime) -> None:
        for rule in self._active_pushes:
            self._schedule_rule(person, rule, now)

    def _schedule_rule(self, person: PersonState, rule: Rule, now: datetime) -> None:
        key = (person.person_id, rule.rule_id)
        is_cart = rule.kind == "abandoned_cart"
        if is_cart:
            seen = self._cart_scheduled.get(key)
            if (
                seen is not None
                and seen[0] is person.cart
                and seen[1] is self._sold_out_frozen
                and seen[2] is rule
                and (seen[3] is None or self._scheduled.get(key) == seen[3])
            ):
                return
        candidate = self._candidate(person, rule, now)
        if candidate is None or person.closed.get(rule.rule_id) == candidate.episode:
            if is_cart:  # stays so while the cart is the same: `closed` only ever takes the cart's episode
                self._cart_scheduled[key] = (person.cart, self._sold_out_frozen, rule, None)
            return
        if rule.kind == "birthday" and local_day(candidate.due_at, rule.timezone) < local_day(
            now, rule.timezone
        ):
            return  # this year's birthday has passed; next year's is scheduled when the year comes
        entry = (candidate.due_at, candidate.episode)
        if is_cart:
            self._cart_scheduled[key] = (person.cart, self._sold_out_frozen, rule, entry)
        if self._scheduled.get(key) == entry:
            return
        self._scheduled[key] = entry
        heapq.heappush(self._due, (candidate.due_at, person.person_id, rule.rule_id, candidate.episode))

    def _fire_due(self, until: datetime, outputs: list[Output]) -> None:
        while self._due and self._due[0][0] <= until:
            at, person_id, rule_id, episode = heapq.heappop(self._due)
            if self._scheduled.get((person_id, rule_id)) == (at, episode):
                del self._scheduled[(person_id, rule_id)]
            self._fire(at, person_id, rule_id, episode, outputs)

    def _fire(self, at: datetime, person_id: str, rule_id: str, episode: str, outputs: list[Output]) -> None:
        rule = self.rules.rules.get(rule_id)
        person = self.persons.get(person_id)
        if rule is None or not rule.is_active or person is None or person.closed.get(rule_id) == episode:
            return
        if rule.kind == "abandoned_cart":
            # Every cart change leaves the entry of the change before it on the due-heap: such an entry
            # finds the cart changed since, its reminder not due yet, and is dropped here before the
            # candidate is built (the check below would drop it too, at several times the cost).
            changed_at = person.cart.changed_at
            if changed_at is None or changed_at + rule.delay > at:
                return
        candidate = self._candidate(person, rule, at)
        if candidate is None or candidate.episode != episode or candidate.due_at > at:
            return  # the person exited (paid, emptied the cart, items sold out) or a newer episode began
        deferred = person.deferred.get(rule_id)
        if deferred is not None and deferred[1] == episode and deferred[0] > at:
            return  # already waiting for the end of quiet hours
        fired_at = max(at, self.now) if self.now is not None else at
        today = local_day(fired_at, self.policy.timezone)
        verdict = judge(
            person_id=person_id,
            rule=rule,
            policy=self.policy,
            now=fired_at,
            last_entered_at=person.last_entered.get(rule_id),
            quota_left=person.quota.get(rule.template_id, 0) if rule.template_id else 0,
            sends_today=sum(
                1 for sent_at, _ in person.sends if local_day(sent_at, self.policy.timezone) == today
            ),
            profile=person.audience_profile(
                newest_paid_at=self.newest_paid_at, timezone=self.policy.timezone
            ),
        )
        self.dirty.add(person_id)
        if verdict.outcome == "defer":
            assert verdict.until is not None
            person.deferred[rule_id] = (verdict.until, episode)
            heapq.heappush(self._due, (verdict.until, person_id, rule_id, episode))
            return
        person.deferred.pop(rule_id, None)
        person.closed[rule_id] = episode
        if verdict.outcome == "suppress":
            self.suppressed[verdict.reason] = self.suppressed.get(verdict.reason, 0) + 1
            return
        person.last_entered[rule_id] = fired_at
        trigger_id = stable_id("trg", rule_id, person_id, episode)
        if verdict.outcome == "send":
            if rule.template_id:
                person.quota[rule.template_id] = person.quota.get(rule.template_id, 0) - 1
            person.sends = [(t, r) for t, r in person.sends if t > fired_at - timedelta(days=2)]
            person.sends.append((fired_at, rule_id))
            if rule.coupon_campaign_id and person.user_id:
                self._reward(
                    rule, "push_gift", person.user_id, rule.coupon_campaign_id, trigger_id, fired_at, outputs
                )
        context = dict(candidate.context)
        page = rule.page
        if page is not None:
            page = f"{page}{'&' if '?' in page else '?'}push_id={trigger_id}"
        outputs.append(
            Output(
                "triggers",
                person_id,
                {
                    "trigger_id": trigger_id,
                    "rule_id": rule_id,
                    "rule_version": rule.version,
                    "kind": rule.kind,
                    "person_id": person_id,
                    "user_id": person.user_id,
                    "openid": person.openid,
                    "episode": episode,
                    "due_at": candidate.due_at.isoformat(),
                    "fired_at": fired_at.isoformat(),
                    "outcome": verdict.outcome,
                    "template_id": rule.template_id,
                    "page": page,
                    "data": render_template_data(rule.template_data, context) if rule.template_id else {},
                },
            )
        )


def run_log(engine: Engine, inputs: Iterable[Input], *, until: datetime) -> list[Output]:
    """Replay a recorded log through the engine and advance event time to `until` (tests, replays, bench)."""
    outputs: list[Output] = []
    for item in inputs:
        outputs += engine.offer(item)
        outputs += engine.advance()
    outputs += engine.advance_to(until)
    return outputs
