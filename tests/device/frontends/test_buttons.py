"""Buttons on gpiozero's MockFactory: presses, contact bounce, long press, the camera LED, bad pins."""

from __future__ import annotations

import threading

import pytest
from gpiozero.pins.mock import MockFactory

from moodbox.frontends.buttons import Buttons, ButtonsError

from device_support import FakeClock, wait_until

SKIP, LIKE, PRIVACY, LED_PIN = 17, 27, 22, 23
PRESS, HOLD = {SKIP: "skip", LIKE: "like", PRIVACY: "pause"}, {LIKE: "hold"}  # the default wiring


class Recorder:
    def __init__(self):
        self.actions: list[str] = []
        self.held = threading.Event()

    def __call__(self, action: str) -> None:
        self.actions.append(action)
        if action == "hold":
            self.held.set()


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def buttons(factory, clock, recorder):
    buttons = Buttons(press=PRESS, hold=HOLD, led_pin=LED_PIN, hold_time_s=0.3,
                      debounce_s=0.05, on_action=recorder, pin_factory=factory, clock=clock)
    yield buttons
    buttons.close()


def press(factory, clock, pin, seconds=0.2):
    factory.pin(pin).drive_low()
    clock.advance(seconds)
    factory.pin(pin).drive_high()
    clock.advance(seconds)


def bounce(factory, clock, pin, final_low: bool, edges=4, gap_s=0.003):
    """A contact settling: `edges` alternating raw edges a few ms apart, ending in the final state."""
    levels = [final_low if i % 2 == 0 else not final_low for i in range(edges + 1)][::-1]
    for low in levels:
        factory.pin(pin).drive_low() if low else factory.pin(pin).drive_high()
        clock.advance(gap_s)


def test_each_button_press_gives_its_action_once(buttons, factory, clock, recorder):
    press(factory, clock, SKIP)
    press(factory, clock, PRIVACY)
    press(factory, clock, LIKE)
    assert recorder.actions == ["skip", "pause", "like"]


def test_skip_fires_on_press_not_on_release(buttons, factory, clock, recorder):
    factory.pin(SKIP).drive_low()
    assert recorder.actions == ["skip"]
    clock.advance(0.2)
    factory.pin(SKIP).drive_high()
    assert recorder.actions == ["skip"]


@pytest.mark.parametrize("pin,action", [(SKIP, "skip"), (PRIVACY, "pause"), (LIKE, "like")])
def test_bouncing_contacts_give_one_action_per_press(buttons, factory, clock, recorder, pin, action):
    for _ in range(3):
        bounce(factory, clock, pin, final_low=True)
        clock.advance(0.2)
        bounce(factory, clock, pin, final_low=False)
        clock.advance(0.2)
    assert recorder.actions == [action] * 3


def test_presses_further_apart_than_debounce_all_count(buttons, factory, clock, recorder):
    for _ in range(5):
        press(factory, clock, SKIP, seconds=0.06)
    assert recorder.actions == ["skip"] * 5


def test_debounce_window_comes_from_the_constructor(factory, clock, recorder):
    buttons = Buttons(press={SKIP: "skip"}, led_pin=None, debounce_s=0.5,
                      on_action=recorder, pin_factory=factory, clock=clock)
    try:
        for _ in range(4):
            press(factory, clock, SKIP, seconds=0.2)
    finally:
        buttons.close()
    # Edges every 0.2 s with a 0.5 s window: press at 0, release accepted at 0.6 (edge at 0.6 s), next press at 1.2.
    assert recorder.actions == ["skip", "skip"]


def test_press_shorter_than_debounce_does_not_block_the_next_press(buttons, factory, clock, recorder):
    press(factory, clock, SKIP, seconds=0.01)  # its release falls inside the bounce window and is ignored
    clock.advance(0.2)
    press(factory, clock, SKIP)
    assert recorder.actions == ["skip", "skip"]


def no_settle_check_pending() -> bool:
    """No debounce settle timer is waiting to look at a pin again."""
    return not any(isinstance(thread, threading.Timer) for thread in threading.enumerate())


def test_like_tap_shorter_than_debounce_is_a_like(buttons, factory, clock, recorder):
    factory.pin(LIKE).drive_low()
    clock.advance(0.02)  # up again after 20 ms, inside the 50 ms bounce window
    factory.pin(LIKE).drive_high()
    clock.advance(0.2)   # the contact stays quiet and up
    assert wait_until(lambda: recorder.actions == ["like"])
    press(factory, clock, LIKE)
    assert wait_until(no_settle_check_pending)
    assert recorder.actions == ["like", "like"]


def test_bounce_on_a_like_press_is_not_taken_for_a_short_tap(factory, clock, recorder):
    buttons = Buttons(press={LIKE: "like"}, hold={LIKE: "hold"}, led_pin=None, hold_time_s=60,
                      debounce_s=0.05, on_action=recorder, pin_factory=factory, clock=clock)
    try:
        bounce(factory, clock, LIKE, final_low=True)  # raw releases inside the window, but the button stays down
        clock.advance(0.1)
        assert wait_until(no_settle_check_pending)
        assert recorder.actions == []
        factory.pin(LIKE).drive_high()
    finally:
        buttons.close()
    assert recorder.actions == ["like"]


def test_long_press_on_like_is_hold_and_not_like(buttons, factory, clock, recorder):
    factory.pin(LIKE).drive_low()
    assert recorder.held.wait(5), "when_held never fired"
    clock.advance(1.0)
    factory.pin(LIKE).drive_high()
    assert recorder.actions == ["hold"]


def test_long_press_after_bouncing_contact_is_one_hold(buttons, factory, clock, recorder):
    bounce(factory, clock, LIKE, final_low=True)
    assert recorder.held.wait(5), "when_held never fired"
    clock.advance(1.0)
    bounce(factory, clock, LIKE, final_low=False)
    assert recorder.actions == ["hold"]


def test_short_like_after_a_long_one_is_a_like(buttons, factory, clock, recorder):
    factory.pin(LIKE).drive_low()
    assert recorder.held.wait(5)
    clock.advance(1.0)
    factory.pin(LIKE).drive_high()
    clock.advance(0.2)
    press(factory, clock, LIKE, seconds=0.1)
    assert recorder.actions == ["hold", "like"]


def test_pull_down_buttons_are_pressed_by_driving_high(factory, clock, recorder):
    buttons = Buttons(press={SKIP: "skip"}, led_pin=None, pull_up=False,
                      on_action=recorder, pin_factory=factory, clock=clock)
    try:
        factory.pin(SKIP).drive_high()
        clock.advance(0.2)
        factory.pin(SKIP).drive_low()
    finally:
        buttons.close()
    assert recorder.actions == ["skip"]


def test_camera_led_follows_set_camera_led(buttons, factory):
    led = factory.pin(LED_PIN)
    assert led.state == 0
    buttons.set_camera_led(True)
    assert led.state == 1
    buttons.set_camera_led(False)
    assert led.state == 0


def test_close_turns_the_led_off_and_frees_the_pins(factory, clock, recorder):
    first = Buttons(press=PRESS, hold=HOLD, led_pin=LED_PIN, on_action=recorder,
                    pin_factory=factory, clock=clock)
    first.set_camera_led(True)
    first.close()
    assert factory.pin(LED_PIN).state == 0
    second = Buttons(press=PRESS, hold=HOLD, led_pin=LED_PIN, on_action=recorder,
                     pin_factory=factory, clock=clock)
    second.close()


def test_parts_not_fitted_are_left_out(factory, clock, recorder):
    buttons = Buttons(press={PRIVACY: "pause"}, led_pin=None, on_action=recorder,
                      pin_factory=factory, clock=clock)
    try:
        buttons.set_camera_led(True)
        press(factory, clock, PRIVACY)
    finally:
        buttons.close()
    assert recorder.actions == ["pause"]


def test_failing_action_handler_does_not_stop_later_presses(factory, clock, caplog):
    seen = []

    def flaky(action):
        seen.append(action)
        if len(seen) == 1:
            raise RuntimeError("daemon hiccup")

    buttons = Buttons(press={SKIP: "skip"}, led_pin=None, on_action=flaky,
                      pin_factory=factory, clock=clock)
    try:
        press(factory, clock, SKIP)
        press(factory, clock, SKIP)
    finally:
        buttons.close()
    assert seen == ["skip", "skip"]
    assert "daemon hiccup" in caplog.text


def test_pin_clash_names_the_part_and_pin_and_releases_the_others(factory, clock, recorder):
    with pytest.raises(ButtonsError, match=r"camera LED on pin 17"):
        Buttons(press={SKIP: "skip", PRIVACY: "pause"}, hold={SKIP: "hold"}, led_pin=SKIP, on_action=recorder,
                pin_factory=factory, clock=clock)
    # Nothing half set up stays behind: every pin can be claimed again.
    Buttons(press=PRESS, hold=HOLD, led_pin=LED_PIN, on_action=recorder,
            pin_factory=factory, clock=clock).close()


def test_invalid_pin_names_the_part(factory, clock, recorder):
    with pytest.raises(ButtonsError, match=r"camera LED on pin 'GPIO99'"):
        Buttons(press={SKIP: "skip"}, led_pin="GPIO99", on_action=recorder,
                pin_factory=factory, clock=clock)


def test_hold_time_must_exceed_debounce(factory, recorder):
    with pytest.raises(ValueError, match="hold_time_s"):
        Buttons(press={SKIP: "skip", LIKE: "like"}, hold={LIKE: "hold"}, hold_time_s=0.01, debounce_s=0.05,
                on_action=recorder, pin_factory=factory)
