"""The box's status: one set of fields, in one order, for every front end (``moodbox status``, ``top``, the phone
page). The daemon builds it from each part's ``live()`` and ``problems()``; a front end renders it, never
assembling a status of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUS_FIELDS = (
    "status",            # "ok" | "degraded" | "paused" | "starting"
    "problems",          # why degraded, one line each
    "camera",            # "ok" | "lost" | "paused"
    "face_in_view",      # None: the camera cannot tell now
    "mood", "expression", "expression_age_s",
    "playlist", "now_playing", "mpd", "held_for_s",
    "store",             # where moodbox top finds the history
    "warnings",          # what the box plays instead of what the config asks (missing playlists), one line each
    "mood_confidence", "expressions",  # the mood's confidence and the top expressions behind it
    "track", "state", "elapsed_s", "duration_s", "volume",  # the song's progress and MPD's volume at the last look
)


@dataclass(frozen=True)
class Tick:
    """What one pass of the loop saw and did (the demo prints it; tests read it)."""
    at: float
    status: str                   # "ok" | "degraded" | "paused"
    problems: tuple[str, ...]     # why degraded
    face: bool
    expression: str | None        # top expression of this frame
    confidence: float | None
    mood: str | None              # smoothed mood
    mood_confidence: float
    playlist: str | None
    now_playing: str | None
    switched: bool                # the playlist changed in this tick
    held: bool


def box_status(**fields) -> dict:
    """The status answer, in the order ``moodbox status`` prints it; a field missing or unknown is an error here,
    not a gap on a front end.

    >>> list(box_status(**dict.fromkeys(STATUS_FIELDS)))[:3]
    ['status', 'problems', 'camera']
    """
    if set(fields) != set(STATUS_FIELDS):
        raise ValueError(f"status fields differ: missing {sorted(set(STATUS_FIELDS) - set(fields))}, "
                         f"unknown {sorted(set(fields) - set(STATUS_FIELDS))}")
    return {name: fields[name] for name in STATUS_FIELDS}


def status_line(tick, *, mpd_up: bool = True) -> str:
    """systemd's STATUS= line of the last :class:`Tick` (None: none yet), also in the journal."""
    if tick is None:
        return "starting" if mpd_up else "degraded: MPD not up yet"
    line = f"{tick.status}: mood {tick.mood or 'not known yet'}, playlist {tick.playlist or 'none'}"
    if tick.held:
        line += " (held)"
    if tick.problems:
        line += "; " + "; ".join(tick.problems)
    return line
