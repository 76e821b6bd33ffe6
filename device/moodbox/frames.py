"""Frame sources: where grayscale frames come from, and the Camera that keeps the loop safe from them.

Every source has ``grab() -> 2-D uint8 array`` and ``close()``. The daemon only ever talks to a
:class:`Camera`, which runs each grab in a worker thread with a timeout, reports "ok" / "lost" /
"paused", reopens a failed source with capped exponential backoff, and keeps ``on_active`` (the camera LED)
on from just before a source is opened until it is closed. Frames live in memory only; nothing here writes
a frame to disk.

    >>> camera = Camera(lambda: open_source("0"), timeout_s=2.0, on_active=buttons.set_camera_led)
    >>> gray = camera.grab()          # None while paused, lost or timed out
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from moodbox.backoff import Backoff
from moodbox.config import EXPRESSIONS
from moodbox.errors import MoodboxError

log = logging.getLogger(__name__)

LABELS = EXPRESSIONS
"""FER2013 label order (the ``emotion`` column of fer2013.npz), which is the order of the expressions."""

DEFAULT_SCRIPT = [("happy", 20.0), ("sad", 20.0), ("neutral", 20.0), ("surprise", 20.0), ("angry", 20.0)]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".webp", ".tif", ".tiff"}
FERPLUS_COLUMN_OF_LABEL = np.array([4, 5, 6, 1, 3, 2, 0])  # FER+ vote column of each label in LABELS
PRIVATE_TEST = 2
HOW_TO_GET_DATA = (
    "fer2013.npz holds FER2013 (Kaggle 'challenges-in-representation-learning-facial-expression-recognition-"
    "challenge') as arrays pixels/emotion/usage; ferplus_votes.npz holds the FER+ votes (github.com/microsoft/"
    "FERPlus). Put both in one folder and pass it with --dataset or $MOODBOX_DATA.")


class FrameError(MoodboxError):
    """A frame source could not be opened or did not deliver a frame."""


class FrameSource(Protocol):
    def grab(self) -> np.ndarray: ...  # 2-D uint8 grayscale; raises FrameError (or any exception) on failure

    def close(self) -> None: ...


def default_dataset_dir() -> Path:
    """``$MOODBOX_DATA``, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("MOODBOX_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def to_gray(frame: np.ndarray) -> np.ndarray:
    """BGR, BGRA or gray frame as a 2-D uint8 gray frame."""
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return frame.reshape(frame.shape[:2])


def y_plane(yuv420: np.ndarray, width: int, height: int) -> np.ndarray:
    """The luma (Y) plane of a YUV420 buffer of shape (height * 3 / 2, stride): the gray image, no conversion."""
    return np.ascontiguousarray(yuv420[:height, :width])


class PiCameraSource:
    """Raspberry Pi camera via picamera2: a small ``lores`` YUV420 stream kept running; its Y plane is the frame."""

    def __init__(self, size=(640, 480)):
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise FrameError("picamera2 is not importable: on Raspberry Pi OS run 'apt install python3-picamera2' "
                             "and create the venv with --system-site-packages") from exc
        self._size = tuple(size)
        self._camera = Picamera2()
        try:
            config = self._camera.create_preview_configuration(
                main={"size": self._size}, lores={"size": self._size, "format": "YUV420"}, buffer_count=2)
            self._camera.configure(config)
            self._camera.start()
        except BaseException:
            self._camera.close()  # else libcamera keeps it acquired and every retry finds the camera "in use"
            raise

    def grab(self) -> np.ndarray:
        return y_plane(self._camera.capture_array("lores"), *self._size)

    def close(self) -> None:
        self._camera.close()


class OpenCVSource:
    """A USB camera (index or /dev/videoN) or a GStreamer pipeline (``gst:...``, e.g. a Jetson CSI camera)."""

    def __init__(self, device: int | str, *, size=(640, 480), gstreamer=False):
        self._name = f"GStreamer pipeline {device!r}" if gstreamer else f"camera {device!r}"
        self._capture = cv2.VideoCapture(device, cv2.CAP_GSTREAMER) if gstreamer else cv2.VideoCapture(device)
        if not self._capture.isOpened():
            self._capture.release()  # a half-opened backend (e.g. a GStreamer pipeline) may hold the device
            raise FrameError(f"could not open {self._name}")
        if not gstreamer:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def grab(self) -> np.ndarray:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise FrameError(f"{self._name} returned no frame")
        return to_gray(frame)

    def close(self) -> None:
        self._capture.release()


class VideoFileSource:
    """A video file played in real time (frames are skipped between slow grabs) and looped."""

    def __init__(self, path, *, clock: Callable[[], float] = time.monotonic):
        self._path = Path(path)
        self._capture = cv2.VideoCapture(str(self._path))
        if not self._capture.isOpened():
            raise FrameError(f"{self._path}: not a video file OpenCV can read")
        self._fps = self._capture.get(cv2.CAP_PROP_FPS) or 25.0
        self._count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self._clock = clock
        self._start = clock()

    def grab(self) -> np.ndarray:
        if self._count > 0:
            wanted = int((self._clock() - self._start) * self._fps) % self._count
            if wanted != int(self._capture.get(cv2.CAP_PROP_POS_FRAMES)):
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, wanted)
        ok, frame = self._capture.read()
        if not ok:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if not ok:
            raise FrameError(f"{self._path}: no frame could be decoded")
        return to_gray(frame)

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource:
    """The images of a folder in name order, one per grab, looping."""

    def __init__(self, folder):
        self._folder = Path(folder)
        self._paths = sorted(p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise FrameError(f"{self._folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        self._next = 0

    def grab(self) -> np.ndarray:
        path = self._paths[self._next]
        self._next = (self._next + 1) % len(self._paths)
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise FrameError(f"{path}: not an image OpenCV can read")
        return gray

    def close(self) -> None:
        pass


def load_script_faces(dataset_dir) -> dict[str, np.ndarray]:
    """FER2013 PrivateTest faces whose FER2013 label agrees with the FER+ majority label, by label."""
    dataset_dir = Path(dataset_dir)
    arrays = {}
    for name, keys in (("fer2013.npz", ("pixels", "emotion", "usage")), ("ferplus_votes.npz", ("votes",))):
        path = dataset_dir / name
        if not path.is_file():
            raise FrameError(f"{path} not found. {HOW_TO_GET_DATA}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays.update({key: npz[key] for key in keys})
        except Exception as exc:  # zip, format and missing-key errors all mean "not the expected file"
            raise FrameError(f"{path}: not the expected .npz ({exc}). {HOW_TO_GET_DATA}") from exc
    votes = arrays["votes"][:, FERPLUS_COLUMN_OF_LABEL].astype(np.int32)
    top = votes.max(axis=1)
    clear = (top > 0) & ((votes == top[:, None]).sum(axis=1) == 1) & (arrays["votes"][:, 7:].max(axis=1) <= top)
    agreed = clear & (votes.argmax(axis=1) == arrays["emotion"]) & (arrays["usage"] == PRIVATE_TEST)
    return {label: arrays["pixels"][agreed & (arrays["emotion"] == index)] for index, label in enumerate(LABELS)}


class ScriptedFaceSource:
    """FER2013 test faces of a scripted expression, upscaled and pasted into a larger noisy frame.

    ``script`` is a list of (expression, seconds) that loops. Each grab pastes a random face of the expression
    scripted now at a random size (120-220 px) and position, so that the face finder does real work.
    ``last_face_box`` is the (x, y, w, h) of the last pasted 48x48 image.
    """

    def __init__(self, dataset_dir, script: list[tuple[str, float]], *, frame_size=(640, 480), seed=0,
                 clock: Callable[[], float] = time.monotonic, face_px=(120, 220)):
        self._faces = load_script_faces(dataset_dir)
        if not script:
            raise ValueError("script is empty: give at least one (expression, seconds) pair")
        for label, seconds in script:
            if label not in self._faces:
                raise ValueError(f"script expression {label!r} is not one of {', '.join(LABELS)}")
            if not seconds > 0:
                raise ValueError(f"script duration for {label!r} must be > 0 seconds, got {seconds}")
            if len(self._faces[label]) == 0:
                raise FrameError(f"{dataset_dir}: no PrivateTest faces labelled {label!r}")
        self._script = [(label, float(seconds)) for label, seconds in script]
        self._width, self._height = frame_size
        self._face_px = (min(face_px[0], self._height), min(face_px[1], self._height, self._width))
        self._rng = np.random.default_rng(seed)
        self._clock = clock
        self._start = clock()
        self._backgrounds = [self._background() for _ in range(4)]
        self.last_face_box: tuple[int, int, int, int] | None = None

    def _background(self) -> np.ndarray:
        """A plain wall with a soft gradient and sensor-like noise."""
        ramp = np.linspace(self._rng.uniform(60, 120), self._rng.uniform(130, 200), self._width)
        noise = self._rng.normal(0, 6, (self._height, self._width))
        return np.clip(ramp[None, :] + noise, 0, 255).astype(np.uint8)

    def expected_label(self) -> str:
        elapsed = (self._clock() - self._start) % sum(seconds for _, seconds in self._script)
        for label, seconds in self._script:
            if elapsed < seconds:
                return label
            elapsed -= seconds
        return self._script[-1][0]

    def grab(self) -> np.ndarray:
        faces = self._faces[self.expected_label()]
        face = faces[self._rng.integers(len(faces))]
        side = int(self._rng.integers(self._face_px[0], self._face_px[1] + 1))
        x = int(self._rng.integers(0, self._width - side + 1))
        y = int(self._rng.integers(0, self._height - side + 1))
        frame = self._backgrounds[self._rng.integers(len(self._backgrounds))].copy()
        frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        self.last_face_box = (x, y, side, side)
        return frame

    def close(self) -> None:
        pass


def parse_script(text: str) -> list[tuple[str, float]]:
    """``"happy:20,sad:20"`` as [("happy", 20.0), ("sad", 20.0)]."""
    script = []
    for item in text.split(","):
        label, _, seconds = item.partition(":")
        try:
            script.append((label.strip(), float(seconds)))
        except ValueError:
            raise ValueError(f"script item {item!r}: expected expression:seconds, e.g. happy:20") from None
    return script


def open_source(spec: str, *, size=(640, 480), dataset_dir=None) -> FrameSource:
    """Open a frame source from its description.

    ``picamera`` | ``0`` / ``/dev/video0`` (OpenCV) | ``gst:<pipeline>`` | a video file | an image folder |
    ``scripted`` or ``scripted:happy:20,sad:20`` (FER2013 test faces, see ScriptedFaceSource).
    """
    spec = str(spec).strip()
    if spec == "picamera":
        return PiCameraSource(size)
    if spec.isdigit():
        return OpenCVSource(int(spec), size=size)
    if spec.startswith("gst:"):
        return OpenCVSource(spec[4:], size=size, gstreamer=True)
    if spec == "scripted" or spec.startswith("scripted:"):
        script = parse_script(spec[9:]) if spec.startswith("scripted:") else DEFAULT_SCRIPT
        return ScriptedFaceSource(dataset_dir or default_dataset_dir(), script, frame_size=size)
    path = Path(spec)
    if spec.startswith("/dev/video"):
        return OpenCVSource(spec, size=size)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        return VideoFileSource(path)
    raise FrameError(f"camera source {spec!r}: not 'picamera', a camera index, /dev/videoN, 'gst:<pipeline>', "
                     "'scripted', or an existing video file or image folder")


class _Call:
    """One call run in a worker thread; ``on_late(ok, value)`` gets the outcome if the caller gave up waiting."""

    def __init__(self, fn: Callable, on_late: Callable[[bool, object], None] | None = None):
        self._fn, self._on_late = fn, on_late
        self._lock = threading.Lock()
        self._abandoned = False
        self._outcome: tuple[bool, object] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="moodbox-camera")

    def _run(self):
        try:
            outcome = (True, self._fn())
        except BaseException as exc:  # handed to the caller, who decides what it means
            outcome = (False, exc)
        with self._lock:
            self._outcome = outcome
            late = self._abandoned
        if late and self._on_late:
            self._on_late(*outcome)

    def result(self, timeout_s: float):
        self.thread.start()
        self.thread.join(timeout_s)
        with self._lock:
            if self._outcome is None:
                self._abandoned = True
                raise FrameError(f"no answer within {timeout_s:g} s")
        ok, value = self._outcome
        if not ok:
            raise value
        return value


class Camera:
    """Grabs frames from a source without ever blocking the caller longer than ``timeout_s``.

    At most one call into the source is in flight; while a hung call is still stuck, grabs return None at
    once instead of starting more threads (so a hung driver costs one thread, plus one for closing it).
    After a failure the source is closed and reopened after 1, 2, 4 ... ``max_backoff_s`` seconds.

    Thread-safe: the loop may grab while another thread calls pause(), resume() or close(). Those never wait
    for a grab in flight; a grab that ends after pause() or close() closes what it opened and returns None,
    so only resume() ever turns "paused" back into "ok". The LED (``on_active``) goes on before a source is
    opened and off only once it is closed, however late a hung open or close returns.
    """

    def __init__(self, open_frame_source: Callable[[], FrameSource], *, timeout_s=2.0,
                 on_active: Callable[[bool], None] = lambda on: None, clock: Callable[[], float] = time.monotonic,
                 first_backoff_s=1.0, max_backoff_s=60.0):
        self._open_frame_source = open_frame_source
        self._timeout_s = timeout_s
        self._on_active = on_active
        self._backoff = Backoff(first_backoff_s, max_backoff_s, clock)
        self._source: FrameSource | None = None
        self._stuck: list[threading.Thread] = []
        self._stuck_lock = threading.Lock()  # taken after self._lock, never before it
        self._lock = threading.Lock()
        self._grabbing = False  # a grab is running outside the lock; it owns self._source until it ends
        self.status = "ok"
        self.last_error: str | None = None

    @classmethod
    def from_config(cls, config, *, open_frame_source: Callable[[], FrameSource] | None = None,
                    source: str | None = None, on_active: Callable[[bool], None] = lambda on: None,
                    clock: Callable[[], float] = time.monotonic, paused: bool = False) -> Camera:
        """The camera of ``config.camera`` (``source`` or ``open_frame_source`` instead of camera.source);
        ``paused`` starts it in the privacy pause."""
        spec, size = source or config.camera.source, config.camera.size
        camera = cls(open_frame_source or (lambda: open_source(spec, size=size)),
                     timeout_s=config.camera.grab_timeout_s, on_active=on_active, clock=clock)
        if paused:
            camera.pause()
        return camera

    def grab(self) -> np.ndarray | None:
        """A 2-D uint8 gray frame, or None when paused, lost, or waiting to retry."""
        with self._lock:
            if (self.status in ("paused", "closed") or self._grabbing or self._busy()
                    or not self._backoff.due()):
                return None
            self._grabbing = True
            source = self._source
            if source is None:
                self._on_active(True)  # before opening: a slow open already has the camera running
        frame, error = None, None
        try:
            if source is None:
                source = self._call(self._open, on_late=self._close_late_open)
            if self.status not in ("paused", "closed"):  # a pause that landed during the open: take no frame
                frame = self._call(source.grab)
                if not (isinstance(frame, np.ndarray) and frame.ndim == 2 and frame.dtype == np.uint8):
                    raise FrameError(f"{type(source).__name__}.grab() returned "
                                     f"{getattr(frame, 'dtype', type(frame))} {getattr(frame, 'shape', '')}, "
                                     "expected a 2-D uint8 gray frame")
        except Exception as exc:
            error = exc
        with self._lock:
            self._grabbing = False
            self._source = source
            if self.status in ("paused", "closed"):  # paused or closed while the grab ran: the pause wins
                self._drop_source()
                return None
            if error is not None:
                self._fail(error)
                return None
            if self.status != "ok":
                log.info("camera recovered")
            self.status, self.last_error = "ok", None
            self._backoff.succeeded()
            return frame

    def pause(self) -> None:
        """Privacy pause: close the source (LED off) and grab nothing until resume()."""
        self._stop("paused")

    def resume(self) -> None:
        with self._lock:
            if self.status == "paused":
                self.status = "ok"
                self._backoff.retry_now()
                self._backoff.succeeded()

    def close(self) -> None:
        self._stop("closed")

    def _stop(self, status: str) -> None:
        with self._lock:
            self.status = status
            if not self._grabbing:  # else the grab closes the source when it ends
                self._drop_source()

    def _busy(self) -> bool:
        with self._stuck_lock:
            self._stuck = [thread for thread in self._stuck if thread.is_alive()]
            return bool(self._stuck)

    def _call(self, fn: Callable, on_late: Callable[[bool, object], None] | None = None):
        call = _Call(fn, on_late)
        try:
            return call.result(self._timeout_s)
        finally:
            if call.thread.is_alive():
                with self._stuck_lock:
                    self._stuck.append(call.thread)

    def _open(self) -> FrameSource:
        """Open a source (in a worker thread); the LED goes off again if that fails, in time or late."""
        try:
            return self._open_frame_source()
        except BaseException:
            self._on_active(False)
            raise

    def _close_late_open(self, ok: bool, source) -> None:
        if ok:
            self._close(source)

    def _close(self, source: FrameSource) -> None:
        """Close a source (in a worker thread) and only then turn the LED off."""
        try:
            source.close()
        except Exception as exc:
            log.warning("camera source did not close cleanly: %s: %s", type(exc).__name__, exc)
        finally:
            self._on_active(False)

    def _fail(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("camera lost (%s); retrying in %g s", self.last_error, self._backoff.delay_s)
        self.status = "lost"
        self._drop_source()
        self._backoff.failed()

    def _drop_source(self) -> None:
        """Close the source in a worker thread (a driver may hang on close too); call with the lock held."""
        source, self._source = self._source, None
        if source is None:
            return
        try:
            self._call(lambda: self._close(source))
        except FrameError as exc:
            log.warning("camera source did not close within %g s (%s); the LED stays on until it does",
                        self._timeout_s, exc)
