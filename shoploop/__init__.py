"""ShopLoop: the platform package — the `shoploop` CLI, the embedded stack and what every deployable shares."""
