"""The simulated listeners of ``moodbox simulate``: which playlists each wants in which mood, on which day, at which
time of day, and how often it presses a button (about 2% to 50% of songs), skips late, or is misread.

``default-mapping`` wants the config's mapping; ``upbeat-when-sad`` upbeat when sad; ``one-favourite`` upbeat in
every mood; ``random-skipper`` skips a third of all songs whatever plays (and "wants" the mapping); ``taste-change``
wants upbeat when sad or neutral from day 8; ``angry-wants-calm`` calm (not calming) when angry, and presses a
button on about 2% of songs; ``one-for-all`` everyday in every mood, and skips late; ``no-upbeat-evenings`` the
mapping, but anything except upbeat in the evening; ``taste-swaps`` the mapping and another taste by turns, three
days each; ``sparse-buttons`` three moods unlike the mapping, and a button on about 5% of songs; ``misread`` upbeat
when sad, with 35% of its moods misread by the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from moodbox.config import DEFAULT_PLAYLISTS

PERSONAS = ("default-mapping", "upbeat-when-sad", "one-favourite", "random-skipper", "taste-change",
            "angry-wants-calm", "one-for-all", "no-upbeat-evenings", "taste-swaps", "sparse-buttons", "misread")
TASTE_CHANGE_DAY = 8
# reaction probabilities (early skip, late skip, like) of a listener who presses buttons at the usual rate
WANTED = (0.04, 0.04, 0.10)
UNWANTED = (0.60, 0.15, 0.02)
RANDOM = (0.25, 0.10, 0.05)
MISREAD_SHARE = 0.35  # the misread persona: a face the model reads worse than its test set


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
