"""The listener's preferences as the policy learns them, built by replaying the feedback log
(:mod:`moodbox.music.policy` chooses with them): decayed evidence per (mood, part of the day, playlist), weighed by
what the box knew when it happened (:func:`evidence_weight`); the listener's habits (how often it skips and likes);
and per-track memory. Events older than ``state.history_days`` are folded into the store's summary of this state
(:func:`~moodbox.music.compaction.compact_feedback`), so that replaying does not grow with the box's age.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from typing import Callable, Iterable

from moodbox.music.judging import best_served_skip_rate, forget_outdated
from moodbox.music.store import Event

EARLY_SKIP_S = 30.0
# evidence kind -> (success, failure) pseudo-counts it adds to the playlist's Beta posterior in that mood
REWARDS = {
    "early_skip": (0.0, 1.0),
    "late_skip": (0.0, 0.5),
    "like": (1.0, 0.0),
    "hold": (0.5, 0.0),
    "played": (1.0, 0.0),  # times the listener's skip odds (evidence_weight): at most as strong as a like
}
_MAX_EXPONENT = 256.0  # decayed sums are kept relative to an origin, moved forward before they overflow

# What the box knew when it happened weighs the evidence (see evidence_weight):
MIN_FACE_SHARE = 0.5         # a full play teaches only when a face was in view for at least half of the song
FULL_CONFIDENCE = 0.7        # feedback in a mood believed this surely counts fully, in a less sure one in proportion
SKIP_RATE_PRIOR = (0.2, 20.0)   # (skips per song, songs' worth) assumed before the listener has shown theirs
LIKE_RATE_PRIOR = (0.05, 10.0)   # (likes per song, songs' worth)
RATE_MEMORY_SONGS = 100.0    # the listener's habits are estimated over about the last 100 songs heard
# Early skips per song heard right after an early skip of the same playlist, assumed before the listener has shown
# theirs (rate, songs' worth): two early skips in a row reject a playlist only for a listener whose early skips
# come in runs (their odds this many times higher after one than on any song); a listener who skips at random does not
SKIP_RUN_PRIOR = (0.5, 5.0)
SKIP_RUN_ODDS_RATIO = 1.7
SKIP_RUN_MEMORY_SONGS = 500.0  # runs are rarer than skips: judged over more songs
# An other mood's playlist heard this many times in a mood without a like or hold, where the listener's like rate
# would have given this many likes had it been wanted, is tolerated, not wanted: it is tried there no more
RETIRE_AFTER_EXPECTED_LIKES = 3.0
# A listener whose feedback hardly differs between playlists (skips at random) gets priors worth up to this many
# times more (see Preferences.prior_scale), judged once there is this much evidence in all
MAX_CONSISTENCY_FACTOR = 10.0
CONSISTENCY_MIN_EVIDENCE = 150.0
CONSISTENCY_MIN_CELL = 3.0
PARTS_OF_DAY = ("morning", "day", "evening", "night")
PRIOR_STRENGTH = 4.0  # songs' worth of a mapped playlist's prior (the policy's MAPPED_PRIOR) at scale 1
# A part of the day's belief starts from the whole day's, worth at most this much evidence (helps at once, fades)
CONTEXT_PRIOR_STRENGTH = 3.0
RECENT_HALF_LIFE_DAYS = 2.0  # evidence faded this fast is the recent one, checked against the older (judging)
REFERENCE_EVERY_SONGS = 10  # the best-served skip rate is estimated again after this many songs that taught


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
    - a full play nothing unless a face was in view for most of it, and then the odds of ``skip_rate`` (the
      listener's skip rate on the music that serves it best, :attr:`Preferences.reference_rate`; / (1 - it), at
      most 1): a song not skipped by a listener who seldom skips says little, and a playlist skipped as often as
      the listener's best-served songs ends up even (mean 0.5);
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


class Preferences:
    """The learning state, built from events: decayed evidence per (mood, part of day, playlist) (part None: the
    whole day), the listener's button habits, and per-track memory."""

    def __init__(self, half_life_days: float = 30.0, hour_of: Callable[[float], float] = local_hour):
        self.half_life_s = half_life_days * 86400.0
        self._recent_s = min(half_life_days, RECENT_HALF_LIFE_DAYS) * 86400.0  # what "recent" evidence fades with
        self.last_id, self._hour_of, self._origin = 0, hour_of, None  # type: int, Callable, float | None
        self._sums: dict[tuple[str, str | None, str], list[float]] = {}
        self._whole_day: list[list[float]] = []  # the sums of part None (the whole day), for consistency
        self.counts: dict[tuple[str, str | None, str], Counter] = defaultdict(Counter)  # events that taught
        self._songs, self._skips, self._likes = 0.0, 0.0, 0.0  # decayed over RATE_MEMORY_SONGS songs heard
        self._run_songs, self._early, self._after_early, self._early_after_early = 0.0, 0.0, 0.0, 0.0  # skip runs
        self._previous: tuple[str | None, bool] | None = None  # the last song heard: (playlist, skipped early)
        self._early_skips: dict[str, float] = {}  # track -> when it was last skipped early
        self._liked: dict[str, float] = {}        # track -> when it was last liked
        self._last_at: float | None = None
        self._factor: tuple[int, float] | None = None  # (last_id, consistency factor) cached
        self._heard = 0  # songs heard that taught something
        self._reference = (-REFERENCE_EVERY_SONGS, 0.0)  # (songs heard then, the best-served skip rate then)

    @property
    def skip_rate(self) -> float:
        """Skips per song heard, recently."""
        rate, songs = SKIP_RATE_PRIOR
        return (self._skips + rate * songs) / (self._songs + songs)

    @property
    def reference_rate(self) -> float:
        """Skips per song of the music that serves this listener best, what a full play is weighed against
        (:func:`~moodbox.music.judging.best_served_skip_rate`); estimated again every :data:`REFERENCE_EVERY_SONGS`."""
        if self._heard - self._reference[0] >= REFERENCE_EVERY_SONGS:
            pairs = (counts for (_, part, _), counts in self.counts.items() if part is None)
            self._reference = (self._heard, best_served_skip_rate(pairs, self.skip_rate))
        return self._reference[1]

    @property
    def prior_scale(self) -> float:
        """The priors count as a few songs' worth of this listener's evidence: a song teaches about twice the skip
        rate (a skip, or a full play at the skip odds), so the priors are scaled down for a listener who skips
        less than :data:`SKIP_RATE_PRIOR` assumes; and up, by :meth:`consistency_factor`, for a listener whose
        feedback hardly differs between playlists."""
        return self._skip_scale * self.consistency

    @property
    def _skip_scale(self) -> float:
        return min(1.0, max(0.1, self.skip_rate / SKIP_RATE_PRIOR[0]))

    @property
    def explore_scale(self) -> float:
        """The share of ``music.explore`` worth trying: less for a listener whose rare buttons make a tried song
        teach little, and for one whose playlists show little spread; none for one whose playlists show none
        (the consistency at its most: nothing to find, a tried song would only cost)."""
        consistency = self.consistency
        return 0.0 if consistency >= MAX_CONSISTENCY_FACTOR else self._skip_scale / consistency

    @property
    def consistency(self) -> float:
        """How many times their usual weight the priors should have, 1 to :data:`MAX_CONSISTENCY_FACTOR`:
        empirical Bayes over the (mood, playlist) beliefs. Their spread beyond what chance gives (tau^2) says how
        far apart the listener's playlists really are; a prior worth mean (1 - mean) / tau^2 - 1 songs matches it.
        A listener who skips at random shows no spread: the mapping stays."""
        if self._factor is not None and self._factor[0] == self.last_id:
            return self._factor[1]
        last = self._origin if self._last_at is None else self._last_at
        scale = 0.0 if last is None else 2.0 ** (-(last - self._origin) / self.half_life_s)
        cells = [(sums[0] * scale, (sums[0] + sums[1]) * scale) for sums in self._whole_day]
        cells = [(s, n) for s, n in cells if n >= CONSISTENCY_MIN_CELL]
        total = sum(n for _, n in cells)
        factor = 1.0
        if len(cells) >= 3 and total >= CONSISTENCY_MIN_EVIDENCE:
            mean = sum(s for s, _ in cells) / total
            spread = sum(n * (s / n - mean) ** 2 for s, n in cells) / total
            chance = mean * (1 - mean) * (len(cells) - 1) / total
            effective = 1.0 - sum(n * n for _, n in cells) / total ** 2
            tau2 = max(0.0, spread - chance) / max(effective, 1e-9)
            songs = mean * (1 - mean) / tau2 - 1.0 if tau2 > 0 else math.inf
            factor = min(MAX_CONSISTENCY_FACTOR, max(1.0, songs / (PRIOR_STRENGTH * self._skip_scale)))
        self._factor = (self.last_id, factor)
        return factor

    @property
    def skips_run(self) -> bool:
        """Whether this listener's early skips come in runs (:data:`SKIP_RUN_ODDS_RATIO`): then two in a row say the
        playlist is wrong for now."""
        rate, songs = SKIP_RUN_PRIOR
        after = (self._early_after_early + rate * songs) / (self._after_early + songs)
        early = (self._early + SKIP_RATE_PRIOR[0] / 2 * SKIP_RATE_PRIOR[1]) / (self._run_songs + SKIP_RATE_PRIOR[1])
        return after / (1.0 - after) >= SKIP_RUN_ODDS_RATIO * early / (1.0 - early)

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
            weight = evidence_weight(event, self.reference_rate)
            self._count_habits(event, kind)
            if event.mood is None or event.playlist is None or weight == 0.0:
                continue
            if self._origin is None:
                self._origin = event.at
            self._last_at = event.at
            if (event.at - self._origin) / self._recent_s > _MAX_EXPONENT:
                self._rebase(event.at)
            scales = [2.0 ** (-(event.at - self._origin) / s) for s in (self.half_life_s, self._recent_s)]
            success, failure = REWARDS[kind]
            for part in (None, part_of_day(self._hour_of(event.at))):
                sums = self._sums_of(event.mood, part, event.playlist)
                for i, scale in enumerate(scales):  # [success, failure, recent success, recent failure]
                    sums[2 * i] += success * weight / scale
                    sums[2 * i + 1] += failure * weight / scale
                forget_outdated(sums, *scales)
                self.counts[(event.mood, part, event.playlist)][kind] += 1
            self._heard += kind in ("played", "early_skip", "late_skip")

    def _sums_of(self, mood: str, part: str | None, playlist: str) -> list[float]:
        sums = self._sums.get((mood, part, playlist))
        if sums is None:
            sums = self._sums[(mood, part, playlist)] = [0.0, 0.0, 0.0, 0.0]
            if part is None:
                self._whole_day.append(sums)
        return sums

    def _count_habits(self, event: Event, kind: str) -> None:
        if kind == "like":
            self._likes += 1.0
        elif kind != "hold" and seen(event):  # a song heard: skipped, or played to its end with the listener in view
            keep, early = 1.0 - 1.0 / RATE_MEMORY_SONGS, kind == "early_skip"
            self._songs, self._skips, self._likes = self._songs * keep + 1.0, self._skips * keep, self._likes * keep
            self._skips += kind != "played"
            keep = 1.0 - 1.0 / SKIP_RUN_MEMORY_SONGS
            self._run_songs, self._early = self._run_songs * keep + 1.0, self._early * keep + early
            self._after_early, self._early_after_early = self._after_early * keep, self._early_after_early * keep
            if self._previous == (event.playlist, True):
                self._after_early, self._early_after_early = self._after_early + 1.0, self._early_after_early + early
            self._previous = (event.playlist, early)

    def _rebase(self, origin: float) -> None:
        old, recent = (2.0 ** (-(origin - self._origin) / s) for s in (self.half_life_s, self._recent_s))
        for sums in self._sums.values():
            sums[:] = sums[0] * old, sums[1] * old, sums[2] * recent, sums[3] * recent
        self._origin = origin

    def export(self) -> str:
        """The learning state as JSON (the store keeps it as the summary of compacted events)."""
        return json.dumps({
            "half_life_days": self.half_life_s / 86400.0, "origin": self._origin,
            "sums": [[mood, part, playlist, *sums] for (mood, part, playlist), sums in self._sums.items()],
            "counts": [[mood, part, playlist, dict(counts)] for (mood, part, playlist), counts in self.counts.items()],
            "habits": [self._songs, self._skips, self._likes, self._run_songs, self._early, self._after_early,
                       self._early_after_early],
            "early_skips": self._early_skips, "liked": self._liked, "reference": [self._heard, *self._reference]})

    def load(self, last_id: int, data: str) -> None:
        """Start from a summary written by :meth:`export` (of events up to ``last_id``). Its sums were faded with
        the half-life of their time; a changed ``music.half_life_days`` applies from then on."""
        state = json.loads(data)
        self.last_id, self._origin = last_id, state["origin"]
        for mood, part, playlist, *sums in state["sums"]:  # no recent sums in summaries before them: none recent
            self._sums_of(mood, part, playlist)[:len(sums)] = sums
        for mood, part, playlist, counts in state["counts"]:
            self.counts[(mood, part, playlist)] = Counter(counts)
        habits = state["habits"] + [0.0] * (7 - len(state["habits"]))  # skip runs: not in summaries before them
        self._songs, self._skips, self._likes = habits[:3]
        self._run_songs, self._early, self._after_early, self._early_after_early = habits[3:]
        self._early_skips, self._liked = dict(state["early_skips"]), dict(state["liked"])
        if "reference" in state:  # not in summaries before it: estimated at the next song
            heard, at, rate = state["reference"]
            self._heard, self._reference = heard, (at, rate)

    def evidence(self, mood: str, playlist: str, now: float, part: str | None = None) -> tuple[float, float]:
        """(success, failure) pseudo-counts for ``playlist`` in ``mood`` (in part of the day ``part``, None: all
        day), faded to ``now``."""
        sums = self._sums.get((mood, part, playlist))
        if self._origin is None or sums is None:
            return 0.0, 0.0
        scale = 2.0 ** (-(now - self._origin) / self.half_life_s)
        return sums[0] * scale, sums[1] * scale

    def belief(self, prior: tuple[float, float], mood: str, playlist: str, now: float, part: str | None
               ) -> tuple[float, float]:
        """The Beta(a, b) of ``playlist`` in ``mood`` from ``prior`` (scaled by :attr:`prior_scale`) and the
        evidence; for a ``part`` of the day, the rest of the day's belief weighed down to at most
        :data:`CONTEXT_PRIOR_STRENGTH` plus that part's evidence (see ``MusicPolicy.posterior``)."""
        scale = self.prior_scale
        prior = (prior[0] * scale, prior[1] * scale)
        success, failure = self.evidence(mood, playlist, now)
        if part is None:
            return prior[0] + success, prior[1] + failure
        here_success, here_failure = self.evidence(mood, playlist, now, part)
        a, b = prior[0] + max(0.0, success - here_success), prior[1] + max(0.0, failure - here_failure)
        scale = min(1.0, max(CONTEXT_PRIOR_STRENGTH, sum(prior)) / (a + b))
        return a * scale + here_success, b * scale + here_failure

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

    def held_off_among(self, tracks: list[str], now: float, hold_off_s: float, *, first: bool = False) -> list[int]:
        """The indices of ``tracks`` held off at ``now`` (:meth:`held_off`); with ``first``, stop at the first
        track that is not (a playlist with one is playable)."""
        skips, liked, held = self._early_skips, self._liked, []
        for index, track in enumerate(tracks):
            skipped = skips.get(track)
            if skipped is not None and now < skipped + hold_off_s and liked.get(track, -math.inf) <= skipped:
                held.append(index)
            elif first:
                break
        return held

    def liked(self, track: str) -> bool:
        return self._liked.get(track, -math.inf) > self._early_skips.get(track, -math.inf)

    def held_off_tracks(self, now: float, hold_off_s: float) -> dict[str, float]:
        return {track: until for track in self._early_skips
                if (until := self.held_off(track, now, hold_off_s)) is not None}
