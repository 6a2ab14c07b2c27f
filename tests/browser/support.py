"""What the browser tests share: Debian's Chromium, the login, and the served stack."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from service.settings import Settings
from service.storage import migrate
from service.storage.db import make_engine, make_session_factory
from tests.conftest import TEST_SECRET_KEY
from tests.queue_support import PASSWORD
from tests.support import RedisServer, free_port, postgres_database

CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download its own browser here; these flags keep Debian's Chromium
# from reaching for the network, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def login(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in by keyboard alone and wait for the queue."""
    page.goto(f"{base}/login")
    # The e-mail field has focus on load (autofocus): type, Tab, type, Enter. No mouse.
    # On a loaded machine autofocus can land after the load event: wait for it, or the
    # keystrokes go nowhere and the login fails.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'email'")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    try:
        page.wait_for_url(f"{base}/queue/**")
    except PlaywrightTimeoutError:
        # Say what the login page said (wrong password, rate limit, CSRF), not just "timeout".
        raise AssertionError(f"login failed: {page.url}: {page.inner_text('main')[:300]}") from None


@contextmanager
def stack(
    tmp_path_factory: pytest.TempPathFactory, **overrides: Any
) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    """Yield migrated settings and sessions on a private Redis and a throwaway PostgreSQL."""
    redis = RedisServer(tmp_path_factory.mktemp("redis-browser"))
    redis.start()
    try:
        with postgres_database() as url:
            settings = replace(
                Settings.from_env(
                    {
                        "MODASSIST_DATABASE_URL": url,
                        "MODASSIST_REDIS_URL": redis.url,
                        "MODASSIST_DATA_DIR": str(tmp_path_factory.mktemp("var")),
                    }
                ),
                secret_key=TEST_SECRET_KEY,
                **overrides,
            )
            migrate.upgrade(settings)
            engine = make_engine(settings)
            try:
                yield settings, make_session_factory(engine)
            finally:
                engine.dispose()
    finally:
        redis.stop()


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["modassist"].engine.dispose()
