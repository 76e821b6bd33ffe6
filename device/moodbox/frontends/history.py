"""``moodbox history``: the timeline of moods, plays, switches and feedback from the store, as a table or a chart.

The store's read-only timeline (:func:`moodbox.music.store.read_timeline`) is what it shows: the history,
``moodbox top`` and the phone page never write to the store.
Moods come from the store's own records: every play and every feedback event carries the smoothed mood of its
moment, so the mood bands are "the mood last recorded, until the next record".
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from moodbox.config import DEFAULT_PATH, ConfigError, StateConfig, load_config
from moodbox.config_checks import ConfigNotFound
from moodbox.errors import EXIT_CONFIG, EXIT_FAILURE
from moodbox.music.store import HistoryError, TimelineEvent, read_timeline
from moodbox.names import EXPRESSIONS

MOOD_COLOURS = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#f2b701",
                "sad": "#1f77b4", "surprise": "#e377c2", "neutral": "#7f7f7f"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``"24h"`` -> 86400.0; units s, m, h, d."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration like 90s, 30m, 24h or 7d, got {text!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def state_from_config(config_path) -> StateConfig:
    """The ``[state]`` of this config (where the store and the control socket are); raises ConfigError."""
    try:
        return load_config(config_path, own=("state",)).state
    except ConfigNotFound:
        if str(config_path) != str(DEFAULT_PATH):
            raise
        return StateConfig()  # no config file: the daemon uses the default too


def clock_text(seconds: float | None) -> str:
    """125.3 -> "2:05" (a song's position or length)."""
    return "-:--" if seconds is None else f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def db_path_from_config(config_path) -> Path:
    """The feedback database the daemon with this config writes (``state.dir``/feedback.db)."""
    return Path(state_from_config(config_path).dir) / "feedback.db"


def mood_bands(events: list[TimelineEvent], until: float) -> list[tuple[float, float, str]]:
    """(start, end, mood) spans: each recorded mood holds until the next different one (or ``until``)."""
    bands: list[tuple[float, float, str]] = []
    for event in events:
        if event.mood is None or (bands and bands[-1][2] == event.mood):
            continue
        if bands:
            bands[-1] = (bands[-1][0], event.at, bands[-1][2])
        bands.append((event.at, until, event.mood))
    return bands


def table(events: list[TimelineEvent]) -> str:
    """One line per event: time, what, mood, playlist, track (and why a play started)."""
    lines = [f"{'time':<19}  {'event':<8}  {'mood':<8}  {'playlist':<10}  track"]
    for event in events:
        what = "switch" if event.switch else event.kind
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
        track = event.track or "-"
        if event.kind == "play" and event.reason and not event.switch:
            track += f"  ({event.reason})"
        lines.append(f"{when:<19}  {what:<8}  {event.mood or '-':<8}  {event.playlist or '-':<10}  {track}")
    return "\n".join(lines)


def plot(events: list[TimelineEvent], path, since: float, until: float, *, fmt: str | None = None,
         size: tuple[float, float] = (10, 3.2)):
    """Mood bands over time, plays as ticks, likes/skips/holds/pauses as marks; PNG or SVG by the file name.

    ``path`` may also be a binary file object, with ``fmt`` "png" or "svg" (the phone page draws into memory).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from datetime import datetime

    if fmt is None:
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"--plot needs a .png or .svg file name, got {path!r}")
    when = lambda t: datetime.fromtimestamp(t)  # noqa: E731 - local time, as the table prints it
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller files, searchable labels
    figure, axis = plt.subplots(figsize=size, dpi=100)
    rows = {mood: index for index, mood in enumerate(EXPRESSIONS)}
    for start, end, mood in mood_bands(events, until):
        axis.broken_barh([(mdates.date2num(when(start)), mdates.date2num(when(end)) - mdates.date2num(when(start)))],
                         (rows.get(mood, 0) - 0.4, 0.8), color=MOOD_COLOURS.get(mood, "#cccccc"), alpha=0.8)
    marks = {"play": ("|", "black", len(EXPRESSIONS) + 0.2), "like": ("^", "#2ca02c", len(EXPRESSIONS) + 0.9),
             "skip": ("x", "#d62728", len(EXPRESSIONS) + 0.9), "hold": ("s", "#555555", len(EXPRESSIONS) + 0.9),
             "release": ("s", "#bbbbbb", len(EXPRESSIONS) + 0.9), "pause": ("o", "#555555", len(EXPRESSIONS) + 0.9),
             "resume": ("o", "#bbbbbb", len(EXPRESSIONS) + 0.9)}
    for kind, (marker, colour, row) in marks.items():
        times = [when(event.at) for event in events if event.kind == kind]
        if times:
            axis.scatter(times, [row] * len(times), marker=marker, color=colour, label=kind, zorder=3)
    switches = [when(event.at) for event in events if event.switch]
    for moment in switches:
        axis.axvline(moment, color="black", linewidth=0.6, alpha=0.4)
    axis.set_yticks(list(rows.values()) + [len(EXPRESSIONS) + 0.2, len(EXPRESSIONS) + 0.9],
                    list(rows) + ["songs", "feedback"])
    axis.set_xlim(when(since), when(until))
    axis.set_ylim(-0.7, len(EXPRESSIONS) + 1.5)
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if until - since > 3600 else "%H:%M:%S"))
    axis.set_title(f"moodbox: {len(events)} events, {len(switches)} mood switches "
                   f"({when(since):%Y-%m-%d %H:%M} - {when(until):%H:%M})", fontsize=10)
    if any(event.kind in marks for event in events):
        axis.legend(loc="upper left", fontsize=7, ncol=7, frameon=False, bbox_to_anchor=(0, -0.12))
    figure.tight_layout()
    figure.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox history", description=plain_text(__doc__.split("\n")[0]))
    parser.add_argument("--since", default="24h", help="how far back: 90s, 30m, 24h, 7d (default 24h)")
    parser.add_argument("--plot", metavar="FILE", help="also draw a chart into FILE.png or FILE.svg")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", help="feedback database (default: state.dir of --config, then feedback.db)")
    where.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    args = parser.parse_args(argv)
    try:
        since_s = parse_duration(args.since)
    except ValueError as err:
        parser.error(f"--since: {err}")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg"):
        parser.error(f"--plot needs a .png or .svg file name, got {args.plot!r}")
    try:
        db_path = Path(args.db) if args.db else db_path_from_config(args.config)
    except ConfigError as err:
        print(f"moodbox history: {err}", file=sys.stderr)
        return EXIT_CONFIG
    until = time.time()
    try:
        events = read_timeline(db_path, until - since_s, until)
    except HistoryError as err:
        print(f"moodbox history: {err}", file=sys.stderr)
        return EXIT_FAILURE  # the database is missing or unreadable
    print(table(events))
    if args.plot:
        print(f"chart: {plot(events, args.plot, until - since_s, until)}")
    return 0
