"""What a listener can do, from a button or ``moodbox <action>``: one table of (name, help, handler).

The CLI makes a subcommand of each entry, the control socket and the buttons call them by name (config
``[buttons.press]`` / ``[buttons.hold]`` bind pins to names), and each handler says what it records as feedback.
A new action is one entry here (and a method on the part it drives).

A handler runs under the daemon's lock and gets the running box, which offers ``player``, ``policy``, ``camera``,
``clock()``, ``record(event, track)`` (feedback into the store: the store's event names) and ``status()``. It
returns the answer (a JSON-able dict, without ``ok``) or raises a MoodboxError, which is answered as the error.

>>> sorted(ACTIONS)
['hold', 'like', 'pause', 'skip', 'status']
>>> ACTIONS["skip"].help
'skip the current song (counts against its playlist)'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from moodbox.errors import MoodboxError

log = logging.getLogger("moodbox.actions")


@dataclass(frozen=True)
class Action:
    name: str
    help: str
    handler: Callable[[Any], dict]


def _about(box, action: str, track: str | None, event: str | None = None) -> dict:
    log.info("%s (playlist %s, track %s)", event or action, box.player.playlist, track)
    return {"action": action, "playlist": box.player.playlist, "track": track}


def skip(box) -> dict:
    track = box.player.current().track
    box.player.skip()
    box.record("skip", track)
    return _about(box, "skip", track)


def like(box) -> dict:
    track = box.player.current().track
    box.record("like", track)
    return _about(box, "like", track)


def hold(box) -> dict:
    """Hold the current music whatever the mood; again: let it go (recorded as hold / release)."""
    track, now = box.player.current().track, box.clock()
    event = "release" if box.policy.held(now) else "hold"
    if event == "release":
        box.policy.release()
    else:
        box.policy.hold(now)
    box.record(event, track)
    return {**_about(box, "hold", track, event), "held": box.policy.held(now),
            "held_for_s": round(box.policy.held_for_s(box.clock()), 1)}


def pause(box) -> dict:
    """The privacy pause: camera off (LED dark) until pause again (recorded as pause / resume)."""
    camera = box.camera
    if camera.status == "paused":
        camera.resume()
        log.info("privacy pause off: camera back on")
    else:
        camera.pause()
        log.info("privacy pause on: camera off")
    try:  # the camera is already off (or on): a failed record must not undo the answer
        box.record("pause" if camera.status == "paused" else "resume", box.player.current().track)
    except MoodboxError as err:
        log.error("recording the privacy pause failed: %s", err)
    return {"camera": camera.status}


def status(box) -> dict:
    return box.status()


ACTIONS = {action.name: action for action in (
    Action("skip", "skip the current song (counts against its playlist)", skip),
    Action("like", "like the current song (its playlist comes back more often)", like),
    Action("hold", "keep the current music for music.hold_minutes whatever the mood (again: release)", hold),
    Action("pause", "privacy pause: camera off until `moodbox pause` again", pause),
    Action("status", "what the box sees and plays", status),
)}
