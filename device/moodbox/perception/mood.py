"""Mood tracker: expression probabilities over time become a mood that changes rarely and for a reason.

The smoothed vector is the mean of the confident probability vectors seen in the last ``window_s`` seconds
(a time window, so irregular or missed ticks change nothing). The mood changes only when:

- a challenger's smoothed score beats the current mood's by ``hysteresis`` (no flip-flopping near a tie), and
- the current mood has lasted ``min_dwell_s`` (music does not change every few seconds).

Confidence gate: a frame whose top probability is below ``min_confidence`` is left out of the average. Such
frames mostly come from blur, a turned head or bad light; averaging them in pulls every class toward the
same score, which only delays real changes. The face still counts as present.

The first mood needs no dwell: it is set once ``min_samples`` confident frames are in the window and the
leader is ``hysteresis`` ahead of the runner-up. When nobody is there the mood is kept and ``absent_s`` grows;
``pause_music`` turns true once it reaches ``pause_after_absent_s`` (0 = never).

    >>> tracker = MoodTracker(("happy", "sad"), window_s=20, min_dwell_s=30, min_samples=1)
    >>> tracker.update(100.0, [0.9, 0.1]).mood    # or None instead of probabilities when no face was found
    'happy'
    >>> tracker.update(101.0, None).since        # since when the mood holds (the clock of update's ``now``)
    100.0
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from moodbox.config import Config


@dataclass(frozen=True)
class MoodState:
    mood: str | None          # None until the first mood is settled
    confidence: float         # smoothed score of the mood
    present: bool             # a face was seen this tick
    changed: bool             # the mood changed on this tick (including the first mood)
    absent_s: float           # seconds since a face was last seen (0 when present)
    pause_music: bool
    smoothed: np.ndarray      # smoothed probabilities in label order
    since: float              # when the mood was settled (-inf before the first): how long it has lasted


class MoodTracker:
    def __init__(self, labels, *, window_s=20.0, min_confidence=0.4, hysteresis=0.1, min_dwell_s=30.0,
                 pause_after_absent_s=0.0, min_samples=3):
        if window_s <= 0:
            raise ValueError(f"mood window_s must be > 0 seconds, got {window_s}")
        for name, value in (("min_confidence", min_confidence), ("hysteresis", hysteresis)):
            if not 0 <= value < 1:
                raise ValueError(f"mood {name} must be in [0, 1), got {value}")
        for name, value in (("min_dwell_s", min_dwell_s), ("pause_after_absent_s", pause_after_absent_s)):
            if value < 0:
                raise ValueError(f"mood {name} must be >= 0 seconds, got {value}")
        self.labels = tuple(labels)
        self._window_s, self._min_confidence, self._hysteresis = window_s, min_confidence, hysteresis
        self._min_dwell_s, self._pause_after_absent_s = min_dwell_s, pause_after_absent_s
        self._min_samples = max(1, int(min_samples))
        self._samples: deque[tuple[float, np.ndarray]] = deque()
        self._mood: int | None = None
        self._mood_since = float("-inf")
        self._started: float | None = None
        self._last_seen: float | None = None
        self.state: MoodState | None = None  # what the last update() returned

    @classmethod
    def from_config(cls, config: Config, labels) -> MoodTracker:
        """The tracker of ``config.mood`` over ``labels`` (the model's label order)."""
        mood = config.mood
        return cls(labels, window_s=mood.window_s, min_confidence=mood.min_confidence, hysteresis=mood.hysteresis,
                   min_dwell_s=mood.min_dwell_s, pause_after_absent_s=mood.pause_after_absent_min * 60.0)

    @property
    def mood(self) -> str | None:
        return None if self._mood is None else self.labels[self._mood]

    def live(self) -> dict:
        """The mood side of the status: the mood, its confidence and the three expressions most behind it."""
        state = self.state
        top = [] if state is None else sorted(zip(self.labels, state.smoothed.tolist()), key=lambda p: -p[1])[:3]
        return {"mood": state.mood if state else None,
                "mood_confidence": round(state.confidence, 3) if state else None,
                "expressions": {label: round(p, 3) for label, p in top if p > 0}}

    def update(self, now: float, probabilities: np.ndarray | None) -> MoodState:
        """Feed one tick: the expression probabilities of the listener's face, or None if no face was found."""
        if self._started is None:
            self._started = now
        present = probabilities is not None
        if present:
            probabilities = np.asarray(probabilities, dtype=np.float32)
            if probabilities.shape != (len(self.labels),):
                raise ValueError(f"expected {len(self.labels)} probabilities, got shape {probabilities.shape}")
            self._last_seen = now
            if probabilities.max() >= self._min_confidence:
                self._samples.append((now, probabilities))
        while self._samples and self._samples[0][0] <= now - self._window_s:
            self._samples.popleft()
        smoothed = (np.mean([p for _, p in self._samples], axis=0) if self._samples
                    else np.zeros(len(self.labels), np.float32))
        changed = present and self._decide(now, smoothed)
        absent_s = 0.0 if present else now - (self._last_seen if self._last_seen is not None else self._started)
        self.state = MoodState(
            mood=self.mood, confidence=float(smoothed[self._mood]) if self._mood is not None else 0.0,
            present=present, changed=changed, absent_s=absent_s,
            pause_music=self._pause_after_absent_s > 0 and absent_s >= self._pause_after_absent_s,
            smoothed=smoothed, since=self._mood_since)
        return self.state

    def _decide(self, now: float, smoothed: np.ndarray) -> bool:
        if len(self._samples) < self._min_samples:
            return False
        leader = int(np.argmax(smoothed))
        if self._mood is None:
            runner_up = np.partition(smoothed, -2)[-2] if len(smoothed) > 1 else 0.0
            ready = smoothed[leader] - runner_up >= self._hysteresis
        else:
            ready = (leader != self._mood and smoothed[leader] >= smoothed[self._mood] + self._hysteresis
                     and now - self._mood_since >= self._min_dwell_s)
        if ready:
            self._mood, self._mood_since = leader, now
        return ready
