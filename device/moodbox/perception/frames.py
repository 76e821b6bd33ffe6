"""Frame sources: where grayscale frames come from (Pi camera, USB/V4L2 or GStreamer, a video file, an image folder).

Every source has ``grab() -> 2-D uint8 array`` and ``close()``; :func:`open_source` opens one from the
``camera.source`` words. The daemon never calls a source itself: :class:`moodbox.perception.camera.Camera` wraps it
(timeout, backoff, LED). The FER2013 source of the demo and the bench is in :mod:`moodbox.devkit.scripted`. Frames
live in memory only; nothing here writes a frame to disk.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from moodbox.errors import MoodboxError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".webp", ".tif", ".tiff"}


class FrameError(MoodboxError):
    """A frame source could not be opened or did not deliver a frame."""


class FrameSource(Protocol):
    def grab(self) -> np.ndarray: ...  # 2-D uint8 grayscale; raises FrameError (or any exception) on failure

    def close(self) -> None: ...


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


@contextmanager
def _opencv_quiet():
    """OpenCV's own warnings ("[ WARN:0@0.02] global cap_v4l.cpp ... can't open camera by index") are not for
    people: the FrameError raised instead names the camera and what to do, once, in the journal or the doctor."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class OpenCVSource:
    """A USB camera (index or /dev/videoN) or a GStreamer pipeline (``gst:...``, e.g. a Jetson CSI camera)."""

    def __init__(self, device: int | str, *, size=(640, 480), gstreamer=False):
        self._name = f"GStreamer pipeline {device!r}" if gstreamer else f"camera {device!r}"
        with _opencv_quiet():
            self._capture = cv2.VideoCapture(device, cv2.CAP_GSTREAMER) if gstreamer else cv2.VideoCapture(device)
        if not self._capture.isOpened():
            self._capture.release()  # a half-opened backend (e.g. a GStreamer pipeline) may hold the device
            raise FrameError(f"could not open {self._name}")
        if not gstreamer:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def grab(self) -> np.ndarray:
        with _opencv_quiet():
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
        with _opencv_quiet():
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


def open_source(spec: str, *, size=(640, 480)) -> FrameSource:
    """Open a frame source from its description.

    ``picamera`` | ``0`` / ``/dev/video0`` (OpenCV) | ``gst:<pipeline>`` | a video file | an image folder.
    """
    spec = str(spec).strip()
    if spec == "picamera":
        return PiCameraSource(size)
    if spec.isdigit():
        return OpenCVSource(int(spec), size=size)
    if spec.startswith("gst:"):
        return OpenCVSource(spec[4:], size=size, gstreamer=True)
    path = Path(spec)
    if spec.startswith("/dev/video"):
        return OpenCVSource(spec, size=size)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        return VideoFileSource(path)
    raise FrameError(f"camera source {spec!r}: not 'picamera', a camera index, /dev/videoN, 'gst:<pipeline>', "
                     "or an existing video file or image folder")
