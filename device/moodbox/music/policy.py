"""The music policy: which playlist suits a mood for this listener, and when the music must not change.

The policy learns, per mood, how much the listener wants each playlist (Thompson sampling over Beta posteriors):

- prior: the playlists the config maps to a mood (``music.playlists``) start ahead (:data:`MAPPED_PRIOR`); the
  other moods' playlists start even (:data:`OTHER_PRIOR`);
- evidence: what the listener did while a song played, in the mood it happened in, credited to the playlist the song
  came from (:data:`~moodbox.music.preferences.REWARDS`): a skip in the first ``EARLY_SKIP_S`` seconds is a strong
  "no", a later skip a weak one, a like a strong "yes", a hold a "yes", a song played to its end a weak "yes";
- fading: evidence counts half after ``music.half_life_days``, so a changed taste wins over old habits;
- choice: at the start of a mood, draw one sample from each candidate's posterior and play the highest. The
  candidates are the mood's own playlists and other moods' playlists that have earned a place in this mood; with
  probability ``music.explore`` every playlist takes part, so cross-mood preferences can be found. Two early skips
  in a row reject the playing playlist for the rest of the mood, and the next choice may then come from any mood.

Everything learned is derived from the feedback log (:meth:`moodbox.music.store.FeedbackStore.events_after`), read
incrementally: the log is the one source of truth and deleting it resets the learning.

Track memory: a song skipped early is held off for ``music.hold_off_days`` (:meth:`MusicPolicy.arrange` drops it
from a queue, and a playlist whose every song is held off is not chosen), songs liked since their last early skip
come first. Only when every candidate playlist is wholly held off do held-off songs play again (rather than
silence). Songs are named by their ``file`` value as the server gave it (MPD paths, Mopidy URIs: opaque), never by
server-side stickers.

A hold (long press on like) keeps the current music for ``music.hold_minutes`` whatever the mood does. Missing,
empty and unloadable playlists are skipped with a warning; a mood without one of its own falls back to the tagger's
of the same name (``auto-upbeat``), then to the whole library (:data:`WHOLE_LIBRARY`): a fresh box plays.

Policy "lift" (an owner's choice) starts a low mood with what suits it and then, every ``lift_step_min`` minutes the
mood lasts, moves one step up :data:`LIFT_STEPS`; under "lift" only a mood's own playlists are candidates (learning
still orders them).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from moodbox.music.preferences import Preferences, evidence_kind
from moodbox.music.store import Event, StoreError

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger("moodbox.music.policy")

LOW_MOODS = frozenset({"angry", "disgust", "fear", "sad"})
LIFT_STEPS = ("neutral", "happy")  # whose music a low mood is lifted through, in order

MAPPED_PRIOR = (3.0, 1.0)  # Beta(3, 1): a playlist the config maps to the mood, mean 0.75
OTHER_PRIOR = (1.0, 1.0)   # Beta(1, 1): any other playlist, mean 0.5
REJECT_AFTER_EARLY_SKIPS = 2
RESTING_MOOD = "neutral"  # whose music plays before the first mood is known
WHOLE_LIBRARY = "(whole library)"  # the last fallback: every song MPD has (the player knows this name)
MAX_HELD_OFF_SHOWN = 50  # insights list the songs skipped most recently (one control-socket answer stays small)


@dataclass
class _Episode:
    """One stretch of a mood: the playlist chosen for it and the playlists rejected in it."""
    mood: str
    playlist: str | None = None
    early_skips_in_a_row: int = 0
    rejected: set[str] = field(default_factory=set)


class MusicPolicy:
    """Maps moods to playlists, learning from the listener's feedback.

    >>> policy = MusicPolicy({"happy": ("upbeat", "party")}, rng=random.Random(1))
    >>> policy.choose("happy") in ("upbeat", "party")
    True
    """

    def __init__(self, playlists: Mapping[str, tuple[str, ...]], *, hold_minutes: float = 30.0,
                 policy: str = "match", lift_step_min: float = 10.0, explore: float = 0.05,
                 half_life_days: float = 30.0, hold_off_days: float = 7.0,
                 events: Callable[[int], list[Event]] | None = None,
                 songs: Callable[[str], list[str] | None] | None = None, rng: random.Random | None = None,
                 wall_clock: Callable[[], float] = time.time, fallback_prefix: str | None = None,
                 whole_library: bool = False, summary: Callable[[], tuple[int, str] | None] | None = None):
        if policy not in ("match", "lift"):
            raise ValueError(f"music policy must be 'match' or 'lift', got {policy!r}")
        self.playlists = dict(playlists)
        self.policy, self.lift_step_min = policy, lift_step_min
        self.hold_minutes = hold_minutes
        self.explore = explore
        self.hold_off_s = hold_off_days * 86400.0
        self.preferences = Preferences(half_life_days)
        self._events = events
        self._summary = summary  # the compacted old evidence (None: none), read before the first events
        self._songs = songs  # playlist -> its songs' file values (None: not known now)
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self._fallback_prefix = fallback_prefix  # the tagger's playlists: prefix + a mapped name (None: none)
        self._whole_library = whole_library      # and then every song MPD has
        self._skipped: set[str] = set()
        self._missing: set[str] = set()
        self._held_until = float("-inf")
        self._episode: _Episode | None = None

    @classmethod
    def from_config(cls, config: Config, *, events: Callable[[int], list[Event]] | None = None,
                    songs: Callable[[str], list[str] | None] | None = None,
                    summary: Callable[[], tuple[int, str] | None] | None = None) -> MusicPolicy:
        """The policy of ``config.music``, learning from ``events`` (the store's log) and checking hold-offs
        against ``songs`` (a playlist's songs, from MPD)."""
        music = config.music
        return cls(music.playlists, hold_minutes=music.hold_minutes, policy=music.policy,
                   lift_step_min=music.lift_step_min, explore=music.explore, half_life_days=music.half_life_days,
                   hold_off_days=music.hold_off_days, events=events, songs=songs,
                   fallback_prefix=config.library.prefix or None, whole_library=True, summary=summary)

    def wanted_playlists(self) -> list[str]:
        """Every playlist the policy may play, fallbacks included: what the player checks in MPD."""
        return list(dict.fromkeys(name for mood in self.playlists for level in self._choices(mood)
                                  for name in level))

    def mark_unavailable(self, missing: list[str], empty: list[str]) -> None:
        """Playlists MPD lacks or that hold no songs: never chosen (warned about here). Replaces what an earlier
        check marked, so a playlist created or filled since comes back."""
        skipped = set(missing) | set(empty)
        changed, self._missing, self._skipped = skipped != self._skipped, set(missing), skipped
        for note in self.warnings() if changed else ():
            log.warning("%s", note)

    def skipping(self) -> bool:  # some playlist is skipped: worth checking MPD again for music added since
        return bool(self._skipped)

    def warnings(self) -> list[str]:
        """What the owner should know: mapped playlists that are skipped, and which moods play a fallback."""
        notes = []
        for name in dict.fromkeys(name for names in self.playlists.values() for name in names):
            if name in self._skipped:
                moods = ", ".join(mood for mood, names in self.playlists.items() if name in names)
                why = "does not exist in MPD" if name in self._missing else "is empty or cannot be played"
                notes.append(f"playlist {name} (for {moods}) {why}: skipped")
        for mood, names in self.playlists.items():
            playing = self.candidates(mood)
            if not any(name in names for name in playing):
                notes.append(f"mood {mood} plays {', '.join(playing) or 'nothing'} instead of {', '.join(names)}")
        return notes

    def mark_unusable(self, name: str, why: str) -> None:
        """A playlist MPD refused to play; it is never chosen again (until the next playlist check)."""
        log.warning("playlist %s cannot be played (%s): skipped", name, why)
        self._skipped.add(name)

    def music_mood(self, mood: str, mood_for_s: float) -> str:
        """Whose music to play for ``mood`` held for ``mood_for_s`` seconds: the mood itself, or with "lift" a
        step up once a low mood has lasted ``lift_step_min`` minutes, another after twice that."""
        if self.policy != "lift" or mood not in LOW_MOODS:
            return mood
        steps = int(mood_for_s // (self.lift_step_min * 60.0))
        return (mood, *LIFT_STEPS)[min(steps, len(LIFT_STEPS))]

    def all_playlists(self) -> list[str]:
        return list(dict.fromkeys(name for mood in self.playlists for name in self.candidates(mood)))

    def _choices(self, mood: str) -> list[list[str]]:
        """The mood's playlists, then the tagger's of the same names, then the whole library: each level is
        used only when every playlist of the levels before it is skipped."""
        own = list(self.playlists.get(mood, ()))
        prefix = self._fallback_prefix
        tagged = [prefix + name for name in own if not name.startswith(prefix)] if prefix else []
        return [own, tagged] + ([[WHOLE_LIBRARY]] if self._whole_library else [])

    def candidates(self, mood: str) -> list[str]:
        """The mood's own usable playlists (or its fallbacks' when none of its own is usable)."""
        for level in self._choices(mood):
            usable = [name for name in level if name not in self._skipped]
            if usable:
                return usable
        return []

    def _superseded(self, mood: str, playlist: str) -> bool:
        """A fallback of the mood's that a better level replaces now (a playlist created or filled since)."""
        return any(playlist in level for level in self._choices(mood)[1:]) and playlist not in self.candidates(mood)

    def _mapped(self, mood: str, playlist: str) -> bool:
        return playlist in self.playlists.get(mood, ()) or playlist in self.candidates(mood)

    def refresh(self) -> None:
        """Read the feedback logged since the last call into the learning state."""
        if self._events is None:
            return
        if self._summary is not None:
            try:
                found = self._summary()
            except StoreError:  # the store cannot be read now: learn when it can
                return
            self._summary = None
            if found is not None:
                self.preferences.load(*found)
        events = self._events(self.preferences.last_id)
        episode = self._episode
        for event in events:
            if episode is not None and episode.playlist is not None and event.playlist == episode.playlist:
                kind = evidence_kind(event)
                if kind == "early_skip":
                    episode.early_skips_in_a_row += 1
                    if episode.early_skips_in_a_row >= REJECT_AFTER_EARLY_SKIPS:
                        log.info("%s skipped early %d times in a row: another playlist for mood %s",
                                 episode.playlist, episode.early_skips_in_a_row, episode.mood)
                        episode.rejected.add(episode.playlist)
                elif kind is not None:
                    episode.early_skips_in_a_row = 0
        self.preferences.add(events)

    def posterior(self, mood: str, playlist: str, now: float | None = None) -> tuple[float, float]:
        """The Beta(a, b) belief that the listener wants ``playlist`` in ``mood``."""
        now = self._wall_clock() if now is None else now
        prior = MAPPED_PRIOR if self._mapped(mood, playlist) else OTHER_PRIOR
        success, failure = self.preferences.evidence(mood, playlist, now)
        return prior[0] + success, prior[1] + failure

    def _earned(self, mood: str, now: float) -> list[str]:
        """Other moods' playlists the listener has shown to want in ``mood`` (more yes than no)."""
        own = set(self.candidates(mood))
        return [name for name in self.all_playlists() if name not in own
                and (evidence := self.preferences.evidence(mood, name, now))[0] > evidence[1]]

    def choose(self, mood: str, current: str | None = None) -> str | None:
        """A playlist for ``mood``: ``current`` when it was chosen for this mood and not rejected since, else a
        Thompson draw; None if no playlist is usable."""
        if mood not in self.playlists:
            return None
        self.refresh()
        now = self._wall_clock()
        episode = self._episode
        if episode is None or episode.mood != mood:
            episode = self._episode = _Episode(mood)
            if current is not None and current not in self._skipped and self._suits(mood, current, now):
                episode.playlist = current
        if episode.playlist is not None and episode.playlist == current and current not in episode.rejected \
                and current not in self._skipped and not self._superseded(mood, current):
            return current
        lifting = self.policy == "lift"  # the owner chose whose music plays: no cross-mood choices
        usable = self.all_playlists()
        playable = {name for name in usable if self._playable(name, now)}

        def allowed(names: list[str]) -> list[str]:
            return [name for name in names if name not in episode.rejected and name in playable]

        own = allowed(self.candidates(mood))
        if lifting:
            pool = own
        elif self._rng.random() < self.explore:
            pool = allowed(usable)
        else:
            pool = own + allowed(self._earned(mood, now))
        if not pool and not lifting and not episode.rejected - set(self.candidates(mood)):
            # the mood's own playlists were rejected: try one from another mood; if that is rejected too, the
            # mood's own come back (a few unlucky skips must not send the music through every playlist)
            pool = allowed(usable)
        if not pool:
            episode.rejected.clear()
            pool = allowed(self.candidates(mood)) or ([] if lifting else allowed(usable))
        if not pool:  # every song of every candidate is on hold-off: play something rather than nothing
            pool = self.candidates(mood) or ([] if lifting else usable)
        if not pool:
            return None
        draws = {name: self._rng.betavariate(*self.posterior(mood, name, now)) for name in pool}
        episode.playlist = max(draws, key=draws.get)
        episode.early_skips_in_a_row = 0
        return episode.playlist

    def _playable(self, playlist: str, now: float) -> bool:
        """Whether ``playlist`` has a song that is not held off (True when its songs are not known)."""
        songs = self._songs(playlist) if self._songs is not None else None
        return songs is None or any(self.preferences.held_off(song, now, self.hold_off_s) is None
                                    for song in songs)

    def _suits(self, mood: str, playlist: str, now: float) -> bool:
        """Keep what already plays at the start of a mood when it is the mood's own or earned there, and the
        listener has not turned against it (posterior mean at least even)."""
        if playlist not in self.candidates(mood) and playlist not in self._earned(mood, now):
            return False
        a, b = self.posterior(mood, playlist, now)
        return a / (a + b) >= 0.5

    def rejected(self) -> bool:
        """Whether the playlist chosen for the current mood was just rejected: two early skips in a row, or its
        last song not on hold-off was skipped early."""
        self.refresh()
        episode = self._episode
        if episode is None or episode.playlist is None:
            return False
        if episode.playlist not in episode.rejected and not self._playable(episode.playlist, self._wall_clock()):
            log.info("every song of %s is on hold-off: another playlist for mood %s", episode.playlist, episode.mood)
            episode.rejected.add(episode.playlist)
        return episode.playlist in episode.rejected

    def arrange(self, tracks: list[str]) -> tuple[set[int], list[int]]:
        """For songs about to be queued (file values, in queue order): the indices to leave out (held off after
        an early skip) and the indices of liked songs, to be moved to the front in this order. When every song is
        held off none is left out: an empty queue would be worse."""
        self.refresh()
        now = self._wall_clock()
        held = {i for i, track in enumerate(tracks)
                if self.preferences.held_off(track, now, self.hold_off_s) is not None}
        if len(held) == len(tracks):
            held = set()
        liked = [i for i, track in enumerate(tracks) if i not in held and self.preferences.liked(track)]
        return held, liked

    def insights(self, now: float | None = None) -> dict:
        """What was learned: per mood, each playlist with its estimated preference (posterior mean and standard
        deviation), whether the config maps it there, and the evidence counts; and the songs on hold-off (how
        many, and the :data:`MAX_HELD_OFF_SHOWN` skipped last, latest first)."""
        self.refresh()
        now = self._wall_clock() if now is None else now
        moods = {}
        learned_moods = {mood for mood, _ in self.preferences.counts}
        for mood in list(self.playlists) + sorted(learned_moods - set(self.playlists)):
            rows = []
            for name in self.all_playlists():
                counts = self.preferences.counts.get((mood, name), Counter())
                mapped = self._mapped(mood, name)
                if not mapped and not counts:
                    continue
                a, b = self.posterior(mood, name, now)
                rows.append({"playlist": name, "mapped": mapped, "preference": round(a / (a + b), 3),
                             "uncertainty": round(math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))), 3),
                             "likes": counts["like"], "holds": counts["hold"], "full_plays": counts["played"],
                             "early_skips": counts["early_skip"], "late_skips": counts["late_skip"]})
            moods[mood] = sorted(rows, key=lambda row: -row["preference"])
        held = self.preferences.held_off_tracks(now, self.hold_off_s)
        latest = sorted(held.items(), key=lambda item: (-item[1], item[0]))[:MAX_HELD_OFF_SHOWN]
        return {"moods": moods, "held_off_count": len(held),
                "held_off": [{"track": track, "until": round(until, 1)} for track, until in latest],
                "half_life_days": self.preferences.half_life_s / 86400.0, "explore": self.explore}

    def hold(self, now: float) -> None:
        """Keep the current music for ``hold_minutes`` from ``now``."""
        self._held_until = now + self.hold_minutes * 60.0

    def release(self) -> None:
        self._held_until = float("-inf")

    def held(self, now: float) -> bool:
        return now < self._held_until

    def held_for_s(self, now: float) -> float:
        return max(0.0, self._held_until - now)
