"""Where the system suite puts things in the machine, and how it reads the installed box's state."""

from __future__ import annotations

import json

CHECKOUT = "/home/owner/moodbox"  # where an owner cloned it
CAMERA = "/srv/camera"            # the folder camera source: a few frames with nobody in view
MUSIC = "/var/lib/mpd/music"      # MPD's music directory in the mpd.conf setup.sh writes
CONFIG = "/etc/moodbox/moodbox.toml"
STORE = "/var/lib/moodbox/feedback.db"
AUDIO_CARD = "Intel"  # the emulated Intel HDA card of the VM (vm_support), as `aplay -l` names it
# A dozen 20 s tracks (artist, title, genre, tone in Hz) and no playlist: the box must find its music alone.
TRACKS = (("Ada", "Morning", "Pop", 440), ("Ben", "Rain", "Ambient", 330), ("Cleo", "Run", "Rock", 550),
          ("Dan", "Dusk", "Jazz", 262), ("Eve", "Tide", "Folk", 392), ("Finn", "Spark", "Electronic", 660),
          ("Gus", "Embers", "Blues", 294), ("Hana", "Lanterns", "Classical", 523), ("Ivo", "Drift", "Ambient", 220),
          ("Jo", "Sprint", "Rock", 587), ("Kai", "Hush", "Jazz", 247), ("Lea", "Bloom", "Pop", 494))
# Not part of the install: the machine's own logs, caches and backups, and what only exists while it runs.
VOLATILE = ("proc", "sys", "dev", "run", "tmp", "var/tmp", "var/log", "var/cache", "var/lib/systemd",
            "var/lib/apt/lists", "root/.cache",
            "var/backups")  # dpkg-db-backup.timer's daily copies of dpkg's state (a run across midnight)


def file_list(machine) -> dict[str, str]:
    """Every file of the running root outside VOLATILE: path -> type, mode, owner (what an uninstall must undo)."""
    prune = " -o ".join(f"-path /{path}" for path in VOLATILE)
    listing = machine.sh(f"find / -xdev \\( {prune} \\) -prune -o -printf '%p\\t%y %m %u:%g\\n'", timeout=120,
                         check=True).stdout
    return dict(line.split("\t", 1) for line in listing.splitlines() if "\t" in line)


def status(machine, user: str | None = None) -> dict:
    answer = machine.run("moodbox", "status", "--json", user=user, check=True)
    return json.loads(answer.stdout)


def count_likes(machine) -> int:
    """Likes in the store, opened read-only, as `moodbox history` does."""
    script = ("import sqlite3, sys; db = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True); "
              "print(db.execute(\"SELECT count(*) FROM feedback WHERE action = 'like'\").fetchone()[0])")
    result = machine.run("/usr/bin/python3", "-c", script, STORE, check=True)
    return int(result.stdout)
