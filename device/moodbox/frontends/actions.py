"""What a listener's actions do: one handler per entry of :data:`moodbox.names.ACTION_INFO`.

The CLI makes a subcommand of each entry, the control socket and the buttons call them by name (config
``[buttons.press]`` / ``[buttons.hold]`` bind pins to names), ``top`` and the phone page offer the ones with keys
and buttons, and each handler says what it records as feedback. A new action is one entry in
:data:`~moodbox.names.ACTION_INFO` and its handler here, named as the action.

A handler runs under the daemon's lock (unless ``locked`` is false: status answers from the last known state,
never waiting for a tick stuck on MPD) and gets the running box (:class:`Box`: what a handler may use). It
returns the answer (a JSON-able dict, without ``ok``) or raises a MoodboxError, which is answered as the error (a
:class:`Refused` one, an ordinary refusal such as nothing to skip, is marked ``refused``). An action with
``params`` gets them as keyword arguments (strings) from the request. A skip or hold whose record fails still
happened: the answer says ``not_recorded``; a like is nothing but its record, so it fails.

>>> sorted(ACTIONS)
['choose', 'hold', 'insights', 'like', 'louder', 'pause', 'quieter', 'skip', 'status', 'upcoming']
>>> ACTIONS["skip"].help
'skip the current song (counts against its playlist)'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from moodbox.errors import MoodboxError
from moodbox.music.preferences import EARLY_SKIP_S
from moodbox.names import ACTION_INFO

if TYPE_CHECKING:
    from moodbox.music.player import Player, PlayerState
    from moodbox.music.policy import MusicPolicy
    from moodbox.perception.camera import Camera

log = logging.getLogger("moodbox.frontends.actions")

UPCOMING_SHOWN = 5


class Music(Protocol):
    """The music side as a handler sees it (the daemon's :class:`~moodbox.music.jukebox.Jukebox`)."""
    player: Player
    policy: MusicPolicy


class Box(Protocol):
    """What a handler may use of the running box."""
    jukebox: Music
    camera: Camera

    def clock(self) -> float: ...

    def record(self, event: str, playing: PlayerState) -> None:
        """Feedback into the store (its event names), credited to the playlist the track came from."""

    def replace_rejected_playlist(self) -> bool:
        """After an early skip: another playlist at once when the policy rejects this one; True when switched."""

    def status(self) -> dict: ...


@dataclass(frozen=True)
class Action:
    name: str
    help: str
    handler: Callable[..., dict]
    locked: bool = True
    params: tuple[str, ...] = ()

    def run(self, box: Box, request: dict | None = None) -> dict:
        """The handler, with its ``params`` taken from ``request`` (the control socket's JSON object)."""
        params = {key: (request or {}).get(key) for key in self.params}
        missing = [key for key, value in params.items() if not isinstance(value, str)]
        if missing:
            raise Refused(f"{self.name} needs {', '.join(missing)} (text)")
        return self.handler(box, **params)


class Refused(MoodboxError):
    """An ordinary refusal (nothing to skip): the answer is this message, and nothing is logged as an error."""


def _about(box: Box, action: str, playing, event: str | None = None) -> dict:
    playlist = playing.track_playlist or box.jukebox.player.playlist
    log.info("%s (playlist %s, track %s)", event or action, playlist, playing.track)
    return {"action": action, "playlist": playlist, "track": playing.track}


def _record(box: Box, event: str, playing) -> dict:
    """Record feedback for an action that has happened anyway: a failed record is logged and answered, not raised."""
    try:
        box.record(event, playing)
    except MoodboxError as err:
        log.error("recording %s failed: %s", event, err)
        return {"not_recorded": str(err)}
    return {}


def skip(box: Box) -> dict:
    """Recorded first, so that the policy learns from it at once. A skip in a song's first EARLY_SKIP_S seconds
    also takes the song out of the queue, and when the policy then rejects the playlist for the mood another one
    plays at once."""
    playing = box.jukebox.player.current()
    if not playing.connected:
        raise Refused("the music player is not reachable: nothing to skip")
    if playing.state not in ("play", "pause") or playing.track is None:
        raise Refused("nothing is playing: nothing to skip")
    early = playing.elapsed is not None and playing.elapsed < EARLY_SKIP_S
    not_recorded = _record(box, "skip", playing)
    if not (early and box.replace_rejected_playlist()):
        box.jukebox.player.skip(drop=early)
    return {**_about(box, "skip", playing), "next": box.jukebox.player.current().track, **not_recorded}


def like(box: Box) -> dict:
    playing = box.jukebox.player.current()
    box.record("like", playing)
    return _about(box, "like", playing)


def hold(box: Box) -> dict:
    """Hold the current music whatever the mood; again: let it go (recorded as hold / release)."""
    playing, now = box.jukebox.player.current(), box.clock()
    event = "release" if box.jukebox.policy.held(now) else "hold"
    if event == "release":
        box.jukebox.policy.release()
    else:
        box.jukebox.policy.hold(now)
    return {**_about(box, "hold", playing, event), "held": box.jukebox.policy.held(now),
            "held_for_s": round(box.jukebox.policy.held_for_s(box.clock()), 1), **_record(box, event, playing)}


def pause(box: Box) -> dict:
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
            **_record(box, "pause" if camera.status == "paused" else "resume", box.jukebox.player.current())}


def louder(box: Box) -> dict:
    """MPD's volume up by 5 (not feedback about the music: nothing is recorded)."""
    return {"volume": box.jukebox.player.change_volume(+5)}


def quieter(box: Box) -> dict:
    return {"volume": box.jukebox.player.change_volume(-5)}


def status(box: Box) -> dict:
    return box.status()


def insights(box: Box) -> dict:
    return box.jukebox.policy.insights()


def upcoming(box: Box) -> dict:
    return {"upcoming": box.jukebox.player.upcoming(UPCOMING_SHOWN)}


def choose(box: Box, mood: str, playlist: str, choice: str) -> dict:
    """The owner's word on a playlist for a mood: ``pin`` (only pinned ones play), ``exclude`` (never), ``auto``."""
    try:
        box.jukebox.policy.set_choice(mood, playlist, None if choice == "auto" else choice)
    except ValueError as err:
        raise Refused(str(err)) from err
    log.info("owner's choice: %s for mood %s: %s", playlist, mood, choice)
    return {"mood": mood, "playlist": playlist, "choice": choice}


ACTIONS = {info.name: Action(info.name, info.help, globals()[info.name], info.locked, info.params)
           for info in ACTION_INFO.values()}
