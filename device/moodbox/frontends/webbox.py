"""What the phone page needs from the box: the daemon's status and actions (control socket), the store's timeline
and chart (read-only), each cached briefly so that many page loads at once ask the daemon once; and how answers
become one line for people, without file paths.
"""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import asdict
from http import HTTPStatus
from pathlib import Path
from typing import Callable

from moodbox.frontends.control import ControlError, DaemonNotRunning, send_command
from moodbox.frontends.history import parse_duration, plot
from moodbox.music.store import read_timeline
from moodbox.status import STATUS_FIELDS

# What the page shows of the box's status: every field but the store's path and the song's file (and the last
# frame's expression, which the smoothed mood and its top expressions say better).
SHOWN = tuple(field for field in STATUS_FIELDS if field not in ("store", "track", "expression", "expression_age_s"))
STATUS_TTL_S = 0.5               # many page loads at once share one status from the daemon
CHART_TTL_S = 30.0


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
                for event in read_timeline(self.db_path, now - since_s, now)]

    def chart_svg(self, since: str) -> bytes:
        def draw():
            now = time.time()
            events = read_timeline(self.db_path, now - parse_duration(since), now)
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
