"""Which playlists the box can play now, and what it plays for a mood whose own it cannot.

Missing, empty and unloadable playlists are skipped with a warning, never a refusal (a fresh box has none of the
configured ones, and one deleted playlist must not silence the speaker): a mood without a usable playlist of its own
falls back to the tagger's of the same names (``auto-upbeat``), then to the whole library (:data:`WHOLE_LIBRARY`).

    >>> available = PlaylistAvailability({"happy": ("upbeat",)}, fallback_prefix="auto-", whole_library=True)
    >>> available.mark_unavailable(["upbeat"], [])
    >>> available.candidates("happy")
    ['auto-upbeat']
    >>> available.warnings()[0]
    'playlist upbeat (for happy) does not exist in MPD: skipped'
"""

from __future__ import annotations

import logging
from typing import Mapping

log = logging.getLogger(__name__)

WHOLE_LIBRARY = "(whole library)"  # the last fallback: every song MPD has (the player knows this name)


class PlaylistAvailability:
    """The configured playlists per mood (``music.playlists``), their fallbacks, and which of all these MPD cannot
    play now (as the last playlist check found them, plus those MPD refused since)."""

    def __init__(self, playlists: Mapping[str, tuple[str, ...]], *, fallback_prefix: str | None = None,
                 whole_library: bool = False):
        self.playlists = playlists
        self._fallback_prefix = fallback_prefix  # the tagger's playlists: prefix + a mapped name (None: none)
        self._whole_library = whole_library      # and then every song MPD has
        self._skipped: set[str] = set()
        self._missing: set[str] = set()
        self.version = 0  # counts the changes of what is usable (the policy's cached beliefs follow it)
        self._candidates: dict[str | None, list[str]] = {}  # mood -> its candidates (None: all), until a change

    def levels(self, mood: str) -> list[list[str]]:
        """The mood's playlists, then the tagger's of the same names, then the whole library: each level is
        used only when every playlist of the levels before it is skipped."""
        own = list(self.playlists.get(mood, ()))
        prefix = self._fallback_prefix
        tagged = [prefix + name for name in own if not name.startswith(prefix)] if prefix else []
        return [own, tagged] + ([[WHOLE_LIBRARY]] if self._whole_library else [])

    def wanted(self) -> list[str]:
        """Every playlist the box may play, fallbacks included: what the player checks in MPD."""
        return list(dict.fromkeys(name for mood in self.playlists for level in self.levels(mood) for name in level))

    def mark_unavailable(self, missing: list[str], empty: list[str]) -> None:
        """Playlists MPD lacks or that hold no songs: never chosen (warned about here). Replaces what an earlier
        check marked, so a playlist created or filled since comes back."""
        skipped = set(missing) | set(empty)
        changed, self._missing, self._skipped = skipped != self._skipped, set(missing), skipped
        self._changed()
        for note in self.warnings() if changed else ():
            log.warning("%s", note)

    def mark_unusable(self, name: str, why: str) -> None:
        """A playlist MPD refused to play; it is never chosen again (until the next playlist check)."""
        log.warning("playlist %s cannot be played (%s): skipped", name, why)
        self._skipped.add(name)
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._candidates.clear()

    def skipping(self) -> bool:
        """Whether some playlist is skipped: worth checking MPD again for music added since."""
        return bool(self._skipped)

    def usable(self, name: str) -> bool:
        return name not in self._skipped

    def candidates(self, mood: str) -> list[str]:
        """The mood's own usable playlists (or its fallbacks' when none of its own is usable)."""
        found = self._candidates.get(mood)
        if found is None:
            found = self._candidates[mood] = next(
                (usable for level in self.levels(mood) if (usable := [name for name in level
                                                                      if name not in self._skipped])), [])
        return list(found)

    def all_playlists(self) -> list[str]:
        """Every mood's candidates."""
        if None not in self._candidates:
            self._candidates[None] = list(dict.fromkeys(name for mood in self.playlists
                                                        for name in self.candidates(mood)))
        return list(self._candidates[None])

    def mapped(self, mood: str, playlist: str) -> bool:
        """Whether ``playlist`` is the mood's own: mapped to it in the config, or its fallback playing now."""
        return playlist in self.playlists.get(mood, ()) or playlist in self.candidates(mood)

    def superseded(self, mood: str, playlist: str) -> bool:
        """A fallback of the mood's that a better level replaces now (a playlist created or filled since)."""
        return any(playlist in level for level in self.levels(mood)[1:]) and playlist not in self.candidates(mood)

    def warnings(self) -> list[str]:
        """What the owner should know: mapped playlists that are skipped, and which moods play a fallback."""
        notes = []
        for name in dict.fromkeys(name for names in self.playlists.values() for name in names):
            if name in self._skipped:
                moods = ", ".join(mood for mood, names in self.playlists.items() if name in names)
                why = "does not exist in MPD" if name in self._missing else "is empty or cannot be played"
                notes.append(f"playlist {name} (for {moods}) {why}: skipped")
        for mood, names in self.playlists.items():
            playing = self.candidates(mood)
            if not any(name in names for name in playing):
                notes.append(f"mood {mood} plays {', '.join(playing) or 'nothing'} instead of {', '.join(names)}")
        return notes
