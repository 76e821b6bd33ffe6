"""sd_notify: tell systemd we are ready, what we are doing, and that the main loop is alive.

Uses systemd-python (``systemd.daemon.notify``, apt ``python3-systemd`` on a Pi) when it is importable, otherwise
sends the datagram itself: the protocol is one ``KEY=value`` per line in a single datagram to the ``AF_UNIX``
socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace). Outside systemd there is no
``$NOTIFY_SOCKET`` and every call is a cheap no-op returning ``False``::

    notify(READY=1)
    notify(STATUS="mood: happy, playing upbeat")
    notify(WATCHDOG=1)
"""

from __future__ import annotations

import logging
import os
import socket

try:
    from systemd import daemon as _systemd_daemon
except ImportError:
    _systemd_daemon = None

log = logging.getLogger(__name__)

_last_failed_address: str | None = None


def notify(**fields) -> bool:
    """Send ``KEY=value`` fields in one message; True when it was delivered, False without ``$NOTIFY_SOCKET``.

    A failed send is logged (once per socket address, so a watchdog ping each tick cannot flood the journal) and
    returns False instead of raising: losing a status message must never stop the speaker.
    """
    global _last_failed_address
    if not fields:
        raise ValueError("notify() needs at least one field, e.g. notify(READY=1)")
    for key, value in fields.items():
        if "\n" in str(value):
            raise ValueError(f"sd_notify field {key} must be a single line, got {value!r}")
    message = "\n".join(f"{key}={value}" for key, value in fields.items())
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    try:
        if _systemd_daemon is not None:
            sent = bool(_systemd_daemon.notify(message))
        else:
            sent = _send_datagram(address, message)
    except OSError as exc:
        if address != _last_failed_address:
            log.warning("cannot send sd_notify message to NOTIFY_SOCKET=%s: %s", address, exc)
        _last_failed_address = address
        return False
    _last_failed_address = None
    return sent


def _send_datagram(address: str, message: str) -> bool:
    if address.startswith("@"):
        target = "\0" + address[1:]
    elif address.startswith("/"):
        target = address
    else:
        raise OSError(f"unsupported NOTIFY_SOCKET address {address!r} (expected a path or @abstract name)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        # Never block the main loop: a full queue (a receiver that stopped reading) is a failed send.
        sock.sendto(message.encode(), socket.MSG_DONTWAIT, target)
    return True


def watchdog_period_s() -> float | None:
    """The service's ``WatchdogSec=`` in seconds when systemd expects WATCHDOG=1 pings from this process, else None.

    Ping at least every half of it (systemd's own advice for ``sd_watchdog_enabled``).
    """
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None
    try:
        period = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a whole number of microseconds", usec)
        return None
    return period / 1_000_000 if period > 0 else None
