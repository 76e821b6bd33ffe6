"""The sweep's scenes (:mod:`moodbox.devkit.sweep`): FER+ labelled faces pasted into frames on textured walls, and
the look-alikes in a face's place (turned-away heads, textured balls, framed pictures of walls)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodbox.devkit.scripted import FERPLUS_COLUMN_OF_LABEL, HOW_TO_GET_DATA
from moodbox.perception.boxes import Face
from moodbox.perception.frames import FrameError

SPLITS = {"public": 1, "private": 2}  # FER2013 'usage' codes, as training/moodbox_training/data.py numbers them
FRAME_SIZE = (640, 480)


def load_ferplus_faces(dataset_dir, split: str = "private") -> tuple[np.ndarray, np.ndarray]:
    """PrivateTest (or PublicTest) faces (N, 48, 48) and their FER+ majority label index, as
    training/moodbox_training/data.py defines it: plurality of the seven emotions, ties and rows led by
    contempt/unknown/not-a-face left out."""
    arrays = {}
    for name, keys in (("fer2013.npz", ("pixels", "usage")), ("ferplus_votes.npz", ("votes",))):
        path = Path(dataset_dir) / name
        if not path.is_file():
            raise FrameError(f"{path} not found. {HOW_TO_GET_DATA}")
        with np.load(path, allow_pickle=False) as npz:
            arrays.update({key: npz[key] for key in keys})
    votes = arrays["votes"][:, FERPLUS_COLUMN_OF_LABEL].astype(np.int32)
    top = votes.max(axis=1)
    clear = (top > 0) & ((votes == top[:, None]).sum(axis=1) == 1) & (arrays["votes"][:, 7:].max(axis=1) <= top)
    rows = np.flatnonzero(clear & (arrays["usage"] == SPLITS[split]))
    return arrays["pixels"][rows], votes[rows].argmax(axis=1)


def textured_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A room-like wall: a lit gradient, furniture-like blocks with edges, striped fabric, sensor noise."""
    wall = np.linspace(rng.uniform(50, 120), rng.uniform(120, 210), width)[None, :].repeat(height, 0)
    for _ in range(10):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(20, width // 2), rng.integers(20, height // 2)
        wall[y:y + h, x:x + w] = rng.uniform(20, 230)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(3):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(40, 200), rng.integers(40, 200)
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 30)
        stripes = 25 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period)
        wall[y:y + h, x:x + w] += stripes[y:y + h, x:x + w]
    wall = cv2.GaussianBlur(wall, (0, 0), 1.2) + rng.normal(0, 5, (height, width))
    return np.clip(wall, 0, 255).astype(np.uint8)


def face_patch(face48: np.ndarray, side: int, roll_deg: float) -> np.ndarray:
    """The 48x48 face turned by ``roll_deg`` (edges replicated into the corners) and sized to ``side`` px.

    The face is turned at its own resolution and then sized once, as an upright one: a camera samples a tilted
    face once, and turning the small patch instead resamples it twice at its final size, which halves its fine
    detail (at 24-32 px)."""
    if roll_deg:
        turn = cv2.getRotationMatrix2D(((face48.shape[1] - 1) / 2, (face48.shape[0] - 1) / 2), roll_deg, 1.0)
        face48 = cv2.warpAffine(face48, turn, face48.shape[::-1], flags=cv2.INTER_CUBIC,
                                borderMode=cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if side < face48.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(face48, (side, side), interpolation=interpolation)


def is_the_face(face: Face, centre: tuple[float, float], side: int) -> bool:
    """A detection of the pasted face: centre within 0.3 of its width, width between 0.4 and 1.6 of it."""
    return (abs(face.x + face.w / 2 - centre[0]) < 0.3 * side and abs(face.y + face.h / 2 - centre[1]) < 0.3 * side
            and 0.4 * side < face.w < 1.6 * side)


class LookAlikes:
    """Turned-away heads and face-like objects, made from the sweep's own faces and walls (no other data).

    Hair is filtered noise: white noise blurred along a random strand direction (sigma 3 px along, 0.7 across
    at 48 px), at the grey level and contrast of the faces' top rows (where FER2013 shows hair: their 25th
    percentile and their fine-detail spread, ``hair_level``/``hair_contrast``). Each look-alike is drawn at 48 px
    and then sized once, like the faces, and comes with a mask (an oval or a square) that pastes it on the wall:

    - back of head: an oval of hair, lit from above (a head seen from behind);
    - face blurred: a FER2013 face whose inner oval is blurred (sigma 6 px at 48 px) past any feature;
    - skin oval with hair: an oval at the grey level of the face's cheeks, its top and one side covered with
      hair (a head turned away, ear and cheek towards the camera);
    - textured ball: a shaded disc (lit from the upper left) with stripes or spots;
    - framed wall picture: a square frame (light or dark moulding) around a shrunk wall.
    """

    def __init__(self, faces48: np.ndarray, rng: np.random.Generator):
        self.rng = rng
        top = faces48[:, :10, :].astype(np.float32)
        self.hair_level = float(np.percentile(top, 25))
        self.hair_contrast = float(np.std(top - cv2.blur(top.reshape(-1, 48), (5, 5)).reshape(top.shape)))
        yy, xx = np.mgrid[0:48, 0:48].astype(np.float32)
        self._oval = (((xx - 23.5) / 19) ** 2 + ((yy - 23.5) / 23) ** 2 <= 1).astype(np.float32)
        self._disc = (((xx - 23.5) / 23) ** 2 + ((yy - 23.5) / 23) ** 2 <= 1).astype(np.float32)
        self._yy, self._xx = yy, xx

    def hair(self) -> np.ndarray:
        noise = self.rng.normal(0, 1, (96, 96)).astype(np.float32)
        strands = cv2.GaussianBlur(noise, (0, 0), sigmaX=3, sigmaY=0.7)
        turn = cv2.getRotationMatrix2D((47.5, 47.5), float(self.rng.uniform(0, 180)), 1.0)
        strands = cv2.warpAffine(strands, turn, (96, 96), borderMode=cv2.BORDER_REFLECT)[24:72, 24:72]
        strands *= self.hair_contrast / max(float(strands.std()), 1e-6)
        return self.hair_level + strands

    def make(self, kind: str, face48: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(48x48 float image, 48x48 mask 0-1) of one look-alike; ``face48`` is the listener's own face."""
        shade = 1.0 - 0.35 * np.clip((self._yy - 8) / 40, 0, 1)  # lit from above
        if kind == "back of head":
            return self.hair() * shade, self._oval
        if kind == "face blurred":
            inner = cv2.GaussianBlur(self._oval, (0, 0), 2)
            blurred = cv2.GaussianBlur(face48.astype(np.float32), (0, 0), 6)
            return inner * blurred + (1 - inner) * face48, np.ones((48, 48), np.float32)
        if kind == "skin oval with hair":
            skin = float(np.median(face48[20:36, 12:36]))
            side = self._xx < 20 if self.rng.integers(2) else self._xx > 27
            covered = cv2.GaussianBlur(((self._yy < 18) | side).astype(np.float32), (0, 0), 2)
            image = covered * self.hair() + (1 - covered) * skin * shade + self.rng.normal(0, 2, (48, 48))
            return image, self._oval
        if kind == "textured ball":
            lit = np.clip(1 - 0.8 * np.hypot(self._xx - 15, self._yy - 15) / 48, 0.2, 1)
            angle, period = self.rng.uniform(0, np.pi), self.rng.uniform(4, 14)
            pattern = np.sin((np.cos(angle) * self._xx + np.sin(angle) * self._yy) * 2 * np.pi / period)
            if self.rng.integers(2):
                pattern = np.sign(np.sin(self._xx * 2 * np.pi / period) * np.sin(self._yy * 2 * np.pi / period))
            return self.rng.uniform(100, 220) * lit + 25 * pattern * lit, self._disc
        if kind == "framed wall picture":
            picture = cv2.resize(textured_background(self.rng, 160, 160), (40, 40),
                                 interpolation=cv2.INTER_AREA).astype(np.float32)
            image = np.full((48, 48), self.rng.choice([40.0, 220.0]), np.float32)
            image[4:44, 4:44] = picture
            return image, np.ones((48, 48), np.float32)
        raise ValueError(f"unknown look-alike {kind!r}")

    def patch(self, kind: str, face48: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """The look-alike and its mask sized to ``side`` px, as the faces are (:func:`face_patch`)."""
        image, mask = self.make(kind, face48)
        interpolation = cv2.INTER_AREA if side < 48 else cv2.INTER_CUBIC
        image = cv2.resize(np.clip(image, 0, 255).astype(np.float32), (side, side), interpolation=interpolation)
        return np.clip(image, 0, 255), np.clip(cv2.resize(mask, (side, side), interpolation=cv2.INTER_LINEAR), 0, 1)


class Scene:
    """Walls (a pool, shifted and flipped into new ones) and frames of them with fresh sensor noise."""

    def __init__(self, rng: np.random.Generator, pool: int = 12):
        self.rng = rng
        width, height = FRAME_SIZE
        self._pool = [textured_background(rng, width, height) for _ in range(pool)]
        self._noise = [rng.integers(-4, 5, (height, width)).astype(np.int16) for _ in range(4)]

    def fresh(self) -> Scene:
        """A scene with a new pool of walls (as many), drawn from the same random stream."""
        return Scene(self.rng, len(self._pool))

    def wall(self) -> np.ndarray:
        wall = self._pool[self.rng.integers(len(self._pool))]
        wall = np.roll(wall, (self.rng.integers(0, 480), self.rng.integers(0, 640)), axis=(0, 1))
        return np.ascontiguousarray(wall[:, ::-1] if self.rng.integers(2) else wall)

    def frame(self, wall: np.ndarray, patch: np.ndarray | None = None, x: int = 0, y: int = 0,
              mask: np.ndarray | None = None) -> np.ndarray:
        """``wall`` with ``patch`` pasted at (x, y) (where ``mask``, 0-1, says how much), plus a fresh look at
        the sensor's noise."""
        frame = wall.copy()
        if patch is not None:
            place = (slice(y, y + patch.shape[0]), slice(x, x + patch.shape[1]))
            frame[place] = patch if mask is None else (mask * patch + (1 - mask) * frame[place]).round()
        noise = np.roll(self._noise[self.rng.integers(len(self._noise))], self.rng.integers(0, 640), axis=1)
        return np.clip(frame + noise, 0, 255).astype(np.uint8)
