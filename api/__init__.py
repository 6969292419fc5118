"""The order core: WeChat login, catalogue, cart, orders, WeChat Pay v3, refunds, coupons and back office."""
