"""The box's vocabulary, each word list once: the expressions, the music tagger's mood quadrants, and the actions a
listener can take with what each front end makes of them. Nothing here imports the rest of moodbox, so the config
checks names against it and the front ends derive their buttons and keys from it without loading the parts.

>>> [info.name for info in ACTION_INFO.values() if info.button]
['skip', 'like', 'hold', 'pause', 'quieter', 'louder']
>>> sorted(key for info in ACTION_INFO.values() for key in info.keys)
['+', '-', '=', 'h', 'l', 'p', 's']
"""

from __future__ import annotations

from dataclasses import dataclass

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven expressions, in FER2013 label order: the model's labels and the keys of ``music.playlists``."""

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
"""The music tagger's valence/arousal quadrants, in the order of its output."""
QUADRANT_WORDS = {"Q1": "happy, energetic", "Q2": "angry, tense", "Q3": "sad, gloomy", "Q4": "calm, tender"}


@dataclass(frozen=True)
class ActionInfo:
    """What every front end knows of an action; :mod:`moodbox.frontends.actions` has what it does."""
    name: str                   # ``moodbox <name>``, the control socket's command, a button binding's value
    help: str                   # the CLI's help line
    keys: tuple[str, ...] = ()  # moodbox top's keys for it (none: top does not offer it)
    key_help: str = ""          # how top's key line shows it ("" for the second of a pair shown together)
    button: str = ""            # the phone page's button ("": the page does not offer it)
    rate_limited: bool = True   # counted against the control socket's feedback_per_s (a flood fills the store)
    locked: bool = True         # runs under the daemon's lock; status does not, never waiting for a stuck tick
    params: tuple[str, ...] = ()  # what it takes besides its name (CLI arguments, keys of the control request)


ACTION_INFO = {info.name: info for info in (
    ActionInfo("skip", "skip the current song (counts against its playlist)", ("s",), "s skip", "Skip"),
    ActionInfo("like", "like the current song (its playlist comes back more often)", ("l",), "l like", "Like"),
    ActionInfo("hold", "keep the current music for music.hold_minutes whatever the mood (again: release)", ("h",),
               "h hold", "Hold"),
    ActionInfo("pause", "privacy pause: camera off until `moodbox pause` again", ("p",), "p pause", "Pause camera"),
    ActionInfo("quieter", "volume down by 5 (MPD's mixer)", ("-",), "+/- volume", "Vol −"),
    ActionInfo("louder", "volume up by 5 (MPD's mixer)", ("+", "="), "", "Vol +"),
    ActionInfo("status", "what the box sees and plays", rate_limited=False, locked=False),
    ActionInfo("insights", "what the box learned: per mood, each playlist's estimated preference and the evidence "
               "behind it; songs on hold-off"),
    ActionInfo("upcoming", "the next songs in the queue", rate_limited=False),
    ActionInfo("choose", "pin a playlist for a mood (only pinned ones play), exclude it, or auto (the box learns)",
               params=("mood", "playlist", "choice")),
)}
