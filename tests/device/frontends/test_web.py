"""moodbox web, the opt-in phone page: a real `moodbox web` process against a running demo, real HTTP, and a
headless Debian Chromium that loads the page."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from moodbox.config import EXPRESSIONS
from moodbox.frontends.control import send_command
from moodbox.frontends.web import Guard

from device_support import write_toml
from device_support import FakeClock

TOKEN = "test-token-0123456789abcdef"


def web_config(tmp_path: Path, socket_path: str, db: Path, *, enabled: bool = True, name="web.toml") -> Path:
    token_file = tmp_path / "web.token"
    token_file.write_text(TOKEN + "\n")
    return write_toml(tmp_path / name, {
        "state": {"dir": str(db.parent), "control_socket": socket_path},
        "web": {"enabled": enabled, "address": "127.0.0.1", "port": 8470, "token_file": str(token_file)}})


class WebProcess:
    """`moodbox web --port 0` in a subprocess; ``url`` is where it listens, ``log`` its stderr (the journal)."""

    def __init__(self, config: Path):
        self.log = config.with_suffix(".log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "moodbox", "web", "--config", str(config),
                                             "--port", "0"], stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.process.stdout.readline()
        assert "serving the phone page on http://" in line, line + self.log.read_text()
        self.url = line.split(" on ")[1].split()[0].rstrip("/")

    def request(self, path: str, *, method: str = "GET", token: str | None = TOKEN) -> tuple[int, bytes, dict]:
        headers = {"X-Moodbox-Token": token} if token is not None else {}
        request = urllib.request.Request(self.url + path, method=method, headers=headers,
                                         data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def json(self, path: str, **kwargs) -> tuple[int, dict]:
        code, body, _ = self.request(path, **kwargs)
        return code, json.loads(body)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def web(demo_box, tmp_path_factory):
    socket_path, db = demo_box
    server = WebProcess(web_config(tmp_path_factory.mktemp("web"), socket_path, db))
    yield server
    server.close()


def press(web: WebProcess, action: str) -> tuple[int, dict]:
    """A button on the page, at a listener's pace: the daemon takes at most 5 commands a second."""
    time.sleep(0.25)
    return web.json(f"/api/{action}", method="POST")


def feedback_count(db: Path) -> int:
    """Rows from pressed buttons (a song that plays to its end adds a "played" row by itself)."""
    return sqlite3.connect(db).execute("SELECT COUNT(*) FROM feedback WHERE action != 'played'").fetchone()[0]


def test_guard_locks_out_an_address_after_five_wrong_tokens_for_the_window():
    clock = FakeClock()
    guard = Guard(max_failures=5, window_s=60, clock=clock)
    for _ in range(4):
        guard.failed("10.0.0.9")
    assert guard.retry_after("10.0.0.9") == 0
    guard.failed("10.0.0.9")
    assert guard.retry_after("10.0.0.9") == 60 and guard.retry_after("10.0.0.8") == 0
    clock.advance(59)
    assert guard.retry_after("10.0.0.9") == pytest.approx(1)
    clock.advance(1)
    assert guard.retry_after("10.0.0.9") == 0


@pytest.mark.slow
def test_without_or_with_a_wrong_token_401_and_nothing_changes(web, demo_box):
    socket_path, db = demo_box
    before, volume = feedback_count(db), send_command(socket_path, "status")["volume"]
    for path, method, token in [("/api/status", "GET", None), ("/api/skip", "POST", None),
                                ("/api/skip", "POST", "wrong"), ("/api/louder", "POST", ""),
                                (f"/api/skip?token={TOKEN}", "POST", None),  # state changes: header only
                                ("/", "GET", None), ("/?token=nope", "GET", None)]:
        code, body, _ = web.request(path, method=method, token=token)
        assert code == 401, (path, method, token, body)
    assert feedback_count(db) == before and send_command(socket_path, "status")["volume"] == volume
    assert web.request("/api/skip", method="GET")[0] == 404  # a link cannot press a button


@pytest.mark.slow
def test_with_the_token_the_buttons_change_the_daemons_state(web, demo_box):
    socket_path, db = demo_box
    actions = lambda: [row[0] for row in sqlite3.connect(db).execute(  # noqa: E731
        "SELECT action FROM feedback WHERE action != 'played' ORDER BY id")]  # songs also end by themselves
    before = len(actions())
    for action in ("skip", "like", "hold"):
        code, answer = press(web, action)
        assert code == 200 and answer["ok"], answer
    assert send_command(socket_path, "status")["held_for_s"] > 0
    assert press(web, "hold")[1]["held"] is False
    assert press(web, "pause")[1] == {"ok": True, "camera": "paused"}
    assert send_command(socket_path, "status")["camera"] == "paused"
    assert press(web, "pause")[1] == {"ok": True, "camera": "ok"}
    assert actions()[before:] == ["skip", "like", "hold", "release", "pause", "resume"]
    volume = send_command(socket_path, "status")["volume"]
    down = press(web, "quieter")[1]["volume"]
    assert down == max(volume - 5, 0) and send_command(socket_path, "status")["volume"] == down
    assert press(web, "louder")[1]["volume"] == min(down + 5, 100)
    code, status = web.json("/api/status")
    assert code == 200 and status["mood"] in EXPRESSIONS and "store" not in status  # no paths leave the box
    assert press(web, "dance")[0] == 404


@pytest.mark.slow
def test_history_endpoint_matches_the_store(web, demo_box):
    _, db = demo_box
    code, answer = web.json("/api/history?since=24h")
    assert code == 200 and answer["events"]
    events = answer["events"]
    first, last = events[0]["at"], events[-1]["at"]
    rows = sqlite3.connect(db).execute(
        "SELECT at, 'play', track FROM plays WHERE at BETWEEN ? AND ? UNION ALL "
        "SELECT at, action, track FROM feedback WHERE at BETWEEN ? AND ?", (first, last, first, last)).fetchall()
    assert sorted(rows) == sorted((e["at"], e["kind"], e["track"]) for e in events)
    assert web.json("/api/history?since=soon")[0] == 400
    assert web.json("/api/history?since=25h")[0] == 400  # the page never shows more than the last day
    code, svg, headers = web.request("/api/history.svg")
    assert code == 200 and headers["Content-Type"] == "image/svg+xml" and b"mood switches" in svg


@pytest.mark.slow
def test_wrong_tokens_are_rate_limited(demo_box, tmp_path):
    socket_path, db = demo_box
    server = WebProcess(web_config(tmp_path, socket_path, db))  # its own process: the lock-out stays there
    try:
        assert server.request(f"/?token={TOKEN}", token=None)[0] == 200
        codes = [server.request("/api/status", token=f"guess-{n}")[0] for n in range(5)]
        assert codes == [401] * 5
        code, _, headers = server.request("/api/status")  # even the right token waits now
        assert code == 429 and 0 < int(headers["Retry-After"]) <= 60
    finally:
        server.close()
    log = server.log.read_text()
    assert "GET /?token=(hidden) " in log and "wrong token from 127.0.0.1" in log and TOKEN not in log


def test_off_unless_enabled_and_the_url_carries_the_token(tmp_path):
    config = web_config(tmp_path, str(tmp_path / "control.sock"), tmp_path / "feedback.db", enabled=False)
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "web.enabled is false" in result.stderr
    config = web_config(tmp_path, str(tmp_path / "control.sock"), tmp_path / "feedback.db", name="on.toml")
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config), "--url", "--host",
                             "moodbox.local"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"http://moodbox.local:8470/?token={TOKEN}"
    assert len(lines) > 10 and any("█" in line or "▀" in line for line in lines[1:])  # the QR code
    (tmp_path / "web.token").write_text("short\n")
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config), "--url"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "shorter than 16" in result.stderr and "web.token" in result.stderr


CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                  "--hide-scrollbars", "--window-size=420,860"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt: chromium)")
def test_chromium_loads_the_page_with_the_mood_and_the_chart(web, tmp_path):
    url = f"{web.url}/?token={TOKEN}"
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--virtual-time-budget=3000", "--dump-dom", url], capture_output=True,
                         text=True, timeout=90).stdout
    assert '<body data-live="yes">' in dom  # the page's script ran under its Content-Security-Policy
    assert '<p id="mood" class="mood ' in dom
    mood = dom.split('<p id="mood"')[1].split(">", 1)[1].split("<", 1)[0]
    assert mood.split()[0] in EXPRESSIONS, mood  # "happy 83%": drawn from /api/status by the page's script
    assert '<div id="chart"><svg' in dom and "mood switches" in dom
    assert dom.count("data-action=") == 6
    screenshot = tmp_path / "page.png"  # kept as a test artefact
    subprocess.run([CHROMIUM, *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=90)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
    code, _, _ = web.request("/api/status", token="not-it")  # the browser's visit did not open the door
    assert code == 401
