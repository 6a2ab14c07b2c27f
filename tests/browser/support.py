"""What the browser tests share: Debian's Chromium, how to launch it, and the login."""

from __future__ import annotations

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.queue_support import PASSWORD

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
