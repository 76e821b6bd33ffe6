"""``moodbox bundle``: one archive to attach to an issue, with what helps find a fault and no mood diary.

It holds the doctor's report, versions, the config, the units, the last journal lines of moodbox and MPD, disk,
memory, temperature and devices. By default it says nothing about what the listener felt or heard: moods,
expressions, song titles, file names and playlist names are replaced by ``[mood]``, ``[song]``, ``[playlist]``
in every file (counts, times and errors stay), and the status keeps only the box's state. ``--include-history``
keeps them, for an owner who wants to show what the music did. Never in it: camera frames, the feedback database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from moodbox.config import DEFAULT_PATH, load_config_leniently
from moodbox.names import EXPRESSIONS

AUDIO_FILE = re.compile(r"[^\s\"']*\.(?:ogg|oga|mp3|flac|opus|wav|m4a|aac|wma)\b", re.IGNORECASE)
SONG_PATTERNS = (  # (pattern, replacement) for the places the daemon and MPD name a song
    (re.compile(r"now playing .*? from (?=playlist |MPD's own queue)"), "now playing [song] from "),
    (re.compile(r"(player: played )\".*\""), r'\1"[song]"'),
    (re.compile(r"(\btrack )[^,)]*"), r"\1[song]"),
    (re.compile(r"(\bplaying )(?!\[)[^(;]*?( \(\d| \(\d+ output)"), r"\1[song]\2"),
)
STATUS_KEPT = ("status", "problems", "camera", "face_in_view", "mpd", "held_for_s", "state", "volume", "store",
               "expression_age_s")


class Redactor:
    """Replaces the listener's moods, songs and playlists in text (the names come from the config)."""

    def __init__(self, playlists: list[str]):
        names = sorted({name for name in playlists if name}, key=len, reverse=True)
        self._playlists = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])") \
            if names else None
        self._moods = re.compile(r"\b(" + "|".join(EXPRESSIONS) + r")\b")

    def text(self, text: str) -> str:
        for pattern, replacement in SONG_PATTERNS:
            text = pattern.sub(replacement, text)
        text = AUDIO_FILE.sub("[file]", text)
        if self._playlists is not None:
            text = self._playlists.sub("[playlist]", text)
        return self._moods.sub("[mood]", text)

    def status(self, answer: dict) -> dict:
        """The daemon's status without what the listener felt or heard."""
        kept = {key: answer[key] for key in STATUS_KEPT if key in answer}
        kept["problems"] = [self.text(problem) for problem in kept.get("problems", [])]
        kept["warnings"] = len(answer.get("warnings", []))
        return kept


def _run(command: list[str], timeout_s: float = 60.0) -> str:
    """A command's output, or why there is none (a bundle is made on broken boxes too)."""
    if shutil.which(command[0]) is None and not os.access(command[0], os.X_OK):
        return f"({command[0]} not available on this system)\n"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"$ {' '.join(command)}\n({err})\n"
    text = f"$ {' '.join(command)}\n{result.stdout}{result.stderr}"
    return text + (f"(exit status {result.returncode})\n" if result.returncode else "")


def collect(config_path: Path, *, lines: int, include_history: bool) -> dict[str, str]:
    """File name -> contents of the bundle."""
    from moodbox import __version__, installed_commit
    from moodbox.frontends.control import ControlError, send_command
    from moodbox.music.policy import MusicPolicy

    config, errors = load_config_leniently(config_path)
    policy = MusicPolicy.from_config(config)
    redactor = Redactor(policy.available.wanted() + list(config.library.playlists)
                        + [config.library.prefix + name for name in config.library.playlists])
    moodbox = [sys.executable, "-m", "moodbox"]
    files = {"doctor.txt": _run([*moodbox, "doctor", "--config", str(config_path)], timeout_s=120)}
    try:
        status = send_command(config.state.control_socket, "status")
        files["status.json"] = json.dumps(status if include_history else redactor.status(status), indent=2) + "\n"
    except ControlError as err:
        files["status.json"] = json.dumps({"error": str(err)}) + "\n"
    files["versions.txt"] = "\n".join([
        f"moodbox: {__version__} (commit {installed_commit() or 'unknown'})",
        f"python: {sys.version.split()[0]}", f"kernel: {' '.join(os.uname()[2:5:2])}",
        _first_line(Path("/proc/device-tree/model"), "board"), _first_line(Path("/etc/nv_tegra_release"), "l4t"),
        _run(["mpd", "--version"]).splitlines()[1:2][0] if shutil.which("mpd") else "mpd: not installed",
        Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""]) + "\n"
    files["pip-freeze.txt"] = _run([sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"])
    files["moodbox.toml"] = (Path(config_path).read_text(errors="replace") if Path(config_path).is_file()
                             else f"({config_path} not found: the daemon runs on defaults)\n")
    if errors:
        files["moodbox.toml"] += "\n# config problems:\n" + "".join(f"# {error}\n" for error in errors)
    files["unit.txt"] = _run(["systemctl", "cat", "moodbox.service", "moodbox-library.service"])
    files["service-status.txt"] = _run(["systemctl", "status", "--no-pager", "--lines=0", "moodbox.service",
                                        "mpd.service", "mpd.socket"])
    for unit in ("moodbox", "moodbox-library", "mpd"):
        files[f"journal-{unit}.txt"] = _run(["journalctl", "--no-pager", "-u", f"{unit}.service", "-n", str(lines)])
    files["disk.txt"] = _run(["df", "-h"])
    files["memory.txt"] = _run(["free", "-m"])
    files["temperature.txt"] = "".join(
        f"{zone}: {int(zone.read_text()) // 1000} C\n" for zone in sorted(Path("/sys/class/thermal").glob(
            "thermal_zone*/temp")) if os.access(zone, os.R_OK)) + (_run(["vcgencmd", "get_throttled"])
                                                                   if shutil.which("vcgencmd") else "")
    files["devices.txt"] = _run(["ls", "-l", "/dev/video0", "/dev/media0", "/dev/gpiochip0", "/dev/gpiochip4",
                                 "/dev/snd"])
    files["audio.txt"] = _run(["aplay", "-l"])
    if not include_history:
        files = {name: redactor.text(text) if name != "moodbox.toml" else text for name, text in files.items()}
    files["README.txt"] = describe(include_history)
    return files


def _first_line(path: Path, label: str) -> str:
    try:
        first = path.read_bytes().splitlines()[:1] or [b""]
        return f"{label}: {first[0].strip(bytes(1)).decode(errors='replace')}"
    except OSError:
        return f"{label}: -"


def describe(include_history: bool) -> str:
    """What the bundle holds, for the owner to read before sharing it."""
    what = ("It includes the listener's moods, expressions, songs and playlists as the journal and the status name "
            "them (--include-history)." if include_history else
            "Moods, expressions, song titles, file names and playlist names are replaced by [mood], [song], [file] "
            "and [playlist]; counts, times and errors are kept. Add --include-history to keep them.")
    return ("moodbox support bundle: the doctor's report, versions, your config, the units, the last journal lines of "
            "moodbox, its library scan and MPD, disk, memory, temperature, devices and sound cards.\n" + what +
            "\nNever in it: camera frames, the feedback database (likes, skips, history).\n")


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text

    parser = argparse.ArgumentParser(prog="moodbox bundle", description=plain_text(__doc__.split("\n\n")[0]))
    parser.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    parser.add_argument("--output", default=".", help="folder to write the archive into (default: here)")
    parser.add_argument("--lines", type=int, default=300, help="journal lines per service (default 300)")
    parser.add_argument("--include-history", action="store_true",
                        help="keep moods, expressions, songs and playlists in the journal and status")
    args = parser.parse_args(argv)
    files = collect(Path(args.config), lines=args.lines, include_history=args.include_history)
    name = f"moodbox-support-{socket.gethostname().split('.')[0] or 'box'}-{time.strftime('%Y%m%d-%H%M%S')}"
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / name
        folder.mkdir()
        for file_name, text in files.items():
            (folder / file_name).write_text(text)
        with tarfile.open(output / f"{name}.tar.gz", "w:gz") as archive:
            archive.add(folder, arcname=name)
    print(f"support bundle: {output / name}.tar.gz")
    print(files["README.txt"].rstrip())
    print("Read it before sharing.")
    return 0
