"""moodbox web, the opt-in phone page: a real `moodbox web` process against a running demo, real HTTP, the real
`moodbox web --pair/--sessions/--revoke` commands, and a headless Debian Chromium (phone viewport, DevTools
protocol) that pairs, reloads, opens a bookmark, presses buttons and plays a hostile library."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import mpd
import pytest

from moodbox.frontends.control import send_command
from moodbox.frontends.page import view
from moodbox.frontends.webbox import action_answer, chart_start, without_paths
from moodbox.frontends.webhttp import SECURITY_HEADERS
from moodbox.frontends.websessions import Guard, RateLimits
from moodbox.names import EXPRESSIONS
from moodbox.music.preferences import part_of_day

from browser import CHROMIUM, Browser
from device_support import FakeClock, wait_until, write_toml

TOKEN = "test-token-0123456789abcdef"


def web_config(tmp_path: Path, socket_path: str, db: Path, *, enabled: bool = True, name="web.toml") -> Path:
    token_file = tmp_path / "web.token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    return write_toml(tmp_path / name, {
        "state": {"dir": str(db.parent), "control_socket": socket_path},
        "web": {"enabled": enabled, "address": "127.0.0.1", "port": 8470, "token_file": str(token_file),
                "state_dir": str(tmp_path / "web-state")}})


class WebProcess:
    """`moodbox web --port 0` in a subprocess; ``url`` is where it listens, ``log`` its stderr (the journal)."""

    def __init__(self, config: Path):
        self.config = config
        self.log = config.with_suffix(".log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "moodbox", "web", "--config", str(config),
                                             "--port", "0"], stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.process.stdout.readline()
        assert "serving the phone page on http://" in line, line + self.log.read_text()
        self.url = line.split(" on ")[1].split()[0].rstrip("/")
        self.cookie: str | None = None
        self.port = int(self.url.rsplit(":", 1)[1])

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`moodbox web ARGS` on this machine, talking to this process (its port)."""
        return subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(self.config), "--port",
                               str(self.port), *args], capture_output=True, text=True, timeout=30)

    def pair_url(self) -> str:
        result = self.cli("--pair", "--host", "127.0.0.1")
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[1]

    def _follow_pairing(self):
        """Pair as a phone does: the pairing link, answered with a session cookie and a redirect to /."""
        url = urllib.parse.urlsplit(self.pair_url())
        code, body, headers = self.request(f"{url.path}?{url.query}", session=None)
        assert code == 303 and headers["Location"] == "/", (code, body)
        self.cookie = headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        return code, body, headers

    def request(self, path: str, *, method: str = "GET", session: str | None = "", origin: str | None = "",
                body: dict | None = None, headers: dict | None = None) -> tuple[int, bytes, dict]:
        """One request without following redirects; ``session=""``: this object's cookie, ``origin=""``: the
        page's own origin on a POST."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        sent = dict(headers or {})
        cookie = self.cookie if session == "" else session
        if cookie:
            sent["Cookie"] = f"moodbox_session={cookie}"
        if method == "POST":
            sent["Origin"] = f"http://127.0.0.1:{self.port}" if origin == "" else origin
            if sent["Origin"] is None:
                del sent["Origin"]
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=json.dumps(body).encode() if body is not None else
                           (b"" if method == "POST" else None), headers=sent)
        answer = connection.getresponse()
        result = answer.status, answer.read(), dict(answer.headers)
        connection.close()
        return result

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
    server._follow_pairing()
    yield server
    server.close()


def press(web: WebProcess, action: str, **kwargs) -> tuple[int, dict]:
    """A button on the page, at a listener's pace (the page takes 2 taps a second per phone, 4 at once)."""
    time.sleep(0.55)
    return web.json(f"/api/{action}", method="POST", **kwargs)


def feedback_count(db: Path) -> int:
    """Rows from pressed buttons (a song that plays to its end adds a "played" row by itself)."""
    return sqlite3.connect(db).execute("SELECT COUNT(*) FROM feedback WHERE action != 'played'").fetchone()[0]


def demo_mpd(db: Path):
    """A client of the demo's private MPD (its socket is in the demo's log) and the music folder it plays."""
    log = (db.parent.parent / "demo.log").read_text()
    mpd_socket = re.search(r"private MPD at (\S+),", log).group(1)
    client = mpd.MPDClient()
    client.connect(mpd_socket)
    return client, Path(mpd_socket).parent / "music"


# -- parts, without a box ----------------------------------------------------------------------------------------

def test_guard_locks_out_an_address_after_five_wrong_codes_for_the_window():
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


def test_rate_limits_are_per_client_so_a_looping_one_blocks_only_itself():
    clock = FakeClock()
    limits = RateLimits(per_s=2, burst=4, clock=clock)
    assert [limits.allow("10.0.0.9") for _ in range(6)] == [True] * 4 + [False] * 2
    assert limits.allow("10.0.0.8")  # the phone next to it
    clock.advance(0.5)
    assert limits.allow("10.0.0.9") and not limits.allow("10.0.0.9")


def test_the_view_says_what_each_button_does_now():
    playing = {"ok": True, "camera": "ok", "mood": "sad", "mood_confidence": 0.8, "state": "play", "volume": 40,
               "now_playing": "A - B", "playlist": "calm", "held_for_s": 0.0, "face_in_view": True}
    shown = view(playing)
    assert shown["mood"] == "sad 80%" and shown["buttons"]["hold"]["label"] == "Hold"
    assert shown["buttons"]["pause"]["label"] == "Pause camera" and not shown["buttons"]["skip"]["disabled"]
    held = view({**playing, "camera": "paused", "held_for_s": 25 * 60 + 10})
    assert held["mood"] == "camera paused" and "sad" not in held["mood"] + held["face"]  # no stale mood
    assert held["buttons"]["hold"] == {"label": "Release (25 min left)", "disabled": False, "pressed": True}
    assert held["buttons"]["pause"] == {"label": "Resume camera", "disabled": False, "pressed": True}
    stopped = view({**playing, "state": "stop", "now_playing": None})
    assert stopped["buttons"]["skip"]["disabled"] and stopped["buttons"]["like"]["disabled"]
    assert view({"ok": False, "error": "moodbox is not running"})["mood"] == "moodbox is not running"


def test_answers_to_buttons_are_one_human_line_and_a_refusal_is_no_5xx():
    code, answer = action_answer("skip", {"ok": False, "error": "skip failed: [55@0] {next} Not playing"})
    assert code == 502 and "55@0" not in answer["error"] and "Not playing" not in answer["error"]
    code, answer = action_answer("skip", {"ok": False, "error": "nothing is playing: nothing to skip",
                                          "refused": True})
    assert code == 409 and answer["error"] == "Nothing is playing: nothing to skip."
    code, answer = action_answer("like", {"ok": False, "error": "too many commands: at most 5 a second",
                                          "refused": True})
    assert code == 429 and answer["error"] == "Too many taps at once: wait a moment."


def test_the_chart_axis_fits_a_new_boxs_data_and_never_reaches_past_the_range():
    now = 1_000_000.0
    assert chart_start(now - 600, now, 86400) == pytest.approx(now - 660)  # 10 minutes of data fill the chart
    assert chart_start(now - 3 * 86400, now, 86400) == now - 86400  # older data: the last day, as the tab says
    assert chart_start(None, now, 3600) == now - 3600


def test_messages_for_the_page_carry_no_file_paths():
    assert without_paths("store /var/lib/moodbox/feedback.db is read-only; camera /dev/video0 gone") == \
        "store feedback.db is read-only; camera video0 gone"


def test_off_unless_enabled_and_the_token_file_must_be_private(tmp_path):
    config = web_config(tmp_path, str(tmp_path / "control.sock"), tmp_path / "feedback.db", enabled=False)
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "web.enabled is false" in result.stderr
    config = web_config(tmp_path, str(tmp_path / "control.sock"), tmp_path / "feedback.db", name="on.toml")
    os.chmod(tmp_path / "web.token", 0o644)  # world-readable: refused, naming the file and the fix
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config), "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "web.token has mode 0644" in result.stderr and "chmod 0640" in result.stderr
    (tmp_path / "web.token").write_text("short\n")
    os.chmod(tmp_path / "web.token", 0o640)
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config), "--pair"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "shorter than 16" in result.stderr and "web.token" in result.stderr
    (tmp_path / "web.token").write_text(TOKEN)
    with socket.socket() as unused:  # a port where no page listens
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "moodbox", "web", "--config", str(config), "--port", str(port),
                             "--pair"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "the phone page does not answer" in result.stderr and "is it running" in \
        result.stderr


# -- the page over HTTP -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_pairing_gives_a_session_cookie_once_and_sessions_can_be_listed_and_revoked(demo_box, tmp_path):
    socket_path, db = demo_box
    server = WebProcess(web_config(tmp_path, socket_path, db))
    try:
        result = server.cli("--pair")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert re.fullmatch(rf"http://{re.escape(socket.gethostname())}\.local:{server.port}/pair\?code=[\w-]{{20,}}",
                            lines[1]), lines[:4]  # the mDNS name first, then the LAN address, then the QR code
        assert any("█" in line or "▀" in line for line in lines[4:])
        code_query = urllib.parse.urlsplit(lines[1]).query
        code, body, headers = server.request(f"/pair?{code_query}", session=None)
        assert code == 303 and headers["Location"] == "/"  # a clean address: no code in the bar or a bookmark
        cookie = headers["Set-Cookie"]
        assert re.fullmatch(r"moodbox_session=[\w-]{40,}; Path=/; Max-Age=\d{8}; HttpOnly; SameSite=Strict", cookie)
        server.cookie = cookie.split(";")[0].split("=", 1)[1]
        assert server.json("/api/status")[0] == 200
        code, body, _ = server.request(f"/pair?{code_query}", session=None)  # spent
        assert code == 403 and b"already used or has expired" in body
        listed = server.cli("--sessions")
        assert listed.returncode == 0 and "from 127.0.0.1" in listed.stdout, listed.stderr
        ident = listed.stdout.split()[0]
        assert server.cli("--revoke", "nope").returncode == 1
        revoked = server.cli("--revoke", ident)
        assert revoked.returncode == 0 and "unpaired 1 phone" in revoked.stdout
        assert server.json("/api/status")[0] == 401
        # the sessions file: private, and no cookie in it
        sessions = tmp_path / "web-state" / "sessions.json"
        assert oct(sessions.stat().st_mode & 0o777) == "0o600" and server.cookie not in sessions.read_text()
        # the admin door: the token, from this machine, never from a page
        code, _, _ = server.request("/admin/pair", method="POST", session=None, headers={"X-Moodbox-Token": "nope"})
        assert code == 403
        code, _, _ = server.request("/admin/pair", method="POST", session=None, headers={"X-Moodbox-Token": TOKEN})
        assert code == 403  # with an Origin (a web page's request): refused even with the token
    finally:
        server.close()
    log = server.log.read_text()
    assert code_query.split("=", 1)[1] not in log and server.cookie not in log and TOKEN not in log


@pytest.mark.slow
def test_without_a_session_or_from_another_origin_nothing_changes(web, demo_box):
    socket_path, db = demo_box
    before, volume = feedback_count(db), send_command(socket_path, "status")["volume"]
    for path, method, session, origin in [
            ("/api/status", "GET", None, ""), ("/api/skip", "POST", None, ""), ("/api/skip", "POST", "wrong", ""),
            ("/api/louder", "POST", "", None),                       # no Origin: refused
            ("/api/louder", "POST", "", "http://evil.example"),      # another site's form or script
            ("/api/louder", "POST", "", "null")]:
        code, body, _ = web.request(path, method=method, session=session, origin=origin)
        assert code in (401, 403), (path, method, session, origin, body)
    code, body, headers = web.request("/", session=None)  # no raw JSON: a page that says how to pair
    assert code == 401 and headers["Content-Type"].startswith("text/html") and b"sudo moodbox web --pair" in body
    assert feedback_count(db) == before and send_command(socket_path, "status")["volume"] == volume
    assert web.request("/api/skip")[0] == 404  # a link cannot press a button


@pytest.mark.slow
def test_with_a_session_the_buttons_change_the_daemons_state(web, demo_box):
    socket_path, db = demo_box
    actions = lambda: [row[0] for row in sqlite3.connect(db).execute(  # noqa: E731
        "SELECT action FROM feedback WHERE action != 'played' ORDER BY id")]  # songs also end by themselves
    before = len(actions())
    # what plays next, before the skips below (and other tests' skips) empty the demo's three-song queue
    code, upcoming = web.json("/api/upcoming")
    assert code == 200 and upcoming["upcoming"] and all(" - " in title for title in upcoming["upcoming"])
    for action in ("skip", "like", "hold"):
        code, answer = press(web, action)
        assert code == 200 and answer["ok"], answer
    status = web.json("/api/status")[1]
    assert status["held_for_s"] > 0 and status["view"]["buttons"]["hold"]["label"].startswith("Release (")
    assert press(web, "hold")[1]["held"] is False
    assert press(web, "pause")[1] == {"ok": True, "camera": "paused"}
    status = web.json("/api/status")[1]
    assert status["view"]["mood"] == "camera paused" and status["view"]["buttons"]["pause"]["label"] == \
        "Resume camera"
    assert press(web, "pause")[1] == {"ok": True, "camera": "ok"}
    assert actions()[before:] == ["skip", "like", "hold", "release", "pause", "resume"]
    volume = send_command(socket_path, "status")["volume"]
    down = press(web, "quieter")[1]["volume"]
    assert down == max(volume - 5, 0) and send_command(socket_path, "status")["volume"] == down
    assert press(web, "louder")[1]["volume"] == min(down + 5, 100)
    code, status = web.json("/api/status")
    assert code == 200 and status["mood"] in EXPRESSIONS  # every status field the page shows; no paths leave the box
    assert "store" not in status and "track" not in status and {"held_for_s", "volume", "problems"} <= set(status)
    assert press(web, "dance")[0] == 404


@pytest.mark.slow
def test_fast_taps_and_skip_with_nothing_playing_are_refused_in_one_line_never_5xx(web, demo_box):
    socket_path, db = demo_box
    time.sleep(2.5)  # a full bucket
    answers = [web.json("/api/quieter", method="POST") for _ in range(8)]
    assert {code for code, _ in answers} == {200, 429}, answers
    assert {a["error"] for code, a in answers if code == 429} == {"Too many taps at once: wait a moment."}
    client, _ = demo_mpd(db)
    try:
        for _ in range(5):  # the demo box switches playlist on a mood change, which plays again: stop again then
            client.stop()
            time.sleep(0.6)
            code, answer = web.json("/api/skip", method="POST")
            if code != 200:
                break
        assert (code, answer) == (409, {"ok": False, "error": "Nothing is playing: nothing to skip."})
    finally:
        client.play()
        client.disconnect()


@pytest.mark.slow
def test_the_music_view_pins_and_excludes_playlists_as_insights_shows(web, demo_box):
    socket_path, db = demo_box
    code, insights = web.json("/api/insights")
    assert code == 200 and set(insights["moods"]) >= {"happy", "sad"} and "held_off" not in insights
    assert insights["moods"] == send_command(socket_path, "insights")["moods"]  # the same data as moodbox insights
    playlist = insights["moods"]["sad"][0]["playlist"]
    for choice in ("pin", "exclude", "auto"):
        code, answer = press(web, "choose", body={"mood": "sad", "playlist": playlist, "choice": choice})
        assert code == 200 and answer["choice"] == choice, answer
        row = next(r for r in web.json("/api/insights")[1]["moods"]["sad"] if r["playlist"] == playlist)
        assert row["choice"] == (None if choice == "auto" else choice)
    choices = json.loads((db.parent / "choices.json").read_text())
    assert choices == []  # auto again: nothing pinned or excluded is kept
    code, answer = press(web, "choose", body={"mood": "sad", "playlist": "no-such", "choice": "pin"})
    assert code == 409 and answer["error"] == "No playlist 'no-such' in the config."


@pytest.mark.slow
def test_history_leaves_file_paths_on_the_box_and_the_chart_fits_each_range(web, demo_box):
    _, db = demo_box
    code, answer = web.json("/api/history?since=24h")
    assert code == 200 and answer["events"] and all("track" not in event for event in answer["events"])
    events = answer["events"]
    first, last = events[0]["at"], events[-1]["at"]
    rows = sqlite3.connect(db).execute(
        "SELECT at, 'play' FROM plays WHERE at BETWEEN ? AND ? UNION ALL "
        "SELECT at, action FROM feedback WHERE at BETWEEN ? AND ?", (first, last, first, last)).fetchall()
    assert sorted(rows) == sorted((e["at"], e["kind"]) for e in events)
    assert web.json("/api/history?since=soon")[0] == 400
    assert web.json("/api/history?since=8d")[0] == 400  # the page never shows more than the last week
    for since in ("1h", "24h", "7d"):
        code, svg, headers = web.request(f"/api/history.svg?since={since}")
        assert code == 200 and headers["Content-Type"] == "image/svg+xml" and b"mood switches" in svg
    assert web.request("/api/history.svg?since=3h")[0] == 400


@pytest.mark.slow
def test_every_answer_carries_the_security_headers_and_the_journal_no_secret(web):
    answers = {"page": web.request("/"), "401": web.request("/", session=None), "404": web.request("/nope"),
               "manifest": web.request("/manifest.webmanifest", session=None),
               "403 pairing": web.request("/pair?code=wrong-code-1", session=None)}
    for method in ("PUT", "DELETE", "PATCH", "HEAD"):
        answers[method] = web.request("/", method=method)
    for name, (code, _, headers) in answers.items():
        for key, value in SECURITY_HEADERS.items():
            assert headers.get(key) == value, (name, code, key)
    assert answers["PUT"][0] == 501 and answers["401"][0] == 401
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as raw:  # http.server's own error
        raw.sendall(b"GET /?tok%65n=" + TOKEN.encode() + b" HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n")
        reply = raw.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 431") and "Content-Security-Policy: default-src 'none'" in reply
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as raw:  # a request line it cannot read
        raw.sendall(b"GET /?tok%65n=" + TOKEN.encode() + b" HTTP/1.1 extra words\r\n\r\n")
        raw.recv(65536)
    secret = "pairing-code-in-a-strange-spelling"
    for path in (f"/pair?code={secret}", f"/pair?cod%65={secret}", f"/pair?%63ode={secret}", f"/?token={secret}",
                 f"/api/status?x=1&code={secret}"):
        web.request(path, session=None)
    time.sleep(0.3)
    log = web.log.read_text()
    assert "GET /pair 403" in log and secret not in log and TOKEN not in log and web.cookie not in log


@pytest.mark.slow
def test_manifest_and_icons_make_a_home_screen_app(web):
    code, body, headers = web.request("/manifest.webmanifest", session=None)
    manifest = json.loads(body)
    assert code == 200 and headers["Content-Type"] == "application/manifest+json"
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        code, png, headers = web.request(icon["src"], session=None)
        size = int(icon["sizes"].split("x")[0])
        assert code == 200 and png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == size


# -- in a real browser --------------------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt: chromium)")


def page_shown(tab) -> bool:
    return tab.js("document.body.dataset.live === 'yes' && !!document.getElementById('buttons')")


@pytest.mark.slow
@needs_chromium
def test_chromium_pairs_reloads_opens_a_bookmark_and_keeps_no_secret_that_opens_the_page(demo_box, tmp_path):
    socket_path, db = demo_box
    server = WebProcess(web_config(tmp_path, socket_path, db))
    profile = tmp_path / "profile"
    pair_url = server.pair_url()
    browser = Browser(profile)
    try:
        tab = browser.tab(pair_url)
        assert tab.url() == f"http://127.0.0.1:{server.port}/"  # the code left the address bar
        tab.wait_for(lambda: tab.text("#mood").split()[0] in (*EXPRESSIONS, "camera"), "the mood")
        assert page_shown(tab)
        tab.open(tab.url())  # reload
        assert page_shown(tab)
        bookmark = browser.tab(f"http://127.0.0.1:{server.port}/")  # a bookmark, in a new tab
        assert page_shown(bookmark) and bookmark.text("#song").count(":") >= 1
        assert tab.manifest()["errors"] == [] and tab.manifest()["url"].endswith("/manifest.webmanifest")
        assert tab.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}  # "Add to home screen"
        assert tab.errors() == [] and bookmark.errors() == []
        cookie_rows = browser.send("Storage.getCookies")["cookies"]
        cookie = next(c for c in cookie_rows if c["name"] == "moodbox_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time() + 300 * 86400
        assert tab.js("document.cookie") == ""  # HttpOnly: no script reads it
    finally:
        browser.close()
    browser = Browser(profile)  # the home-screen icon after the phone restarted
    try:
        again = browser.tab(f"http://127.0.0.1:{server.port}/")
        assert page_shown(again) and again.errors() == []
    finally:
        browser.close()
    # the profile: the pairing link is in History, Sessions, Favicons... but spent; the session nowhere but the
    # cookie jar
    history = sqlite3.connect(f"file:{profile / 'Default' / 'History'}?mode=ro&immutable=1", uri=True)
    assert f"http://127.0.0.1:{server.port}/" in [row[0] for row in history.execute("SELECT url FROM urls")]
    codes, holding = set(), []
    for path in profile.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            codes.update(re.findall(rb"code=([\w-]{20,})", data))
            if cookie["value"].encode() in data and not path.name.startswith("Cookies"):
                holding.append(str(path.relative_to(profile)))
    assert holding == [], holding
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(pair_url).query)["code"][0].encode() in codes
    for code in codes:
        assert server.request(f"/pair?code={code.decode()}", session=None)[0] == 403  # spent: opens nothing
    server.close()


@pytest.mark.slow
@needs_chromium
def test_chromium_buttons_show_their_state_before_and_after(web, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        tab = browser.tab(web.pair_url())
        tab.wait_for(lambda: page_shown(tab), "the page")
        label = lambda action: tab.text(f"button[data-action={action}]")  # noqa: E731
        pressed = lambda action: tab.js(  # noqa: E731
            f"document.querySelector('button[data-action={action}]').getAttribute('aria-pressed')")
        assert (label("hold"), pressed("hold")) == ("Hold", "false")
        assert (label("pause"), pressed("pause")) == ("Pause camera", "false")
        tab.click("button[data-action=hold]")
        tab.wait_for(lambda: label("hold").startswith("Release (29 min") or label("hold").startswith("Release (30"),
                     "Release (… left)")
        assert pressed("hold") == "true" and tab.text("#message").startswith("Hold: done")
        time.sleep(0.6)
        tab.click("button[data-action=pause]")
        tab.wait_for(lambda: label("pause") == "Resume camera", "Resume camera")
        tab.wait_for(lambda: tab.text("#mood") == "camera paused", "camera paused instead of the old mood")
        for action, back in (("pause", "Pause camera"), ("hold", "Hold")):
            time.sleep(0.6)
            tab.click(f"button[data-action={action}]")
            tab.wait_for(lambda: label(action) == back, back)
        tab.wait_for(lambda: tab.text("#mood").split()[0] in EXPRESSIONS, "the mood again")
        tab.wait_for(lambda: tab.js("document.querySelectorAll('#upcoming li').length") >= 1, "playing next")
        tab.click("#ranges button[data-since='1h']")
        tab.wait_for(lambda: tab.js("document.getElementById('chart').complete && "
                                    "document.getElementById('chart').naturalWidth > 0 && "
                                    "document.getElementById('chart').src.includes('since=1h')"), "the hour chart")
        time.sleep(0.6)
        tab.click("button[data-action=like]")  # feedback in this part of the day
        tab.wait_for(lambda: tab.text("#message").startswith("Like"), "Like: done")
        tab.click("nav button[data-view=music]")
        tab.wait_for(lambda: tab.js("document.querySelectorAll('#moods section .playlist').length") >= 4,
                     "the Music view")
        now = part_of_day(time.localtime().tm_hour)  # the part of the day the like was given in
        tab.wait_for(lambda: tab.js(f"!!document.querySelector('#moods ul.parts li[data-part={now}]')"),
                     f"what was learned in the {now}")
        time.sleep(0.6)
        tab.click("#moods section button[data-choice=pin]")
        tab.wait_for(lambda: tab.js("document.querySelector('#moods section button[data-choice=pin]')"
                                    ".getAttribute('aria-pressed')") == "true", "pinned")
        tab.click("#moods section button[data-choice=auto]")
        tab.wait_for(lambda: tab.js("document.querySelector('#moods section button[data-choice=auto]')"
                                    ".getAttribute('aria-pressed')") == "true", "auto again")
        assert tab.errors() == []
    finally:
        browser.close()


HOSTILE = ["{status}", "{chart}</script><script>document.body.dataset.owned=1</script>",
           '"><img src=x onerror="document.body.dataset.owned=1">', "W" * 3000, "موسيقى هادئة \u202e evil",
           "${alert(1)} {{7*7}} {% raw %}"]


@pytest.mark.slow
@needs_chromium
def test_a_hostile_library_shows_as_text_with_no_console_error(web, demo_box, tmp_path):
    socket_path, db = demo_box
    client, music = demo_mpd(db)
    hostile = music / "hostile"
    hostile.mkdir(exist_ok=True)
    for number, title in enumerate(HOSTILE):
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "--comment", f"ARTIST={title}", "--add-comment",
                        f"TITLE={title}", str(hostile / f"h{number}.ogg"), "synth", "60", "sine", "440", "vol", "0.1"],
                       check=True, capture_output=True)
    def scanned() -> bool:
        try:
            return len(client.lsinfo("hostile")) == len(HOSTILE)
        except mpd.CommandError:  # the update has not reached the folder yet
            return False
    browser, ids = Browser(tmp_path / "profile"), []
    try:
        client.update("hostile")
        assert wait_until(scanned, timeout_s=30)
        if not web.json("/api/status")[1]["held_for_s"]:
            assert press(web, "hold")[1]["held"]  # no mood switch replaces the queue meanwhile
        ids = [client.addid(f"hostile/h{number}.ogg") for number in range(len(HOSTILE))]
        tab = browser.tab(web.pair_url())
        for song_id, title in zip(ids, HOSTILE):
            client.playid(song_id)
            assert wait_until(lambda: (web.json("/api/status")[1].get("now_playing") or "").endswith(title[-20:]),
                              timeout_s=10)
            tab.open(tab.url(), settle_s=2.5)  # the first paint (template) and the script's refresh
            assert page_shown(tab) and tab.text("#song").endswith(f"{title} - {title}"), title[:40]
            assert tab.js("document.body.dataset.owned") is None
            assert tab.js("document.querySelectorAll('img').length") == 1  # the chart; nothing injected
            assert tab.js("document.querySelectorAll('script').length") == 1
        tab.wait_for(lambda: any(HOSTILE[1] in item for item in
                                 tab.js("[...document.querySelectorAll('#upcoming li')].map(e => e.textContent)")),
                     "hostile titles in Playing next")
        assert tab.errors() == []
    finally:
        browser.close()
        if web.json("/api/status")[1]["held_for_s"]:
            press(web, "hold")  # release
        for song_id in ids:
            try:
                client.deleteid(song_id)
            except mpd.CommandError:
                pass  # already gone with a new queue
        client.disconnect()


@pytest.mark.slow
@needs_chromium
def test_a_browser_that_is_not_paired_sees_how_to_pair(web, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        tab = browser.tab(f"{web.url}/")
        assert "sudo moodbox web --pair" in tab.text("body") and tab.js("document.scripts.length") == 0
        assert all("401" in error for error in tab.errors()), tab.errors()  # only the answer's own status
        tab.open(f"{web.url}/pair?code=made-up")
        assert "already used or has expired" in tab.text("#pairing")
    finally:
        browser.close()
