"""Regenerate docs/screenshots/: dashboard, assessment, plan, the clinic's week, and the patient's
Today on a phone.

Run: .venv/bin/python scripts/screenshots.py
Starts `cicatrix serve --demo` on a free loopback port with a throw-away data directory and
drives Debian's chromium (/usr/bin/chromium) through Playwright.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PASSWORD = "cicatrix-demo"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start in 60 s")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        port = _port()
        env = {**os.environ, "CICATRIX_DATA_DIR": data, "CICATRIX_SECRET_KEY": "screenshots-" + "x" * 32}
        env.pop("CICATRIX_DATABASE_URL", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "cicatrix.cli", "serve", "--demo", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base, proc)
            _shoot(base)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _login(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def _shoot(base: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        desk = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
        page = desk.new_page()
        _login(page, base, "clinician")
        page.screenshot(path=OUT / "dashboard.png", full_page=True)

        page.goto(base + "/patients/1/assessments/new")
        page.get_by_label("Rolling count").fill("14")
        page.get_by_label("Rolling depth").select_option("shallow")
        page.get_by_label("Boxcar, deep count").fill("6")
        page.get_by_label("Ice-pick count").fill("4")
        page.get_by_label("Post-inflammatory hyperpigmentation (PIH) count").fill("12")
        expect(page.locator("[data-score=gb]").first).to_have_text("10")  # the live score (CSP: no eval)
        page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
        page.screenshot(path=OUT / "assessment.png")

        page.goto(base + "/patients/1")
        plan_id = re.search(r"/plans/(\d+)", page.content()).group(1)  # type: ignore[union-attr]
        page.goto(f"{base}/plans/{plan_id}")
        page.screenshot(path=OUT / "plan.png", full_page=True)

        page.goto(base + "/calendar?view=week")
        page.screenshot(path=OUT / "calendar.png")

        phone = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
        ppage = phone.new_page()
        _login(ppage, base, "patient")
        ppage.screenshot(path=OUT / "patient-today.png")
        browser.close()
    for name in ("dashboard", "assessment", "plan", "calendar", "patient-today"):
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
