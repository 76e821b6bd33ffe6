"""The owner's word on a mood's playlists, set from the phone page (``choose``): a playlist pinned for a mood (then
only the pinned ones play for it) or excluded from it (never there). Kept in ``choices.json`` in the state folder,
so a restart keeps them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

CHOICES_FILE = "choices.json"  # in state.dir
KINDS = ("pin", "exclude")


class OwnerChoices:
    """(mood, playlist) -> "pin" or "exclude", read from ``path`` (None: kept in memory only)."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._choices = self._read()

    def _read(self) -> dict[tuple[str, str], str]:
        """The choices file (none yet: no choices); an unreadable one is logged and ignored."""
        if self.path is None or not self.path.exists():
            return {}
        try:
            return {(row["mood"], row["playlist"]): row["choice"] for row in json.loads(self.path.read_text())
                    if row["choice"] in KINDS}
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.error("%s is unreadable (%s): no pinned or excluded playlists", self.path, err)
            return {}

    def items(self) -> list[tuple[tuple[str, str], str]]:
        return sorted(self._choices.items())

    def get(self, mood: str, playlist: str) -> str | None:
        return self._choices.get((mood, playlist))

    def pinned(self, mood: str) -> list[str]:
        return [playlist for (m, playlist), choice in self._choices.items() if m == mood and choice == "pin"]

    def allows(self, mood: str, playlist: str) -> bool:
        """Whether ``playlist`` may play for ``mood``: not excluded there, and pinned when the mood has pins."""
        choice = self.get(mood, playlist)
        return choice != "exclude" and (choice == "pin" or not self.pinned(mood))

    def set(self, mood: str, playlist: str, choice: str | None, *, moods: list[str], playlists: list[str]) -> None:
        """Pin, exclude or (None) forget ``playlist`` for ``mood`` and write the file at once (atomically);
        ValueError for a mood not in ``moods``, a playlist not in ``playlists`` or an unknown choice."""
        if mood not in moods:
            raise ValueError(f"no mood {mood!r}: one of {', '.join(moods)}")
        if playlist not in playlists:
            raise ValueError(f"no playlist {playlist!r} in the config")
        if choice not in (*KINDS, None):
            raise ValueError(f"choice must be pin, exclude or auto, not {choice!r}")
        if choice is None:
            self._choices.pop((mood, playlist), None)
        else:
            self._choices[(mood, playlist)] = choice
        if self.path is not None:
            rows = [{"mood": m, "playlist": p, "choice": c} for (m, p), c in self.items()]
            temporary = self.path.with_name(self.path.name + ".new")
            temporary.write_text(json.dumps(rows, indent=1) + "\n")
            os.replace(temporary, self.path)
