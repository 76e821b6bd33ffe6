"""Frame sources on real files and the real dataset; Camera against sources that fail, hang and recover."""

from __future__ import annotations

import sys
import threading
import types

import cv2
import numpy as np
import pytest

from moodbox.frames import (LABELS, Camera, FrameError, ImageFolderSource, OpenCVSource, PiCameraSource,
                            ScriptedFaceSource, VideoFileSource, open_source, parse_script, y_plane)

from device_support import FakeClock, wait_until


class FakeSource:
    """A frame source whose behaviour the test switches: "ok", "raise", "hang" (until released) or "bad"."""

    def __init__(self, log: list):
        self.log = log
        self.mode = "ok"
        self.release = threading.Event()
        self.grabs = 0
        self.hanging = threading.Event()  # set while a "hang" grab is blocked
        self.closed = False
        log.append("open")

    def grab(self):
        self.grabs += 1
        if self.mode == "raise":
            raise OSError("camera unplugged")
        if self.mode == "hang":
            self.hanging.set()
            self.release.wait(10)
            self.hanging.clear()
        if self.mode == "bad":
            return np.zeros((4, 4, 3), np.uint8)
        return np.full((48, 64), self.grabs % 256, np.uint8)

    def close(self):
        self.closed = True
        self.log.append("close")


class Rig:
    """A Camera over FakeSources, with the LED states and every source it opened; new sources start in new_mode."""

    def __init__(self, timeout_s=0.2):
        self.log, self.sources, self.led = [], [], []
        self.new_mode = "ok"
        self.clock = FakeClock(start=100.0)
        self.camera = Camera(self._open, timeout_s=timeout_s, on_active=self.led.append, clock=self.clock)

    def _open(self):
        self.sources.append(FakeSource(self.log))
        self.sources[-1].mode = self.new_mode
        return self.sources[-1]


@pytest.fixture
def rig(request):
    """A Rig; ``@pytest.mark.parametrize("rig", [timeout_s], indirect=True)`` sets its grab timeout."""
    rig = Rig(getattr(request, "param", 0.2))
    yield rig
    for source in rig.sources:
        source.release.set()


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
    with pytest.raises(ValueError, match="expression:seconds"):
        parse_script("happy")


def test_scripted_source_follows_the_script_and_loops(data_dir):
    clock = FakeClock(start=100.0)
    source = open_source("scripted:happy:10,sad:5", dataset_dir=data_dir)
    assert isinstance(source, ScriptedFaceSource)
    source = ScriptedFaceSource(data_dir, [("happy", 10), ("sad", 5)], clock=clock, seed=3)
    seen = []
    for offset in (0, 9.9, 10, 14.9, 15, 26):
        clock.now = 100.0 + offset
        seen.append(source.expected_label())
    assert seen == ["happy", "happy", "sad", "sad", "happy", "sad"]


def test_scripted_source_pastes_a_face_into_a_larger_frame(data_dir):
    source = ScriptedFaceSource(data_dir, [("surprise", 1)], frame_size=(640, 480), seed=1)
    boxes = set()
    for _ in range(10):
        frame = source.grab()
        x, y, w, h = source.last_face_box
        boxes.add((x, y))
        assert frame.shape == (480, 640) and frame.dtype == np.uint8
        assert 120 <= w == h <= 220 and 0 <= x <= 640 - w and 0 <= y <= 480 - h
    assert len(boxes) == 10  # a new place every frame


def test_scripted_source_rejects_unknown_expressions_and_missing_data(data_dir, tmp_path):
    with pytest.raises(ValueError, match="'joy'.*" + ", ".join(LABELS)):
        ScriptedFaceSource(data_dir, [("joy", 5)])
    with pytest.raises(FrameError, match=f"{tmp_path / 'fer2013.npz'} not found.*--dataset"):
        ScriptedFaceSource(tmp_path, [("happy", 5)])


def test_camera_grabs_and_lights_the_led_while_open(rig):
    camera, led, log = rig.camera, rig.led, rig.log
    frames = [camera.grab() for _ in range(3)]
    assert all(frame.shape == (48, 64) for frame in frames)
    assert camera.status == "ok" and led == [True] and log == ["open"]
    camera.close()
    assert led == [True, False] and log == ["open", "close"] and camera.grab() is None


def test_failing_source_goes_lost_backs_off_and_recovers(rig):
    camera, sources, led, clock = rig.camera, rig.sources, rig.led, rig.clock
    camera.grab()
    sources[0].mode = "raise"
    assert camera.grab() is None
    assert camera.status == "lost" and "camera unplugged" in camera.last_error
    assert led == [True, False] and sources[0].closed
    assert camera.grab() is None and len(sources) == 1  # waiting out the first backoff (1 s)
    clock.now += 1.0
    rig.new_mode = "raise"  # the reopened camera fails too
    assert camera.grab() is None and len(sources) == 2
    clock.now += 1.5
    assert camera.grab() is None and len(sources) == 2  # backoff doubled to 2 s
    clock.now += 0.5
    assert camera.grab() is None and len(sources) == 3
    rig.new_mode = "ok"
    clock.now += 4.0
    sources_before = len(sources)
    frame = camera.grab()
    assert frame is not None and camera.status == "ok" and len(sources) == sources_before + 1
    assert led == [True, False] * 3 + [True]  # on exactly while a source was open


def test_hung_grab_never_stalls_the_caller_and_costs_one_thread(rig):
    camera, sources, led, clock = rig.camera, rig.sources, rig.led, rig.clock
    camera.grab()
    sources[0].mode = "hang"
    threads_before = threading.active_count()
    assert camera.grab() is None
    assert sources[0].hanging.is_set()  # returned while the grab still hangs (it would hang 10 s)
    assert camera.status == "lost" and "no answer within 0.2 s" in camera.last_error
    for _ in range(20):
        clock.now += 100
        assert camera.grab() is None  # the stuck call is still running: no new call, no new thread
    assert sources[0].hanging.is_set()
    assert threading.active_count() <= threads_before + 1
    assert sources[0].grabs == 2 and len(sources) == 1  # one good grab, then the one still hanging
    sources[0].release.set()

    def grabbed():
        clock.now += 100
        return camera.grab() is not None

    assert wait_until(grabbed)
    assert camera.status == "ok" and len(sources) == 2
    assert led[-1] is True and led.count(True) == 2 and led.count(False) == 1


def test_a_frame_that_is_not_gray_counts_as_a_failure(rig):
    camera, sources = rig.camera, rig.sources
    camera.grab()
    sources[0].mode = "bad"
    assert camera.grab() is None
    assert camera.status == "lost" and "2-D uint8" in camera.last_error


def test_open_that_hangs_keeps_the_led_on_until_it_is_closed_late():
    opened, gate, led = [], threading.Event(), []

    def slow_open():
        gate.wait(10)
        opened.append(FakeSource([]))
        return opened[-1]

    camera = Camera(slow_open, timeout_s=0.1, on_active=led.append)
    assert camera.grab() is None and camera.status == "lost"
    assert led == [True]  # the camera may be starting up: the LED says so
    gate.set()
    assert wait_until(lambda: led == [True, False])
    assert opened[0].closed  # not leaked


def test_led_is_lit_before_the_source_opens_and_off_when_the_open_fails():
    led, led_at_open = [], []

    def failing_open():
        led_at_open.append(list(led))
        raise FrameError("no camera")

    camera = Camera(failing_open, timeout_s=5, on_active=led.append)
    assert camera.grab() is None and camera.status == "lost"
    assert led_at_open == [[True]] and led == [True, False]


def test_close_that_hangs_keeps_the_led_on_until_it_returns(rig):
    camera, sources, led = rig.camera, rig.sources, rig.led
    camera.grab()
    gate = threading.Event()
    close = sources[0].close
    sources[0].close = lambda: (gate.wait(10), close())
    camera.pause()
    assert camera.status == "paused" and led == [True]  # close has not returned: the camera may still run
    gate.set()
    assert wait_until(lambda: led == [True, False]) and sources[0].closed


@pytest.mark.parametrize("rig", [30.0], indirect=True)
def test_pause_during_a_grab_wins_and_the_source_is_closed(rig):
    camera, sources, led = rig.camera, rig.sources, rig.led
    camera.grab()
    sources[0].mode = "hang"
    result = []
    grabber = threading.Thread(target=lambda: result.append(camera.grab()))
    grabber.start()
    assert sources[0].hanging.wait(10)
    pauser = threading.Thread(target=camera.pause)
    pauser.start()
    pauser.join(10)
    assert not pauser.is_alive() and sources[0].hanging.is_set()  # pause did not wait for the grab
    assert camera.status == "paused" and led == [True] and not sources[0].closed  # no close under a grab
    sources[0].release.set()
    grabber.join(10)
    assert result == [None] and camera.status == "paused"
    assert sources[0].closed and led == [True, False]
    assert camera.grab() is None and len(sources) == 1


def test_pause_during_an_open_closes_what_the_open_returns():
    opening, gate, opened, led = threading.Event(), threading.Event(), [], []

    def slow_open():
        opening.set()
        gate.wait(10)
        opened.append(FakeSource([]))
        return opened[-1]

    camera = Camera(slow_open, timeout_s=30, on_active=led.append)
    result = []
    grabber = threading.Thread(target=lambda: result.append(camera.grab()))
    grabber.start()
    assert opening.wait(10)
    camera.pause()
    gate.set()
    grabber.join(10)
    assert result == [None] and camera.status == "paused"
    assert opened[0].closed and opened[0].grabs == 0 and led == [True, False]
    camera.close()
    assert camera.status == "closed" and camera.grab() is None and len(opened) == 1


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


def test_pause_closes_the_source_turns_the_led_off_and_stops_grabs(rig):
    camera, sources, led = rig.camera, rig.sources, rig.led
    camera.grab()
    camera.pause()
    assert camera.status == "paused" and led == [True, False] and sources[0].closed
    grabs = sources[0].grabs
    assert all(camera.grab() is None for _ in range(5))
    assert sources[0].grabs == grabs and len(sources) == 1
    camera.resume()
    assert camera.grab() is not None
    assert camera.status == "ok" and led == [True, False, True] and len(sources) == 2
