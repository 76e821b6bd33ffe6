"""What a listener can do, from a button or ``moodbox <action>``: one table of (name, help, handler).

The CLI makes a subcommand of each entry, the control socket and the buttons call them by name (config
``[buttons.press]`` / ``[buttons.hold]`` bind pins to names), and each handler says what it records as feedback.
A new action is one entry here (and a method on the part it drives).

A handler runs under the daemon's lock (unless ``locked`` is false: status answers from the last known state,
never waiting for a tick stuck on MPD) and gets the running box, which offers ``player``, ``policy``, ``camera``,
``clock()``, ``record(event, playing)`` (feedback into the store: the store's event names, credited to the
playlist the track came from), ``replace_rejected_playlist()`` and ``status()``. It returns the answer (a JSON-able
dict, without ``ok``) or raises a MoodboxError, which is answered as the error. A skip or hold whose record fails still happened: the answer
says ``not_recorded``; a like is nothing but its record, so it fails.

>>> sorted(ACTIONS)
['hold', 'insights', 'like', 'louder', 'pause', 'quieter', 'skip', 'status']
>>> ACTIONS["skip"].help
'skip the current song (counts against its playlist)'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from moodbox.errors import MoodboxError
from moodbox.music.policy import EARLY_SKIP_S

log = logging.getLogger("moodbox.frontends.actions")


@dataclass(frozen=True)
class Action:
    name: str
    help: str
    handler: Callable[[Any], dict]
    locked: bool = True


def _about(box, action: str, playing, event: str | None = None) -> dict:
    playlist = playing.track_playlist or box.player.playlist
    log.info("%s (playlist %s, track %s)", event or action, playlist, playing.track)
    return {"action": action, "playlist": playlist, "track": playing.track}


def _record(box, event: str, playing) -> dict:
    """Record feedback for an action that has happened anyway: a failed record is logged and answered, not raised."""
    try:
        box.record(event, playing)
    except MoodboxError as err:
        log.error("recording %s failed: %s", event, err)
        return {"not_recorded": str(err)}
    return {}


def skip(box) -> dict:
    """Recorded first, so that the policy learns from it at once. A skip in a song's first EARLY_SKIP_S seconds
    also takes the song out of the queue, and when the policy then rejects the playlist for the mood another one
    plays at once."""
    playing = box.player.current()
    early = playing.elapsed is not None and playing.elapsed < EARLY_SKIP_S
    not_recorded = _record(box, "skip", playing)
    if not (early and box.replace_rejected_playlist()):
        box.player.skip(drop=early)
    return {**_about(box, "skip", playing), "next": box.player.current().track, **not_recorded}


def like(box) -> dict:
    playing = box.player.current()
    box.record("like", playing)
    return _about(box, "like", playing)


def hold(box) -> dict:
    """Hold the current music whatever the mood; again: let it go (recorded as hold / release)."""
    playing, now = box.player.current(), box.clock()
    event = "release" if box.policy.held(now) else "hold"
    if event == "release":
        box.policy.release()
    else:
        box.policy.hold(now)
    return {**_about(box, "hold", playing, event), "held": box.policy.held(now),
            "held_for_s": round(box.policy.held_for_s(box.clock()), 1), **_record(box, event, playing)}


def pause(box) -> dict:
    """The privacy pause: camera off (LED dark) until pause again (recorded as pause / resume)."""
    camera = box.camera
    if camera.status == "paused":
        camera.resume()
        log.info("privacy pause off: camera back on")
    else:
        camera.pause()
        log.info("privacy pause on: camera off")
    # the camera is already off (or on): a failed record must not undo the answer
    return {"camera": camera.status,
            **_record(box, "pause" if camera.status == "paused" else "resume", box.player.current())}


def louder(box) -> dict:
    """MPD's volume up by 5 (not feedback about the music: nothing is recorded)."""
    return {"volume": box.player.change_volume(+5)}


def quieter(box) -> dict:
    return {"volume": box.player.change_volume(-5)}


def status(box) -> dict:
    return box.status()


def insights(box) -> dict:
    return box.policy.insights()


ACTIONS = {action.name: action for action in (
    Action("skip", "skip the current song (counts against its playlist)", skip),
    Action("like", "like the current song (its playlist comes back more often)", like),
    Action("hold", "keep the current music for music.hold_minutes whatever the mood (again: release)", hold),
    Action("pause", "privacy pause: camera off until `moodbox pause` again", pause),
    Action("louder", "volume up by 5 (MPD's mixer)", louder),
    Action("quieter", "volume down by 5 (MPD's mixer)", quieter),
    Action("status", "what the box sees and plays", status, locked=False),
    Action("insights", "what the box learned: per mood, each playlist's estimated preference and the evidence "
           "behind it; songs on hold-off", insights),
)}
