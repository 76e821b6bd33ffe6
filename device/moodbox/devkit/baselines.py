"""The baselines of ``moodbox simulate``: the fixed mapping and epsilon-greedy, and the in-memory feedback log every
policy of a run learns from."""

from __future__ import annotations

import random

from moodbox.music.policy import REJECT_AFTER_EARLY_SKIPS
from moodbox.music.preferences import EARLY_SKIP_S
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
