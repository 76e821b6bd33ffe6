"""Frame sources on real files (image folder, video), and the camera back-ends' clean-up when they fail."""

from __future__ import annotations

import sys
import types

import cv2
import numpy as np
import pytest

from moodbox.perception.frames import (FrameError, ImageFolderSource, OpenCVSource, PiCameraSource, VideoFileSource,
                                       open_source, y_plane)

from device_support import FakeClock


def test_y_plane_takes_luma_of_a_padded_yuv420_buffer():
    height, width, stride = 6, 10, 16
    buffer = np.zeros((height * 3 // 2, stride), np.uint8)
    buffer[:height, :width] = np.arange(height * width).reshape(height, width)
    gray = y_plane(buffer, width, height)
    assert gray.shape == (height, width) and gray.flags.c_contiguous
    assert np.array_equal(gray, buffer[:height, :width])


def test_image_folder_is_read_in_name_order_as_gray_and_loops(tmp_path):
    for index, name in enumerate(["b.png", "a.png", "c.jpg"]):
        cv2.imwrite(str(tmp_path / name), np.full((30, 40, 3), (index * 50, 0, 200), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    source = ImageFolderSource(tmp_path)
    frames = [source.grab() for _ in range(4)]
    assert all(frame.shape == (30, 40) and frame.dtype == np.uint8 for frame in frames)
    means = [int(frame.mean()) for frame in frames]
    assert means[0] == means[3] != means[1]  # a.png, b.png, c.jpg, a.png again


def test_image_folder_errors_name_the_folder_and_the_file(tmp_path):
    with pytest.raises(FrameError, match=str(tmp_path)):
        ImageFolderSource(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(FrameError, match="broken.png"):
        ImageFolderSource(tmp_path).grab()


def test_video_file_plays_in_real_time_and_loops(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for index in range(20):
        writer.write(np.full((48, 64, 3), index * 12, np.uint8))
    writer.release()
    clock = FakeClock(start=100.0)
    source = VideoFileSource(path, clock=clock)
    first = source.grab()
    clock.now += 1.0  # 10 frames later at 10 fps
    later = source.grab()
    clock.now += 1.0  # 20 frames: back at the start
    looped = source.grab()
    source.close()
    assert first.ndim == 2 and later.ndim == 2
    assert later.mean() - first.mean() == pytest.approx(120, abs=8)
    assert looped.mean() == pytest.approx(first.mean(), abs=8)


def test_open_source_names_what_it_accepts(tmp_path):
    with pytest.raises(FrameError, match="camera source 'nonsense'.*picamera"):
        open_source("nonsense")
    with pytest.raises(FrameError, match=str(tmp_path)):
        open_source(str(tmp_path))  # an empty folder


def test_opencv_source_releases_a_capture_that_did_not_open(monkeypatch, tmp_path):
    released, real_capture = [], cv2.VideoCapture

    class RecordingCapture:
        """A real VideoCapture that records release() (subclassing cv2's class crashes in its dealloc)."""

        def __init__(self, *args):
            self._capture = real_capture(*args)

        def __getattr__(self, name):
            return getattr(self._capture, name)

        def release(self):
            released.append(self._capture.isOpened())
            self._capture.release()

    monkeypatch.setattr(cv2, "VideoCapture", RecordingCapture)
    with pytest.raises(FrameError, match="could not open camera"):
        OpenCVSource(str(tmp_path / "video99"))
    assert released == [False]


def test_picamera_source_closes_the_camera_when_start_fails(monkeypatch):
    """picamera2 needs a Pi camera stack, so a stand-in module plays Picamera2 failing in start()."""
    closed = []

    class Picamera2:
        def create_preview_configuration(self, **kwargs):
            return kwargs

        def configure(self, config):
            pass

        def start(self):
            raise RuntimeError("Failed to start camera: Device or resource busy")

        def close(self):
            closed.append(True)

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=Picamera2))
    with pytest.raises(RuntimeError, match="busy"):
        PiCameraSource()
    assert closed == [True]
