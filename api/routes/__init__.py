"""Thin routers: parse, authorise through dependencies, call one service function, shape the answer."""
