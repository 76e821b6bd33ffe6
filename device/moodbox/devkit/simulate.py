"""``moodbox simulate``: simulated listeners in a simulated room against the real music policy, feedback store and
mood tracker (no MPD, no camera).

The room (:class:`Room`, one per seed, the same for every persona and policy): days with different hours
(weekdays a short morning and a long evening, weekends a late morning into the afternoon and a long evening into
the night); in each listening session the listener's true mood changes every 15-45 minutes (moods drawn with
:data:`MOOD_WEIGHTS`), the listener sometimes leaves the room (nobody there: songs play to their end unheard) or
sits with the face out of the camera's view. What the box perceives is drawn through the shipped model's
confusion matrix (``models/emotion.json``, int8 model on FER+ labels: a face of mood A is read as B as often as
the model did on the test set), one reading per stretch of 5-15 minutes, and fed as expression probabilities to
the real :class:`~moodbox.perception.mood.MoodTracker` (the daemon's default settings): the box acts on that mood, with
its confidence, and sees no face when there is none.

Each policy picks a playlist when the perceived mood changes, as the daemon does ("after the current song"), and
again when it rejects the playing one after an early skip. A listener in the room reacts to every song from its
true mood: skip early, skip late, like (and listen on), or nothing; how often it presses a button differs per
persona (about 2% to 50% of songs). Every persona also cannot stand a few songs of each playlist
(:data:`DISLIKED_SHARE`). The learning policy reads a real :class:`FeedbackStore`, written as the daemon writes
it (perceived mood, its confidence, the share of the song a face was in view). Baselines: "fixed", the config's
mapping and nothing else; "epsilon", epsilon-greedy 0.1 per perceived mood (songs heard to the end count 1,
skips 0, a random playlist in a tenth of the choices).

Figures (:func:`summarise`): the share of songs, heard with the listener in the room, from a playlist it wants in
its true mood over days 8-14, per persona, per true mood and per part of the day, as a mean over seeds with a 95%
confidence interval (normal approximation); and the skip rate of day 1 and day 14.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from moodbox.config import DEFAULT_PLAYLISTS, ModelConfig
from moodbox.perception.mood import MoodTracker
from moodbox.music.policy import EARLY_SKIP_S, PARTS_OF_DAY, REJECT_AFTER_EARLY_SKIPS, MusicPolicy, part_of_day
from moodbox.music.store import Event, FeedbackStore

PERSONAS = ("default-mapping", "upbeat-when-sad", "one-favourite", "random-skipper", "taste-change",
            "angry-wants-calm", "one-for-all", "no-upbeat-evenings", "taste-swaps", "sparse-buttons", "misread")
POLICIES = ("moodbox", "fixed", "epsilon")
MOOD_WEIGHTS = {"neutral": 0.3, "happy": 0.25, "sad": 0.2, "angry": 0.1, "surprise": 0.05, "fear": 0.05,
                "disgust": 0.05}
SONGS_PER_PLAYLIST = 50
DISLIKED_SHARE = 0.15
TASTE_CHANGE_DAY = 8
LATER_DAYS = (8, 14)  # the days the share of wanted music is measured over
# reaction probabilities (early skip, late skip, like) of a listener who presses buttons at the usual rate
WANTED = (0.04, 0.04, 0.10)
UNWANTED = (0.60, 0.15, 0.02)
RANDOM = (0.25, 0.10, 0.05)
DISLIKED_SKIP = 0.9  # a song this listener cannot stand: skipped (early) this often at the usual button rate
EPSILON = 0.1
MISREAD_SHARE = 0.35  # the misread persona: a face the model reads worse than its test set
DAY_S = 86400.0
START = 1_700_006_400.0  # a midnight, UTC: the simulated box's clock runs on UTC
TICK_S = 5.0          # camera interval while the tracker settles after a change
SETTLE_S = 25.0       # ... for this long (past the window): the input stays the same until the next change, and
                      # so does the mood
Z95 = 1.96


def utc_hour(at: float) -> float:
    return (at % DAY_S) / 3600.0


# -- listeners ---------------------------------------------------------------------------------------------------

@dataclass
class Persona:
    """A simulated listener: which playlists it wants in which (true) mood on which day at which hour, and how it
    reacts. ``buttons`` scales how often it presses any button; ``late_share`` (if set) is the share of its skips
    that come late; ``misread``: the share of its moods the model misreads (None: as on the test set)."""
    name: str
    wants: Callable[[int, str, str], set[str]]   # (day, mood, part of day) -> wanted playlists
    buttons: float = 1.0
    late_share: float | None = None
    random_skips: bool = False
    misread: float | None = None

    def reaction_odds(self, day: int, mood: str, part: str, playlist: str) -> tuple[float, float, float]:
        if self.random_skips:
            early, late, like = RANDOM
        else:
            early, late, like = WANTED if playlist in self.wants(day, mood, part) else UNWANTED
        if self.late_share is not None:
            early, late = (early + late) * (1 - self.late_share), (early + late) * self.late_share
        return early * self.buttons, late * self.buttons, like * self.buttons


def _mapped(day: int, mood: str, part: str = "day") -> set[str]:
    return set(DEFAULT_PLAYLISTS[mood])


def _but(changes: dict[str, str]) -> Callable[[int, str, str], set[str]]:
    return lambda day, mood, part: {changes[mood]} if mood in changes else _mapped(day, mood)


CHANGED_MOODS = ("sad", "neutral")
QUIET = {"calm", "calming", "everyday"}


def make_persona(name: str) -> Persona:
    if name == "default-mapping":
        return Persona(name, _mapped)
    if name == "upbeat-when-sad":
        return Persona(name, _but({"sad": "upbeat"}))
    if name == "one-favourite":
        return Persona(name, lambda day, mood, part: {"upbeat"}, buttons=1.3)
    if name == "random-skipper":
        return Persona(name, _mapped, random_skips=True)
    if name == "taste-change":
        return Persona(name, lambda day, mood, part: {"upbeat"} if day >= TASTE_CHANGE_DAY and mood in CHANGED_MOODS
                       else _mapped(day, mood))
    if name == "angry-wants-calm":  # calm, not calming, when angry; seldom presses a button
        return Persona(name, _but({"angry": "calm"}), buttons=0.06)
    if name == "one-for-all":  # the same playlist in every mood; skips late
        return Persona(name, lambda day, mood, part: {"everyday"}, buttons=0.7, late_share=0.7)
    if name == "no-upbeat-evenings":  # the mapping, but nothing upbeat in the evening
        return Persona(name, lambda day, mood, part: QUIET if part == "evening" else _mapped(day, mood))
    if name == "taste-swaps":  # every 3 days the other of two tastes
        other = _but({"sad": "upbeat", "neutral": "upbeat", "happy": "everyday"})
        return Persona(name, lambda day, mood, part: (other if (day - 1) // 3 % 2 else _mapped)(day, mood, part))
    if name == "sparse-buttons":  # a button on about 5% of songs
        return Persona(name, _but({"sad": "upbeat", "angry": "calm", "neutral": "calm"}), buttons=0.075)
    if name == "misread":  # the model misreads 35% of this listener's moods
        return Persona(name, _but({"sad": "upbeat"}), misread=MISREAD_SHARE)
    raise ValueError(f"unknown persona {name!r}; expected one of {', '.join(PERSONAS)}")


# -- the room ----------------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def confusion() -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...]]:
    """The shipped model's labels and its confusion matrix on FER+ (rows: true mood, columns: read as)."""
    path = Path(ModelConfig().path).with_suffix(".json")
    contract = json.loads(path.read_text())
    return tuple(contract["labels"]), tuple(map(tuple, contract["metrics"]["int8"]["ferplus"]["confusion"]))


@dataclass
class Room:
    """One seed's days: when someone listens, their true mood, when nobody is there, and what the box makes of it
    (the tracker's mood, confidence and whether it saw a face, from each change on)."""
    sessions: list[tuple[float, float]] = field(default_factory=list)
    true_at: list[float] = field(default_factory=list)     # true mood from each time on
    true_mood: list[str] = field(default_factory=list)
    away: list[tuple[float, float]] = field(default_factory=list)
    seen_at: list[float] = field(default_factory=list)     # the box's view from each time on
    seen: list[tuple[str | None, float, bool]] = field(default_factory=list)  # (mood, confidence, face)

    def mood(self, at: float) -> str:
        return self.true_mood[bisect.bisect_right(self.true_at, at) - 1]

    def present(self, at: float) -> bool:
        index = bisect.bisect_right(self.away, (at, math.inf)) - 1
        return index < 0 or not self.away[index][0] <= at < self.away[index][1]

    def view(self, at: float) -> tuple[str | None, float, bool]:
        index = bisect.bisect_right(self.seen_at, at) - 1
        return self.seen[index] if index >= 0 else (None, 0.0, False)

    def face_share(self, start: float, end: float) -> float:
        """The share of [start, end) a face was in view."""
        index = max(0, bisect.bisect_right(self.seen_at, start) - 1)
        seen_s = 0.0
        while index < len(self.seen_at) and self.seen_at[index] < end:
            upto = self.seen_at[index + 1] if index + 1 < len(self.seen_at) else end
            if self.seen[index][2]:
                seen_s += max(0.0, min(upto, end) - max(self.seen_at[index], start))
            index += 1
        return seen_s / (end - start)


def _sessions(rng: random.Random, day: int) -> list[tuple[float, float]]:
    """Listening hours of a day: weekdays a short morning and an evening, weekends from late morning into the
    afternoon and an evening into the night."""
    midnight = START + (day - 1) * DAY_S
    if day % 7 in (6, 0):
        hours = [(rng.uniform(9.5, 11.0), 2.5), (rng.uniform(19.0, 20.0), rng.uniform(2.5, 3.5))]
    else:
        hours = [(rng.uniform(6.5, 7.5), 1.0), (rng.uniform(18.0, 19.0), rng.uniform(2.5, 3.5))]
    return [(midnight + start * 3600.0, midnight + (start + length) * 3600.0) for start, length in hours]


@lru_cache(maxsize=64)
def make_room(seed: int, days: int, misread: float | None = None) -> Room:
    labels, matrix = confusion()
    rng = random.Random(f"room/{seed}")  # the same days and moods for every persona
    reads = random.Random(f"reads/{seed}/{misread}")
    tracker = MoodTracker(labels)  # the daemon's default mood settings
    room = Room()
    changes: list[tuple[float, int, int, float, bool]] = []  # (at, true, read as, clarity, face)
    for day in range(1, days + 1):
        for start, end in _sessions(rng, day):
            room.sessions.append((start, end))
            at = start
            while at < end:
                true = rng.choices(list(MOOD_WEIGHTS), list(MOOD_WEIGHTS.values()))[0]
                room.true_at.append(at)
                room.true_mood.append(true)
                episode_end = min(end, at + rng.uniform(15, 45) * 60.0)
                unseen = away = None
                if rng.random() < 0.25:  # in the room, face out of view
                    begin = rng.uniform(at, episode_end)
                    unseen = (begin, min(episode_end, begin + rng.uniform(3, 15) * 60.0))
                if rng.random() < 0.15:  # nobody in the room
                    begin = rng.uniform(at, episode_end)
                    away = (begin, min(episode_end, begin + rng.uniform(5, 20) * 60.0))
                    room.away.append(away)
                t = labels.index(true)
                while at < episode_end:
                    row = list(matrix[t])
                    if misread is not None:
                        off = [count if j != t else 0.0 for j, count in enumerate(row)]
                        read = reads.choices(range(len(row)), off)[0] if reads.random() < misread else t
                    else:
                        read = reads.choices(range(len(row)), row)[0]
                    clarity = reads.uniform(0.45, 0.85)
                    chunk_end = min(episode_end, at + rng.uniform(5, 15) * 60.0)
                    marks = sorted({at, chunk_end, *(x for span in (unseen, away) if span for x in span
                                                     if at < x < chunk_end)})
                    for begin in marks[:-1]:
                        face = not any(span and span[0] <= begin < span[1] for span in (unseen, away))
                        changes.append((begin, t, read, clarity, face))
                    at = chunk_end
    for index, (at, true, read, clarity, face) in enumerate(changes):
        probabilities = None
        if face:  # the reading leads with ``clarity``; half the rest on the true mood, half spread evenly
            probabilities = [(1 - clarity) / 2 / len(labels)] * len(labels)
            probabilities[read] += clarity
            probabilities[true] += (1 - clarity) / 2
        until = changes[index + 1][0] if index + 1 < len(changes) else at + SETTLE_S
        tick = at
        while tick < min(until, at + (SETTLE_S if face else TICK_S)):  # no face: the mood stays as it was
            state = tracker.update(tick, probabilities)
            view = (state.mood, round(state.confidence, 2), state.present)
            if not room.seen or room.seen[-1] != view:
                room.seen_at.append(tick)
                room.seen.append(view)
            tick += TICK_S
    room.away.sort()
    return room


# -- policies ----------------------------------------------------------------------------------------------------

class MemoryLog:
    """The feedback log in memory, for the baselines (the learning policy gets a real FeedbackStore)."""

    def __init__(self):
        self.events: list[Event] = []

    def record_feedback(self, *, action, mood, playlist, track, at, elapsed_s=None, confidence=None,
                        face_share=None, held=False, expression=None) -> int:
        self.events.append(Event(len(self.events) + 1, at, action, mood, playlist, track, elapsed_s, confidence,
                                 face_share, held))
        return len(self.events)

    def events_after(self, last_id: int) -> list[Event]:
        return self.events[last_id:]


class MappingOnly:
    """The fixed mapping: the mood's first mapped playlist, no learning, no track memory."""

    def __init__(self, playlists, log=None):
        self.playlists = playlists

    def choose(self, mood: str, current: str | None = None, *, present: bool = True) -> str | None:
        return self.playlists[mood][0]

    def rejected(self) -> bool:
        return False

    def arrange(self, tracks: list[str]) -> tuple[set[int], list[int]]:
        return set(), []


class EpsilonGreedy:
    """Per perceived mood the playlist with the best share of songs heard to the end (skips count 0; the mapped
    playlist starts at 3 of 4, the others at 1 of 2), a random one in :data:`EPSILON` of the choices; two early
    skips in a row choose again. No track memory."""

    def __init__(self, playlists, log: MemoryLog, rng: random.Random):
        self.playlists = playlists
        self.all = list(dict.fromkeys(name for names in playlists.values() for name in names))
        self._log, self._rng, self._last_id = log, rng, 0
        self._score: dict[tuple[str, str], list[float]] = {}
        self._mood = self._playlist = None
        self._early_in_a_row = 0

    def _refresh(self) -> None:
        for event in self._log.events_after(self._last_id):
            self._last_id = event.id
            if event.action not in ("skip", "played") or event.mood is None:
                continue
            score = self._score.setdefault((event.mood, event.playlist), self._prior(event.mood, event.playlist))
            score[0] += event.action == "played"
            score[1] += 1
            if event.playlist == self._playlist:
                early = event.action == "skip" and event.elapsed_s < EARLY_SKIP_S
                self._early_in_a_row = self._early_in_a_row + 1 if early else 0

    def _prior(self, mood: str, playlist: str) -> list[float]:
        return [3.0, 4.0] if playlist in self.playlists[mood] else [1.0, 2.0]

    def choose(self, mood: str, current: str | None = None, *, present: bool = True) -> str | None:
        self._refresh()
        if mood == self._mood and current == self._playlist and self._early_in_a_row < REJECT_AFTER_EARLY_SKIPS:
            return current
        if self._rng.random() < EPSILON:
            choice = self._rng.choice(self.all)
        else:
            def mean(name):
                wins, tries = self._score.get((mood, name)) or self._prior(mood, name)
                return wins / tries
            choice = max(self.all, key=mean)
        self._mood, self._playlist, self._early_in_a_row = mood, choice, 0
        return choice

    def rejected(self) -> bool:
        self._refresh()
        return self._early_in_a_row >= REJECT_AFTER_EARLY_SKIPS

    def arrange(self, tracks: list[str]) -> tuple[set[int], list[int]]:
        return set(), []


# -- a run -------------------------------------------------------------------------------------------------------

@dataclass
class Song:
    day: int
    part: str
    mood: str               # the listener's true mood
    seen_mood: str          # the box's mood when the song started
    playlist: str
    wanted: bool
    heard: bool             # the listener was in the room when it started
    skipped: bool
    pressed: bool           # any button (skip, like)


@dataclass
class Run:
    persona: str
    policy: str
    seed: int
    songs: list[Song] = field(default_factory=list)


def simulate(persona_name: str, seed: int, *, days: int = 14, policy: str = "moodbox",
             state_dir: str | None = None) -> Run:
    """One persona, one seed, one policy: every song played over ``days`` simulated days."""
    persona = make_persona(persona_name)
    room = make_room(seed, days, persona.misread)
    rng = random.Random(f"{persona_name}/{seed}")
    playlists = dict(DEFAULT_PLAYLISTS)
    names = list(dict.fromkeys(name for names in playlists.values() for name in names))
    library = {name: [f"{name}/{i:02d}.ogg" for i in range(SONGS_PER_PLAYLIST)] for name in names}
    disliked = {track for tracks in library.values() for track in tracks if rng.random() < DISLIKED_SHARE}
    lengths = {track: rng.uniform(150.0, 300.0) for tracks in library.values() for track in tracks}
    run = Run(persona_name, policy, seed)
    clock = [START]
    with tempfile.TemporaryDirectory(dir=state_dir) as folder:
        if policy == "moodbox":
            log = FeedbackStore(Path(folder) / "feedback.db")
            chooser = MusicPolicy(playlists, events=log.events_after, songs=library.get,
                                  rng=random.Random(seed), wall_clock=lambda: clock[0], hour_of=utc_hour)
        elif policy in ("fixed", "epsilon"):
            log = MemoryLog()
            chooser = (MappingOnly(playlists) if policy == "fixed"
                       else EpsilonGreedy(playlists, log, random.Random(seed)))
        else:
            raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
        try:
            _play(run, persona, room, chooser, log, library, disliked, lengths, rng, clock)
        finally:
            if isinstance(log, FeedbackStore):
                log.close()
    return run


def _play(run, persona, room, chooser, log, library, disliked, lengths, rng, clock) -> None:
    """The songs of every session, the listener's reactions into ``log``, the choices of ``chooser``."""
    current = chosen_for = None
    queue: list[str] = []
    for start, end in room.sessions:
        clock[0] = start + 10.0
        day = int((start - START) // DAY_S) + 1
        while clock[0] < end:
            at = clock[0]
            mood, confidence, face = room.view(at)
            if mood is None:
                clock[0] += 30.0
                continue
            if mood != chosen_for or current is None:
                playlist = chooser.choose(mood, current, present=face)
                chosen_for = mood
                if playlist != current:
                    current, queue = playlist, _queue(chooser, library[playlist], rng)
            if not queue:
                queue = _queue(chooser, library[current], rng)
            track = queue.pop(0)
            length = lengths[track]
            true, part, heard = room.mood(at), part_of_day(utc_hour(at)), room.present(at)
            early, late, like = persona.reaction_odds(day, true, part, current)
            if track in disliked and not persona.random_skips:
                early = min(1.0, DISLIKED_SKIP * persona.buttons) * (1 - (persona.late_share or 0.0))
                late = min(1.0, DISLIKED_SKIP * persona.buttons) - early
            draw = rng.random() if heard else 1.0
            skip_at = None
            if draw < early:
                skip_at = rng.uniform(3.0, EARLY_SKIP_S - 5.0)
            elif draw < early + late:
                skip_at = rng.uniform(EARLY_SKIP_S + 10.0, min(length - 10.0, 150.0))
            liked = skip_at is None and heard and rng.random() < like / max(1e-9, 1 - early - late)

            def record(action, when, **extra):
                seen_mood, seen_confidence, _ = room.view(when)
                log.record_feedback(action=action, expression=seen_mood, mood=seen_mood, playlist=current,
                                    track=track, at=when, confidence=seen_confidence, **extra)

            if skip_at is not None:
                record("skip", at + skip_at, elapsed_s=skip_at)
                clock[0] = at + skip_at + 1.0
            else:
                if liked:
                    record("like", at + min(60.0, length / 2), elapsed_s=min(60.0, length / 2))
                clock[0] = at + length
                record("played", clock[0], face_share=room.face_share(at, clock[0]))
            run.songs.append(Song(day, part, true, mood, current, current in persona.wants(day, true, part), heard,
                                  skip_at is not None, skip_at is not None or liked))
            if skip_at is not None and skip_at < EARLY_SKIP_S and chooser.rejected():
                replacement = chooser.choose(chosen_for, current, present=True)
                if replacement != current:
                    current, queue = replacement, _queue(chooser, library[replacement], rng)


def _queue(policy, tracks: list[str], rng: random.Random) -> list[str]:
    """What the player queues: the playlist shuffled, held-off songs left out, liked songs first."""
    shuffled = tracks[:]
    rng.shuffle(shuffled)
    held, liked = policy.arrange(shuffled)
    first = [shuffled[i] for i in liked]
    return first + [track for i, track in enumerate(shuffled) if i not in held and i not in liked]


# -- figures -----------------------------------------------------------------------------------------------------

def _mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def interval(values: list[float]) -> dict:
    """Mean over seeds and its 95% confidence interval (normal approximation; ``half`` is the half-width)."""
    values = [value for value in values if value is not None]
    if not values:
        return {"mean": None, "half": None, "n": 0}
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": round(mean, 4), "half": round(Z95 * spread / math.sqrt(len(values)), 4), "n": len(values)}


def _share(songs) -> float | None:
    return _mean(song.wanted for song in songs)


def later_songs(run: Run, days: int) -> list[Song]:
    first = min(LATER_DAYS[0], max(1, days - 6))
    return [song for song in run.songs if song.heard and first <= song.day <= days]


def per_day(runs: list[Run], days: int) -> list[dict]:
    rows = []
    for day in range(1, days + 1):
        songs = [song for run in runs for song in run.songs if song.day == day and song.heard]
        rows.append({"day": day, "songs": len(songs), "share": _share(songs),
                     "skip_rate": _mean(song.skipped for song in songs)})
    return rows


def summarise(runs: dict[str, list[Run]], days: int) -> dict:
    """The figures of one persona: per policy, the share of wanted music over the later days (all, per true mood,
    per part of the day), each over seeds with its interval, and the skip rate of the first and the last day; the
    listener's button presses per song heard (under the learning policy)."""
    summary = {}
    for policy, policy_runs in runs.items():
        later = [later_songs(run, days) for run in policy_runs]
        daily = per_day(policy_runs, days)
        first, last = daily[0]["skip_rate"], daily[-1]["skip_rate"]
        moods = sorted({song.mood for songs in later for song in songs}, key=list(MOOD_WEIGHTS).index)
        parts = [part for part in PARTS_OF_DAY if any(song.part == part for songs in later for song in songs)]
        summary[policy] = {
            "share": interval([_share(songs) for songs in later]),
            "by_mood": {mood: interval([_share([s for s in songs if s.mood == mood]) for songs in later])
                        for mood in moods},
            "by_part_of_day": {part: interval([_share([s for s in songs if s.part == part]) for songs in later])
                               for part in parts},
            "skip_rate": {"day1": first, "last_day": last, "ratio": last / first if first else None},
        }
    learned = runs["moodbox"]
    heard = [song for run in learned for song in run.songs if song.heard]
    summary["button_rate"] = _mean(song.pressed for song in heard)
    summary["songs_per_day"] = len(heard) / len(learned) / days
    return summary


def targets(results: dict[str, dict]) -> dict:
    """The issue's targets, each with its figure and whether it holds."""
    found = {}
    for name, summary in results.items():
        own = summary["moodbox"]["share"]["mean"]
        found[f"{name}: share >= fixed, epsilon"] = {
            "moodbox": own, "fixed": summary["fixed"]["share"]["mean"], "epsilon": summary["epsilon"]["share"]["mean"],
            "holds": own >= summary["fixed"]["share"]["mean"] and own >= summary["epsilon"]["share"]["mean"]}
    if "sparse-buttons" in results:
        summary = results["sparse-buttons"]
        gain = summary["moodbox"]["share"]["mean"] - summary["fixed"]["share"]["mean"]
        found["sparse-buttons: share - fixed >= 0.05"] = {"gain": round(gain, 4), "holds": gain >= 0.05}
    if "no-upbeat-evenings" in results:
        evening = results["no-upbeat-evenings"]["moodbox"]["by_part_of_day"].get("evening", {}).get("mean")
        found["no-upbeat-evenings: evening share >= 0.95"] = {"share": evening,
                                                              "holds": evening is not None and evening >= 0.95}
    for name, summary in results.items():
        if summary["button_rate"] >= 0.2 and name != "random-skipper":  # its skips are noise, nothing to learn
            ratio, fixed = summary["moodbox"]["skip_rate"]["ratio"], summary["fixed"]["skip_rate"]["ratio"]
            found[f"{name}: skip rate last day / day 1 <= 0.5"] = {
                "ratio": ratio and round(ratio, 3), "fixed mapping's": fixed and round(fixed, 3),
                "holds": ratio is not None and ratio <= 0.5}
    return found


def plot(daily: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, rows in daily.items():
        days = [row["day"] for row in rows]
        for axis, key in zip(axes, ("share", "skip_rate")):
            axis.plot(days, [row[key] for row in rows], marker="o", markersize=3, label=name)
    for axis, title in zip(axes, ("share of wanted music (moodbox)", "skip rate (moodbox)")):
        axis.set_title(title)
        axis.set_xlabel("day")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _state_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None


def _ci(figure: dict) -> str:
    if figure["mean"] is None:
        return f"{'n/a':>13}"
    return f"{figure['mean']:.3f} ± {figure['half']:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moodbox simulate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=14, help="simulated days (default 14, at least 7)")
    parser.add_argument("--seeds", type=int, default=20, help="runs per persona and policy, seeds 1..N (default 20)")
    parser.add_argument("--persona", action="append", choices=PERSONAS, help="only this persona (repeatable)")
    parser.add_argument("--plot", metavar="PNG", help="write the learning curves to this PNG file (default: none)")
    parser.add_argument("--json", action="store_true", help="print only the figures, as one JSON object")
    args = parser.parse_args(argv)
    if args.days < 7 or args.seeds < 1:
        parser.error("--days must be at least 7 and --seeds at least 1")
    names = args.persona or list(PERSONAS)
    started = time.process_time()
    results, daily = {}, {}
    state_dir = _state_dir()
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name}: {args.seeds} runs of {args.days} days per policy", file=sys.stderr,
              flush=True)
        runs = {policy: [simulate(name, seed, days=args.days, policy=policy, state_dir=state_dir)
                         for seed in range(1, args.seeds + 1)] for policy in POLICIES}
        daily[name] = per_day(runs["moodbox"], args.days)
        results[name] = summarise(runs, args.days)
    if args.plot:
        try:
            plot(daily, Path(args.plot))
        except ImportError:
            print("moodbox simulate: no PNG written: matplotlib is not installed (pip install 'moodbox[plot]')",
                  file=sys.stderr)
            args.plot = None
    found = targets(results)
    cpu_s = round(time.process_time() - started, 1)
    if args.json:
        print(json.dumps({"personas": results, "targets": found, "seeds": args.seeds, "days": args.days,
                          "cpu_s": cpu_s}, indent=1))
        return 0
    first = min(LATER_DAYS[0], max(1, args.days - 6))
    print(f"share of wanted music, days {first}-{args.days}, mean ± 95% interval over {args.seeds} seeds "
          "(true moods; the box acts on perceived ones)")
    print(f"{'persona':19} {'mood':9} {'moodbox':>15} {'fixed':>15} {'epsilon 0.1':>15}")
    for name, summary in results.items():
        print(f"{name:19} {'all':9} " + " ".join(f"{_ci(summary[policy]['share']):>15}" for policy in POLICIES))
        for key in ("by_mood", "by_part_of_day"):
            for label in summary["moodbox"][key]:
                print(f"{'':19} {label:9} " + " ".join(f"{_ci(summary[policy][key][label]):>15}"
                                                        for policy in POLICIES))
        skips = summary["moodbox"]["skip_rate"]
        print(f"{'':19} skip rate day 1 {skips['day1']:.3f}, day {args.days} {skips['last_day']:.3f}; "
              f"buttons on {summary['button_rate']:.1%} of songs")
    print()
    for key, value in found.items():
        figures = ", ".join(f"{k} {v}" for k, v in value.items() if k != "holds")
        print(f"target {key}: {figures}: {'holds' if value['holds'] else 'MISSED'}")
    print(f"cpu time {cpu_s} s")
    if args.plot:
        print(f"learning curves: {args.plot}")
    return 0
