"""The simulated room of ``moodbox simulate``: when someone listens, their true mood, when nobody is there or no face
is in view, and what the box perceives of it.

One room per seed, the same for every persona and policy: days with different hours (weekdays a short morning and
an evening, weekends a late morning into the afternoon and an evening into the night); in each listening session
the listener's true mood changes every 15-45 minutes (moods drawn with :data:`MOOD_WEIGHTS`), the listener
sometimes leaves the room (nobody there: songs play to their end unheard) or sits with the face out of the
camera's view. What the box perceives is drawn through the shipped model's confusion matrix
(``models/emotion.json``, int8 model on FER+ labels: a face of mood A is read as B as often as the model did on the
test set), one reading per stretch of 5-15 minutes, and fed as expression probabilities to the real
:class:`~moodbox.perception.mood.MoodTracker` (the daemon's default settings): the box acts on that mood, with its
confidence, and sees no face when there is none.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from moodbox.config import ModelConfig
from moodbox.perception.expression import model_confusion
from moodbox.perception.mood import MoodTracker

MOOD_WEIGHTS = {"neutral": 0.3, "happy": 0.25, "sad": 0.2, "angry": 0.1, "surprise": 0.05, "fear": 0.05,
                "disgust": 0.05}
DAY_S = 86400.0
START = 1_700_006_400.0  # a midnight, UTC: the simulated box's clock runs on UTC
TICK_S = 5.0          # camera interval while the tracker settles after a change
SETTLE_S = 25.0       # ... for this long (past the window): the input stays the same until the next change, and
                      # so does the mood


def utc_hour(at: float) -> float:
    return (at % DAY_S) / 3600.0


@lru_cache(maxsize=1)
def confusion() -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...]]:
    """The shipped model's labels and its confusion matrix on FER+ (rows: true mood, columns: read as)."""
    path = Path(ModelConfig().path).with_suffix(".json")
    found = model_confusion(path)
    if found is None:
        raise ValueError(f"{path}: no int8 FER+ confusion matrix under 'metrics' to draw the room's readings from")
    return found


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

    def witness(self, start: float, end: float) -> tuple[float, float | None]:
        """What the daemon's witness records for a song played over [start, end): the share of it a face was in
        view, and the mood's mean confidence meanwhile (None: no face seen)."""
        index = max(0, bisect.bisect_right(self.seen_at, start) - 1)
        seen_s = confidence_s = 0.0
        while index < len(self.seen_at) and self.seen_at[index] < end:
            upto = self.seen_at[index + 1] if index + 1 < len(self.seen_at) else end
            if self.seen[index][2]:
                step = max(0.0, min(upto, end) - max(self.seen_at[index], start))
                seen_s += step
                confidence_s += step * self.seen[index][1]
            index += 1
        return seen_s / (end - start), round(confidence_s / seen_s, 3) if seen_s > 0 else None


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
