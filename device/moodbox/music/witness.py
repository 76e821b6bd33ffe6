"""What the box saw while a song played, for the evidence of the song's "played" record."""

from __future__ import annotations


class Witness:
    """What the box knew while a song played, for the evidence of its "played" record: the share of the song's
    playing time a face was in view, and the mood's mean confidence meanwhile. The daemon feeds it every tick
    (:meth:`observe`); time the music is paused counts for neither."""

    def __init__(self):
        self._track: str | None = None
        self._last: float | None = None
        self._playing_s = self._seen_s = self._confidence_s = 0.0

    def observe(self, now: float, track: str | None, playing: bool, face: bool, confidence: float | None) -> None:
        if track != self._track:
            self._track, self._playing_s, self._seen_s, self._confidence_s = track, 0.0, 0.0, 0.0
        elif playing and self._last is not None:
            step = max(0.0, now - self._last)
            self._playing_s += step
            if face:
                self._seen_s += step
                self._confidence_s += step * (confidence or 0.0)
        self._last = now if playing else None

    def of(self, track: str | None) -> dict:
        """``face_share`` and ``confidence`` for the record of ``track`` (empty when another song was watched or
        it did not play long enough to tell)."""
        if track is None or track != self._track or self._playing_s <= 0.0:
            return {}
        confidence = self._confidence_s / self._seen_s if self._seen_s > 0 else None
        return {"face_share": round(self._seen_s / self._playing_s, 3),
                "confidence": None if confidence is None else round(confidence, 3)}
