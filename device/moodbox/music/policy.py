"""The music policy: which playlist suits a mood for this listener, and when the music must not change.

The policy learns, per mood, how much the listener wants each playlist (Thompson sampling over Beta posteriors):

- prior: the playlists the config maps to a mood (``music.playlists``) start ahead (:data:`MAPPED_PRIOR`); the
  other moods' playlists start even (:data:`OTHER_PRIOR`); both count for less with a listener who seldom skips;
- evidence: what the listener did while a song played, in the mood the box believed then, credited to the playlist
  the song came from (:data:`REWARDS`), weighed by what the box knew (:func:`evidence_weight`): a full play only
  with a face in view for most of it and at the listener's skip odds, everything in proportion to the mood's
  confidence, nothing while the music was held;
- parts of the day: each mood's belief per part of the day (:func:`part_of_day`) starts from the rest of the day's,
  scaled down to :data:`CONTEXT_PRIOR_STRENGTH`, and adds that part of the day's evidence;
- fading: evidence counts half after ``music.half_life_days``, so a changed taste wins over old habits;
- choice: at the start of a mood, draw one sample from each candidate's belief for this part of the day and play
  the highest. The candidates are the mood's own playlists and other moods' playlists that have earned a place in
  this mood; with probability ``music.explore`` every playlist takes part (except those only ever tolerated
  there), so cross-mood preferences can be found; with nobody in view nothing is tried (the best mean plays). Two
  early skips in a row reject the playing playlist for the rest of the mood unless the listener has shown to want
  it; another mood's playlist on trial goes at its first early skip.

Everything learned is derived from the feedback log (:meth:`moodbox.music.store.FeedbackStore.events_after`), read
incrementally: the log is the one source of truth and deleting it resets the learning.

Track memory: a song skipped early is held off for ``music.hold_off_days`` (:meth:`MusicPolicy.arrange` drops it
from a queue, and another playlist is chosen over one whose every song is held off), songs liked since their last
early skip come first. When every song of a mood's own playlists is held off they play all the same (skips in a
misread mood must not take a mood's music away). Songs are named by their ``file`` value as the server gave it (MPD
paths, Mopidy URIs: opaque), never by server-side stickers.

A hold (long press on like) keeps the current music for ``music.hold_minutes`` whatever the mood does. Empty
playlists, and playlists MPD stops being able to load, are skipped with a warning.

Policy "lift" (an owner's choice) starts a low mood with what suits it and then, every ``lift_step_min`` minutes the
mood lasts, moves one step up :data:`LIFT_STEPS`; under "lift" only a mood's own playlists are candidates (learning
still orders them).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from moodbox.music.store import Event

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger("moodbox.music.policy")

LOW_MOODS = frozenset({"angry", "disgust", "fear", "sad"})
LIFT_STEPS = ("neutral", "happy")  # whose music a low mood is lifted through, in order

EARLY_SKIP_S = 30.0
# evidence kind -> (success, failure) pseudo-counts it adds to the playlist's Beta posterior in that mood
REWARDS = {
    "early_skip": (0.0, 1.0),
    "late_skip": (0.0, 0.5),
    "like": (1.0, 0.0),
    "hold": (0.5, 0.0),
    "played": (1.0, 0.0),  # times the listener's skip odds (evidence_weight): at most as strong as a like
}
MAPPED_PRIOR = (3.0, 1.0)  # Beta(3, 1): a playlist the config maps to the mood, mean 0.75
OTHER_PRIOR = (1.0, 1.0)   # Beta(1, 1): any other playlist, mean 0.5
# Early skips in a row that reject a mood's own playlist (or one earned there) for the mood, unless it is still
# believed wanted; another mood's playlist on trial there goes at its first early skip
REJECT_AFTER_EARLY_SKIPS = 2
MAX_HELD_OFF_SHOWN = 50  # insights list the songs skipped most recently (one control-socket answer stays small)
_MAX_EXPONENT = 256.0  # decayed sums are kept relative to an origin, moved forward before they overflow

# What the box knew when it happened weighs the evidence (see evidence_weight):
MIN_FACE_SHARE = 0.5         # a full play teaches only when a face was in view for at least half of the song
FULL_CONFIDENCE = 0.7        # feedback in a mood believed this surely counts fully, in a less sure one in proportion
SKIP_RATE_PRIOR = (0.2, 20.0)   # (skips per song, songs' worth) assumed before the listener has shown theirs
LIKE_RATE_PRIOR = (0.05, 10.0)   # (likes per song, songs' worth)
RATE_MEMORY_SONGS = 100.0    # the listener's habits are estimated over about the last 100 songs heard
# A part of the day's belief starts from the mood's whole-day belief, worth at most this many pieces of evidence,
# so it helps at once and its own evidence soon outweighs the rest of the day's
CONTEXT_PRIOR_STRENGTH = 4.0
# An other mood's playlist heard this many times in a mood without a like or hold, where the listener's like rate
# would have given this many likes had it been wanted, is tolerated, not wanted: it is tried there no more
RETIRE_AFTER_EXPECTED_LIKES = 2.0
PARTS_OF_DAY = ("morning", "day", "evening", "night")


def part_of_day(hour: float) -> str:
    """morning 6-12 h, day 12-18 h, evening 18-22 h, night 22-6 h."""
    if 6 <= hour < 12:
        return "morning"
    if 12 <= hour < 18:
        return "day"
    return "evening" if 18 <= hour < 22 else "night"


def local_hour(at: float) -> float:
    """The hour of the day (with its fraction) at Unix time ``at`` on this box's clock."""
    moment = time.localtime(at)
    return moment.tm_hour + moment.tm_min / 60.0


def evidence_kind(event: Event) -> str | None:
    """What an event says about its playlist: a key of :data:`REWARDS`, or None (pause, release, ...).

    A skip with no known position (recorded before schema version 3) counts as a late, weak one."""
    if event.action == "skip":
        early = event.elapsed_s is not None and event.elapsed_s < EARLY_SKIP_S
        return "early_skip" if early else "late_skip"
    return event.action if event.action in REWARDS else None


def seen(event: Event) -> bool:
    """Whether the listener was there for it: a button was pressed, or a face was in view for most of the song
    (not known, before schema version 4: yes)."""
    return event.action != "played" or event.face_share is None or event.face_share >= MIN_FACE_SHARE


def evidence_weight(event: Event, skip_rate: float) -> float:
    """How much an event of a :data:`REWARDS` kind teaches about its playlist in its mood, 0-1:

    - nothing while the music was held (the listener chose it, not the box), except the hold itself;
    - a full play nothing unless a face was in view for most of it, and then the listener's odds of skipping a
      song (``skip_rate`` / (1 - ``skip_rate``), at most 1): a song not skipped by a listener who seldom skips
      says little, and a playlist skipped as often as the listener's average song ends up even (mean 0.5);
    - in proportion to the believed mood's confidence up to :data:`FULL_CONFIDENCE`.
    """
    if event.held and event.action != "hold":
        return 0.0
    weight = 1.0
    if event.action == "played":
        if not seen(event):
            return 0.0
        weight = min(1.0, skip_rate / (1.0 - skip_rate))
    if event.confidence is not None:
        weight *= min(1.0, max(0.0, event.confidence) / FULL_CONFIDENCE)
    return weight


def _surely_better(belief: tuple[float, float], than: tuple[float, float], z: float = 0.84) -> bool:
    """Whether Beta ``belief`` beats Beta ``than`` with about 80% certainty (normal approximation)."""
    def moments(a: float, b: float) -> tuple[float, float]:
        return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))

    (mean, var), (other_mean, other_var) = moments(*belief), moments(*than)
    return mean - other_mean > z * math.sqrt(var + other_var)


class Preferences:
    """The learning state, built from events: decayed evidence per (mood, part of day, playlist) (part None: the
    whole day), the listener's button habits, and per-track memory."""

    def __init__(self, half_life_days: float = 30.0, hour_of: Callable[[float], float] = local_hour):
        self.half_life_s = half_life_days * 86400.0
        self.last_id = 0
        self._hour_of = hour_of
        self._origin: float | None = None
        self._sums: dict[tuple[str, str | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.counts: dict[tuple[str, str | None, str], Counter] = defaultdict(Counter)  # events that taught
        self._songs, self._skips, self._likes = 0.0, 0.0, 0.0  # decayed over RATE_MEMORY_SONGS songs heard
        self._early_skips: dict[str, float] = {}  # track -> when it was last skipped early
        self._liked: dict[str, float] = {}        # track -> when it was last liked

    @property
    def skip_rate(self) -> float:
        """Skips per song heard, recently."""
        rate, songs = SKIP_RATE_PRIOR
        return (self._skips + rate * songs) / (self._songs + songs)

    @property
    def prior_scale(self) -> float:
        """The priors count as a few songs' worth of this listener's evidence: a song teaches about twice the skip
        rate (a skip, or a full play at the skip odds), so the priors are scaled down for a listener who skips
        less than :data:`SKIP_RATE_PRIOR` assumes."""
        return min(1.0, max(0.1, self.skip_rate / SKIP_RATE_PRIOR[0]))

    @property
    def like_rate(self) -> float:
        rate, songs = LIKE_RATE_PRIOR
        return (self._likes + rate * songs) / (self._songs + songs)

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            self.last_id = max(self.last_id, event.id)
            kind = evidence_kind(event)
            if kind is None:
                continue
            if event.track is not None and kind in ("early_skip", "like"):
                (self._early_skips if kind == "early_skip" else self._liked)[event.track] = event.at
            weight = evidence_weight(event, self.skip_rate)
            self._count_habits(event, kind)
            if event.mood is None or event.playlist is None or weight == 0.0:
                continue
            if self._origin is None:
                self._origin = event.at
            exponent = (event.at - self._origin) / self.half_life_s
            if exponent > _MAX_EXPONENT:
                self._rebase(event.at)
                exponent = 0.0
            weight *= 2.0 ** exponent
            success, failure = REWARDS[kind]
            for part in (None, part_of_day(self._hour_of(event.at))):
                sums = self._sums[(event.mood, part, event.playlist)]
                sums[0] += success * weight
                sums[1] += failure * weight
                self.counts[(event.mood, part, event.playlist)][kind] += 1

    def _count_habits(self, event: Event, kind: str) -> None:
        if kind == "like":
            self._likes += 1.0
        elif kind != "hold" and seen(event):  # a song heard: skipped, or played to its end with the listener in view
            keep = 1.0 - 1.0 / RATE_MEMORY_SONGS
            self._songs, self._skips, self._likes = self._songs * keep + 1.0, self._skips * keep, self._likes * keep
            self._skips += kind != "played"

    def _rebase(self, origin: float) -> None:
        scale = 2.0 ** (-(origin - self._origin) / self.half_life_s)
        for sums in self._sums.values():
            sums[0] *= scale
            sums[1] *= scale
        self._origin = origin

    def evidence(self, mood: str, playlist: str, now: float, part: str | None = None) -> tuple[float, float]:
        """(success, failure) pseudo-counts for ``playlist`` in ``mood`` (in part of the day ``part``, None: all
        day), faded to ``now``."""
        sums = self._sums.get((mood, part, playlist))
        if self._origin is None or sums is None:
            return 0.0, 0.0
        scale = 2.0 ** (-(now - self._origin) / self.half_life_s)
        return sums[0] * scale, sums[1] * scale

    def tolerated_only(self, mood: str, playlist: str) -> bool:
        """Heard in ``mood`` so often without a like or hold that a listener with these button habits would have
        liked it by now, were it wanted there."""
        counts = self.counts.get((mood, None, playlist))
        if not counts or counts["like"] or counts["hold"]:
            return False
        heard = counts["played"] + counts["early_skip"] + counts["late_skip"]
        return heard * self.like_rate >= RETIRE_AFTER_EXPECTED_LIKES

    def held_off(self, track: str, now: float, hold_off_s: float) -> float | None:
        """When the hold-off of an early-skipped ``track`` ends, or None when it is not held off."""
        skipped = self._early_skips.get(track)
        if skipped is None or now >= skipped + hold_off_s or self._liked.get(track, -math.inf) > skipped:
            return None
        return skipped + hold_off_s

    def liked(self, track: str) -> bool:
        return self._liked.get(track, -math.inf) > self._early_skips.get(track, -math.inf)

    def held_off_tracks(self, now: float, hold_off_s: float) -> dict[str, float]:
        return {track: until for track in self._early_skips
                if (until := self.held_off(track, now, hold_off_s)) is not None}


class Witness:
    """What the box knew while a song played, for the evidence of its "played" record: the share of the song's
    playing time a face was in view, and the mood's mean confidence meanwhile. The daemon feeds it every tick
    (:meth:`observe`); time the music is paused counts for neither."""

    def __init__(self):
        self._track: str | None = None
        self._last: float | None = None
        self._playing_s = self._seen_s = self._confidence_s = 0.0

    def observe(self, now: float, track: str | None, playing: bool, face: bool, confidence: float | None) -> None:
        if track != self._track:
            self._track, self._playing_s, self._seen_s, self._confidence_s = track, 0.0, 0.0, 0.0
        elif playing and self._last is not None:
            step = max(0.0, now - self._last)
            self._playing_s += step
            if face:
                self._seen_s += step
                self._confidence_s += step * (confidence or 0.0)
        self._last = now if playing else None

    def of(self, track: str | None) -> dict:
        """``face_share`` and ``confidence`` for the record of ``track`` (empty when another song was watched or
        it did not play long enough to tell)."""
        if track is None or track != self._track or self._playing_s <= 0.0:
            return {}
        confidence = self._confidence_s / self._seen_s if self._seen_s > 0 else None
        return {"face_share": round(self._seen_s / self._playing_s, 3),
                "confidence": None if confidence is None else round(confidence, 3)}


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
                 wall_clock: Callable[[], float] = time.time, hour_of: Callable[[float], float] = local_hour):
        if policy not in ("match", "lift"):
            raise ValueError(f"music policy must be 'match' or 'lift', got {policy!r}")
        self.playlists = dict(playlists)
        self.policy, self.lift_step_min = policy, lift_step_min
        self.hold_minutes = hold_minutes
        self.explore = explore
        self.hold_off_s = hold_off_days * 86400.0
        self._hour_of = hour_of  # Unix time -> hour of the day, for the part of the day
        self.preferences = Preferences(half_life_days, hour_of)
        self._events = events
        self._songs = songs  # playlist -> its songs' file values (None: not known now)
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self._skipped: set[str] = set()
        self._held_until = float("-inf")
        self._episode: _Episode | None = None
        self.witness = Witness()

    @classmethod
    def from_config(cls, config: Config, *, events: Callable[[int], list[Event]] | None = None,
                    songs: Callable[[str], list[str] | None] | None = None) -> MusicPolicy:
        """The policy of ``config.music``, learning from ``events`` (the store's log) and checking hold-offs
        against ``songs`` (a playlist's songs, from MPD)."""
        music = config.music
        return cls(music.playlists, hold_minutes=music.hold_minutes, policy=music.policy,
                   lift_step_min=music.lift_step_min, explore=music.explore, half_life_days=music.half_life_days,
                   hold_off_days=music.hold_off_days, events=events, songs=songs)

    def mark_empty(self, names: list[str]) -> None:
        """Playlists that hold no songs; they are never chosen (warned about once here). Replaces what an
        earlier check marked, so a playlist filled or recreated since comes back."""
        for name in names:
            log.warning("playlist %s is empty: skipped", name)
        self._skipped = set(names)

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
        return list(dict.fromkeys(name for names in self.playlists.values() for name in names
                                  if name not in self._skipped))

    def candidates(self, mood: str) -> list[str]:
        """The mood's own usable playlists."""
        return [name for name in self.playlists.get(mood, ()) if name not in self._skipped]

    def refresh(self) -> None:
        """Read the feedback logged since the last call into the learning state."""
        if self._events is None:
            return
        episode = self._episode
        for event in self._events(self.preferences.last_id):
            self.preferences.add((event,))
            if episode is None or episode.playlist is None or event.playlist != episode.playlist:
                continue
            kind = evidence_kind(event)
            if kind == "early_skip":
                episode.early_skips_in_a_row += 1
                on_trial = episode.playlist not in self.playlists.get(episode.mood, ()) \
                    and episode.playlist not in self._earned(episode.mood, event.at, self.part_of_day(event.at))
                if on_trial or episode.early_skips_in_a_row >= REJECT_AFTER_EARLY_SKIPS \
                        and not self._still_wanted(episode, event.at):
                    log.info("%s skipped early %d times in a row: another playlist for mood %s",
                             episode.playlist, episode.early_skips_in_a_row, episode.mood)
                    episode.rejected.add(episode.playlist)
            elif kind is not None:
                episode.early_skips_in_a_row = 0

    def _still_wanted(self, episode: _Episode, now: float) -> bool:
        """Whether the listener has shown to want the episode's playlist in its mood (its evidence there says
        more yes than no), still believes it better than even at this time of day, and no other is surely better:
        a few songs skipped from a playlist the listener wants must not send the music elsewhere."""
        yes, no = self.preferences.evidence(episode.mood, episode.playlist, now)
        if yes <= no:
            return False
        part = self.part_of_day(now)
        belief = self.posterior(episode.mood, episode.playlist, now, part)
        if belief[0] <= belief[1]:
            return False
        return not any(_surely_better(self.posterior(episode.mood, name, now, part), belief)
                       for name in self.all_playlists() if name != episode.playlist and name not in episode.rejected
                       and not self.preferences.tolerated_only(episode.mood, name))

    def part_of_day(self, now: float | None = None) -> str:
        return part_of_day(self._hour_of(self._wall_clock() if now is None else now))

    def posterior(self, mood: str, playlist: str, now: float | None = None, part: str | None = None
                  ) -> tuple[float, float]:
        """The Beta(a, b) belief that the listener wants ``playlist`` in ``mood``: over the whole day, or in the
        part of the day ``part``. That one starts from what the rest of the day says (the prior and the evidence
        from other parts of the day, scaled down to at most :data:`CONTEXT_PRIOR_STRENGTH`: same mean, less
        weight) and adds the evidence from that part of the day; with no evidence from elsewhere it is the whole
        day's belief."""
        now = self._wall_clock() if now is None else now
        prior = MAPPED_PRIOR if playlist in self.playlists.get(mood, ()) else OTHER_PRIOR
        scale = self.preferences.prior_scale
        prior = (prior[0] * scale, prior[1] * scale)
        success, failure = self.preferences.evidence(mood, playlist, now)
        if part is None:
            return prior[0] + success, prior[1] + failure
        here_success, here_failure = self.preferences.evidence(mood, playlist, now, part)
        a, b = prior[0] + max(0.0, success - here_success), prior[1] + max(0.0, failure - here_failure)
        scale = min(1.0, max(CONTEXT_PRIOR_STRENGTH, sum(prior)) / (a + b))
        return a * scale + here_success, b * scale + here_failure

    def _earned(self, mood: str, now: float, part: str | None = None) -> list[str]:
        """Other moods' playlists the listener has shown to want in ``mood``: believed better than the mood's own
        best at this time of day (``part``) with about 80% certainty, and not only ever tolerated there."""
        own = self.candidates(mood)
        best = max((self.posterior(mood, name, now, part) for name in own), key=lambda ab: ab[0] / sum(ab),
                   default=None)
        earned = []
        for name in self.all_playlists():
            if name in own or self.preferences.tolerated_only(mood, name):
                continue
            belief = self.posterior(mood, name, now, part)
            if best is None or _surely_better(belief, best):
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
            episode = self._episode = _Episode(mood)
            if current is not None and current not in self._skipped and self._suits(mood, current, now, part):
                episode.playlist = current
        if episode.playlist is not None and episode.playlist == current and current not in episode.rejected \
                and current not in self._skipped:
            return current
        lifting = self.policy == "lift"  # the owner chose whose music plays: no cross-mood choices
        usable = self.all_playlists()
        playable = {name for name in usable if self._playable(name, now)}
        if not playable & set(self.candidates(mood)):  # skips in misread moods must not take a mood's music away
            playable |= set(self.candidates(mood))

        def allowed(names: list[str]) -> list[str]:
            return [name for name in names if name not in episode.rejected and name in playable]

        own = allowed(self.candidates(mood))
        if lifting:
            pool = own
        elif present and self._rng.random() < self.explore:
            pool = allowed([name for name in usable if not self.preferences.tolerated_only(mood, name)
                            or name in self.playlists[mood]])
        else:
            pool = own + allowed(self._earned(mood, now, part))
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

    def _playable(self, playlist: str, now: float) -> bool:
        """Whether ``playlist`` has a song that is not held off (True when its songs are not known)."""
        songs = self._songs(playlist) if self._songs is not None else None
        return songs is None or any(self.preferences.held_off(song, now, self.hold_off_s) is None
                                    for song in songs)

    def _suits(self, mood: str, playlist: str, now: float, part: str) -> bool:
        """Keep what already plays at the start of a mood when it is the mood's own or earned there, and the
        listener has not turned against it at this time of day (posterior mean at least even)."""
        if playlist not in self.candidates(mood) and playlist not in self._earned(mood, now, part):
            return False
        a, b = self.posterior(mood, playlist, now, part)
        return a / (a + b) >= 0.5

    def rejected(self) -> bool:
        """Whether the playlist chosen for the current mood was just rejected: two early skips in a row (unless
        still believed the best), or its last song not on hold-off was skipped early while another of the mood's own
        playlists has songs left."""
        self.refresh()
        episode = self._episode
        if episode is None or episode.playlist is None:
            return False
        now = self._wall_clock()
        if episode.playlist not in episode.rejected and not self._playable(episode.playlist, now) \
                and any(self._playable(name, now) for name in self.candidates(episode.mood)):
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
        deviation), whether the config maps it there, and the evidence counts; per mood and part of the day, the
        preference there of each playlist with evidence from that part of the day; the listener's button presses
        per song (how much a full play counts); and the songs on hold-off (how many, and the
        :data:`MAX_HELD_OFF_SHOWN` skipped last, latest first)."""
        self.refresh()
        now = self._wall_clock() if now is None else now
        counts_of = self.preferences.counts
        moods, parts = {}, {}
        learned_moods = {mood for mood, _, _ in counts_of}
        for mood in list(self.playlists) + sorted(learned_moods - set(self.playlists)):
            rows = []
            for name in self.all_playlists():
                counts = counts_of.get((mood, None, name), Counter())
                mapped = name in self.playlists.get(mood, ())
                if not mapped and not counts:
                    continue
                a, b = self.posterior(mood, name, now)
                rows.append({"playlist": name, "mapped": mapped, "preference": round(a / (a + b), 3),
                             "uncertainty": round(math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))), 3),
                             "likes": counts["like"], "holds": counts["hold"], "full_plays": counts["played"],
                             "early_skips": counts["early_skip"], "late_skips": counts["late_skip"],
                             "tolerated_only": self.preferences.tolerated_only(mood, name)})
            moods[mood] = sorted(rows, key=lambda row: -row["preference"])
            for part in PARTS_OF_DAY:
                rows = []
                for name in self.all_playlists():
                    events = sum(counts_of.get((mood, part, name), Counter()).values())
                    if events:
                        a, b = self.posterior(mood, name, now, part)
                        rows.append({"playlist": name, "preference": round(a / (a + b), 3), "events": events})
                if rows:
                    parts.setdefault(mood, {})[part] = sorted(rows, key=lambda row: -row["preference"])
        held = self.preferences.held_off_tracks(now, self.hold_off_s)
        latest = sorted(held.items(), key=lambda item: (-item[1], item[0]))[:MAX_HELD_OFF_SHOWN]
        return {"moods": moods, "parts_of_day": parts, "skip_rate": round(self.preferences.skip_rate, 3),
                "held_off_count": len(held),
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
