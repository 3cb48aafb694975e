"""Playwright fixtures that drive Debian's Chromium (/usr/bin/chromium) headless.

We never use `playwright install`: it downloads its own browser, which this network (package registries
only) cannot fetch. Instead Playwright's bundled driver starts the Debian package via `executable_path`.
Install both with `apt-get install -y --no-install-recommends chromium` and `pip install playwright`
(no browser download follows). A missing one FAILS these tests: CI must never skip them silently.

Why these flags, on top of Playwright's own defaults (which already add --no-sandbox, --no-first-run,
--disable-background-networking, --disable-component-update, --disable-sync, --disable-dev-shm-usage):
- --no-sandbox: we run as root, where Chromium's sandbox refuses to start.
- --disable-gpu: there is no GPU; software rendering is enough for screenshots.
- --disable-dev-shm-usage: containers often give /dev/shm only 64 MB; Chromium then crashes.
- --disable-quic: with the network closed, a reload of a page that names an outside host stalls 1-5 s
  in Chromium's QUIC job after the failed lookup; without QUIC it fails at once.
- --host-resolver-rules: only the loopback names resolve, so neither a page nor Chromium's own
  background services (update, accounts, autofill) send a single DNS query out. Tests serve their pages
  on 127.0.0.1 (or localhost); any other host fails with net::ERR_NAME_NOT_RESOLVED.

Chromium treats http://127.0.0.1 and http://localhost as secure contexts: it keeps Secure and `__Host-` cookies
there (test_sessions.py checks it), so the embedded AWS serves the product's cookies unchanged on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if importlib.util.find_spec("playwright") is None:
        pytest.fail("Playwright for Python is not installed: run `.venv/bin/pip install playwright`.", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: run `apt-get update && apt-get install -y --no-install-recommends chromium`"
            " (never `playwright install`).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    context = browser.new_context(**context_options)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context (own cookies and storage), desktop-sized."""
    yield from _page(browser)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context the size of a phone: 390x844 CSS pixels at 2x, mobile viewport and touch."""
    yield from _page(browser, **PHONE)
