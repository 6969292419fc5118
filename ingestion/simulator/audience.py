"""Who visits: the WeChat scenes shoppers arrive from and the phones they hold, with realistic shares."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

# Scenes a first visit comes from (share scenes are not here: those visits come from simulated shares).
# Shares, from the WeChat open-class reports: QR and mini-program codes and search lead, articles and the
# recent list follow, ads and the discover menu trail.
ARRIVAL_SCENES: Final[dict[int, float]] = {
    1011: 0.10,  # QR code scanned
    1012: 0.02,  # QR code long-pressed in a picture
    1013: 0.03,  # QR code picked from the album
    1047: 0.12,  # mini-program code scanned
    1053: 0.16,  # WeChat search result
    1058: 0.13,  # official-account article
    1089: 0.17,  # recent list (swipe down in chats)
    1001: 0.12,  # discover → mini programs
    1045: 0.15,  # Moments / WeChat ads
}
# A shopper who comes back later reopens the shop from the recent list, the discover menu or search.
RETURN_SCENES: Final[dict[int, float]] = {1089: 0.6, 1001: 0.25, 1053: 0.15}

SINGLE_CHAT_SCENE: Final = 1007
# Opening the mini-program from a subscribe message (订阅消息).
SUBSCRIBE_MESSAGE_SCENE: Final = 1014
GROUP_CHAT_SCENE: Final = 1008
GROUP_CHAT_TICKET_SCENE: Final = 1044  # a group share opened with a shareTicket

WECHAT_VERSIONS: Final = ("8.0.47", "8.0.48", "8.0.49", "8.0.50")
BASE_LIBRARY_VERSIONS: Final = ("3.3.4", "3.4.3", "3.4.8", "3.5.1")


@dataclass(frozen=True, slots=True)
class Phone:
    manufacturer: str
    model: str
    os_name: str
    os_versions: tuple[str, ...]
    screen: tuple[int, int, float]
    share: float


PHONES: Final[tuple[Phone, ...]] = (
    Phone("Apple", "iPhone 13", "iOS", ("16.7.8", "17.4.1"), (390, 844, 3.0), 0.12),
    Phone("Apple", "iPhone 14 Pro", "iOS", ("17.4.1", "17.5.1"), (393, 852, 3.0), 0.10),
    Phone("Apple", "iPhone 15", "iOS", ("17.5.1", "18.0"), (393, 852, 3.0), 0.10),
    Phone("HUAWEI", "Mate 60 Pro", "Android", ("12",), (412, 915, 3.0), 0.12),
    Phone("HUAWEI", "nova 12", "Android", ("12",), (393, 873, 2.75), 0.06),
    Phone("Xiaomi", "Xiaomi 14", "Android", ("14",), (393, 873, 2.75), 0.09),
    Phone("Xiaomi", "Redmi K70", "Android", ("14",), (393, 873, 2.75), 0.08),
    Phone("OPPO", "Reno11", "Android", ("14",), (412, 915, 2.625), 0.09),
    Phone("vivo", "X100", "Android", ("14",), (412, 915, 2.625), 0.09),
    Phone("HONOR", "Magic6", "Android", ("14",), (412, 915, 2.625), 0.07),
    Phone("OnePlus", "Ace 3", "Android", ("14",), (412, 915, 2.625), 0.04),
    Phone("samsung", "Galaxy S24", "Android", ("14",), (360, 780, 3.0), 0.04),
)

CITIES: Final[tuple[tuple[str, str, float], ...]] = (
    ("广东", "深圳", 0.12),
    ("广东", "广州", 0.11),
    ("上海", "上海", 0.12),
    ("北京", "北京", 0.10),
    ("浙江", "杭州", 0.09),
    ("四川", "成都", 0.09),
    ("江苏", "南京", 0.07),
    ("湖北", "武汉", 0.07),
    ("陕西", "西安", 0.06),
    ("重庆", "重庆", 0.06),
    ("福建", "厦门", 0.05),
    ("湖南", "长沙", 0.06),
)


def pick_weighted(rng: random.Random, weights: dict[int, float]) -> int:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


@dataclass(frozen=True, slots=True)
class Device:
    """One shopper's phone as the mini-program reports it: the same on every visit."""

    phone: Phone
    os_version: str
    wechat_version: str
    base_library_version: str
    is_wifi: bool
    carrier: str

    def context(self) -> dict[str, Any]:
        width, height, density = self.phone.screen
        return {
            "device": {
                "manufacturer": self.phone.manufacturer,
                "model": self.phone.model,
                "type": "ios" if self.phone.os_name == "iOS" else "android",
            },
            "os": {"name": self.phone.os_name, "version": self.os_version},
            "network": {"wifi": self.is_wifi, "cellular": not self.is_wifi, "carrier": self.carrier},
            "screen": {"width": width, "height": height, "density": density},
        }


def pick_device(rng: random.Random) -> Device:
    phone = rng.choices(PHONES, weights=[phone.share for phone in PHONES])[0]
    return Device(
        phone=phone,
        os_version=rng.choice(phone.os_versions),
        wechat_version=rng.choice(WECHAT_VERSIONS),
        base_library_version=rng.choice(BASE_LIBRARY_VERSIONS),
        is_wifi=rng.random() < 0.6,
        carrier=rng.choices(("中国移动", "中国联通", "中国电信"), weights=(0.55, 0.25, 0.2))[0],
    )


def pick_city(rng: random.Random) -> tuple[str, str]:
    province, city, _ = rng.choices(CITIES, weights=[share for _, _, share in CITIES])[0]
    return province, city
