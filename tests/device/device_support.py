"""Helpers shared by the device tests (fixtures live in conftest.py)."""

import os
import socket
import threading
import time
from pathlib import Path


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


class HungMPD:
    """A misbehaving MPD on a Unix socket: greets like MPD 0.23 and then never answers. ``commands`` lists what
    it was sent, ``connections`` how often a client connected."""

    def __init__(self, path):
        self.path = str(path)
        self.connections = 0
        self.commands: list[str] = []
        self._clients = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._clients.append(client)
            client.sendall(b"OK MPD 0.23.0\n")
            threading.Thread(target=self._read, args=(client,), daemon=True).start()

    def _read(self, client) -> None:
        try:
            with client.makefile("rb") as reader:
                for line in reader:
                    self.commands.append(line.decode().strip())
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        for sock in [self._listener, *self._clients]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_toml(path: Path, document: dict) -> Path:
    """Write a two-level document ({section: {key: value or {key: value}}}) as TOML."""
    lines = []
    for section, table in document.items():
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items() if key not in nested]
        for key, subtable in nested.items():
            lines.append(f"[{section}.{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in subtable.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
