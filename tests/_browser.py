"""Headless Chromium driven by Selenium, for the report's browser tests and bench/report_size.py.

Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs both); the driver's path is
passed explicitly, so Selenium Manager never runs and nothing is ever downloaded (``SE_OFFLINE`` is
set too, in case a later Selenium consults it anyway). Each session gets a fresh profile folder.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path(os.environ.get("EVALKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EVALKIT_CHROMEDRIVER", "/usr/bin/chromedriver"))


def in_ci() -> bool:
    """``CI`` is set (GitHub Actions, GitLab... set it): a missing browser fails there, never skips."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing() -> str | None:
    """Why the browser cannot be driven here (None when it can); the reason names the fix."""
    gone = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if importlib.util.find_spec("selenium") is None:
        gone.append("the selenium package (requirements/dev.lock)")
    if not gone:
        return None
    return (
        f"{', '.join(gone)} missing: `make browser` installs Debian's chromium and chromium-driver, "
        "`make test` runs it and installs selenium from requirements/dev.lock"
    )


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """A headless Chromium session whose console log is readable (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="evalkit-chromium-") as profile:
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        before = os.environ.get("SE_OFFLINE")
        os.environ["SE_OFFLINE"] = "true"
        try:
            driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
        finally:
            if before is None:
                os.environ.pop("SE_OFFLINE", None)
            else:
                os.environ["SE_OFFLINE"] = before
        try:
            yield driver
        finally:
            driver.quit()


def full_page_png(driver: WebDriver) -> bytes:
    """A screenshot of the whole page (not just the viewport), through the DevTools protocol."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])
