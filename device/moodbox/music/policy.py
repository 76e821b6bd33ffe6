"""The music policy: which playlist suits a mood for this listener, and when the music must not change. The
README's "How it learns" says the rules in plain words; here, where each lives.

Per mood, a Beta belief per playlist, drawn from at the start of a mood (Thompson sampling): mapped playlists start
ahead (:data:`MAPPED_PRIOR`, others :data:`OTHER_PRIOR`), priors scaled by ``Preferences.prior_scale`` (button
habits, random skips); evidence is what the listener did in the mood the box believed, weighed by what it knew
(:func:`~moodbox.music.preferences.evidence_weight`), per part of the day too (``Preferences.belief``), fading
with ``music.half_life_days`` and overruled by recent evidence that surely disagrees (:mod:`~moodbox.music.judging`).
Candidates: the mood's own playlists and others' that earned a place there; every playlist in ``music.explore`` x
``Preferences.explore_scale`` of the choices and while the mood's music is surely below the best-served songs; with
nobody in view the best mean plays. Within a mood (:class:`Episode`) two early skips in a row reject the playlist
if the listener's skips come in runs and it has not shown to want it, or else may be the box's misreading
(:mod:`~moodbox.music.misreads`); another mood's playlist on trial goes at its first early skip.

Everything learned is derived from the feedback log, read after the summary its old events were compacted into
(:func:`~moodbox.music.compaction.compact_feedback`). Track memory: a song skipped early is held off for
``music.hold_off_days`` (:meth:`MusicPolicy.arrange`), liked songs come first; a playlist earned in a mood, or the
mood's own when all are held off, plays all the same (skips in a misread mood must not take a mood's music away).
Songs are named by their ``file`` value. A hold keeps the music for ``music.hold_minutes``; a mood whose playlists
MPD cannot play has its fallback's (:mod:`~moodbox.music.availability`); policy "lift" moves a low mood's music up
:data:`LIFT_STEPS` every ``lift_step_min`` minutes, choosing only among a mood's own playlists.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from moodbox.music.availability import PlaylistAvailability
from moodbox.music.choices import CHOICES_FILE, OwnerChoices
from moodbox.music.episode import Episode
from moodbox.music.insights import insights
from moodbox.music.judging import surely_below_even, surely_better
from moodbox.music.misreads import Misreads
from moodbox.music.preferences import Preferences, evidence_kind, local_hour, part_of_day
from moodbox.music.store import Event, StoreError
from moodbox.music.witness import Witness

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger("moodbox.music.policy")

LOW_MOODS = frozenset({"angry", "disgust", "fear", "sad"})
LIFT_STEPS = ("neutral", "happy")  # whose music a low mood is lifted through, in order

MAPPED_PRIOR = (3.0, 1.0)  # Beta(3, 1): a playlist the config maps to the mood, mean 0.75
OTHER_PRIOR = (1.0, 1.0)   # Beta(1, 1): any other playlist, mean 0.5
REJECT_AFTER_EARLY_SKIPS = 2  # early skips in a row that reject a playlist for the mood unless still wanted
EXPLORE_EVIDENCE = 2.0  # songs' worth of evidence before a mood's music is judged worse than the listener's average
RESTING_MOOD = "neutral"  # whose music plays before the first mood is known


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
                 wall_clock: Callable[[], float] = time.time, hour_of: Callable[[float], float] = local_hour,
                 choices_path: Path | None = None, fallback_prefix: str | None = None, whole_library: bool = False,
                 summary: Callable[[], tuple[int, str] | None] | None = None,
                 misreads: Misreads | None = None):
        if policy not in ("match", "lift"):
            raise ValueError(f"music policy must be 'match' or 'lift', got {policy!r}")
        self.playlists = dict(playlists)
        self.policy, self.lift_step_min = policy, lift_step_min
        self.hold_minutes, self.explore = hold_minutes, explore
        self.hold_off_s, self._hour_of = hold_off_days * 86400.0, hour_of  # hour_of: Unix time -> hour of the day
        self.preferences = Preferences(half_life_days, hour_of)
        self._events = events
        self._summary = summary  # the compacted old evidence (None: none), read before the first events
        self._songs = songs  # playlist -> its songs' file values (None: not known now)
        self._rng, self._wall_clock = rng or random.Random(), wall_clock
        self.available = PlaylistAvailability(self.playlists, fallback_prefix=fallback_prefix,
                                              whole_library=whole_library)
        self._held_until, self._episode = float("-inf"), None  # type: float, Episode | None
        self.witness, self.choices = Witness(), OwnerChoices(choices_path)
        self._beliefs, self._beliefs_epoch = {}, None  # posterior()'s, valid for one (time, evidence, playlists)
        self.misreads = misreads or Misreads()

    @classmethod
    def from_config(cls, config: Config, *, events: Callable[[int], list[Event]] | None = None,
                    songs: Callable[[str], list[str] | None] | None = None,
                    summary: Callable[[], tuple[int, str] | None] | None = None) -> MusicPolicy:
        """The policy of ``config.music``, learning from the store's ``summary`` and ``events``, checking hold-offs
        against ``songs`` (a playlist's songs, from MPD); the tagger's playlists and the whole library are fallbacks;
        the expression model's recorded mistakes tell which mood a reading may hide."""
        music = config.music
        return cls(music.playlists, hold_minutes=music.hold_minutes, policy=music.policy,
                   lift_step_min=music.lift_step_min, explore=music.explore, half_life_days=music.half_life_days,
                   hold_off_days=music.hold_off_days, events=events, songs=songs,
                   choices_path=Path(config.state.dir) / CHOICES_FILE, fallback_prefix=config.library.prefix or None,
                   whole_library=True, summary=summary, misreads=Misreads.of_model(config.model.path))

    def music_mood(self, mood: str, mood_for_s: float) -> str:
        """Whose music to play for ``mood`` held for ``mood_for_s`` seconds: the mood itself, or with "lift" a
        step up once a low mood has lasted ``lift_step_min`` minutes, another after twice that."""
        if self.policy != "lift" or mood not in LOW_MOODS:
            return mood
        steps = int(mood_for_s // (self.lift_step_min * 60.0))
        return (mood, *LIFT_STEPS)[min(steps, len(LIFT_STEPS))]

    def all_playlists(self) -> list[str]:
        return self.available.all_playlists()

    def candidates(self, mood: str) -> list[str]:
        return self.available.candidates(mood)  # the mood's own usable playlists, or its fallback's

    def refresh(self) -> None:
        """Read the feedback logged since the last call into the learning state."""
        if self._events is None:
            return
        if self._summary is not None:
            try:
                found, self._summary = self._summary(), None
            except StoreError:  # the store cannot be read now: learn when it can
                return
            if found is not None:
                self.preferences.load(*found)
        episode = self._episode
        for event in self._events(self.preferences.last_id):
            self.preferences.add((event,))
            if episode is None or episode.playlist is None or event.playlist != episode.playlist:
                continue
            kind = evidence_kind(event)
            if kind == "early_skip":
                episode.early_skips_in_a_row += 1
                on_trial = not self.available.mapped(episode.mood, episode.playlist) \
                    and episode.playlist not in self._earned(episode.mood, event.at, self.part_of_day(event.at))
                in_a_row = episode.early_skips_in_a_row >= REJECT_AFTER_EARLY_SKIPS and self.preferences.skips_run
                if on_trial or in_a_row and not self._still_wanted(episode, event.at):
                    log.info("%s skipped early %d times in a row: another playlist for mood %s",
                             episode.playlist, episode.early_skips_in_a_row, episode.mood)
                    episode.rejected.add(episode.playlist)
                elif in_a_row and episode.stand_in is None and (stand_in := self._stand_in(episode, event.at)):
                    log.info("%s skipped early twice though wanted in mood %s: a misread %s?", episode.playlist,
                             episode.mood, stand_in)
                    episode.stand_in = stand_in
                    episode.rejected.add(episode.playlist)
            elif kind is not None:
                episode.early_skips_in_a_row = 0

    def _still_wanted(self, episode: Episode, now: float) -> bool:
        """Whether the listener has shown to want the episode's playlist in its mood (more yes than no), it is still
        better than even now and none is surely better: a few skips must not send wanted music elsewhere."""
        yes, no = self.preferences.evidence(episode.mood, episode.playlist, now)
        part = self.part_of_day(now)
        belief = self.posterior(episode.mood, episode.playlist, now, part)
        if yes <= no or belief[0] <= belief[1]:
            return False
        return not any(surely_better(self.posterior(episode.mood, name, now, part), belief)
                       for name in self.all_playlists() if name != episode.playlist and name not in episode.rejected
                       and not self.preferences.tolerated_only(episode.mood, name))

    def _stand_in(self, episode: Episode, now: float) -> str | None:
        names = [name for name in self.all_playlists() if name == episode.playlist or self._playable(name, now)]
        return self.misreads.stand_in(episode.mood, episode.playlist, lambda mood: self._best_for(mood, names, now))

    def _best_for(self, mood: str, names: list[str], now: float) -> str | None:
        """The playlist of ``names`` with the best mean belief in ``mood`` at this time of day."""
        means = {name: (lambda a, b: a / (a + b))(*self.posterior(mood, name, now, self.part_of_day(now)))
                 for name in names}
        return max(means, key=means.get, default=None)

    def part_of_day(self, now: float | None = None) -> str:
        return part_of_day(self._hour_of(self._wall_clock() if now is None else now))

    def posterior(self, mood: str, playlist: str, now: float | None = None, part: str | None = None
                  ) -> tuple[float, float]:
        """The Beta(a, b) belief that the listener wants ``playlist`` in ``mood``, over the whole day or in the part
        of the day ``part`` (``Preferences.belief``). Kept until the time, the evidence or the playlists change."""
        now = self._wall_clock() if now is None else now
        epoch = (now, self.preferences.last_id, self.available.version)
        if epoch != self._beliefs_epoch:
            self._beliefs, self._beliefs_epoch = {}, epoch
        found = self._beliefs.get((mood, playlist, part))
        if found is None:
            prior = MAPPED_PRIOR if self.available.mapped(mood, playlist) else OTHER_PRIOR
            found = self._beliefs[(mood, playlist, part)] = self.preferences.belief(prior, mood, playlist, now, part)
        return found

    def _earned(self, mood: str, now: float, part: str | None = None) -> list[str]:
        """Other moods' playlists the listener has shown to want in ``mood``: believed better than the mood's own
        best at this time of day (``part``) with about 80% certainty, and not only ever tolerated there; none for a
        listener whose playlists show no spread at all (``explore_scale`` 0: a difference is chance's)."""
        own = self.candidates(mood)
        best = max((self.posterior(mood, name, now, part) for name in own), key=lambda ab: ab[0] / sum(ab),
                   default=None)
        earned = []
        for name in self.all_playlists() if self.preferences.explore_scale > 0.0 else ():
            if name in own or self.preferences.tolerated_only(mood, name):
                continue
            belief = self.posterior(mood, name, now, part)
            if best is None or surely_better(belief, best):
                earned.append(name)
        return earned

    def choose(self, mood: str, current: str | None = None, *, present: bool = True) -> str | None:
        """A playlist for ``mood``: ``current`` when it was chosen for this mood and not rejected since, else a
        Thompson draw from the beliefs for this part of the day; None if no playlist is usable. With nobody in
        view (``present`` false) nothing is tried: the best belief wins and no other mood's playlist is
        explored."""
        if mood not in self.playlists:
            return None
        self.refresh()
        now = self._wall_clock()
        part = self.part_of_day(now)
        episode = self._episode
        if episode is None or episode.mood != mood:
            episode = self._episode = Episode(mood)
            if current is not None and self.available.usable(current) and self._suits(mood, current, now, part):
                episode.playlist = current
        if episode.playlist is not None and episode.playlist == current and current not in episode.rejected \
                and self.available.usable(current) and not self.available.superseded(mood, current):
            return current
        lifting = self.policy == "lift"  # the owner chose whose music plays: no cross-mood choices
        usable = self.all_playlists()
        playable = {name for name in usable if self._playable(name, now)}
        mine = set(self.candidates(mood))  # skips in misread moods must not take a mood's music away, nor what it earned
        playable |= (set() if playable & mine else mine) | set(() if lifting else self._earned(mood, now, part))

        def allowed(names: list[str]) -> list[str]:
            return [name for name in names if name not in episode.rejected and name in playable
                    and self.choices.get(mood, name) != "exclude"]

        own = allowed(self.candidates(mood))
        pinned = allowed(self.choices.pinned(mood))
        stand_in = None if episode.stand_in is None else self._best_for(episode.stand_in, allowed(usable), now)
        if pinned:  # the owner's word: only the pinned ones
            pool = pinned
        elif lifting:
            pool = own
        elif stand_in is not None:  # the mood is likely misread: what the mood behind the reading wants
            pool = [stand_in]
        else:
            pool = own + allowed(self._earned(mood, now, part))
            if present and (self._rng.random() < self.explore * self.preferences.explore_scale
                            or self._below_average(mood, pool, now)):  # explore: every playlist takes part
                pool = allowed([name for name in usable if not self.preferences.tolerated_only(mood, name)
                                or self.available.mapped(mood, name)])
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
        beliefs = {name: self.posterior(mood, name, now, part) for name in pool}
        if present:
            draws = {name: self._rng.betavariate(a, b) for name, (a, b) in beliefs.items()}
        else:
            draws = {name: a / (a + b) for name, (a, b) in beliefs.items()}
        episode.playlist = max(draws, key=draws.get)
        episode.early_skips_in_a_row = 0
        return episode.playlist

    def _below_average(self, mood: str, pool: list[str], now: float) -> bool:
        """Whether every candidate for ``mood`` is believed (over the whole day, on at least
        :data:`EXPLORE_EVIDENCE` songs' worth, with about 80% certainty) to be skipped more than the listener's
        best-served songs; never for a listener whose playlists show no spread (nothing to find)."""
        return self.preferences.consistency == 1.0 and all(
            surely_below_even((a, b))
            and sum(self.preferences.evidence(mood, name, now)) >= EXPLORE_EVIDENCE
            for name, (a, b) in ((name, self.posterior(mood, name, now)) for name in pool))

    def _playable(self, playlist: str, now: float) -> bool:
        """Whether ``playlist`` has a song that is not held off (True when its songs are not known)."""
        songs = self._songs(playlist) if self._songs is not None else None
        return songs is None or len(self.preferences.held_off_among(songs, now, self.hold_off_s, first=True)) \
            < len(songs)

    def _suits(self, mood: str, playlist: str, now: float, part: str) -> bool:
        """Keep what already plays at the start of a mood when it is the mood's own or earned there, and the
        listener has not turned against it at this time of day (posterior mean at least even)."""
        if playlist not in self.candidates(mood) and playlist not in self._earned(mood, now, part) \
                or not self.choices.allows(mood, playlist):
            return False
        a, b = self.posterior(mood, playlist, now, part)
        return a / (a + b) >= 0.5

    def rejected(self) -> bool:
        """Whether the playlist chosen for the current mood was just rejected: two early skips in a row (unless
        still believed the best), or its last song not on hold-off was skipped early while another of the mood's own
        playlists has songs left (not if it earned its place in the mood: it plays on)."""
        self.refresh()
        episode = self._episode
        if episode is None or episode.playlist is None:
            return False
        now = self._wall_clock()
        if episode.playlist not in episode.rejected and not self._playable(episode.playlist, now) \
                and any(self._playable(name, now) for name in self.candidates(episode.mood)) \
                and episode.playlist not in self._earned(episode.mood, now, self.part_of_day(now)):
            log.info("every song of %s is on hold-off: another playlist for mood %s", episode.playlist, episode.mood)
            episode.rejected.add(episode.playlist)
        return episode.playlist in episode.rejected

    def arrange(self, tracks: list[str]) -> tuple[set[int], list[int]]:
        """For songs about to be queued (file values, in queue order): the indices to leave out (held off after
        an early skip) and the indices of liked songs, to be moved to the front in this order. When every song is
        held off none is left out: an empty queue would be worse."""
        self.refresh()
        now = self._wall_clock()
        held = set(self.preferences.held_off_among(tracks, now, self.hold_off_s))
        if len(held) == len(tracks):
            held = set()
        liked = [i for i, track in enumerate(tracks) if i not in held and self.preferences.liked(track)]
        return held, liked

    def insights(self, now: float | None = None) -> dict:
        """What was learned (:func:`moodbox.music.insights.insights`)."""
        self.refresh()
        return insights(self, self._wall_clock() if now is None else now)

    def set_choice(self, mood: str, playlist: str, choice: str | None) -> None:
        """The owner's word on ``playlist`` for ``mood`` (:mod:`moodbox.music.choices`; None: the box chooses);
        ValueError for an unknown mood, playlist or choice."""
        self.choices.set(mood, playlist, choice, moods=list(self.playlists), playlists=self.all_playlists())
        if self._episode is not None and self._episode.mood == mood:
            self._episode.playlist = None  # choose again at the next tick

    def hold(self, now: float) -> None:
        """Keep the current music for ``hold_minutes`` from ``now``."""
        self._held_until = now + self.hold_minutes * 60.0

    def release(self) -> None:
        self._held_until = float("-inf")

    def held(self, now: float) -> bool:
        return now < self._held_until

    def held_for_s(self, now: float) -> float:
        return max(0.0, self._held_until - now)
