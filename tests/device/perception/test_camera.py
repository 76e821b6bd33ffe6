"""The Camera wrapper against sources that fail, hang and recover: timeouts, backoff, the LED, the privacy pause."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from moodbox.perception.camera import Camera
from moodbox.perception.frames import FrameError

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
