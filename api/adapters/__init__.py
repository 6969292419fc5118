"""Adapters: the database tables, repositories, and the outbox relay."""
