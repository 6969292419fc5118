"""WeChat scene values (场景值) and the acquisition channel each one means."""

from __future__ import annotations

from typing import Final

SHARE_SCENES: Final = frozenset({1007, 1008, 1044})

# One channel name per way a shopper can enter the mini-program; analysts group funnels by it.
_CHANNEL_BY_SCENE: Final[dict[int, str]] = {
    1007: "share_single_chat",
    1008: "share_group_chat",
    1044: "share_group_chat",
    1011: "qr_code",
    1012: "qr_code",
    1013: "qr_code",
    1047: "mini_program_code",
    1048: "mini_program_code",
    1049: "mini_program_code",
    1014: "subscribe_message",
    1107: "subscribe_message",
    1089: "recent_list",
    1001: "discover_menu",
    1053: "search",
    1037: "other_mini_program",
    1058: "official_account_article",
    1045: "ads",
    1046: "ads",
}

UNKNOWN_CHANNEL: Final = "other"
DIRECT_CHANNEL: Final = "direct"


def channel_for_scene(scene: int | None) -> str:
    """Name the acquisition channel of a WeChat scene value; events without a scene count as direct."""
    if scene is None:
        return DIRECT_CHANNEL
    return _CHANNEL_BY_SCENE.get(scene, UNKNOWN_CHANNEL)


def is_share_scene(scene: int | None) -> bool:
    return scene in SHARE_SCENES
