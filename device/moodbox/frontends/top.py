"""``moodbox top``: watch the box work and steer it, over SSH.

A full-screen view (Rich) that fits a plain 80x24 terminal: the mood and its confidence, the top expressions,
whether a face is in view, the playlist and song with its progress, camera/MPD/store state and problems, and a
strip of the last hour (one cell a minute: the mood's colour and letter; below it switches ``|``, likes ``L``,
skips ``S``, holds ``H`` and pauses ``P``). Keys: s skip, l like, h hold, p privacy pause, + and - volume, q quit.
When stdout is not a terminal it prints one status line per second instead (for logs and pipes).

Everything comes from the daemon's control socket and, read-only, from its store: top changes nothing itself.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import termios
import time
import tty
from pathlib import Path

from moodbox.config import DEFAULT_PATH, ConfigError
from moodbox.errors import EXIT_CONFIG
from moodbox.frontends.control import ControlError, send_command
from moodbox.names import ACTION_INFO
from moodbox.frontends.history import MOOD_COLOURS, clock_text, mood_bands, state_from_config
from moodbox.music.store import HistoryError, read_timeline

KEYS = {key: info.name for info in ACTION_INFO.values() for key in info.keys}  # key -> action
MARKS = {"skip": "S", "like": "L", "hold": "H", "release": "h", "pause": "P", "resume": "p"}  # strip marks
STRIP_MINUTES = 60
HISTORY_EVERY_S = 5.0  # re-read the store this often (it changes a few times a song)


def status_line(status: dict) -> str:
    """The one-line view (not a terminal): time, state, mood, face, playlist, song, progress, volume, problems."""
    if not status.get("ok"):
        return f"{time.strftime('%H:%M:%S')} {status.get('error', 'no answer')}"
    mood = status.get("mood") or "-"
    if status.get("mood_confidence") is not None and status.get("mood"):
        mood += f" {status['mood_confidence']:.0%}"
    volume = status.get("volume")
    line = (f"{time.strftime('%H:%M:%S')} {status.get('status', '?')} | mood {mood} | "
            f"face {_face_text(status.get('face_in_view'))} | {status.get('playlist') or '-'}: "
            f"{status.get('now_playing') or '-'} {clock_text(status.get('elapsed_s'))}/"
            f"{clock_text(status.get('duration_s'))} | vol {'-' if volume is None else volume}")
    if status.get("problems"):
        line += " | " + "; ".join(status["problems"])
    return line


def _face_text(in_view: bool | None) -> str:
    return {True: "in view", False: "not in view"}.get(in_view, "unknown (camera off)")


def strip(events, now: float, minutes: int = STRIP_MINUTES) -> tuple[list[str | None], str]:
    """The last ``minutes`` minutes, oldest first: the mood of each minute, and one mark character a minute."""
    start = now - minutes * 60
    moods: list[str | None] = [None] * minutes
    for band_start, band_end, mood in mood_bands(events, now):
        first, last = int((max(band_start, start) - start) // 60), int((band_end - start - 1e-6) // 60)
        for minute in range(max(first, 0), min(last, minutes - 1) + 1):
            moods[minute] = mood
    marks = [" "] * minutes
    for event in events:
        minute = int((event.at - start) // 60)
        if 0 <= minute < minutes:
            if event.switch:
                marks[minute] = "|"
            elif event.kind in MARKS and marks[minute] in " |":
                marks[minute] = MARKS[event.kind]
    return moods, "".join(marks)


class View:
    """Asks the daemon and the store, and renders one screen with Rich."""

    def __init__(self, socket_path: str, db_path: str | None):
        self.socket_path = socket_path
        self.db_path = db_path
        self.status: dict = {}
        self.events: list = []
        self.store_state = "not read yet"
        self.message = ""
        self._history_at = 0.0

    def refresh(self) -> None:
        try:
            self.status = send_command(self.socket_path, "status", timeout_s=3.0)
        except ControlError as err:
            self.status = {"ok": False, "error": str(err)}
        db_path = self.db_path or self.status.get("store")
        now = time.time()
        if db_path and now - self._history_at >= HISTORY_EVERY_S:
            self._history_at = now
            try:
                self.events = read_timeline(db_path, now - STRIP_MINUTES * 60, now)
                self.store_state = "ok"
            except HistoryError as err:
                self.store_state = str(err)

    def act(self, action: str) -> None:
        try:
            answer = send_command(self.socket_path, action, timeout_s=3.0)
        except ControlError as err:
            self.message = f"{action}: {err}"
            return
        if not answer.get("ok"):
            self.message = f"{action}: {answer.get('error', 'failed')}"
        else:
            details = ", ".join(f"{key} {value}" for key, value in answer.items() if key not in ("ok", "action"))
            self.message = f"{action}: {details or 'done'}"
        self._history_at = 0.0  # show the new feedback mark at once
        self.refresh()

    def render(self):
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        status = self.status
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", width=9)
        grid.add_column(overflow="ellipsis", no_wrap=True)
        if not status.get("ok"):
            grid.add_row("daemon", Text(status.get("error", "asking..."), style="red"))
        else:
            mood = status.get("mood")
            mood_text = Text(mood or "not known yet", style=f"bold {MOOD_COLOURS.get(mood, 'white')}")
            if mood and status.get("mood_confidence") is not None:
                mood_text.append(f" {status['mood_confidence']:.0%}")
            mood_text.append(f"   face {_face_text(status.get('face_in_view'))}",
                             style="green" if status.get("face_in_view") else "yellow")
            grid.add_row("Mood", mood_text)
            seen = " · ".join(f"{label} {p:.0%}" for label, p in (status.get("expressions") or {}).items())
            grid.add_row("Sees", seen or "-")
            grid.add_row("Playing", f"{status.get('playlist') or '-'}: {status.get('now_playing') or '-'}")
            grid.add_row("", self._progress_bar(status))
            state = Text(f"{status.get('status', '?')}", style="green" if status.get("status") == "ok" else "red")
            state.append(f"  camera {status.get('camera')}  MPD {status.get('mpd')}  store {self.store_state}",
                         style="white")
            grid.add_row("Box", state)
            problems = status.get("problems") or []
            grid.add_row("Problems", Text("; ".join(problems), style="red") if problems else Text("none"))
        moods, marks = strip(self.events, time.time())
        if status.get("mood"):
            moods[-1] = status["mood"]  # this minute: the live mood (the store records it only with an event)
        cells = Text()
        for mood in moods:
            cells.append(mood[0] if mood else "·", style=f"black on {MOOD_COLOURS[mood]}" if mood else "dim")
        history = Group(cells, Text(marks), Text("-60 min" + " " * (STRIP_MINUTES - 10) + "now", style="dim"))
        keys = Text("  ".join([info.key_help for info in ACTION_INFO.values() if info.key_help] + ["q quit"]),
                    style="bold cyan")
        return Panel(Group(grid, Text(""), Text("Last hour (| switch  L like  S skip  H hold  P pause)",
                                                style="bold"), history, Text(""), keys,
                           Text(self.message, style="italic")),
                     title=f"moodbox top  {time.strftime('%H:%M:%S')}", width=min(80, os.get_terminal_size().columns)
                     if sys.stdout.isatty() else 80)

    @staticmethod
    def _progress_bar(status: dict):
        from rich.text import Text
        elapsed, duration = status.get("elapsed_s"), status.get("duration_s")
        width = 30
        done = int(width * elapsed / duration) if elapsed is not None and duration else 0
        bar = Text("█" * done, style="cyan")
        bar.append("░" * (width - done), style="dim")
        bar.append(f" {clock_text(elapsed)}/{clock_text(duration)}  {status.get('state') or '-'}"
                   f"  vol {status.get('volume') if status.get('volume') is not None else '-'}")
        if status.get("held_for_s"):
            bar.append(f"  held {clock_text(status['held_for_s'])}", style="yellow")
        return bar


def run_lines(view: View, interval_s: float, count: int | None) -> int:
    shown = 0
    while count is None or shown < count:
        view.refresh()
        print(status_line(view.status), flush=True)
        shown += 1
        if count is None or shown < count:
            time.sleep(interval_s)
    return 0


def run_screen(view: View, interval_s: float) -> int:
    from rich.console import Console
    from rich.live import Live

    console = Console()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        with Live(console=console, screen=True, auto_refresh=False) as live:
            next_refresh = 0.0
            while True:
                now = time.monotonic()
                if now >= next_refresh:
                    view.refresh()
                    live.update(view.render(), refresh=True)
                    next_refresh = now + interval_s
                ready, _, _ = select.select([fd], [], [], max(0.0, next_refresh - time.monotonic()))
                if not ready:
                    continue
                key = os.read(fd, 1).decode(errors="replace")
                if key in ("q", "Q", "\x1b"):
                    return 0
                if key in KEYS:
                    view.act(KEYS[key])
                    live.update(view.render(), refresh=True)
    except KeyboardInterrupt:
        return 0
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox top", description=plain_text(__doc__.split("\n")[0]))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", help="control socket (default: state.control_socket of --config)")
    where.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    parser.add_argument("--db", help="feedback database (default: the one the daemon names)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds between updates")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="without a terminal: stop after N lines (default: run until stopped)")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be > 0 seconds")
    socket_path = args.socket
    if socket_path is None:
        try:
            socket_path = state_from_config(args.config).control_socket
        except ConfigError as err:
            print(f"moodbox top: {err}", file=sys.stderr)
            return EXIT_CONFIG
    view = View(str(socket_path), str(Path(args.db)) if args.db else None)
    if sys.stdout.isatty() and sys.stdin.isatty():
        return run_screen(view, args.interval)
    try:
        return run_lines(view, args.interval, args.count)
    except KeyboardInterrupt:
        return 0
