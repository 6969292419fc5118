"""Why a product is recommended, as a code and parameters that each reader renders in its own language.

The model decides the reason (:class:`Reason`: ``code`` and ``params`` such as the anchor product's name or
the shopper's province); the mini-program, the API's ``reason`` text and the dashboards render it with
:meth:`Reason.text` in Chinese (the default: the shop's language) or English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Language = Literal["zh", "en"]
ReasonCode = Literal[
    "viewed",
    "added_to_cart",
    "bought",
    "similar_to",
    "bought_with",
    "popular",
    "popular_in_region",
    "popular_with_channel",
    "popular_in_shop",
    "more_in_category",
]

TEMPLATES: Final[dict[str, dict[Language, str]]] = {
    "viewed": {"zh": "因为你浏览过{product}", "en": "because you viewed {product}"},
    "added_to_cart": {
        "zh": "因为你把{product}加入了购物车",
        "en": "because you added {product} to your cart",
    },
    "bought": {"zh": "因为你购买过{product}", "en": "because you bought {product}"},
    "similar_to": {"zh": "与{product}相似", "en": "similar to {product}"},
    "bought_with": {"zh": "常与{product}一起购买", "en": "often bought with {product}"},
    "popular": {"zh": "近期热销", "en": "popular right now"},
    "popular_in_region": {"zh": "{region}热销", "en": "popular in {region}"},
    "popular_with_channel": {"zh": "{channel}来的顾客都在买", "en": "popular with shoppers from {channel}"},
    "popular_in_shop": {"zh": "本店热销", "en": "popular in the shop"},
    "more_in_category": {"zh": "同类热销", "en": "more in this category"},
}
# How a reason names an acquisition channel (ingestion/contract/scenes.py); others are spelled out.
CHANNEL_LABELS: Final[dict[str, dict[Language, str]]] = {
    "share_single_chat": {"zh": "好友分享", "en": "shared links"},
    "share_group_chat": {"zh": "群分享", "en": "shared links"},
    "qr_code": {"zh": "扫码", "en": "QR codes"},
    "mini_program_code": {"zh": "小程序码", "en": "mini-program codes"},
    "subscribe_message": {"zh": "订阅消息", "en": "subscribe messages"},
    "search": {"zh": "微信搜索", "en": "WeChat search"},
    "ads": {"zh": "广告", "en": "ads"},
    "official_account_article": {"zh": "公众号文章", "en": "official-account articles"},
}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why one product is shown: a code from :data:`TEMPLATES` and its parameters (all strings).

    ``product`` is the anchor product's display name, ``product_id`` its id; ``region`` a province as the
    shopper's profile spells it; ``channel`` an acquisition channel code.
    """

    code: ReasonCode
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, code: ReasonCode, **params: str) -> Reason:
        if code not in TEMPLATES:
            raise ValueError(f"unknown reason code {code!r}")
        return cls(code, tuple(sorted(params.items())))

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.params)

    def text(self, language: Language = "zh") -> str:
        """The reason as the shopper reads it, in ``language``."""
        return render(self.code, self.parameters, language)


def render(code: str, params: Mapping[str, str], language: Language = "zh") -> str:
    """A reason code and its parameters (as the API returns them) in ``language``."""
    templates = TEMPLATES.get(code)
    if templates is None:
        raise ValueError(f"unknown reason code {code!r}")
    values = dict(params)
    channel = values.get("channel")
    if channel is not None:
        values["channel"] = CHANNEL_LABELS.get(channel, {}).get(language, channel.replace("_", " "))
    return templates[language].format_map(_Missing(values))


class _Missing(dict[str, str]):
    """Leaves a parameter the caller did not give as an empty string rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""
