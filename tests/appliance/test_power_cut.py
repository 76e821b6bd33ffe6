"""Power-cut safety of setup.sh's writes: a writer killed at any moment leaves the old or the new file, whole.

SIGKILL stops the writer mid-write the way a power cut does; it cannot drop the page cache, so the fsync half of
the guarantee (write_atomic syncs the file before the rename and the directory after) is checked by reading the
code path's trace instead. The daemon's own writes are SQLite (WAL, synchronous=FULL), tested in tests/device.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

KILLS = 40
SIZE = 4 * 1024 * 1024


def start_writer(repo_root: Path, dest: Path, source: Path) -> subprocess.Popen:
    script = 'source "$0/setup.sh"; write_atomic "$1" 0644 <"$2"'
    return subprocess.Popen(["bash", "-c", script, str(repo_root), str(dest), str(source)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def test_killed_config_write_leaves_old_or_new_file(repo_root, tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_bytes(b"o" * SIZE)
    new.write_bytes(b"n" * SIZE)
    dest = tmp_path / "etc" / "moodbox.toml"
    dest.parent.mkdir()
    # Kill times spread over 1.5x an unkilled write on this machine now, so a loaded machine still sees both.
    started = time.monotonic()
    assert start_writer(repo_root, dest, new).wait() == 0
    whole_write_s = time.monotonic() - started
    rng = random.Random(4)
    outcomes = set()
    for _ in range(KILLS):
        dest.write_bytes(old.read_bytes())
        writer = start_writer(repo_root, dest, new)
        time.sleep(rng.uniform(0, 1.5 * whole_write_s))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        content = dest.read_bytes()
        assert content in (old.read_bytes(), new.read_bytes()), f"torn file: {len(content)} bytes"
        outcomes.add(content[:1])
        for leftover in dest.parent.glob("moodbox.toml.tmp.*"):
            leftover.unlink()
    # Kills landed both before and after the rename, so both outcomes were really exercised.
    assert outcomes == {b"o", b"n"}


def test_write_is_synced_then_renamed(repo_root, tmp_path):
    dest = tmp_path / "moodbox.toml"
    trace = subprocess.run(
        ["bash", "-xc", 'source "$0/setup.sh"; echo "[mood]" | write_atomic "$1" 0644', str(repo_root), str(dest)],
        capture_output=True, text=True)
    assert trace.returncode == 0, trace.stderr
    steps = [line.lstrip("+ ").split()[0] for line in trace.stderr.splitlines()
             if line.lstrip("+ ").split()[:1] and line.lstrip("+ ").split()[0] in ("mktemp", "cat", "sync", "mv")]
    assert steps == ["mktemp", "cat", "sync", "mv", "sync"]
    assert dest.read_text() == "[mood]\n" and oct(dest.stat().st_mode & 0o777) == "0o644"
