"""Who may open the phone page: one-time pairing codes, then the paired phones' sessions; the box's token (for
``moodbox web --pair`` and friends); lock-outs after wrong codes and per-client rate limits.

``moodbox web --pair`` asks the running web process for a pairing code (a link and QR code). The code opens the
page once, within :data:`PAIRING_S`; opening it gives the phone a long-lived session cookie (HttpOnly,
SameSite=Strict) and sends it on to the clean address ``/``, so a reload, a bookmark or a home-screen icon keeps
working while the spent code in the browser's history opens nothing. ``moodbox web --sessions`` lists the paired
phones, ``--revoke`` ends one (or all).

Only hashes are kept: a code lives in memory only, the sessions file (the web process's state directory, mode
0600) holds each session's SHA-256, so reading it gives no cookie that opens the page.

>>> sessions = Sessions(None, clock=lambda: 1000.0)
>>> cookie = sessions.redeem(sessions.pair(), "phone")
>>> sessions.check(cookie)["label"], sessions.redeem("used-or-made-up", "phone")
('phone', None)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from moodbox.config import ConfigError, WebConfig

PAIRING_S = 600.0                  # a pairing code opens the page once, within 10 minutes
SESSION_S = 400 * 86400.0          # a paired phone stays paired for 400 days (the longest a browser keeps a cookie)
SEEN_EVERY_S = 3600.0              # how often a session's "last seen" is written back to the file
MAX_PENDING_CODES = 8              # codes not yet used; older ones are dropped
COOKIE = "moodbox_session"
MAX_FAILURES = 5                 # wrong codes or tokens from one address within FAILURE_WINDOW_S, then 429
FAILURE_WINDOW_S = 60.0


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_secret_file(path: Path) -> os.stat_result:
    """Refuse a secret file others could read or change: its mode must allow at most 0640 (no group write, nothing
    for others) and it must belong to root or to this process's user."""
    info = os.stat(path)
    if info.st_mode & 0o137 or not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} has mode {stat.S_IMODE(info.st_mode):04o}: a secret must be 0600 or 0640 "
                          f"(run: sudo chmod 0640 {path})")
    if info.st_uid not in (0, os.geteuid()):
        raise ConfigError(f"{path} belongs to user {info.st_uid}, not to root or to this process's user "
                          f"{os.geteuid()} (run: sudo chown root {path})")
    return info


class Sessions:
    """Pairing codes (in memory) and sessions (kept in ``path``, a JSON file; None: in memory only). Thread-safe;
    the file is reread whenever it changed on disk."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time):
        self.path, self._clock = path, clock
        self._codes: dict[str, float] = {}          # hash of a code -> until when it opens the page
        self._sessions: dict[str, dict] = {}        # hash of a cookie -> {id, label, created, last_seen}
        self._stamp: tuple | None = None
        self._lock = threading.Lock()
        with self._lock:
            self._load()

    # -- pairing ------------------------------------------------------------------------------------------------

    def pair(self) -> str:
        """A new one-time code, valid for PAIRING_S seconds."""
        code = secrets.token_urlsafe(18)
        with self._lock:
            now = self._clock()
            self._codes = {h: until for h, until in self._codes.items() if until > now}
            while len(self._codes) >= MAX_PENDING_CODES:
                del self._codes[min(self._codes, key=self._codes.get)]
            self._codes[_digest(code)] = now + PAIRING_S
        return code

    def redeem(self, code: str, label: str) -> str | None:
        """The cookie of a new session for a valid unused code (which is spent), else None."""
        digest = _digest(code)
        with self._lock:
            match = next((h for h in self._codes if hmac.compare_digest(h, digest)), None)
            until = self._codes.pop(match, 0.0) if match else 0.0
            if until <= self._clock():
                return None
            cookie = secrets.token_urlsafe(32)
            now = round(self._clock(), 1)
            self._load()
            self._sessions[_digest(cookie)] = {"id": secrets.token_hex(4), "label": label[:80], "created": now,
                                               "last_seen": now}
            self._save()
            return cookie

    # -- sessions -----------------------------------------------------------------------------------------------

    def check(self, cookie: str | None) -> dict | None:
        """The session a cookie belongs to (None: no such session, revoked or expired)."""
        if not cookie:
            return None
        digest = _digest(cookie)
        with self._lock:
            self._load()
            session = self._sessions.get(digest)
            now = self._clock()
            if session is None or session["created"] + SESSION_S <= now:
                return None
            if now - session["last_seen"] >= SEEN_EVERY_S:
                session["last_seen"] = round(now, 1)
                self._save()
            return dict(session)

    def list(self) -> list[dict]:
        with self._lock:
            self._load()
            return sorted((dict(s) for s in self._sessions.values()), key=lambda s: s["created"])

    def revoke(self, session_id: str) -> int:
        """End the session with this id (``all``: every session); how many ended."""
        with self._lock:
            self._load()
            ended = [h for h, s in self._sessions.items() if session_id in ("all", s["id"])]
            for digest in ended:
                del self._sessions[digest]
            if ended:
                self._save()
            return len(ended)

    # -- the file -----------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            info = check_secret_file(self.path)
        except FileNotFoundError:
            self._sessions, self._stamp = {}, None
            return
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return
        try:
            sessions = json.loads(self.path.read_text())["sessions"]
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{self.path} is not a sessions file ({err}): remove it (every phone pairs "
                              "again)") from err
        self._sessions = {s["hash"]: {k: s[k] for k in ("id", "label", "created", "last_seen")} for s in sessions}
        self._stamp = stamp

    def _save(self) -> None:
        if self.path is None:
            return
        sessions = [{"hash": h, **s} for h, s in self._sessions.items()
                    if s["created"] + SESSION_S > self._clock()]
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump({"sessions": sessions}, out, indent=1)
        os.replace(temporary, self.path)
        info = os.stat(self.path)
        self._stamp = (info.st_ino, info.st_mtime_ns, info.st_size)


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
