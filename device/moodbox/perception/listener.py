"""Listener choice: whose face counts when the camera sees several."""

from __future__ import annotations

from moodbox.perception.boxes import Face


def pick_listener(faces: list[Face], mode: str = "largest") -> list[Face]:
    """The faces whose expression counts: "largest" (the listener closest to the box) or "average" (everyone)."""
    if mode == "largest":
        return [max(faces, key=lambda face: face.w * face.h)] if faces else []
    if mode == "average":
        return list(faces)
    raise ValueError(f"face selection {mode!r}: expected 'largest' or 'average'")
