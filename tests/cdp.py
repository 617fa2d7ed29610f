"""Drive headless Chromium over the Chrome DevTools Protocol: load a page, wait for its load
event, run JavaScript in it (axe-core, clicks, reads), resize it, take screenshots.

``--dump-dom`` can only load a page; a test that must act in the page (run axe-core, click a
facet and read the counts that follow) needs the protocol. The app's Content-Security-Policy
forbids inline and foreign scripts, and ``Runtime.evaluate`` is not a page script: it runs
what the test gives it without weakening the policy the page is served with.

    with browser(tmp_path / "profile") as chrome:
        chrome.open(url)
        chrome.evaluate("document.title")
        chrome.click("#run")
        chrome.wait_for("document.querySelector('#results-table') !== null")
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.servers import wait_until
from tests.test_query_page import CHROMIUM, CHROMIUM_FLAGS

FLAGS = (
    *CHROMIUM_FLAGS,
    "--disable-extensions",
    "--hide-scrollbars",
    # A page left and come back to is loaded again (with its load event), not restored from
    # the back-forward cache without one.
    "--disable-features=BackForwardCache",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
DEADLINE = 120.0
"""Seconds any one step may take on a busy machine: an overall deadline, never a measure."""


class Page:
    """One page (tab) of a running Chromium, driven over its DevTools websocket."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # the websocket-client package (test extra)

        self._socket = websocket.create_connection(
            websocket_url, timeout=DEADLINE, suppress_origin=True
        )
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def close(self) -> None:
        self._socket.close()

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call one protocol method and return its result (its events are kept for later)."""
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        """Return the next event named ``method`` (one already received first)."""
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[index]
                    params: dict[str, Any] = event.get("params", {})
                    return params
            message = json.loads(self._socket.recv())  # blocks until the browser says more
            if "method" in message:
                self._events.append(message)

    def open(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        self._events = [e for e in self._events if e["method"] != "Page.loadEventFired"]
        navigated = self.send("Page.navigate", url=url)
        if navigated.get("errorText"):
            raise RuntimeError(f"cannot load {url}: {navigated['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        """Run JavaScript in the page; return its value (a promise's, when awaited)."""
        answer = self.send(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=await_promise,
            returnByValue=True,
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description", str(details)))
        return answer["result"].get("value")

    def wait_for(self, condition: str, what: str = "") -> None:
        """Wait until a JavaScript condition holds in the page (checked as the page changes)."""
        wait_until(lambda: bool(self.evaluate(condition)), what or condition, DEADLINE)

    def click(self, selector: str) -> None:
        """Click the element a CSS selector names, as a user's click does (focus, then click)."""
        found = self.evaluate(
            f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.focus(); e.click(); return true; }())"
        )
        if not found:
            raise AssertionError(f"no element {selector} in the page")

    def mouse_click(self, selector: str) -> None:
        """Click the middle of an element with real mouse events, then wait for the page that
        the click loads (a form that submits, a link)."""
        box = self.evaluate(
            f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " var r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
            " }())"
        )
        if box is None:
            raise AssertionError(f"no element {selector} in the page")
        self._events = [e for e in self._events if e["method"] != "Page.loadEventFired"]
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )
        self.wait_event("Page.loadEventFired")

    def back(self) -> None:
        """Go back in the page's history and wait for the page to load."""
        self._events = [e for e in self._events if e["method"] != "Page.loadEventFired"]
        self.evaluate("history.back()")
        self.wait_event("Page.loadEventFired")

    def until(self, selector: str) -> None:
        """Wait until an element matches a CSS selector: a promise in the page that a
        MutationObserver resolves, so the page's own changes wake the test, not a poll."""
        found = json.dumps(selector)
        self.evaluate(
            "new Promise(function (resolve) { var done = function () {"
            f" return document.querySelector({found}); }};"
            " if (done()) return resolve(true);"
            " new MutationObserver(function (m, o) { if (done()) { o.disconnect();"
            " resolve(true); } }).observe(document,"
            " {childList: true, subtree: true, attributes: true}); })",
            await_promise=True,
        )

    def press(self, key: str, code: str, key_code: int, text: str = "") -> None:
        """Press and release one key (``Tab``, ``Enter`` with text ``"\\r"``...) as the
        keyboard does; a key that types ``text`` activates links, buttons and summaries."""
        typed = {"text": text, "unmodifiedText": text} if text else {}
        self.send(
            "Input.dispatchKeyEvent",
            type="keyDown" if text else "rawKeyDown",
            key=key,
            code=code,
            windowsVirtualKeyCode=key_code,
            **typed,
        )
        self.send(
            "Input.dispatchKeyEvent",
            type="keyUp",
            key=key,
            code=code,
            windowsVirtualKeyCode=key_code,
        )

    def resize(self, width: int, height: int = 900) -> None:
        """Make the viewport ``width`` x ``height`` CSS pixels (400: a phone, 1280: a laptop)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """Save a PNG of the page (the whole page, not only the viewport)."""
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextmanager
def browser(profile: Path) -> Iterator[Page]:
    """Start headless Chromium with its DevTools on a free loopback port; yield its first page.

    Skips the test when Debian's ``chromium`` or the ``websocket-client`` package is missing.
    """
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed (Debian package chromium, installed by .ci/run)")
    pytest.importorskip("websocket", reason="websocket-client not installed (test extra)")
    profile.mkdir(parents=True, exist_ok=True)
    port_file = profile / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    page: Page | None = None
    try:
        # Chromium writes the port it got (line 1) once its DevTools server listens.
        wait_until(
            lambda: process.poll() is not None or _port_written(port_file),
            "chromium wrote DevToolsActivePort",
            DEADLINE,
        )
        if process.poll() is not None:
            pytest.fail(f"chromium exited {process.returncode} before listening")
        port = int(port_file.read_text().splitlines()[0])
        page = Page(_first_page(port))
        yield page
    finally:
        if page is not None:
            page.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _port_written(port_file: Path) -> bool:
    try:
        lines = port_file.read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 2 and lines[0].isdigit()


def _first_page(port: int) -> str:
    """Return the websocket URL of the browser's first page target."""
    found: list[str] = []

    def listed() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as reply:
            targets = json.loads(reply.read())
        found.extend(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
        return bool(found)

    wait_until(listed, "chromium opened a page", DEADLINE)
    return found[0]
