"""Capped exponential backoff on a clock the test moves."""

from moodbox.backoff import Backoff

from device_support import FakeClock


def test_delays_double_up_to_the_cap_and_reset_on_success():
    clock = FakeClock()
    backoff = Backoff(1.0, 4.0, clock)
    assert backoff.due()
    assert [backoff.failed() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert not backoff.due()
    clock.advance(4.0)
    assert backoff.due()
    backoff.succeeded()
    assert backoff.failed() == 1.0


def test_postpone_waits_without_growing_and_retry_now_lifts_the_wait():
    clock = FakeClock()
    backoff = Backoff(2.0, 8.0, clock)
    backoff.postpone()
    assert not backoff.due() and backoff.delay_s == 2.0
    backoff.retry_now()
    assert backoff.due()
