"""A private MPD server with a synthesised, tagged music library, for the demo, the tests and the benchmark.

It runs the system's ``mpd`` binary with a config of its own in a temporary folder: Unix socket only (no network
listener), null audio output (plays in real time, silently), its own database, state and sticker files::

    with PrivateMPD() as mpd:
        mpd.client().listplaylists()
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from mpd import MPDClient

from moodbox.errors import MoodboxError

# Playlist name -> (genre tag, sox synth arguments per track): each mood's music sounds different.
LIBRARY_MOODS = {
    "upbeat": ("Pop", ["square {f}", "tremolo 8 60"], (523, 587, 659, 698, 784)),
    "calm": ("Ambient", ["sine {f}", "tremolo 0.5 40"], (220, 247, 262, 294, 330)),
    "calming": ("Classical", ["triangle {f}", "tremolo 1 30"], (330, 349, 392, 440, 494)),
    "everyday": ("Folk", ["sawtooth {f}", "tremolo 3 50"], (392, 440, 494, 523, 587)),
}
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the forked child only calls it
APT_HINT = "install it with: apt-get install -y --no-install-recommends mpd mpc sox libsox-fmt-base"


class MPDServerError(MoodboxError):
    """The private MPD server could not be built or started; the message says what to install or fix."""


def build_library(music_dir: str | Path, playlists_dir: str | Path, *, tracks_per_mood: int = 3,
                  seconds: float = 20.0, moods: dict = LIBRARY_MOODS) -> dict[str, list[str]]:
    """Synthesise short tagged Ogg tracks per mood with sox and write one ``.m3u`` stored playlist per mood.

    Returns playlist name -> track paths relative to ``music_dir`` (as MPD names them).
    """
    sox = _require("sox")
    music_dir, playlists_dir = Path(music_dir), Path(playlists_dir)
    playlists_dir.mkdir(parents=True, exist_ok=True)
    library = {}
    for name, (genre, effects, tones) in moods.items():
        (music_dir / name).mkdir(parents=True, exist_ok=True)
        tracks = []
        for number in range(1, tracks_per_mood + 1):
            relative = f"{name}/{name}-{number:02d}.ogg"
            tone = tones[(number - 1) % len(tones)]
            synth, effect = (part.format(f=tone) for part in effects)
            tags = [f"ARTIST=moodbox {name}", f"TITLE={name.title()} {number}", f"GENRE={genre}",
                    f"ALBUM=moodbox {name}", f"TRACKNUMBER={number}"]
            command = [sox, "-n", "-r", "8000", "-c", "1", "--comment", tags[0]]
            for tag in tags[1:]:
                command += ["--add-comment", tag]
            command += [str(music_dir / relative), "synth", f"{seconds:g}", *synth.split(), *effect.split(),
                        "vol", "0.3"]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise MPDServerError(f"sox failed making {relative}: {result.stderr.strip()} ({APT_HINT})")
            tracks.append(relative)
        (playlists_dir / f"{name}.m3u").write_text("".join(t + "\n" for t in tracks))
        library[name] = tracks
    return library


NULL_OUTPUT = 'audio_output {\n  type "null"\n  name "null"\n  mixer_type "software"\n}\n'


class PrivateMPD:
    """``mpd --no-daemon`` on a Unix socket in a temporary folder, with a generated library unless given one.

    ``music_dir`` may be shared between servers (built once); the playlist folder is always this server's own
    copy, so a test may change playlists freely. ``audio_output`` (an mpd.conf ``audio_output {...}`` block)
    replaces the silent null output.
    """

    def __init__(self, root: str | Path | None = None, *, music_dir: str | Path | None = None,
                 playlists_dir: str | Path | None = None, tracks_per_mood: int = 3, track_seconds: float = 20.0,
                 start_timeout_s: float = 15.0, audio_output: str | None = None):
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="moodbox-mpd-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_path = str(self.root / "mpd.sock")
        self.conf_path = self.root / "mpd.conf"
        self.playlists_dir = self.root / "playlists"
        self.music_dir = Path(music_dir) if music_dir else self.root / "music"
        self.start_timeout_s = start_timeout_s
        self.audio_output = audio_output or NULL_OUTPUT
        self._process: subprocess.Popen | None = None
        self._log = None
        if music_dir is None:
            build_library(self.music_dir, self.playlists_dir, tracks_per_mood=tracks_per_mood,
                          seconds=track_seconds)
        elif playlists_dir is not None:
            shutil.copytree(playlists_dir, self.playlists_dir, dirs_exist_ok=True)
        self.playlists_dir.mkdir(exist_ok=True)
        self._write_conf()

    def _write_conf(self) -> None:
        self.conf_path.write_text(
            f'music_directory "{self.music_dir}"\n'
            f'playlist_directory "{self.playlists_dir}"\n'
            f'db_file "{self.root / "database"}"\n'
            f'state_file "{self.root / "state"}"\n'
            f'sticker_file "{self.root / "sticker.sql"}"\n'
            f'bind_to_address "{self.socket_path}"\n'
            'zeroconf_enabled "no"\n'
            'auto_update "no"\n'
            'log_level "default"\n'
            + self.audio_output
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> "PrivateMPD":
        """Start MPD and return once it answers and its database scan is done."""
        if self.running:
            return self
        mpd = _require("mpd")
        Path(self.socket_path).unlink(missing_ok=True)
        self._log = open(self.root / "mpd.log", "ab")
        self._process = subprocess.Popen([mpd, "--no-daemon", "--stderr", str(self.conf_path)],
                                         stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_end_with_parent)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._process.poll() is not None:
                raise MPDServerError(f"mpd exited with code {self._process.returncode} at start; its log: "
                                     f"{self.log_text()[-2000:]}")
            try:
                client = self.client(timeout_s=2.0)
            except OSError:
                client = None
            if client is not None:
                try:
                    self._wait_for_database(client, deadline)
                finally:
                    client.disconnect()
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise MPDServerError(f"mpd did not open {self.socket_path} within {self.start_timeout_s:g} s; "
                                     f"its log: {self.log_text()[-2000:]}")
            time.sleep(0.02)

    def _wait_for_database(self, client: MPDClient, deadline: float) -> None:
        expected = sum(1 for _ in self.music_dir.rglob("*.ogg"))
        asked_update = False
        while True:
            status = client.status()
            songs = int(client.stats().get("songs", 0))
            if "updating_db" not in status:
                if songs >= expected:
                    return
                if not asked_update:
                    client.update()
                    asked_update = True
            if time.monotonic() > deadline:
                raise MPDServerError(f"mpd scanned {songs} of {expected} tracks in {self.music_dir} "
                                     f"within {self.start_timeout_s:g} s")
            time.sleep(0.02)

    def client(self, timeout_s: float = 5.0) -> MPDClient:
        """A new connected python-mpd2 client (the caller disconnects it)."""
        client = MPDClient()
        client.timeout = timeout_s
        client.connect(self.socket_path)
        return client

    def stop(self) -> None:
        """Stop MPD gracefully (it saves its state file)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill MPD with SIGKILL, as a crash would."""
        self._end(signal.SIGKILL)

    def restart(self) -> "PrivateMPD":
        self.stop()
        return self.start()

    def _end(self, how: signal.Signals) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(how)
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        path = self.root / "mpd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop MPD and remove the temporary folder if this object made it."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PrivateMPD":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _end_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when its parent dies, even by SIGKILL, so a killed demo
    or test never leaves a private MPD behind."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise MPDServerError(f"'{program}' is not installed; {APT_HINT}")
    return path
