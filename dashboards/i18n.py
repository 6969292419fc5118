"""Labels in Simplified Chinese and English. Pages ask for a key; a missing translation fails loudly in tests."""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["zh", "en"]
LANGUAGES: Final[dict[Language, str]] = {"zh": "中文", "en": "English"}

_TEXT: Final[dict[str, dict[Language, str]]] = {
    "app.title": {"zh": "ShopLoop 数据看板", "en": "ShopLoop dashboards"},
    "app.language": {"zh": "语言", "en": "Language"},
    "funnel.page": {"zh": "转化漏斗", "en": "Funnel"},
    "funnel.title": {"zh": "购物转化漏斗", "en": "Shopping funnel"},
    "funnel.caption": {
        "zh": "浏览商品 → 加入购物车 → 发起结算 → 支付，按日去重的访客数（同一天、同一渠道和场景内按时间先后完成各步骤）。",
        "en": "Product viewed → added to cart → checkout started → paid, in distinct shoppers per day "
        "(each step after the one before, the same day, channel and scene).",
    },
    "funnel.no_warehouse": {
        "zh": "还没有发布的数据仓库。请先运行 `shoploop dbt build`（或 `make demo`），几秒钟后刷新本页。",
        "en": "No warehouse has been published yet. Run `shoploop dbt build` (or `make demo`) "
        "and refresh this page in a few seconds.",
    },
    "funnel.no_data": {
        "zh": "数据仓库已就绪，但还没有任何漏斗数据。小程序产生浏览和下单后，这里会自动更新。",
        "en": "The warehouse is ready but has no funnel data yet. It fills in as shoppers browse and order.",
    },
    "funnel.today": {"zh": "今日", "en": "Today"},
    "funnel.range": {"zh": "所选日期", "en": "Selected dates"},
    "funnel.range_note": {
        "zh": "多日合计为每日去重访客数之和（人次）。",
        "en": "Totals over several days add up each day's distinct shoppers (shopper-days).",
    },
    "funnel.daily_table": {"zh": "每日明细", "en": "Daily detail"},
    "funnel.download": {"zh": "下载 CSV", "en": "Download CSV"},
    "filter.dates": {"zh": "日期范围", "en": "Date range"},
    "filter.channels": {"zh": "渠道", "en": "Channels"},
    "filter.scenes": {"zh": "场景值", "en": "Scenes"},
    "filter.all": {"zh": "全部", "en": "All"},
    "step.viewed": {"zh": "浏览商品", "en": "Viewed a product"},
    "step.added": {"zh": "加入购物车", "en": "Added to cart"},
    "step.checkout": {"zh": "发起结算", "en": "Started checkout"},
    "step.paid": {"zh": "完成支付", "en": "Paid"},
    "chart.of_first": {"zh": "占首步", "en": "of first step"},
    "chart.of_previous": {"zh": "较上一步", "en": "of previous"},
    "metric.orders": {"zh": "订单数", "en": "Orders"},
    "metric.gmv": {"zh": "成交额 (GMV)", "en": "GMV"},
    "metric.view_to_paid": {"zh": "浏览→支付", "en": "View → paid"},
    "column.event_date": {"zh": "日期", "en": "Date"},
    "column.channel": {"zh": "渠道", "en": "Channel"},
    "column.scene": {"zh": "场景值", "en": "Scene"},
    "column.gmv_yuan": {"zh": "成交额 (元)", "en": "GMV (yuan)"},
    "column.view_to_paid_rate": {"zh": "浏览→支付", "en": "View → paid"},
    "freshness.built": {"zh": "数据更新于 {at}（{ago}前）", "en": "Data built at {at} ({ago} ago)"},
    "freshness.no_events": {"zh": "尚无事件", "en": "no events yet"},
    "freshness.last_event": {"zh": "最新事件 {at}", "en": "latest event {at}"},
    "ago.seconds": {"zh": "{n} 秒", "en": "{n} s"},
    "ago.minutes": {"zh": "{n} 分钟", "en": "{n} min"},
    "ago.hours": {"zh": "{n} 小时", "en": "{n} h"},
    "ago.days": {"zh": "{n} 天", "en": "{n} d"},
}

_CHANNELS: Final[dict[str, dict[Language, str]]] = {
    "share_single_chat": {"zh": "好友分享", "en": "Shared in a chat"},
    "share_group_chat": {"zh": "群分享", "en": "Shared in a group"},
    "qr_code": {"zh": "扫二维码", "en": "QR code"},
    "mini_program_code": {"zh": "扫小程序码", "en": "Mini-program code"},
    "subscribe_message": {"zh": "订阅消息", "en": "Subscribe message"},
    "recent_list": {"zh": "最近使用", "en": "Recently used"},
    "discover_menu": {"zh": "发现-小程序", "en": "Discover menu"},
    "search": {"zh": "微信搜索", "en": "WeChat search"},
    "other_mini_program": {"zh": "其他小程序", "en": "Another mini-program"},
    "official_account_article": {"zh": "公众号文章", "en": "Official-account article"},
    "ads": {"zh": "广告", "en": "Ads"},
    "other": {"zh": "其他", "en": "Other"},
    "direct": {"zh": "直接访问", "en": "Direct"},
}


def text(key: str, language: Language, **values: object) -> str:
    """The label for `key` in `language`, with `{placeholders}` filled from `values`."""
    return _TEXT[key][language].format(**values)


def channel_label(channel: str, language: Language) -> str:
    """A channel's display name; unknown channels show their code."""
    return _CHANNELS.get(channel, {}).get(language, channel)


def scene_label(scene: int, language: Language) -> str:
    if scene == 0:
        return "无" if language == "zh" else "none"
    return str(scene)
