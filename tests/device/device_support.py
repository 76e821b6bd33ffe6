"""Helpers shared by the device tests (fixtures live in conftest.py)."""

import os
import time


class FakeClock:
    """Monotonic time that moves only when the test says so (pass it as a ``clock=``)."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_as_nobody(function) -> str:
    """Run `function()` in a forked child that dropped root for nobody; return what it returned (or raised)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = repr(function())
        except BaseException as exc:
            result = f"{type(exc).__name__}: {exc}"
        os.write(write_end, result.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = pipe.read().decode()
    os.waitpid(pid, 0)
    return result


def wait_until(predicate, timeout_s=10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes; returns whether it became true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
