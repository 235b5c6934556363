"""Web test fixtures.

Fast tests use FastAPI's TestClient on a demo clinic in a temporary SQLite file.
Browser tests (marked `browser`) share one real `cicatrix serve --demo` subprocess per
session on a free loopback port, drive Debian's chromium through Playwright, and run
axe-core on every page that loads: a serious or critical violation fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.today import NOW, TODAY

HERE = Path(__file__).parent
AXE_JS = HERE / "vendor" / "axe-4.14.1.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "cicatrix-demo"


# ---------- fast tests: TestClient on a seeded demo clinic ----------


SECRET_KEY_RE = re.compile(r'class="code secret-key">([A-Z2-7]+)<')
ENROL_START = 'action="/account/second-factor/start"'


def totp_code(secret: str, now: datetime, last: int | None) -> tuple[str, int]:
    """The code of the earliest time step the service accepts after `last` (it refuses a
    step twice): this step or the next. Callers past both wait for the clock."""
    import pyotp

    step = int(now.timestamp()) // 30
    for candidate in (step - 1, step, step + 1):
        if last is None or candidate > last:
            return pyotp.TOTP(secret).at(candidate * 30), candidate
    raise AssertionError("no fresh TOTP step left; wait 30 s")


@dataclass
class Demo:
    """The demo clinic through TestClient. Logging in as an admin enrols the second factor
    the first time (the admin must have one) and enters its code after that."""

    client: Any
    app: Any
    secrets: dict[str, str] = field(default_factory=dict)
    last_step: dict[str, int] = field(default_factory=dict)

    def login(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.client.cookies.clear()
        r = self.client.post("/login", data={"username": username, "password": password}, follow_redirects=False)
        assert r.status_code == 303, r.text
        if r.headers["location"].startswith("/login/code"):
            code, self.last_step[username] = totp_code(
                self.secrets[username], self.app.state.clock(), self.last_step.get(username)
            )
            r = self.client.post("/login/code", data={"code": code}, follow_redirects=False)
            assert r.status_code == 303, r.text
        elif username == "admin":
            self.enrol(username)

    def enrol(self, username: str) -> list[str]:
        """Set up the logged-in user's second factor through its pages; the recovery codes."""
        token = self.csrf("/account/second-factor")
        html = self.client.post("/account/second-factor/start", data={"csrf_token": token}).text
        m = SECRET_KEY_RE.search(html)
        assert m, html
        self.secrets[username] = m.group(1)
        code, self.last_step[username] = totp_code(m.group(1), self.app.state.clock(), None)
        r = self.client.post("/account/second-factor/confirm", data={"csrf_token": token, "code": code})
        assert r.status_code == 200 and "Your recovery codes" in r.text, r.text
        return re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</li>", r.text)

    def csrf(self, path: str = "/") -> str:
        html = self.client.get(path).text
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m, f"no CSRF token on {path}"
        return m.group(1)


SECRET = "web-tests-" + "s" * 32


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate and seed the demo clinic once; each test gets a copy of the database file."""
    from cicatrix.api.app import create_app
    from cicatrix.service.demo import seed
    from cicatrix.storage import migrate
    from cicatrix.storage.settings import Settings

    data = tmp_path_factory.mktemp("demo-template") / "data"
    settings = Settings(data_dir=data, secret_key=SECRET)
    migrate.upgrade(settings)
    app = create_app(settings, clock=lambda: NOW)
    with app.state.db.transaction() as db:
        seed(db, app.state.kb, TODAY)
    app.state.db.dispose()  # the last connection closing checkpoints the WAL into the file
    return data


@pytest.fixture
def demo(tmp_path: Path, demo_template: Path) -> Iterator[Demo]:
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from cicatrix.storage.settings import Settings

    data = tmp_path / "data"
    shutil.copytree(demo_template, data)
    app = create_app(Settings(data_dir=data, secret_key=SECRET), clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Demo(client, app)
    app.state.db.dispose()


# ---------- browser tests: one real server per session ----------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BROWSER_SECRET = "browser-tests-" + "k" * 32  # the server's signing secret: tests sign check-in links with it


@dataclass
class Server:
    base: str
    data_dir: Path


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("web-server")
    port = _free_port()
    env = {
        **os.environ,
        "CICATRIX_DATA_DIR": str(data),
        "CICATRIX_SECRET_KEY": BROWSER_SECRET,
    }
    env.pop("CICATRIX_DATABASE_URL", None)
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cicatrix.cli", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start:\n" + (data / "server.log").read_text()[-3000:])
        time.sleep(0.1)
    try:
        yield Server(base, data)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# axe runs in the page after every load and reports back through an exposed binding.
_AXE_BOOT = """
(() => {
  window.__axeDone = false;
  window.addEventListener('load', () => {
    window.__axeStarted(location.pathname + location.search);
    axe.run(document, {resultTypes: ['violations']}).then(r => {
      const bad = r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
      window.__axeReport(location.pathname + location.search, JSON.stringify(bad));
      window.__axeDone = true;
    });
  });
})();
"""


def wait_until(page: Any, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. Playwright's `wait_for_function` builds
    its predicate with `eval`, which the pages' Content-Security-Policy forbids (as it
    should); `evaluate` runs through the DevTools protocol, outside the page's CSP."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.05)


@dataclass
class Web:
    """A browser tab whose every page load is checked by axe-core."""

    page: Any
    base: str
    started: list[str] = field(default_factory=list)
    reported: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)

    def settle(self) -> None:
        """Wait for the page's axe run, then fail on serious or critical violations."""
        wait_until(self.page, "window.__axeDone === true")
        url = self.page.evaluate("location.pathname + location.search")
        self.checked.append(url)
        bad = self.reported.get(url, [])
        assert not bad, f"axe: serious/critical violations on {url}:\n" + json.dumps(bad, indent=1)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.settle()
        return response

    def submit(self, locator: Any) -> None:
        """Click something that loads a new page, then check that page."""
        with self.page.expect_navigation():
            locator.click()
        self.settle()

    def login(self, username: str, password: str = DEMO_PASSWORD) -> None:
        """Log in; an admin enrols its second factor the first time (the server lives for the
        session, so the secret is kept in `BROWSER_TOTP`) and enters a fresh code after."""
        self.goto("/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.submit(self.page.get_by_role("button", name="Log in"))
        path = self.page.evaluate("location.pathname")
        key = (self.base, username)
        if path == "/login/code":
            secret, last = BROWSER_TOTP[key]
            while True:
                try:
                    code, step = totp_code(secret, datetime.now(UTC), last)
                    break
                except AssertionError:
                    time.sleep(1)  # both fresh steps used: wait for the next one
            BROWSER_TOTP[key] = (secret, step)
            self.page.get_by_label("Code").fill(code)
            self.submit(self.page.get_by_role("button", name="Log in"))
        elif path == "/account/second-factor" and self.page.locator(f"form[{ENROL_START}]").count():
            self.submit(self.page.get_by_role("button", name="Set up a second factor"))
            secret = self.page.locator(".secret-key").inner_text().strip()
            code, step = totp_code(secret, datetime.now(UTC), None)
            BROWSER_TOTP[key] = (secret, step)
            self.page.get_by_label("The 6-digit code the app shows now").fill(code)
            self.submit(self.page.get_by_role("button", name="Turn on the second factor"))


# (server address, username) -> (TOTP secret, last time step used), for the session's server
BROWSER_TOTP: dict[tuple[str, str], tuple[str, int]] = {}


@pytest.fixture
def web(browser: Any, web_server: Server) -> Iterator[Web]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(path=str(AXE_JS))
    context.add_init_script(_AXE_BOOT)
    w = Web(page=None, base=web_server.base)

    def started(_source: Any, url: str) -> None:
        w.started.append(url)

    def report(_source: Any, url: str, violations: str) -> None:
        w.reported[url] = json.loads(violations)

    context.expose_binding("__axeStarted", started)
    context.expose_binding("__axeReport", report)
    w.page = context.new_page()
    w.page.set_default_timeout(15000)
    blocked: list[str] = []  # the pages must work under their Content-Security-Policy
    w.page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield w
        unchecked = [u for u in w.started if u not in w.checked]
        assert not unchecked, f"pages loaded without an axe check (use web.goto/web.submit): {unchecked}"
        assert not blocked, f"the Content-Security-Policy blocked something: {blocked}"
    finally:
        context.close()
