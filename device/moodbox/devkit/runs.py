"""What ``moodbox simulate`` keeps of a run: every song played, with what the listener wanted and did."""

from __future__ import annotations

from dataclasses import dataclass, field


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
