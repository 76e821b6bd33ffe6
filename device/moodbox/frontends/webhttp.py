"""How the phone page answers, whatever the request: JSON or a template, every answer (errors, 404 and
http.server's own 400 and 501 included) with the security headers, and a journal line that never holds a query
string (pairing codes), however it is spelled."""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from moodbox.frontends.page import templates

log = logging.getLogger("moodbox.frontends.web")

MAX_BODY = 4096
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()", "Cache-Control": "no-store"}
_QUERY = re.compile(r"\?[^\s'\"]*")


class PageHandler(BaseHTTPRequestHandler):
    """The answers; :func:`moodbox.frontends.web.make_handler` adds the routes."""
    server_version = "moodbox-web"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may idle mid-request before its thread lets go

    @property
    def address(self) -> str:
        return self.client_address[0]

    # -- the journal: never a query (pairing codes), however it is spelled --------------------------------

    def log_request(self, code="-", size="-"):
        path = urlsplit(getattr(self, "path", "") or "-").path
        log.info("%s %s %s %s", self.client_address[0], self.command, path.encode("unicode_escape").decode(),
                 int(code) if isinstance(code, (int, HTTPStatus)) else code)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log.info("%s %s", self.client_address[0], _QUERY.sub("?(hidden)", format % args))

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
