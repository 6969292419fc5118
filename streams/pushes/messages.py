"""Subscribe-message content: placeholders filled from the trigger, values cut to WeChat's limits."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Maximum characters per value by key type (thing2 → thing); amount is a currency sign plus ≤10 digits.
VALUE_LIMITS: dict[str, int] = {
    "thing": 20, "number": 32, "character_string": 32, "letter": 32, "symbol": 5, "amount": 11,
    "time": 32, "date": 32, "phone_number": 17, "car_number": 8, "name": 20, "phrase": 5,
}  # fmt: skip
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class TemplateFieldUnknown(ValueError):
    """A template key whose type WeChat does not define; sending it would fail with 47003."""


def render_template_data(template: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
    """Fill `{name}` placeholders and cut each value to its key type's limit (thing ≤ 20, phrase ≤ 5 …)."""
    rendered: dict[str, str] = {}
    for key, pattern in template.items():
        kind = re.sub(r"\d+$", "", key)
        limit = VALUE_LIMITS.get(kind)
        if limit is None:
            raise TemplateFieldUnknown(f"{key}: unknown subscribe-message field type {kind!r}")
        value = _PLACEHOLDER.sub(lambda match: context.get(match.group(1), ""), pattern).strip()
        if len(value) > limit:
            value = value[: limit - 1] + "…" if kind in ("thing", "name") else value[:limit]
        rendered[key] = value or "-"
    return rendered
