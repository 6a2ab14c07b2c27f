"""Fixtures of the admin page tests: the queue tests' app and client."""

from tests.unit.web.queue_fixtures import app, client

__all__ = ["app", "client"]
