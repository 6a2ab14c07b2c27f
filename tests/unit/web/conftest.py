"""Fixtures of the web tests (the queue's app, client and sample papers live in queue_fixtures)."""

from tests.unit.web.queue_fixtures import app, client, world

__all__ = ["app", "client", "world"]
