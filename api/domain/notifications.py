"""Order subscribe messages (订阅消息): which order changes notify the shopper, and the message's fields.

Field values follow WeChat's limits (thing ≤ 20 chars, phrase ≤ 5, amount = symbol + ≤ 10 digits).
"""

from __future__ import annotations

from enum import StrEnum


class NotificationKind(StrEnum):
    ORDER_PAID = "order_paid"
    ORDER_SHIPPED = "order_shipped"
    ORDER_REFUNDED = "order_refunded"


class SendStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    # 43101: the shopper gave no (or no more) consent for this template; never retried.
    NO_QUOTA = "no_quota"
    FAILED = "failed"


PHRASES = {
    NotificationKind.ORDER_PAID: "已支付",
    NotificationKind.ORDER_SHIPPED: "已发货",
    NotificationKind.ORDER_REFUNDED: "已退款",
}
QUOTA_ERRCODE = 43101
MAX_ATTEMPTS = 5


def format_amount(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def message_data(kind: NotificationKind, *, order_id: str, title: str, amount_fen: int) -> dict[str, str]:
    return {
        "character_string1": order_id[:32],
        "thing2": title[:20] or "订单商品",
        "amount3": format_amount(amount_fen),
        "phrase4": PHRASES[kind],
    }


def order_page(order_id: str) -> str:
    return f"pages/order/detail?id={order_id}"
