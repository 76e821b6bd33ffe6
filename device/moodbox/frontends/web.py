"""``moodbox web``: the opt-in phone page, served by its own process (``moodbox-web.service``), never by the daemon.

It shows what ``moodbox top`` shows, what plays next, the history chart (last hour / day / week) and a Music view
(per mood, the playlists the box uses and what it learned about them, with pin and exclude), and has buttons for
skip, like, hold, pause and volume. It reaches the daemon only through the control socket and reads the store
read-only; it never sees a camera frame. Off unless ``web.enabled = true``.

Who may open it: a phone paired with a one-time code (``moodbox web --pair`` shows the link as a QR code), which
then holds a session cookie (:mod:`moodbox.frontends.websessions`). Whatever changes state is a POST with the session and
this page's own ``Origin``, so no link or other web site can press a button. ``--pair``, ``--sessions`` and
``--revoke`` talk to the running process with the box's token (``web.token_file``; under systemd the credential
``token``), from this machine only.

    GET  /                       the page (needs a session; else a page that says how to pair)
    GET  /pair?code=C            spends a pairing code: sets the session cookie and redirects to /
    GET  /api/status             what the box sees and plays, and how the page shows it (JSON)
    GET  /api/upcoming           the next songs in the queue
    GET  /api/insights           per mood, the playlists and what was learned (as ``moodbox insights``)
    GET  /api/history?since=24h  plays and feedback from the store (at most a week)
    GET  /api/history.svg?since= the history chart, its time axis fitted to the data
    POST /api/<action>           skip, like, hold, pause, louder, quieter; /api/choose {mood, playlist, choice}
    GET  /manifest.webmanifest, /app.js, /style.css, /icon-<size>.png: the page's parts (no secrets)
    POST /admin/pair, GET /admin/sessions, POST /admin/revoke: for ``moodbox web`` on this machine (token)
"""

from __future__ import annotations

import argparse
import hmac
import io
import ipaddress
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, replace
from functools import lru_cache
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

from moodbox.config import DEFAULT_PATH, ConfigError, WebConfig, load_config
from moodbox.frontends.control import ControlError, DaemonNotRunning, send_command
from moodbox.frontends.history import HistoryError, clock_text, load_events, parse_duration, plot
from moodbox.frontends.websessions import COOKIE, SESSION_S, Sessions, check_secret_file

log = logging.getLogger("moodbox.frontends.web")

EXIT_CONFIG = 2
EXIT_FAILURE = 1
ACTIONS = ("skip", "like", "hold", "pause", "louder", "quieter")
TOKEN_HEADER = "X-Moodbox-Token"
# What the page may show of the daemon's status (the store's path and the like stay on the box).
SHOWN = ("status", "problems", "camera", "mpd", "mood", "mood_confidence", "expressions", "face_in_view", "playlist",
         "now_playing", "state", "elapsed_s", "duration_s", "volume", "held_for_s")
RANGES = {"1h": "last hour", "24h": "last day", "7d": "last week"}
HISTORY_S = 7 * 86400.0          # the page shows at most the last week
MAX_FAILURES = 5                 # wrong codes or tokens from one address within FAILURE_WINDOW_S, then 429
FAILURE_WINDOW_S = 60.0
LISTEN_BACKLOG = 128             # a household's phones opening the page at once wait in the queue, not time out
STATUS_TTL_S = 0.5               # many page loads at once share one status from the daemon
CHART_TTL_S = 30.0
REQUESTS_PER_S, REQUEST_BURST = 20.0, 100   # per client address: every request
TAPS_PER_S, TAP_BURST = 2.0, 4              # per client address: buttons (the daemon takes 5 a second in all)
MAX_BODY = 4096
PAGE_DIR = Path(__file__).with_name("webpage")
ICON_SIZES = (192, 512)
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()", "Cache-Control": "no-store"}
FACE_TEXT = {True: "in view", False: "not in view", None: "unknown (camera off)"}


class Guard:
    """Counts failures (wrong codes, wrong tokens) per client address; ``retry_after(address)`` > 0 while that
    address is locked out."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S,
                 clock=time.monotonic):
        self._max, self._window, self._clock = max_failures, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= self._clock() - self._window:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> float:
        with self._lock:
            failures = self._recent(address)
            if not failures:
                del self._failures[address]  # forget addresses that behaved for a whole window
            return failures[0] + self._window - self._clock() if len(failures) >= self._max else 0.0

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())


class RateLimits:
    """A token bucket per client address: ``per_s`` a second on average, ``burst`` at once."""

    def __init__(self, per_s: float, burst: int, clock=time.monotonic, max_clients: int = 256):
        self._per_s, self._burst, self._clock, self._max = per_s, burst, clock, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.pop(address, (float(self._burst), now))
            tokens = min(self._burst, tokens + (now - at) * self._per_s)
            if len(self._buckets) >= self._max:
                del self._buckets[next(iter(self._buckets))]  # the longest quiet
            allowed = tokens >= 1.0
            self._buckets[address] = (tokens - 1.0 if allowed else tokens, now)
            return allowed


def read_token(web: WebConfig) -> str:
    """The box's token: systemd's credential ``token`` when started by the unit, else ``web.token_file`` (refused
    unless mode 0600/0640 and owned by root or this user)."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    path = Path(credentials) / "token" if credentials else Path(web.token_file)
    try:
        check_secret_file(path)
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the web token {path}: {exc.strerror} (config key web.token_file; "
                          "sudo ./setup.sh --web makes it)") from exc
    if len(token) < 16:
        raise ConfigError(f"the web token in {path} is shorter than 16 characters: make a new one with "
                          "sudo ./setup.sh --web")
    return token


def state_dir(web: WebConfig) -> Path:
    """Where the sessions are kept: systemd's StateDirectory when started by the unit, else ``web.state_dir``."""
    return Path(os.environ.get("STATE_DIRECTORY") or web.state_dir)


_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+([\w.+-]+)")


def without_paths(text: str) -> str:
    """A message for the page: file paths on the box become their last part ("/var/lib/x/feedback.db" ->
    "feedback.db"); the page never shows where things are."""
    return _PATH.sub(r"\1", text)


class Box:
    """What the page needs from the box: the daemon (control socket) and the store (read-only)."""

    def __init__(self, socket_path: str, db_path: Path, clock: Callable[[], float] = time.monotonic):
        self.socket_path, self.db_path, self._clock = socket_path, db_path, clock
        self._cache: dict[str, tuple[float, object]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, ttl_s: float, make: Callable[[], object]):
        """``make()``, shared by requests within ``ttl_s``: a burst of page loads asks the daemon once. One lock per
        key: a chart being drawn never holds up the status."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            at, value = self._cache.get(key, (float("-inf"), None))
            if self._clock() - at >= ttl_s:
                value = make()
                self._cache[key] = (self._clock(), value)
            return value

    def ask(self, command: str, params: dict | None = None) -> dict:
        try:
            return send_command(self.socket_path, command, timeout_s=3.0, params=params)
        except DaemonNotRunning:
            return {"ok": False, "error": "moodbox is not running (on the box: sudo systemctl status moodbox)"}
        except ControlError:
            return {"ok": False, "error": "moodbox does not answer (on the box: sudo systemctl status moodbox)"}

    def status(self) -> dict:
        def fetch():
            answer = self.ask("status")
            shown = {key: answer[key] for key in SHOWN if key in answer}
            shown["problems"] = [without_paths(str(problem)) for problem in shown.get("problems", [])]
            return {"ok": bool(answer.get("ok")), **shown, **({} if answer.get("ok") else {"error": answer["error"]})}
        return self._cached("status", STATUS_TTL_S, fetch)

    def events(self, since_s: float) -> list[dict]:
        now = time.time()
        return [{key: value for key, value in asdict(event).items() if key != "track"}  # a file path in the library
                for event in load_events(self.db_path, now - since_s, now)]

    def chart_svg(self, since: str) -> bytes:
        def draw():
            now = time.time()
            events = load_events(self.db_path, now - parse_duration(since), now)
            start = chart_start(events[0].at if events else None, now, parse_duration(since))
            buffer = io.BytesIO()
            plot(events, buffer, start, now, fmt="svg", size=(6.4, 3.6))  # a phone's width
            return buffer.getvalue()
        return self._cached(f"chart-{since}", CHART_TTL_S, draw)


def chart_start(first_at: float | None, now: float, since_s: float) -> float:
    """Where the chart's time axis starts: ``since_s`` ago, or shortly before the first event when the data is
    younger than that (a new box's few minutes fill the chart, not its last pixels).

    >>> chart_start(None, 100_000.0, 86400.0), chart_start(99_400.0, 100_000.0, 86400.0)
    (13600.0, 99340.0)
    """
    start = now - since_s
    if first_at is None:
        return start
    return max(start, first_at - max(60.0, 0.1 * (now - first_at)))


def view(status: dict) -> dict:
    """How the page shows ``status``: its lines and each button's label and state. The server's first paint and
    the page's script (every refresh) both show exactly this, so the wording lives here only."""
    if not status.get("ok"):
        return {"problem": True, "mood": status.get("error") or "no answer from the box", "mood_class": "problem",
                "face": "", "song": "", "progress": "", "box": "", "buttons": {}}
    text = lambda value: "-" if value is None else str(value)  # noqa: E731
    paused = status.get("camera") == "paused"
    held_s = status.get("held_for_s") or 0
    seen = " · ".join(f"{label} {p:.0%}" for label, p in (status.get("expressions") or {}).items()) or "-"
    if paused:
        mood, mood_class, face = "camera paused", "mood paused", "face: camera paused (privacy)"
    else:
        confidence = f" {status['mood_confidence']:.0%}" if status.get("mood") and status.get("mood_confidence") else ""
        mood = (status.get("mood") or "not known yet") + confidence
        mood_class = f"mood {status.get('mood') or 'unknown'}"
        face = f"face {FACE_TEXT[status.get('face_in_view')]} · sees {seen}"
    playing = status.get("state") in ("play", "pause") and status.get("now_playing") is not None
    return {
        "problem": False, "mood": mood, "mood_class": mood_class, "face": face,
        "song": f"{text(status.get('playlist'))}: {text(status.get('now_playing'))}",
        "progress": f"{clock_text(status.get('elapsed_s'))} / {clock_text(status.get('duration_s'))} · "
                    f"{text(status.get('state'))} · volume {text(status.get('volume'))}",
        "box": f"{text(status.get('status'))} · camera {text(status.get('camera'))} · MPD {text(status.get('mpd'))}"
               f" · problems: {'; '.join(status.get('problems') or []) or 'none'}",
        "buttons": {
            "skip": {"label": "Skip", "disabled": not playing, "pressed": False},
            "like": {"label": "Like", "disabled": not playing, "pressed": False},
            "hold": {"label": f"Release ({_minutes(held_s)} left)" if held_s else "Hold", "disabled": False,
                     "pressed": bool(held_s)},
            "pause": {"label": "Resume camera" if paused else "Pause camera", "disabled": False, "pressed": paused},
            "quieter": {"label": "Vol −", "disabled": status.get("volume") is None, "pressed": False},
            "louder": {"label": "Vol +", "disabled": status.get("volume") is None, "pressed": False}}}


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min" if seconds >= 60 else f"{int(seconds)} s"


def action_answer(action: str, answer: dict) -> tuple[HTTPStatus, dict]:
    """The HTTP answer to a button: one line for people. A refusal (nothing to skip, too many taps) is a 4xx, never
    a 5xx; a failure shows no player's raw wording (that is in the box's log)."""
    if answer.get("ok"):
        return HTTPStatus.OK, answer
    error = str(answer.get("error", ""))
    if error.startswith("too many commands"):
        return HTTPStatus.TOO_MANY_REQUESTS, {"ok": False, "error": "Too many taps at once: wait a moment."}
    if answer.get("refused"):
        line = without_paths(error)
        return HTTPStatus.CONFLICT, {"ok": False, "error": line[:1].upper() + line[1:] + "."}
    if error.startswith("moodbox "):  # from Box.ask: not running, not answering
        return HTTPStatus.SERVICE_UNAVAILABLE, {"ok": False, "error": error}
    return HTTPStatus.BAD_GATEWAY, {"ok": False, "error": f"The box could not {action} now (its log says why: "
                                                          "journalctl -u moodbox)."}


@lru_cache(maxsize=None)
def icon_png(size: int) -> bytes:
    """The home-screen icon, drawn here: a round face in the page's colours on a dark square."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "#1f2a44")
    draw = ImageDraw.Draw(image)
    unit = size / 16
    draw.ellipse([3 * unit, 3 * unit, 13 * unit, 13 * unit], fill="#f2c230")
    for x in (6.2, 9.8):
        draw.ellipse([(x - 0.7) * unit, 6.3 * unit, (x + 0.7) * unit, 7.7 * unit], fill="#1f2a44")
    draw.arc([5.5 * unit, 6.5 * unit, 10.5 * unit, 11 * unit], 20, 160, fill="#1f2a44", width=max(1, int(unit)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def manifest() -> dict:
    return {"name": "moodbox", "short_name": "moodbox", "description": "What the box sees and plays; steer it",
            "start_url": "/", "scope": "/", "display": "standalone", "background_color": "#fafafa",
            "theme_color": "#1f2a44",
            "icons": [{"src": f"/icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png",
                       "purpose": "any"} for size in ICON_SIZES]}


@lru_cache(maxsize=None)
def templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(PAGE_DIR), autoescape=True, undefined=StrictUndefined)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


_QUERY = re.compile(r"\?[^\s'\"]*")


def make_handler(box: Box, token: str, sessions: Sessions, guard: Guard):
    requests, taps = RateLimits(REQUESTS_PER_S, REQUEST_BURST), RateLimits(TAPS_PER_S, TAP_BURST)

    class Handler(BaseHTTPRequestHandler):
        server_version = "moodbox-web"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = 30  # seconds a client may idle mid-request before its thread lets go

        # -- the journal: never a query (pairing codes), however it is spelled --------------------------------

        def log_request(self, code="-", size="-"):
            path = urlsplit(getattr(self, "path", "") or "-").path
            log.info("%s %s %s %s", self.client_address[0], self.command, path.encode("unicode_escape").decode(),
                     int(code) if isinstance(code, (int, HTTPStatus)) else code)

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            log.info("%s %s", self.client_address[0], _QUERY.sub("?(hidden)", format % args))

        # -- who asks -----------------------------------------------------------------------------------------

        @property
        def address(self) -> str:
            return self.client_address[0]

        def _session(self) -> dict | None:
            try:
                cookie = SimpleCookie(self.headers.get("Cookie", "")).get(COOKIE)
            except CookieError:
                return None
            return sessions.check(cookie.value if cookie else None)

        def _same_origin(self) -> bool:
            """A state change must come from this page: its Origin is this host (what the browser asked for)."""
            origin, host = self.headers.get("Origin"), self.headers.get("Host")
            fetch_site = self.headers.get("Sec-Fetch-Site")
            return bool(origin and host) and origin in (f"http://{host}", f"https://{host}") \
                and fetch_site in (None, "same-origin")

        def _locked_out(self) -> bool:
            wait = guard.retry_after(self.address)
            if wait > 0:
                self._send(HTTPStatus.TOO_MANY_REQUESTS, {"ok": False, "error": "too many wrong codes: wait"},
                           headers={"Retry-After": str(int(wait) + 1)})
            return wait > 0

        def _admin(self) -> bool:
            """``moodbox web --pair/--sessions/--revoke``: this machine only, with the box's token."""
            if self._locked_out():
                return False
            local = _is_loopback(self.address) or self.address == self.connection.getsockname()[0]
            offered = self.headers.get(TOKEN_HEADER) or ""
            if not local or self.headers.get("Origin") or not hmac.compare_digest(offered.encode(), token.encode()):
                guard.failed(self.address)
                log.warning("refused an admin request from %s", self.address)
                self._send(HTTPStatus.FORBIDDEN, {"ok": False, "error": "only moodbox web on the box itself, with "
                                                                        "the token, may do that"})
                return False
            return True

        # -- requests -----------------------------------------------------------------------------------------

        def do_GET(self):  # noqa: N802 - http.server's name
            if not requests.allow(self.address):
                self._send(HTTPStatus.TOO_MANY_REQUESTS, {"ok": False, "error": "too many requests: wait"},
                           headers={"Retry-After": "1"})
                return
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            public = {"/app.js": self._static, "/style.css": self._static, "/manifest.webmanifest": self._manifest,
                      "/pair": lambda: self._pair((query.get("code") or [""])[0])}
            public.update({f"/icon-{size}.png": self._icon for size in ICON_SIZES})
            if url.path in public:
                public[url.path]()
                return
            if url.path == "/admin/sessions":
                if self._admin():
                    self._send(HTTPStatus.OK, {"ok": True, "sessions": sessions.list()})
                return
            if self._session() is None:
                if url.path == "/":
                    self._html(HTTPStatus.UNAUTHORIZED, "unpaired.html")
                else:
                    self._send(HTTPStatus.UNAUTHORIZED, {"ok": False, "error": "this phone is not paired (on the "
                                                                               "box: sudo moodbox web --pair)"})
                return
            if url.path == "/":
                status = box.status()
                self._html(HTTPStatus.OK, "page.html", status=status, view=view(status), ranges=RANGES)
            elif url.path == "/api/status":
                status = box.status()
                self._send(HTTPStatus.OK, {**status, "view": view(status)})
            elif url.path == "/api/upcoming":
                answer = box.ask("upcoming")
                self._send(HTTPStatus.OK, {"ok": bool(answer.get("ok")), "upcoming": answer.get("upcoming", [])})
            elif url.path == "/api/insights":
                answer = box.ask("insights")
                self._send(HTTPStatus.OK if answer.get("ok") else HTTPStatus.SERVICE_UNAVAILABLE,
                           {key: value for key, value in answer.items() if key != "held_off"})  # song files
            elif url.path in ("/api/history", "/api/history.svg"):
                self._history(url.path, (query.get("since") or ["24h"])[0])
            else:
                self._send(HTTPStatus.NOT_FOUND, {"ok": False, "error": "no such page"})

        def do_POST(self):  # noqa: N802
            path = urlsplit(self.path).path
            body = self._body()
            if body is None:
                return
            if path.startswith("/admin/"):
                if self._admin():
                    self._admin_post(path, body)
                return
            if self._session() is None:
                self._send(HTTPStatus.UNAUTHORIZED, {"ok": False, "error": "this phone is not paired (on the box: "
                                                                           "sudo moodbox web --pair)"})
                return
            if not self._same_origin():
                self._send(HTTPStatus.FORBIDDEN, {"ok": False, "error": "refused: not sent by this page"})
                return
            action = path.removeprefix("/api/")
            if action not in (*ACTIONS, "choose"):
                self._send(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no action {action!r}"})
                return
            if not taps.allow(self.address):
                self._send(HTTPStatus.TOO_MANY_REQUESTS, {"ok": False, "error": "Too many taps at once: wait a "
                                                                                "moment."})
                return
            params = None
            if action == "choose":
                params = {key: str(body.get(key, "")) for key in ("mood", "playlist", "choice")}
            self._send(*action_answer(action, box.ask(action, params)))

        def _body(self) -> dict | None:
            """The request's JSON object ({} without one); None when an error was answered."""
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self._send(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"a body of 0..{MAX_BODY} bytes, please"})
                return None
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(HTTPStatus.BAD_REQUEST, {"ok": False, "error": "the body must be a JSON object"})
                return None
            return body

        def _admin_post(self, path: str, body: dict):
            if path == "/admin/pair":
                self._send(HTTPStatus.OK, {"ok": True, "code": sessions.pair()})
            elif path == "/admin/revoke":
                ended = sessions.revoke(str(body.get("id", "")))
                self._send(HTTPStatus.OK if ended else HTTPStatus.NOT_FOUND,
                           {"ok": bool(ended), "revoked": ended, **({} if ended else {"error": "no such session"})})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"ok": False, "error": "no such page"})

        def _pair(self, code: str):
            if self._locked_out():
                return
            agent = re.search(r"\(([^)]*)\)", self.headers.get("User-Agent", ""))
            cookie = sessions.redeem(code, f"{agent.group(1) if agent else 'a browser'} from {self.address}")
            if cookie is None:
                guard.failed(self.address)
                log.warning("a used, expired or wrong pairing code from %s", self.address)
                self._html(HTTPStatus.FORBIDDEN, "unpaired.html", spent=True)
                return
            log.info("paired a new phone from %s", self.address)
            self._send_bytes(HTTPStatus.SEE_OTHER, b"", "text/plain", headers={
                "Location": "/",
                "Set-Cookie": f"{COOKIE}={cookie}; Path=/; Max-Age={int(SESSION_S)}; HttpOnly; SameSite=Strict"})

        def _history(self, path: str, since: str):
            try:
                if since not in RANGES:
                    seconds = parse_duration(since)
                    if seconds > HISTORY_S:
                        raise ValueError("the page shows at most the last week (7d)")
                if path.endswith(".svg"):
                    if since not in RANGES:
                        raise ValueError(f"the chart shows one of {', '.join(RANGES)}")
                    self._send_bytes(HTTPStatus.OK, box.chart_svg(since), "image/svg+xml")
                else:
                    self._send(HTTPStatus.OK, {"ok": True, "events": box.events(parse_duration(since))})
            except ValueError as err:
                self._send(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"since: {err}"})
            except HistoryError:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"ok": False, "error": "no history yet (the box has "
                                                                                  "not played anything)"})

        # -- answers ------------------------------------------------------------------------------------------

        def _static(self):
            name = urlsplit(self.path).path.lstrip("/")
            self._send_bytes(HTTPStatus.OK, (PAGE_DIR / name).read_bytes(), CONTENT_TYPES[Path(name).suffix])

        def _icon(self):
            size = int(urlsplit(self.path).path.removeprefix("/icon-").removesuffix(".png"))
            self._send_bytes(HTTPStatus.OK, icon_png(size), "image/png")

        def _manifest(self):
            self._send_bytes(HTTPStatus.OK, json.dumps(manifest()).encode(), "application/manifest+json")

        def _html(self, code: HTTPStatus, template: str, **context):
            page = templates().get_template(template).render(**context)
            self._send_bytes(code, page.encode(), "text/html; charset=utf-8")

        def _send(self, code: HTTPStatus, answer: dict, headers: dict | None = None):
            self._send_bytes(code, json.dumps(answer).encode(), "application/json", headers)

        def _send_bytes(self, code: HTTPStatus, body: bytes, content_type: str, headers: dict | None = None):
            self.send_response(code)
            for key, value in {"Content-Type": content_type, "Content-Length": str(len(body)),
                               **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def end_headers(self):
            """Every answer carries the security headers: pages, JSON, errors, 404 and 501 alike."""
            for key, value in SECURITY_HEADERS.items():
                self.send_header(key, value)
            super().end_headers()

        def send_error(self, code, message=None, explain=None):
            """http.server's own errors (a bad request line, 501 for an unknown method) as one JSON line."""
            self.close_connection = True
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "error"
            if getattr(self, "command", None) is None:
                self.command = "-"
            self._send(code, {"ok": False, "error": phrase.lower()}, headers={"Connection": "close"})
            log.info("%s answered %s: %s", self.address, int(code), _QUERY.sub("?(hidden)", str(message or "")))

    return Handler


class Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def lan_address() -> str:
    """This machine's address on its default route (a UDP connect picks the route; no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, never sent to
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def local_url(web: WebConfig) -> str:
    """Where ``moodbox web`` on this machine reaches the running page."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(web.address, web.address)
    return f"http://{host if ':' not in host or host.startswith('[') else f'[{host}]'}:{web.port}"


def pair_urls(web: WebConfig, code: str, host: str | None = None) -> list[str]:
    """The pairing links: by the mDNS name (``NAME.local``, Avahi) first, then by the LAN address."""
    hosts = [host] if host else [f"{socket.gethostname()}.local",
                                 lan_address() if web.address in ("0.0.0.0", "::", "") else web.address]
    return [f"http://{name}:{web.port}/pair?code={quote(code)}" for name in hosts]


def serve(config, *, token: str) -> Server:
    """The server for ``config`` (not yet serving: call ``serve_forever``); raises OSError if the port is taken,
    ConfigError for a sessions file that is not private."""
    box = Box(config.state.control_socket, Path(config.state.dir) / "feedback.db")
    directory = state_dir(config.web)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    sessions = Sessions(directory / "sessions.json")
    return Server((config.web.address, config.web.port), make_handler(box, token, sessions, Guard()))


def _admin_call(config, token: str, method: str, path: str, body: dict | None = None) -> dict:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(local_url(config.web) + path, method=method,
                                     headers={TOKEN_HEADER: token, "Content-Type": "application/json"},
                                     data=json.dumps(body or {}).encode() if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"{}") | {"ok": False}
    except OSError as err:
        return {"ok": False, "error": f"the phone page does not answer on {local_url(config.web)} ({err}): is it "
                                     "running? (sudo systemctl status moodbox-web)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moodbox web", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--pair", action="store_true",
                      help="print a one-time pairing link (valid 10 minutes) and its QR code for a phone")
    what.add_argument("--sessions", action="store_true", help="list the paired phones")
    what.add_argument("--revoke", metavar="ID", help="unpair the phone with this id (--sessions lists them; all: "
                                                     "every phone)")
    parser.add_argument("--host", help="with --pair: the name or address the phone uses (default: NAME.local, "
                                       "and this machine's LAN address)")
    parser.add_argument("--port", type=int, help="listen on this port instead of web.port (0: any free port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config)
        if args.port is not None:
            config = replace(config, web=replace(config.web, port=args.port))
        if not config.web.enabled:
            raise ConfigError(f"{args.config}: web.enabled is false: the phone page is off (set [web] enabled = "
                              "true, or run sudo ./setup.sh --web)")
        token = read_token(config.web)
        if args.pair or args.sessions or args.revoke:
            return _manage(config, token, args)
    except ConfigError as err:
        print(f"moodbox web: {err}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        server = serve(config, token=token)
    except ConfigError as err:
        print(f"moodbox web: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as err:
        print(f"moodbox web: cannot listen on {config.web.address}:{config.web.port}: {err.strerror} "
              "(config keys web.address, web.port)", file=sys.stderr)
        return EXIT_FAILURE
    host, port = server.server_address[:2]
    print(f"moodbox web: serving the phone page on http://{host}:{port}/ (pair a phone: moodbox web --pair)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _manage(config, token: str, args) -> int:
    """--pair, --sessions, --revoke: through the running web process, which owns the codes and sessions."""
    if args.pair:
        answer = _admin_call(config, token, "POST", "/admin/pair")
        if not answer.get("ok"):
            print(f"moodbox web: {answer.get('error', 'no code')}", file=sys.stderr)
            return EXIT_FAILURE
        import segno
        first, *others = pair_urls(config.web, answer["code"], args.host)
        print(f"Open this on the phone within 10 minutes (it works once):\n{first}")
        for other in others:
            print(f"or, where the phone does not find .local names:\n{other}")
        segno.make(first, error="m").terminal(compact=True)
        return 0
    if args.sessions:
        answer = _admin_call(config, token, "GET", "/admin/sessions")
        if not answer.get("ok"):
            print(f"moodbox web: {answer.get('error', 'no answer')}", file=sys.stderr)
            return EXIT_FAILURE
        rows = answer["sessions"]
        when = lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t))  # noqa: E731
        print("\n".join(f"{s['id']}  paired {when(s['created'])}  last seen {when(s['last_seen'])}  {s['label']}"
                        for s in rows) or "no paired phones (moodbox web --pair pairs one)")
        return 0
    answer = _admin_call(config, token, "POST", "/admin/revoke", {"id": args.revoke})
    if not answer.get("ok"):
        problem = answer.get("error", "no answer")
        if problem == "no such session":
            problem = f"no paired phone with id {args.revoke!r} (moodbox web --sessions lists them)"
        print(f"moodbox web: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"unpaired {answer['revoked']} phone{'s' if answer['revoked'] != 1 else ''}")
    return 0
