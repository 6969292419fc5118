"""WeChat clients (login, subscribe messages, WeChat Pay v3) and the loopback sandbox that mimics them."""
