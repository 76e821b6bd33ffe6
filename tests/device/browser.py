"""A real headless Debian Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): no
driver, no extra package. A phone-sized viewport, its own profile folder, and every console message and page error
collected so a test can say "no console error"."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium")
PHONE = {"width": 412, "height": 915, "deviceScaleFactor": 2, "mobile": True}


class BrowserError(AssertionError):
    pass


class Browser:
    """One Chromium process with the profile ``profile``; ``tab()`` opens a tab. Close it to flush the profile
    (history, cookies) to disk."""

    def __init__(self, profile: Path):
        self.profile = profile
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                 "--disable-background-networking", "--disable-sync", "--disable-extensions",
                 "--password-store=basic", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # the browser reads commands on its fd 3 and writes answers on fd 4
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write} '
                           f'{to_browser_read}<&- {from_browser_write}>&-', CHROMIUM, *flags],
            pass_fds=(to_browser_read, from_browser_write), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._next_id = 0
        self._answers: dict[int, dict] = {}
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout_s=30.0) -> dict:
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise BrowserError(f"no answer to {method} within {timeout_s} s")
                self._cond.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer["result"]

    def tab(self, url: str = "about:blank") -> Tab:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session)
        if url != "about:blank":
            tab.open(url)
        return tab

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout_s=15)
        except BrowserError:
            pass
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        self._reader.join(5)
        os.close(self._from_browser)


class Tab:
    """A tab at phone size; ``errors()`` are its console errors, uncaught exceptions and failed loads."""

    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", PHONE)
        self.send("Emulation.setTouchEmulationEnabled", {"enabled": True})

    def send(self, method: str, params: dict | None = None, timeout_s=30.0) -> dict:
        return self.browser.send(method, params, self.session, timeout_s)

    def _mine(self) -> list[dict]:
        with self.browser._cond:
            return [event for event in self.browser.events if event.get("sessionId") == self.session]

    def open(self, url: str, settle_s: float = 1.0) -> None:
        """Go to ``url`` and wait for its load event, then ``settle_s`` for the page's script."""
        before = len([e for e in self._mine() if e["method"] == "Page.loadEventFired"])
        self.send("Page.navigate", {"url": url})
        self.wait_for(lambda: len([e for e in self._mine() if e["method"] == "Page.loadEventFired"]) > before,
                      f"the load of {url}")
        time.sleep(settle_s)

    def wait_for(self, condition, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def js(self, expression: str):
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def url(self) -> str:
        return self.js("location.href")

    def text(self, selector: str) -> str:
        return self.js(f"document.querySelector({json.dumps(selector)}).textContent")

    def click(self, selector: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and CSP violations (the Log domain) so far."""
        found = []
        for event in self._mine():
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
            elif event["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
        return found

    def responses(self) -> list[dict]:
        return [event["params"]["response"] for event in self._mine() if event["method"] == "Network.responseReceived"]

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))

    def manifest(self) -> dict:
        return self.send("Page.getAppManifest")

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
