"""Perception: one look at a gray frame gives the listener's expression.

    frame -> faces -> listener(s) -> crop -> expression model -> Reading

:meth:`Perception.look` is the only place that path is written: the daemon's tick, ``moodbox bench``,
scripts/camera-check and ``moodbox doctor`` all call it, so what is timed and checked is what the box runs.

>>> import numpy as np
>>> class NoFace:
...     def find(self, gray): return []
>>> class Model:
...     labels, input_size, face_crop = ("happy", "sad"), (48, 48), {"scale": 1.0}
>>> Perception(NoFace(), Model()).look(np.zeros((48, 64), np.uint8)).face
False
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from moodbox.perception.expression import ExpressionModel
from moodbox.perception.boxes import Face
from moodbox.perception.crop import crop_face
from moodbox.perception.faces import FaceFinder
from moodbox.perception.listener import pick_listener

if TYPE_CHECKING:
    from moodbox.config import Config


@dataclass(frozen=True)
class Reading:
    """What one look saw: the listener's faces and the expression read from them (None when nobody was seen)."""
    faces: tuple[Face, ...]               # the faces the expression is read from (config face.listener)
    probabilities: np.ndarray | None      # mean over those faces, in ``labels`` order
    expression: str | None                # the top label
    confidence: float | None              # its probability
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage: face_finder, crop, model

    @property
    def face(self) -> bool:
        return bool(self.faces)


class Perception:
    """The face finder and the expression model, and how the listener is picked (``largest`` or ``average``).

    ``finder`` and ``model`` may be fakes with the same small interfaces (``find(gray)``; ``labels``,
    ``input_size``, ``face_crop``, ``predict(crop)``).
    """

    def __init__(self, finder: Any, model: Any, *, listener: str = "largest"):
        self.finder, self.model, self.listener = finder, model, listener

    @classmethod
    def from_config(cls, config: Config, *, finder: Any = None, model: Any = None) -> Perception:
        """The finder of ``config.face`` and the model of ``config.model``, unless given."""
        return cls(finder if finder is not None else FaceFinder.from_config(config),
                   model if model is not None else ExpressionModel.from_config(config),
                   listener=config.face.listener)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.model.labels)

    def look(self, frame: np.ndarray) -> Reading:
        """Find the listener in a 2-D uint8 gray frame and read their expression."""
        start = time.perf_counter()
        faces = tuple(pick_listener(self.finder.find(frame), self.listener))
        found = time.perf_counter()
        seconds = {"face_finder": found - start}
        if not faces:
            return Reading(faces, None, None, None, seconds)
        crops = [crop_face(frame, face, self.model.input_size, self.model.face_crop) for face in faces]
        cropped = time.perf_counter()
        probabilities = np.mean([self.model.predict(crop) for crop in crops], axis=0)
        seconds.update(crop=cropped - found, model=time.perf_counter() - cropped)
        top = int(np.argmax(probabilities))
        return Reading(faces, probabilities, self.model.labels[top], float(probabilities[top]), seconds)
