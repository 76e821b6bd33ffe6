"""Whether the camera's view changed: in a still, empty room a searching tick need not look again at what the face
finder has already looked at (:mod:`~moodbox.perception.faces` spends the passes it saves when the view changes)."""

from __future__ import annotations

import cv2
import numpy as np

CELL_PX = 8  # the view is compared as the mean grey level of 8x8 cells: a 24 px face covers several whole ones
CHANGE_GREY = 12  # a cell's mean moving more is a change: sensor noise of sigma 8 is not, a 24 px face coming is


class SceneWatch:
    """Compares each frame with the view at the last change (not the last frame, so that a slow drift of the light
    adds up to a change too)."""

    def __init__(self):
        self._reference: np.ndarray | None = None

    def changed(self, gray: np.ndarray) -> bool:
        """Whether some cell of ``gray`` differs from the reference by more than ``CHANGE_GREY`` (the first frame,
        or one of another size, is a change); a change becomes the reference."""
        height, width = gray.shape
        cells = cv2.resize(gray, (max(1, width // CELL_PX), max(1, height // CELL_PX)),
                           interpolation=cv2.INTER_AREA).astype(np.int16)
        if (self._reference is not None and self._reference.shape == cells.shape
                and int(np.abs(cells - self._reference).max()) <= CHANGE_GREY):
            return False
        self._reference = cells
        return True

    def forget(self) -> None:
        self._reference = None
