"""``moodbox bundle``: a support archive with the box's state and errors, and without the listener's moods and songs
unless asked (a real daemon with a real MPD produces the journal lines and the status it redacts)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tarfile
from pathlib import Path

from moodbox.frontends.bundle import Redactor
from moodbox.config import load_config
from moodbox.music.policy import MusicPolicy

from device_support import FakeClock
from test_daemon import make_daemon

PRIVATE = ("happy", "upbeat", "Upbeat", "Everyday", ".ogg", "everyday")


def bundle_files(tmp_path, config_path, *options) -> dict[str, str]:
    out = tmp_path / f"out{len(options)}"
    result = subprocess.run([sys.executable, "-m", "moodbox", "bundle", "--config", str(config_path), "--output",
                             str(out), *options], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Moods, expressions, song titles" in result.stdout or "--include-history" in " ".join(options)
    (archive_path,) = out.glob("moodbox-support-*.tar.gz")
    with tarfile.open(archive_path) as archive:
        return {Path(m.name).name: archive.extractfile(m).read().decode() for m in archive.getmembers() if m.isfile()}


def test_the_bundle_holds_no_mood_diary_unless_asked(make_config_file, mpd_server, tmp_path, caplog):
    """Issue 25 item 5: the bundle promised "no listening history" but copied the status (mood, expressions,
    track), the journal's "mood X: switching to ..." and "now playing ..." lines and MPD's "played" lines."""
    caplog.set_level(logging.INFO)
    config_path = make_config_file(mood={"window_s": 3.0})
    clock = FakeClock()
    daemon, _ = make_daemon(config_path, clock=clock)
    daemon.start()
    try:
        for _ in range(5):
            daemon.tick()
            clock.advance(1.0)
        daemon.handle_action("like")
        journal = caplog.text + 'Dec 06 20:01:02 box mpd[612]: player: played "upbeat/upbeat-01.ogg"\n'
        status = daemon.handle_action("status")
        assert status["mood"] == "happy" and "now playing moodbox upbeat - Upbeat " in journal
        config = load_config(config_path)
        redactor = Redactor(MusicPolicy.from_config(config).available.wanted())
        redacted = redactor.text(journal)
        for word in PRIVATE:
            assert word not in redacted, word
        assert "switching to [playlist]" in redacted and "now playing [song] from playlist [playlist]" in redacted
        assert 'player: played "[song]"' in redacted and "Dec 06 20:01:02" in redacted  # times are kept
        assert set(redactor.status(status)) <= {"status", "problems", "camera", "face_in_view", "mpd", "held_for_s",
                                                "state", "volume", "store", "expression_age_s", "warnings"}

        files = bundle_files(tmp_path, config_path)
        assert json.loads(files["status.json"])["status"] == "ok" and "happy" not in files["status.json"]
        assert "moodbox doctor" in files["doctor.txt"] and "Never in it: camera frames" in files["README.txt"]
        for name, text in files.items():
            if name != "moodbox.toml":
                assert not any(word in text for word in PRIVATE), (name, text)
        kept = bundle_files(tmp_path, config_path, "--include-history")
        assert json.loads(kept["status.json"])["mood"] == "happy"
    finally:
        daemon.close()
