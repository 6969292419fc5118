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
    "page.no_data": {
        "zh": "数据仓库已就绪，但这里还没有数据。",
        "en": "The warehouse is ready but has no data here yet.",
    },
    "metric.aov": {"zh": "客单价", "en": "AOV"},
    "metric.conversion": {"zh": "下单转化率", "en": "Conversion"},
    "metric.active_shoppers": {"zh": "活跃用户", "en": "Active shoppers"},
    "overview.page": {"zh": "经营概览", "en": "Overview"},
    "overview.title": {"zh": "经营概览", "en": "Overview"},
    "overview.caption": {
        "zh": "已支付订单来自订单中心（按支付日），活跃用户为有访问的去重用户；转化率 = 支付用户 ÷ 活跃用户。",
        "en": "Paid orders from the order book (by payment day); active shoppers are distinct visitors; "
        "conversion = paying shoppers ÷ active shoppers.",
    },
    "overview.compared": {"zh": "与上一周期 {start} – {end} 相比", "en": "Compared with {start} – {end}"},
    "retention.page": {"zh": "留存复购", "en": "Retention"},
    "retention.title": {"zh": "留存与复购", "en": "Retention and repurchase"},
    "retention.caption": {
        "zh": "按首次访问周/月分组，之后每周/月仍有访问的用户占比。",
        "en": "Shoppers grouped by the week or month of their first visit; the share still visiting later.",
    },
    "retention.grain": {"zh": "粒度", "en": "Grain"},
    "retention.week": {"zh": "按周", "en": "Weekly"},
    "retention.month": {"zh": "按月", "en": "Monthly"},
    "retention.cohorts": {"zh": "群组数", "en": "Cohorts"},
    "retention.shoppers": {"zh": "群组用户", "en": "Cohort shoppers"},
    "retention.after_one_week": {"zh": "次周留存", "en": "Week-1 retention"},
    "retention.after_one_month": {"zh": "次月留存", "en": "Month-1 retention"},
    "retention.periods_week": {"zh": "距首次访问的周数", "en": "Weeks since first visit"},
    "retention.periods_month": {"zh": "距首次访问的月数", "en": "Months since first visit"},
    "retention.repurchase": {"zh": "复购", "en": "Repurchase"},
    "retention.buyers": {"zh": "购买用户", "en": "Buyers"},
    "retention.repeat_buyers": {"zh": "复购用户", "en": "Repeat buyers"},
    "retention.repeat_rate": {"zh": "复购率", "en": "Repeat rate"},
    "products.page": {"zh": "商品分析", "en": "Products"},
    "products.title": {"zh": "商品分析", "en": "Products"},
    "products.caption": {
        "zh": "热销榜、品类表现和浏览→购买转化（购买人数 ÷ 浏览人数），低库存来自订单中心。",
        "en": "Best sellers, categories and view → purchase conversion (buyers ÷ viewers); low stock from the order core.",
    },
    "products.sold": {"zh": "有销量商品", "en": "Products sold"},
    "products.units": {"zh": "销量（件）", "en": "Units"},
    "products.revenue": {"zh": "销售额", "en": "Revenue"},
    "products.conversion": {"zh": "浏览→购买", "en": "View → purchase"},
    "products.hot": {"zh": "热销榜", "en": "Best sellers"},
    "products.categories": {"zh": "品类表现", "en": "Categories"},
    "products.low_stock": {"zh": "低库存", "en": "Low stock"},
    "products.low_stock_skus": {"zh": "低库存 SKU", "en": "Low-stock SKUs"},
    "products.low_stock_needs_api": {
        "zh": "低库存来自订单中心后台接口：请设置 SHOPLOOP_DASHBOARD_API_USERNAME / _API_PASSWORD。",
        "en": "Low stock comes from the order core's back office: set SHOPLOOP_DASHBOARD_API_USERNAME / _API_PASSWORD.",
    },
    "users.page": {"zh": "用户画像", "en": "Users"},
    "users.title": {"zh": "用户画像", "en": "Users"},
    "users.caption": {
        "zh": "RFM 分层、兴趣标签、省份分布和常用活跃时段（北京时间）。",
        "en": "RFM segments, interest tags, provinces and usual active hours (shop time).",
    },
    "users.shoppers": {"zh": "用户数", "en": "Shoppers"},
    "users.segments": {"zh": "分层数", "en": "Segments"},
    "users.largest": {"zh": "最大分层", "en": "Largest segment"},
    "users.rfm": {"zh": "RFM 分层", "en": "RFM segments"},
    "users.tags": {"zh": "兴趣标签", "en": "Interest tags"},
    "users.regions": {"zh": "省份分布", "en": "Provinces"},
    "users.regions_note": {
        "zh": "所选日期内每日活跃用户之和（人次）；悬停查看成交额。",
        "en": "Daily active shoppers added up over the dates (shopper-days); hover for GMV.",
    },
    "users.hours": {"zh": "活跃时段", "en": "Active hours"},
    "users.hour": {"zh": "小时（北京时间）", "en": "Hour (shop time)"},
    "referrals.page": {"zh": "分享裂变", "en": "Referrals"},
    "referrals.title": {"zh": "分享裂变", "en": "Referrals"},
    "referrals.caption": {
        "zh": "分享带来的新用户、K 因子、归因成交额和奖励，以及每棵分享树。",
        "en": "New shoppers from shares, K-factor, attributed GMV and rewards, and each share tree.",
    },
    "referrals.shares": {"zh": "分享次数", "en": "Shares"},
    "referrals.sharers": {"zh": "分享人", "en": "Sharers"},
    "referrals.new_shoppers": {"zh": "带来新用户", "en": "New shoppers"},
    "referrals.k_factor": {"zh": "K 因子", "en": "K-factor"},
    "referrals.k_note": {
        "zh": "K 因子 = 带来新用户 ÷ 分享人数。",
        "en": "K-factor = new shoppers ÷ sharers.",
    },
    "referrals.gmv": {"zh": "归因成交额", "en": "Attributed GMV"},
    "referrals.rewards": {"zh": "奖励次数", "en": "Rewards"},
    "referrals.top_sharers": {"zh": "分享达人", "en": "Top sharers"},
    "referrals.trees": {"zh": "分享树", "en": "Share trees"},
    "referrals.pick_tree": {"zh": "选择分享树（根分享 · 分享数）", "en": "Share tree (root share · shares)"},
    "experiments.page": {"zh": "A/B 实验", "en": "Experiments"},
    "experiments.title": {"zh": "A/B 实验", "en": "Experiments"},
    "experiments.caption": {
        "zh": "各组转化率及 95% 置信区间，与对照组做双侧 z 检验。",
        "en": "Each variant's conversion with its 95% confidence interval; two-sided z-test against control.",
    },
    "experiments.none": {"zh": "还没有实验数据。", "en": "No experiment has data yet."},
    "experiments.pick": {"zh": "实验", "en": "Experiment"},
    "experiments.conversion": {"zh": "转化率", "en": "conversion"},
    "experiments.ci": {
        "zh": "95% 置信区间 {low} – {high} · 曝光 {exposed} 人 · 收入 {revenue}",
        "en": "95% CI {low} – {high} · {exposed} exposed · revenue {revenue}",
    },
    "verdict.no_data": {
        "zh": "{variant}：数据还不够，无法判断。",
        "en": "{variant}: not enough data to judge yet.",
    },
    "verdict.better": {
        "zh": "{variant} 胜出：转化率比对照组 {uplift}（相对 {relative}，p = {p}），差异显著，可以全量上线。",
        "en": "{variant} wins: conversion {uplift} against control ({relative} relative, p = {p}), a real "
        "difference — roll it out.",
    },
    "verdict.worse": {
        "zh": "{variant} 更差：转化率比对照组 {uplift}（相对 {relative}，p = {p}），建议停止。",
        "en": "{variant} is worse: conversion {uplift} against control ({relative} relative, p = {p}) — stop it.",
    },
    "verdict.inconclusive": {
        "zh": "{variant}：转化率比对照组 {uplift}（相对 {relative}，p = {p}），差异还不显著，继续观察。",
        "en": "{variant}: conversion {uplift} against control ({relative} relative, p = {p}), not a clear "
        "difference yet — keep it running.",
    },
    "recommender.page": {"zh": "推荐系统", "en": "Recommender"},
    "recommender.title": {"zh": "推荐系统", "en": "Recommender"},
    "recommender.caption": {
        "zh": "模型注册表中每个版本的离线指标，以及线上模型给指定用户的推荐和理由。",
        "en": "Offline metrics of every model version in the registry, and the live model's picks for a shopper.",
    },
    "recommender.no_runs": {
        "zh": "模型注册表还没有训练记录。请运行 `shoploop recsys train`。",
        "en": "The model registry has no training run yet. Run `shoploop recsys train`.",
    },
    "recommender.runs": {"zh": "模型版本", "en": "Model versions"},
    "recommender.live": {"zh": "线上版本", "en": "Live version"},
    "recommender.ctr": {"zh": "点击率", "en": "Click-through rate"},
    "recommender.no_ctr": {
        "zh": "暂无点击率：数据仓库里还没有汇总 Recommendation Shown / Clicked 事件的模型。",
        "en": "No click-through rate yet: no mart in the warehouse counts Recommendation Shown / Clicked events.",
    },
    "recommender.examples": {"zh": "推荐示例", "en": "Example recommendations"},
    "recommender.pick": {"zh": "用户", "en": "Shopper"},
    "recommender.cold_start": {
        "zh": "模型没见过这位用户：以下为近期热门（冷启动）。",
        "en": "The model has not seen this shopper: these are recent best sellers (cold start).",
    },
    "live.page": {"zh": "实时", "en": "Live"},
    "live.title": {"zh": "实时数据", "en": "Live"},
    "live.caption": {
        "zh": "流处理按事件时间每分钟汇总，本页每隔几秒自动刷新。",
        "en": "Per-minute numbers from the streams by event time; this page refreshes itself every few seconds.",
    },
    "live.none": {"zh": "还没有实时数据。", "en": "No live numbers yet."},
    "live.latest": {"zh": "最新一分钟 · {minute}", "en": "Latest minute · {minute}"},
    "live.window": {"zh": "最近 {n} 分钟", "en": "Last {n} minutes"},
    "live.events": {"zh": "事件数", "en": "Events"},
    "live.new_shoppers": {"zh": "新用户", "en": "New shoppers"},
    "live.product_views": {"zh": "商品浏览", "en": "Product views"},
    "live.cart_adds": {"zh": "加购", "en": "Cart adds"},
    "live.orders": {"zh": "订单数", "en": "Orders"},
    "console.page": {"zh": "自动化营销", "en": "Automations"},
    "console.title": {"zh": "自动化营销", "en": "Automations"},
    "console.caption": {
        "zh": "购物车提醒、老客召回、生日关怀：规则经订单中心后台接口保存并发布给流处理；效果与对照组比较。",
        "en": "Abandoned cart, win-back, birthday: rules are saved through the order core's back office and "
        "published to the streams; results are compared with the holdout.",
    },
    "console.results": {"zh": "推送效果", "en": "Results"},
    "console.no_results": {"zh": "还没有推送记录。", "en": "No push has been sent yet."},
    "console.sent": {"zh": "已发送", "en": "Sent"},
    "console.opened": {"zh": "已打开", "en": "Opened"},
    "console.converted": {"zh": "已转化", "en": "Converted"},
    "console.revenue": {"zh": "归因收入", "en": "Revenue"},
    "console.lift": {"zh": "相对对照组的转化提升", "en": "Conversion lift vs holdout"},
    "console.lift_note": {
        "zh": "点为提升值，竖线为 95% 置信区间；区间跨过 0 说明还不能确定有效。",
        "en": "Dots are the lift, bars its 95% confidence interval; an interval across 0 is not yet a proven effect.",
    },
    "console.rules": {"zh": "规则", "en": "Rules"},
    "console.pick_rule": {"zh": "编辑规则", "en": "Edit rule"},
    "console.new_rule": {"zh": "＋ 新建规则", "en": "+ New rule"},
    "console.rule_id": {"zh": "规则 ID", "en": "Rule id"},
    "console.kind": {"zh": "类型", "en": "Kind"},
    "console.delay": {"zh": "延迟", "en": "Delay"},
    "console.delay_unit": {"zh": "延迟单位", "en": "Delay unit"},
    "unit.s": {"zh": "秒", "en": "seconds"},
    "unit.min": {"zh": "分钟", "en": "minutes"},
    "unit.h": {"zh": "小时", "en": "hours"},
    "console.rule_results": {
        "zh": "{rule} 版本 {version} 的效果",
        "en": "Results of {rule} version {version}",
    },
    "console.rule_no_results": {
        "zh": "这个版本还没有推送记录（数据仓库刷新后出现）。",
        "en": "No push of this version yet (they appear after the warehouse refresh).",
    },
    "console.cooldown": {"zh": "频控：同一用户间隔（小时）", "en": "Cap: once per person every (hours)"},
    "console.holdout": {"zh": "对照组比例 (%)", "en": "Holdout share (%)"},
    "console.quiet_start": {"zh": "免打扰开始", "en": "Quiet hours from"},
    "console.quiet_end": {"zh": "免打扰结束", "en": "Quiet hours until"},
    "console.send_at": {"zh": "生日祝福发送时间", "en": "Birthday greeting at"},
    "console.template": {"zh": "订阅消息模板 ID", "en": "Subscribe-message template id"},
    "console.page_path": {"zh": "点击跳转页面", "en": "Page opened on tap"},
    "console.coupon": {"zh": "优惠券活动 ID", "en": "Coupon campaign id"},
    "console.active": {"zh": "启用", "en": "Active"},
    "console.audience": {"zh": "目标人群（预估）", "en": "Audience (estimate)"},
    "console.segments": {"zh": "RFM 分层", "en": "RFM segments"},
    "console.provinces": {"zh": "省份", "en": "Provinces"},
    "console.min_orders": {"zh": "至少下单次数", "en": "At least this many orders"},
    "console.preview": {"zh": "预计触达人数", "en": "Audience size"},
    "console.preview_note": {
        "zh": "按当前数据估算：发送 {sent} 人，对照组 {held} 人。人群筛选仅用于预估（规则模型暂不支持）。",
        "en": "Estimated from today's data: {sent} sent, {held} held out. Audience filters only shape this "
        "estimate (the rule model has no audience field yet).",
    },
    "console.needs_id": {"zh": "请填写规则 ID。", "en": "Give the rule an id."},
    "console.save": {"zh": "保存并发布", "en": "Save and publish"},
    "console.pause": {"zh": "暂停", "en": "Pause"},
    "console.resume": {"zh": "恢复", "en": "Resume"},
    "console.archive": {"zh": "归档", "en": "Archive"},
    "console.saved": {"zh": "已保存 {rule}（版本 {version}）", "en": "Saved {rule} (version {version})"},
    "console.archived": {
        "zh": "已归档 {rule}（版本 {version}）",
        "en": "Archived {rule} (version {version})",
    },
    "console.offline": {
        "zh": "未连接订单中心：可以填写规则并预估人群，但无法保存。",
        "en": "Not connected to the order core: you can draft a rule and preview its audience, but not save it.",
    },
    "console.unreachable": {
        "zh": "无法连接订单中心 API（{url}）。规则暂时无法查看或保存。",
        "en": "The order core API at {url} is unreachable. Rules cannot be listed or saved right now.",
    },
    "console.refused": {"zh": "订单中心拒绝了请求：{message}", "en": "The order core refused: {message}"},
    "console.login_prompt": {
        "zh": "以营销人员身份登录订单中心（{url}）",
        "en": "Log in to the order core ({url}) as a marketer",
    },
    "console.username": {"zh": "用户名", "en": "Username"},
    "console.password": {"zh": "密码", "en": "Password"},
    "console.login": {"zh": "登录", "en": "Log in"},
    "kind.abandoned_cart": {"zh": "购物车提醒", "en": "Abandoned cart"},
    "kind.win_back": {"zh": "老客召回", "en": "Win-back"},
    "kind.birthday": {"zh": "生日关怀", "en": "Birthday"},
}

_SEGMENTS: Final[dict[str, dict[Language, str]]] = {
    "champion": {"zh": "重要价值", "en": "Champions"},
    "loyal": {"zh": "忠诚", "en": "Loyal"},
    "new": {"zh": "新客", "en": "New"},
    "at_risk": {"zh": "流失风险", "en": "At risk"},
    "hibernating": {"zh": "沉睡", "en": "Hibernating"},
    "needs_attention": {"zh": "需关注", "en": "Needs attention"},
    "prospect": {"zh": "潜在（未购买）", "en": "Prospects"},
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

# Display names of the columns the pages' tables show; CSV downloads keep the column names themselves.
_COLUMNS: Final[dict[str, dict[Language, str]]] = {
    "active_shoppers": {"zh": "活跃用户", "en": "Active shoppers"},
    "attributed_gmv_fen": {"zh": "归因成交额 (¥)", "en": "Attributed GMV (¥)"},
    "attributed_orders": {"zh": "归因订单", "en": "Attributed orders"},
    "attributed_revenue_fen": {"zh": "归因收入 (¥)", "en": "Attributed revenue (¥)"},
    "avg_days_between_orders": {"zh": "平均复购间隔 (天)", "en": "Avg days between orders"},
    "buyers": {"zh": "购买用户", "en": "Buyers"},
    "cart_adds": {"zh": "加购次数", "en": "Add-to-carts"},
    "category": {"zh": "品类", "en": "Category"},
    "checkouts": {"zh": "发起结算", "en": "Checkouts"},
    "cohort_month": {"zh": "同期群 (月)", "en": "Cohort month"},
    "cohort_shoppers": {"zh": "同期群人数", "en": "Cohort shoppers"},
    "cohort_start": {"zh": "同期群起始", "en": "Cohort start"},
    "conversion": {"zh": "转化率", "en": "Conversion"},
    "conversion_ci_high": {"zh": "转化率 95% 上限", "en": "Conversion 95% CI high"},
    "conversion_ci_low": {"zh": "转化率 95% 下限", "en": "Conversion 95% CI low"},
    "conversion_rate": {"zh": "转化率", "en": "Conversion rate"},
    "converted": {"zh": "已转化", "en": "Converted"},
    "converted_shoppers": {"zh": "转化用户", "en": "Converted shoppers"},
    "day": {"zh": "日期", "en": "Day"},
    "depth": {"zh": "分享层级", "en": "Depth"},
    "entered_shoppers": {"zh": "进入用户", "en": "Shoppers who entered"},
    "events": {"zh": "事件数", "en": "Events"},
    "experiment_id": {"zh": "实验", "en": "Experiment"},
    "exposed_shoppers": {"zh": "曝光用户", "en": "Exposed shoppers"},
    "field": {"zh": "字段", "en": "Field"},
    "gmv_fen": {"zh": "成交额 (¥)", "en": "GMV (¥)"},
    "holdout_conversion_rate": {"zh": "对照组转化率", "en": "Holdout conversion rate"},
    "holdout_converted": {"zh": "对照组已转化", "en": "Holdout converted"},
    "holdout_shoppers": {"zh": "对照组人数", "en": "Holdout shoppers"},
    "hour": {"zh": "时段 (北京时间)", "en": "Hour (shop time)"},
    "is_control": {"zh": "对照组", "en": "Control"},
    "is_significant": {"zh": "显著", "en": "Significant"},
    "lifetime_value_fen": {"zh": "累计消费 (¥)", "en": "Lifetime value (¥)"},
    "lift": {"zh": "提升", "en": "Lift"},
    "lift_ci_high": {"zh": "提升 95% 上限", "en": "Lift 95% CI high"},
    "lift_ci_low": {"zh": "提升 95% 下限", "en": "Lift 95% CI low"},
    "median_days_between_orders": {"zh": "复购间隔中位数 (天)", "en": "Median days between orders"},
    "minute_at": {"zh": "分钟", "en": "Minute"},
    "name": {"zh": "商品名称", "en": "Name"},
    "new_shoppers": {"zh": "新用户", "en": "New shoppers"},
    "opened": {"zh": "已打开", "en": "Opened"},
    "orders": {"zh": "订单数", "en": "Orders"},
    "p_value": {"zh": "p 值", "en": "p-value"},
    "parent_share_id": {"zh": "上级分享", "en": "Parent share"},
    "periods_since": {"zh": "间隔期数", "en": "Periods since"},
    "product_id": {"zh": "商品编号", "en": "Product"},
    "product_views": {"zh": "商品浏览", "en": "Product views"},
    "products": {"zh": "商品数", "en": "Products"},
    "province": {"zh": "省份", "en": "Province"},
    "repeat_buyers": {"zh": "复购用户", "en": "Repeat buyers"},
    "repeat_rate": {"zh": "复购率", "en": "Repeat rate"},
    "retention_rate": {"zh": "留存率", "en": "Retention rate"},
    "revenue_fen": {"zh": "收入 (¥)", "en": "Revenue (¥)"},
    "rewards": {"zh": "奖励", "en": "Rewards"},
    "rfm_segment": {"zh": "RFM 分层", "en": "RFM segment"},
    "rule_id": {"zh": "规则", "en": "Rule"},
    "rule_version": {"zh": "规则版本", "en": "Rule version"},
    "sent": {"zh": "已发送", "en": "Sent"},
    "share_id": {"zh": "分享编号", "en": "Share"},
    "share_via": {"zh": "分享方式", "en": "Shared via"},
    "shared_at": {"zh": "分享时间", "en": "Shared at"},
    "sharer_person_id": {"zh": "分享人", "en": "Sharer"},
    "shares": {"zh": "分享次数", "en": "Shares"},
    "shoppers": {"zh": "用户数", "en": "Shoppers"},
    "treated_shoppers": {"zh": "触达组人数", "en": "Treated shoppers"},
    "units": {"zh": "件数", "en": "Units"},
    "uplift": {"zh": "绝对提升", "en": "Uplift (absolute)"},
    "value": {"zh": "值", "en": "Value"},
    "variant": {"zh": "分组", "en": "Variant"},
    "viewers": {"zh": "浏览用户", "en": "Viewers"},
    "views": {"zh": "浏览次数", "en": "Views"},
    "z_score": {"zh": "z 值", "en": "z-score"},
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


def segment_label(segment: str, language: Language) -> str:
    """An RFM segment's display name; unknown segments show their code."""
    return _SEGMENTS.get(segment, {}).get(language, segment)


def column_label(column: str, language: Language) -> str:
    """A table column's display name; columns without one show their name."""
    return _COLUMNS.get(column, {}).get(language, column)
