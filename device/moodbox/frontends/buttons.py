"""Feedback buttons (pins bound to actions in the config, press and hold) and the camera LED, on gpiozero.

Every device takes ``pin_factory=`` like gpiozero's own devices do: leave it ``None`` on the box (gpiozero picks
lgpio on a Pi 5, or whatever works on the board) and pass a ``MockFactory`` in tests::

    >>> from gpiozero.pins.mock import MockFactory
    >>> factory = MockFactory()
    >>> actions = []
    >>> buttons = Buttons(press={17: "skip", 27: "like"}, hold={27: "hold"}, led_pin=23,
    ...                   on_action=actions.append, pin_factory=factory)
    >>> factory.pin(17).drive_low(); factory.pin(17).drive_high()
    >>> actions
    ['skip']
    >>> buttons.close()

Debounce is done here, not by gpiozero: its ``bounce_time`` is ignored by mock pins and differs between pin
back-ends, so the behaviour would not be testable. An edge closer than ``debounce_s`` to the previously accepted
edge of the same button is contact bounce and ignored. A release ignored that way may still be real (a tap shorter
than ``debounce_s``): once the contact has been quiet for ``debounce_s`` the pin is read again, and if the button
is up then, the release counts.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from types import MappingProxyType
from typing import Callable, Mapping

from gpiozero import LED, Button, GPIOZeroError

from moodbox.errors import MoodboxError

log = logging.getLogger(__name__)


class ButtonsError(MoodboxError):
    """A button or the LED could not be set up; the message names the role and the pin."""


class _DebouncedButton:
    """One gpiozero ``Button`` whose raw edges go through our debounce before they become actions.

    ``press_action`` fires on an accepted press. With ``short_action``/``held_action`` instead, a release before
    the hold time fires ``short_action`` and staying pressed for the hold time fires ``held_action`` (once), the
    gpiozero way of telling short from long presses (``when_held`` + ``when_released``).
    """

    def __init__(self, button: Button, *, debounce_s: float, clock: Callable[[], float],
                 emit: Callable[[str], None], press_action: str | None = None,
                 short_action: str | None = None, held_action: str | None = None):
        self._button = button
        self._debounce_s = debounce_s
        self._clock = clock
        self._emit = emit
        self._press_action = press_action
        self._short_action = short_action
        self._held_action = held_action
        self._lock = threading.Lock()
        self._pressed = False
        self._held = False
        self._last_edge = -math.inf      # the last accepted edge
        self._last_raw_edge = -math.inf  # the last edge of any kind, bounce included
        self._settle_timer: threading.Timer | None = None
        self._closed = False
        button.when_pressed = self._on_press
        button.when_released = self._on_release
        if held_action is not None:
            button.when_held = self._on_held

    def _accept_edge(self, pressed: bool) -> bool:
        """Whether a raw edge is a real change (call with the lock held)."""
        now = self._clock()
        self._last_raw_edge = now
        if now - self._last_edge < self._debounce_s:
            if not pressed and self._pressed:
                self._settle_later()
            return False
        if not pressed and not self._pressed:
            return False
        # A press while already pressed is accepted: the release in between was lost inside a bounce window.
        self._last_edge = now
        self._pressed = pressed
        return True

    def _on_press(self) -> None:
        with self._lock:
            accepted = self._accept_edge(True)
            if accepted:
                self._held = False
        if accepted and self._press_action:
            self._emit(self._press_action)

    def _on_release(self) -> None:
        with self._lock:
            accepted = self._accept_edge(False)
            short_press = accepted and not self._held
            self._held = False
        if short_press and self._short_action:
            self._emit(self._short_action)

    def _settle_later(self) -> None:
        """Look at the pin again once the contact has been quiet for ``debounce_s`` (call with the lock held)."""
        if self._settle_timer is None and not self._closed:
            delay = max(self._last_raw_edge + self._debounce_s - self._clock(), 0.001)
            self._settle_timer = threading.Timer(delay, self._settle)
            self._settle_timer.daemon = True
            self._settle_timer.start()

    def _settle(self) -> None:
        """A release lost in a bounce window counts if the button is still up after the contact went quiet."""
        with self._lock:
            self._settle_timer = None
            if self._closed or not self._pressed:
                return
            if self._clock() - self._last_raw_edge < self._debounce_s:
                self._settle_later()  # still bouncing
                return
            if self._button.is_pressed:
                return  # it was bounce: the button is down
            self._pressed = False
            self._last_edge = self._last_raw_edge
            short_press = not self._held
            self._held = False
        if short_press and self._short_action:
            self._emit(self._short_action)

    def _on_held(self) -> None:
        # gpiozero only calls this after the pin stayed active for the whole hold time, so the press is real
        # even if its first edge fell inside a bounce window.
        with self._lock:
            if self._held:
                return
            self._held = True
            self._pressed = True
        self._emit(self._held_action)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._settle_timer is not None:
                self._settle_timer.cancel()
        self._button.close()


class Buttons:
    """The box's buttons and camera LED.

    ``press`` and ``hold`` map BCM pins to action names (config ``[buttons.press]`` and ``[buttons.hold]``),
    the way Phoniebox declares its ``ShortLongPressButton``: a pin with only a press action fires it when pressed;
    a pin with a hold action too fires the press action on a release before ``hold_time_s`` and the hold action
    once it has been down that long. ``on_action(name)`` runs on gpiozero's threads, once per real press; an
    exception from it is logged and does not stop later presses. ``led_pin`` ``None``: no LED fitted.
    """

    def __init__(self, *, press: Mapping[int, str], hold: Mapping[int, str] = MappingProxyType({}), led_pin=None,
                 pull_up: bool = True, hold_time_s: float = 1.5, debounce_s: float = 0.05,
                 on_action: Callable[[str], None], pin_factory=None, clock: Callable[[], float] = time.monotonic):
        if debounce_s < 0:
            raise ValueError(f"debounce_s must be >= 0, got {debounce_s}")
        if hold_time_s <= debounce_s:
            raise ValueError(f"hold_time_s ({hold_time_s}) must be longer than debounce_s ({debounce_s})")
        self._on_action = on_action
        self._buttons: list[_DebouncedButton] = []
        self._led: CameraLED | None = None
        common = dict(debounce_s=debounce_s, clock=clock, emit=self._emit)
        try:
            for pin in dict.fromkeys([*press, *hold]):
                role = f"{' / '.join(filter(None, (press.get(pin), hold.get(pin))))} button"
                if pin in hold:
                    self._buttons.append(_DebouncedButton(
                        _make(role, Button, pin, pull_up=pull_up, hold_time=hold_time_s, pin_factory=pin_factory),
                        short_action=press.get(pin), held_action=hold[pin], **common))
                else:
                    self._buttons.append(_DebouncedButton(
                        _make(role, Button, pin, pull_up=pull_up, pin_factory=pin_factory),
                        press_action=press[pin], **common))
            self._led = CameraLED(led_pin, pin_factory=pin_factory)
        except ButtonsError:
            self.close()
            raise

    @classmethod
    def from_config(cls, config, *, on_action: Callable[[str], None], pin_factory=None) -> Buttons:
        """The buttons and LED of ``config.buttons``."""
        b = config.buttons
        return cls(press=b.press, hold=b.hold, led_pin=b.led_pin, pull_up=b.pull_up, hold_time_s=b.hold_time_s,
                   debounce_s=b.debounce_s, on_action=on_action, pin_factory=pin_factory)

    def _emit(self, action: str) -> None:
        try:
            self._on_action(action)
        except Exception:
            log.exception("handling the %r button action failed", action)

    def set_camera_led(self, on: bool) -> None:
        """Light the LED exactly while the camera is in use (wire it to ``Camera(on_active=...)``)."""
        if self._led is not None:
            self._led.set(on)

    def close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons = []
        if self._led is not None:
            self._led.close()
            self._led = None


class CameraLED:
    """The privacy LED, lit exactly while the camera is in use: pass ``set`` as ``Camera(on_active=...)``.

    The one way the LED is driven, by the daemon (through :class:`Buttons`), the doctor and camera-check. A pin of
    ``None`` means no LED is fitted, and ``set`` does nothing.
    """

    def __init__(self, pin, *, pin_factory=None):
        self._led = None if pin is None else _make("camera LED", LED, pin, pin_factory=pin_factory)

    @classmethod
    def from_config(cls, config, *, pin_factory=None) -> CameraLED:
        """``buttons.led_pin``, or no LED when ``buttons.enabled`` is false."""
        return cls(config.buttons.led_pin if config.buttons.enabled else None, pin_factory=pin_factory)

    def set(self, on: bool) -> None:
        if self._led is not None:
            self._led.value = bool(on)

    def close(self) -> None:
        if self._led is not None:
            self._led.off()
            self._led.close()
            self._led = None


def _make(role: str, device_class, pin, **kwargs):
    try:
        return device_class(pin, **kwargs)
    except (GPIOZeroError, ValueError) as exc:
        raise ButtonsError(f"cannot set up the {role} on pin {pin!r}: {exc}") from exc
