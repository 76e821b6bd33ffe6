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
import sys

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


class Watchdog:
    """WATCHDOG=1 pings for the main loop, withheld once a camera call has been stuck for ``restart_after_s``: only
    a new process gets rid of a hung camera call, so systemd restarts the service (WatchdogSec later)."""

    def __init__(self, restart_after_s: float):
        self.restart_after_s = restart_after_s
        self.starved = False  # pings withheld because a camera call is stuck

    def feed(self, camera_stuck_s: float) -> None:
        if camera_stuck_s >= self.restart_after_s:
            if not self.starved:
                log.error("a camera call has been stuck for %.0f s: no more watchdog pings, so that systemd "
                          "restarts moodbox (only a new process gets rid of a hung camera call)", camera_stuck_s)
                self.starved = True
            return
        self.starved = False
        notify(WATCHDOG=1)


class JournalFormatter(logging.Formatter):
    """``<N>name: message``: journald reads the syslog priority from the prefix (sd-daemon(3)); no timestamps."""

    PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        text = f"<{self.PRIORITIES.get(record.levelno, 6)}>{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info).replace("\n", "\n<3>")
        return text


def setup_logging(verbose: bool = False, *, journal: bool | None = None) -> None:
    """Log to stderr: journald priority prefixes under systemd ($JOURNAL_STREAM), "LEVEL name: msg" otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if journal is None:
        journal = bool(os.environ.get("JOURNAL_STREAM"))
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("mpd").setLevel(logging.WARNING)  # python-mpd2 logs every command at INFO
