"""The baselines of ``moodbox simulate``: the fixed mapping and epsilon-greedy; the hindsight oracle that bounds the
skip rate any policy mapping perceived moods to playlists can reach; and the in-memory feedback log every policy of a
run learns from."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Callable

from moodbox.devkit.room import DAY_S, START, Room, utc_hour

from moodbox.music.policy import REJECT_AFTER_EARLY_SKIPS
from moodbox.music.preferences import EARLY_SKIP_S, part_of_day
from moodbox.music.store import Event

EPSILON = 0.1


class MemoryLog:
    """The feedback log in memory, as the store keeps it (ids from 1, oldest first)."""

    def __init__(self):
        self._rows: list[tuple] = []  # made into Events when read (the fixed mapping never reads them)

    def record_feedback(self, *, action, mood, playlist, track, at, elapsed_s=None, confidence=None,
                        face_share=None, held=False, expression=None) -> int:
        self._rows.append((at, action, mood, playlist, track, elapsed_s, confidence, face_share, held))
        return len(self._rows)

    def events_after(self, last_id: int) -> list[Event]:
        return [Event(number, *row) for number, row in enumerate(self._rows[last_id:], last_id + 1)]


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


def hindsight(persona, room: Room, day: int, names: list[str], mapped: Callable[[str, str], bool],
              step_s: float = 30.0) -> dict[tuple[str, str], str]:
    """For each (perceived mood, part of the day) of ``day`` in ``room``: the playlist of ``names`` that the
    listener's wants that day make least skipped, given the true moods behind that perceived mood while the listener
    was in the room (sampled every ``step_s``); a mapped one (``mapped(mood, playlist)``) wins a tie."""
    behind: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for start, end in room.sessions:
        if int((start - START) // DAY_S) + 1 != day:
            continue
        at = start
        while at < end:
            mood = room.view(at)[0]
            if mood is not None and room.present(at):
                behind[(mood, part_of_day(utc_hour(at)))][room.mood(at)] += 1
            at += step_s

    def skipped(key: tuple[str, str], playlist: str) -> tuple[float, bool]:
        odds = sum(n * sum(persona.reaction_odds(day, true, key[1], playlist)[:2]) for true, n in behind[key].items())
        return odds, not mapped(key[0], playlist)

    return {key: min(names, key=lambda name: skipped(key, name)) for key in behind}


class Oracle:
    """The best policy of moodbox's kind, chosen with hindsight: the :func:`hindsight` playlist for the perceived
    mood and the part of the day at each choice, and never a song the listener cannot stand (``disliked``)."""

    def __init__(self, playlists, table: dict[tuple[str, str], str], disliked: set[str], clock: list[float]):
        self.playlists, self._table, self._disliked, self._clock = playlists, table, disliked, clock

    def choose(self, mood: str, current: str | None = None, *, present: bool = True) -> str | None:
        return self._table.get((mood, part_of_day(utc_hour(self._clock[0]))), self.playlists[mood][0])

    def rejected(self) -> bool:
        return False

    def arrange(self, tracks: list[str]) -> tuple[set[int], list[int]]:
        held = {i for i, track in enumerate(tracks) if track in self._disliked}
        return (set() if len(held) == len(tracks) else held), []
