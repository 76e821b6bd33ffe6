"""One stretch of a mood as the music policy lives it: the playlist chosen for it, the early skips of it in a row,
the playlists rejected in it, and the mood whose music stands in while the box's reading is likely wrong
(:mod:`~moodbox.music.misreads`). A new mood starts a new episode: nothing of this outlives it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Episode:
    mood: str
    playlist: str | None = None
    early_skips_in_a_row: int = 0
    rejected: set[str] = field(default_factory=set)
    stand_in: str | None = None
