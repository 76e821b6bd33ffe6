"""``moodbox web``: the opt-in phone page, served by its own process (``moodbox-web.service``), never by the daemon.

It shows what ``moodbox top`` shows plus the day's history chart, and has buttons for skip, like, hold, pause and
volume. It reaches the daemon only through the control socket and reads the store read-only; it never sees a
camera frame. Off unless ``web.enabled = true``.

Every request needs the box's token (``web.token_file``, made by ``setup.sh --web``; under systemd it comes as
the credential ``token``): the page itself as ``/?token=...`` (the link ``moodbox web --url`` prints and shows as a
QR code), everything else in the ``X-Moodbox-Token`` header, and whatever changes state is a POST, so no link or
form on another site can press a button. A client that sends wrong tokens is answered 429 for a while.

    GET  /?token=T              the page (status, chart, buttons; a small script refreshes it)
    GET  /api/status            what the box sees and plays (JSON)
    GET  /api/history?since=24h plays and feedback from the store (JSON)
    GET  /api/history.svg       the history chart
    POST /api/<action>          skip, like, hold, pause, louder, quieter
"""

from __future__ import annotations

import argparse
import hmac
import html
import io
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from moodbox.config import DEFAULT_PATH, ConfigError, WebConfig, load_config
from moodbox.errors import EXIT_CONFIG, EXIT_FAILURE
from moodbox.names import ACTION_INFO
from moodbox.frontends.control import ControlError, send_command
from moodbox.frontends.history import parse_duration, plot
from moodbox.frontends.page import PAGE, render_status, script_json
from moodbox.music.store import HistoryError, read_timeline

log = logging.getLogger("moodbox.frontends.web")

ACTIONS = tuple(info.name for info in ACTION_INFO.values() if info.button)  # what the page offers
TOKEN_HEADER = "X-Moodbox-Token"
# What the page may show of the daemon's status (the store's path and the like stay on the box).
SHOWN = ("status", "problems", "camera", "mpd", "mood", "mood_confidence", "expressions", "face_in_view", "playlist",
         "now_playing", "state", "elapsed_s", "duration_s", "volume", "held_for_s")
MAX_FAILURES = 5        # wrong tokens from one address within FAILURE_WINDOW_S, then 429 until the window passes
FAILURE_WINDOW_S = 60.0
HISTORY_S = 24 * 3600.0



class Guard:
    """Counts wrong tokens per client address; ``retry_after(address)`` > 0 while that address is locked out."""

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


def read_token(web: WebConfig) -> str:
    """The token: systemd's credential ``token`` when started by the unit, else ``web.token_file``."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    path = Path(credentials) / "token" if credentials else Path(web.token_file)
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the web token {path}: {exc.strerror} (config key web.token_file; "
                          "sudo ./setup.sh --web makes it)") from exc
    if len(token) < 16:
        raise ConfigError(f"the web token in {path} is shorter than 16 characters: make a new one with "
                          "sudo ./setup.sh --web")
    return token


class Box:
    """What the page needs from the box: the daemon (control socket) and the store (read-only)."""

    def __init__(self, socket_path: str, db_path: Path):
        self.socket_path, self.db_path = socket_path, db_path

    def status(self) -> dict:
        try:
            answer = send_command(self.socket_path, "status", timeout_s=3.0)
        except ControlError as err:
            return {"ok": False, "error": str(err)}
        return {"ok": bool(answer.get("ok")), **{key: answer[key] for key in SHOWN if key in answer}}

    def act(self, action: str) -> dict:
        try:
            return send_command(self.socket_path, action, timeout_s=3.0)
        except ControlError as err:
            return {"ok": False, "error": str(err)}

    def events(self, since_s: float) -> list[dict]:
        now = time.time()
        return [asdict(event) for event in read_timeline(self.db_path, now - since_s, now)]

    def chart_svg(self, since_s: float = HISTORY_S) -> str:
        now = time.time()
        events = read_timeline(self.db_path, now - since_s, now)
        buffer = io.BytesIO()
        plot(events, buffer, now - since_s, now, fmt="svg", size=(6.4, 3.6))  # a phone's width
        svg = buffer.getvalue().decode()
        return svg[svg.index("<svg"):]  # inline in the page: no XML prolog or doctype


def make_handler(box: Box, token: str, guard: Guard):
    class Handler(BaseHTTPRequestHandler):
        server_version = "moodbox-web"
        sys_version = ""
        timeout = 30  # seconds a client may idle mid-request before its thread lets go

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            log.info("%s %s", self.client_address[0], _TOKEN_IN_URL.sub("token=(hidden)", format % args))

        # -- auth ------------------------------------------------------------------------------------------------

        def _authorised(self, offered: str | None) -> bool:
            address = self.client_address[0]
            wait = guard.retry_after(address)
            if wait > 0:
                self._send(HTTPStatus.TOO_MANY_REQUESTS, {"ok": False, "error": "too many wrong tokens: wait"},
                           headers={"Retry-After": str(int(wait) + 1)})
                return False
            if offered is None or not hmac.compare_digest(offered.encode(), token.encode()):
                if offered is not None:
                    guard.failed(address)
                    log.warning("wrong token from %s", address)
                self._send(HTTPStatus.UNAUTHORIZED, {"ok": False, "error": "token missing or wrong"})
                return False
            return True

        # -- requests --------------------------------------------------------------------------------------------

        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/":
                if self._authorised((query.get("token") or [None])[0]):
                    self._page()
                return
            if not self._authorised(self.headers.get(TOKEN_HEADER)):
                return
            if url.path == "/api/status":
                self._send(HTTPStatus.OK, box.status())
            elif url.path == "/api/history":
                try:
                    since_s = parse_duration((query.get("since") or ["24h"])[0])
                    if since_s > HISTORY_S:
                        raise ValueError("the page shows at most the last 24h")
                except ValueError as err:
                    self._send(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"since: {err}"})
                    return
                try:
                    self._send(HTTPStatus.OK, {"ok": True, "events": box.events(since_s)})
                except HistoryError as err:
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"ok": False, "error": str(err)})
            elif url.path == "/api/history.svg":
                try:
                    self._send_bytes(HTTPStatus.OK, box.chart_svg().encode(), "image/svg+xml")
                except HistoryError as err:
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"ok": False, "error": str(err)})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"ok": False, "error": "no such page"})

        def do_POST(self):  # noqa: N802
            if not self._authorised(self.headers.get(TOKEN_HEADER)):
                return
            action = urlsplit(self.path).path.removeprefix("/api/")
            if action not in ACTIONS:
                self._send(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no action {action!r}"})
                return
            answer = box.act(action)
            self._send(HTTPStatus.OK if answer.get("ok") else HTTPStatus.BAD_GATEWAY, answer)

        def _page(self):
            nonce = secrets.token_urlsafe(12)
            status = box.status()
            try:
                chart = box.chart_svg()
            except HistoryError as err:
                chart = f"<p class=problem>{html.escape(str(err))}</p>"
            page = PAGE.replace("{nonce}", nonce).replace("{status_json}", script_json(status)) \
                .replace("{status}", render_status(status)).replace("{chart}", chart)
            self._send_bytes(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8", headers={
                "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; "
                                           "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"})

        # -- answers ---------------------------------------------------------------------------------------------

        def _send(self, code: HTTPStatus, answer: dict, headers: dict | None = None):
            self._send_bytes(code, json.dumps(answer).encode(), "application/json", headers)

        def _send_bytes(self, code: HTTPStatus, body: bytes, content_type: str, headers: dict | None = None):
            self.send_response(code)
            for key, value in {"Content-Type": content_type, "Content-Length": str(len(body)),
                               "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                               "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                               **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


_TOKEN_IN_URL = re.compile(r"token=[^&\s\"]*")  # the page's link carries the token: never into the journal


def lan_address() -> str:
    """This machine's address on its default route (a UDP connect picks the route; no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, never sent to
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def page_url(web: WebConfig, token: str, host: str | None = None) -> str:
    host = host or (lan_address() if web.address in ("0.0.0.0", "::", "") else web.address)
    return f"http://{host}:{web.port}/?token={token}"


def serve(config, *, token: str) -> ThreadingHTTPServer:
    """The server for ``config`` (not yet serving: call ``serve_forever``); raises OSError if the port is taken."""
    box = Box(config.state.control_socket, Path(config.state.dir) / "feedback.db")
    server = ThreadingHTTPServer((config.web.address, config.web.port), make_handler(box, token, Guard()))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox web", description=plain_text(__doc__.split("\n")[0]))
    parser.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    parser.add_argument("--url", action="store_true",
                        help="print the page's link with the token, and a QR code of it for the phone; serve nothing")
    parser.add_argument("--host", help="with --url: the name or address the phone uses (default: this machine's "
                                       "LAN address)")
    parser.add_argument("--port", type=int, help="listen on this port instead of web.port (0: any free port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config, own=("web", "state"))
        if args.port is not None:
            from dataclasses import replace
            config = replace(config, web=replace(config.web, port=args.port))
        if not config.web.enabled:
            raise ConfigError(f"{args.config}: web.enabled is false: the phone page is off (set [web] enabled = "
                              "true, or run sudo ./setup.sh --web)")
        token = read_token(config.web)
    except ConfigError as err:
        print(f"moodbox web: {err}", file=sys.stderr)
        return EXIT_CONFIG
    if args.url:
        import segno
        url = page_url(config.web, token, args.host)
        print(url)
        segno.make(url, error="m").terminal(compact=True)
        return 0
    try:
        server = serve(config, token=token)
    except OSError as err:
        print(f"moodbox web: cannot listen on {config.web.address}:{config.web.port}: {err.strerror} "
              "(config keys web.address, web.port)", file=sys.stderr)
        return EXIT_FAILURE
    host, port = server.server_address[:2]
    print(f"moodbox web: serving the phone page on http://{host}:{port}/ (token required)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
