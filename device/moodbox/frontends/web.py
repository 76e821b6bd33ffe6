"""``moodbox web``: the opt-in phone page, served by its own process (``moodbox-web.service``), never by the daemon.

It shows what ``moodbox top`` shows, what plays next, the history chart (last hour / day / week) and a Music view
(per mood, the playlists the box uses and what it learned about them, with pin and exclude), and has buttons for
skip, like, hold, pause and volume. It reaches the daemon only through the control socket and reads the store
read-only; it never sees a camera frame. Off unless ``web.enabled = true``.

Who may open it: a phone paired with a one-time code (``moodbox web --pair`` shows the link as a QR code), which
then holds a session cookie (:mod:`~moodbox.frontends.websessions`). Whatever changes state is a POST with the
session and this page's own ``Origin``, so no link or other web site can press a button. ``--pair``,
``--sessions`` and ``--revoke`` (:mod:`~moodbox.frontends.webpair`) talk to the running process with the box's
token (``web.token_file``; under systemd the credential ``token``), from this machine only. The page's content is
:mod:`~moodbox.frontends.page`, what it asks of the box :mod:`~moodbox.frontends.webbox`, how it answers
:mod:`~moodbox.frontends.webhttp`.

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
import ipaddress
import json
import logging
import os
import re
import sys
from dataclasses import replace
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from moodbox.config import DEFAULT_PATH, ConfigError, WebConfig, load_config
from moodbox.errors import EXIT_CONFIG, EXIT_FAILURE
from moodbox.frontends.history import parse_duration
from moodbox.frontends.page import BUTTONS, ICON_SIZES, PAGE_DIR, icon_png, manifest, view
from moodbox.frontends.webbox import Box, action_answer
from moodbox.frontends.webhttp import PageHandler
from moodbox.frontends.webpair import TOKEN_HEADER, manage
from moodbox.frontends.websessions import COOKIE, SESSION_S, Guard, RateLimits, Sessions, read_token
from moodbox.music.store import HistoryError

log = logging.getLogger("moodbox.frontends.web")

ACTIONS = BUTTONS  # what the page may press
RANGES = {"1h": "last hour", "24h": "last day", "7d": "last week"}
HISTORY_S = 7 * 86400.0          # the page shows at most the last week
LISTEN_BACKLOG = 128             # a household's phones opening the page at once wait in the queue, not time out
REQUESTS_PER_S, REQUEST_BURST = 20.0, 100   # per client address: every request
TAPS_PER_S, TAP_BURST = 2.0, 4              # per client address: buttons (the daemon takes 5 a second in all)
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def state_dir(web: WebConfig) -> Path:
    """Where the sessions are kept: systemd's StateDirectory when started by the unit, else ``web.state_dir``."""
    return Path(os.environ.get(SESSIONS_DIRECTORY) or os.environ.get("STATE_DIRECTORY") or web.state_dir)


# The page's own StateDirectory is moved here before the config is read: as $STATE_DIRECTORY it would become the
# default of state.dir, where the page looks for the daemon's store (and would find none).
SESSIONS_DIRECTORY = "MOODBOX_WEB_SESSIONS_DIRECTORY"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def make_handler(box: Box, token: str, sessions: Sessions, guard: Guard):
    requests, taps = RateLimits(REQUESTS_PER_S, REQUEST_BURST), RateLimits(TAPS_PER_S, TAP_BURST)

    class Handler(PageHandler):
        # -- who asks -----------------------------------------------------------------------------------------

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
                self._html(HTTPStatus.OK, "page.html", view=view(status), buttons=BUTTONS, ranges=RANGES)
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

    return Handler


class Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def serve(config, *, token: str) -> Server:
    """The server for ``config`` (not yet serving: call ``serve_forever``); raises OSError if the port is taken,
    ConfigError for a sessions file that is not private."""
    box = Box(config.state.control_socket, Path(config.state.dir) / "feedback.db")
    directory = state_dir(config.web)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    sessions = Sessions(directory / "sessions.json")
    return Server((config.web.address, config.web.port), make_handler(box, token, sessions, Guard()))


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox web", description=plain_text(__doc__.split("\n")[0]))
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
        if "STATE_DIRECTORY" in os.environ:
            os.environ[SESSIONS_DIRECTORY] = os.environ.pop("STATE_DIRECTORY")
        config = load_config(args.config, own=("web", "state"))
        if args.port is not None:
            config = replace(config, web=replace(config.web, port=args.port))
        if not config.web.enabled:
            raise ConfigError(f"{args.config}: web.enabled is false: the phone page is off (set [web] enabled = "
                              "true, or run sudo ./setup.sh --web)")
        token = read_token(config.web)
        if args.pair or args.sessions or args.revoke:
            return manage(config, token, args)
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


