"""Misread moods: which mood the box's reading of a face may hide, from the expression model's recorded mistakes
(the FER+ confusion matrix in its JSON), and when a run of skips is better explained by such a misread than by the
music.

When the listener has shown to want the playing playlist in the mood the box sees, two early skips in a row
(:data:`~moodbox.music.policy.REJECT_AFTER_EARLY_SKIPS`) say more likely that the box misreads the face than that
the music went wrong. If the listener is believed to want other music in the mood most often read as this one, that
music plays for the rest of the mood; the playlist keeps its place in the mood. A listener who wants the same music
in both moods hears it on: then a misread explains nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from moodbox.perception.expression import likely_misreads, model_confusion


class Misreads:
    """For each mood the box reads, the mood most often behind that reading besides itself (``confused_with``)."""

    def __init__(self, confused_with: Mapping[str, str] | None = None):
        self.confused_with = dict(confused_with or {})

    @classmethod
    def of_model(cls, model_path) -> Misreads:
        """What the model at ``model_path`` records of its mistakes (nothing: no stand-ins)."""
        confusion = model_confusion(Path(model_path).with_suffix(".json"))
        return cls(likely_misreads(*confusion) if confusion else None)

    def stand_in(self, mood: str, playing: str, best_for: Callable[[str], str | None]) -> str | None:
        """The mood whose music should play instead of ``playing`` in ``mood`` after a run of early skips of wanted
        music: the mood most often read as ``mood``, if its best playlist (``best_for``) is another; else None."""
        other = self.confused_with.get(mood)
        if other is None:
            return None
        return other if best_for(other) not in (None, playing) else None
