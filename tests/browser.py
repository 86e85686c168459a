"""What the browser tests share: a local static server, Chromium through playwright, and a page
that records every problem a reader would notice. Requests to any other host are blocked.

The `browser` fixture lives in conftest.py; it drives the Chromium tools/find_chromium.py finds
($CHROMIUM, playwright's own, or Debian's `chromium`, which `make test` installs as root).
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

FIND_CHROMIUM = Path(__file__).resolve().parent.parent / "tools" / "find_chromium.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(directory: Path):
    """`directory` over http on 127.0.0.1; yields the base URL (ending in '/')."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait()


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    found = subprocess.run([sys.executable, str(FIND_CHROMIUM)], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr.strip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=found.stdout.strip(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


class Visit:
    """A page with every problem a reader would notice recorded: errors, blocked requests, 404s."""

    def __init__(self, browser, base):
        self.base, self.problems = base, []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.route("**/*", self._only_local)

    def _only_local(self, route):
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.problems.append(f"blocked request to {route.request.url}")
            route.abort()

    def open(self, path: str):
        self.page.goto(self.base + path, wait_until="load")
        self.page.wait_for_timeout(300)  # MathJax typesets after load
        return self.page


