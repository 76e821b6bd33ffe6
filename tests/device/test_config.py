"""Config loading: defaults, the packaged reference file, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

import moodbox
from moodbox.config import DEFAULT_PLAYLISTS, Config, ConfigError, load_config
from moodbox.config_checks import ConfigNotFound, ConfigSyntaxError, ConfigUnreadable, ConfigValueError
from moodbox.errors import EXIT_CONFIG
from moodbox.names import EXPRESSIONS

REFERENCE = Path(moodbox.__file__).parent / "moodbox.toml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "moodbox.toml"
    path.write_text(text)
    return path


def test_packaged_reference_config_is_exactly_the_defaults():
    """The commented reference documents every key with its real default value."""
    assert load_config(REFERENCE) == Config()


def test_reference_config_mentions_every_key():
    text = REFERENCE.read_text()
    config = Config()
    for section in ("camera", "face", "model", "mood", "music", "mpd", "buttons", "state", "library"):
        assert f"[{section}]" in text
        for key in vars(getattr(config, section)):
            assert f"{key} =" in text or f"[{section}.{key}]" in text, f"moodbox.toml does not document {section}.{key}"


def test_empty_file_gives_defaults_with_sensible_playlists(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config.camera.interval_s == 1.0 and config.music.switch == "after_current"
    assert set(config.music.playlists) == set(EXPRESSIONS)
    assert config.music.playlists["happy"] == ("upbeat",) and config.music.playlists["neutral"] == ("everyday",)
    assert config.all_playlists() == ["calming", "calm", "upbeat", "everyday"]


def test_values_are_read_and_playlists_merge_with_defaults(tmp_path):
    config = load_config(write(tmp_path, """
[camera]
source = "/dev/video0"
size = [320, 240]
interval_s = 2
[mood]
window_s = 5
[music]
switch = "now"
[music.playlists]
happy = ["party", "upbeat", "party"]
sad = "blues"
[mpd]
host = "/run/mpd/socket"
[model]
path = "models/mine.tflite"
"""))
    assert config.camera.size == (320, 240) and config.camera.interval_s == 2.0
    assert isinstance(config.camera.interval_s, float)
    assert config.mood.window_s == 5.0 and config.music.switch == "now"
    assert config.music.playlists["happy"] == ("party", "upbeat")
    assert config.music.playlists["sad"] == ("blues",)
    assert config.music.playlists["angry"] == DEFAULT_PLAYLISTS["angry"]
    assert config.mpd.host == "/run/mpd/socket"
    assert config.model.path == str(tmp_path / "models" / "mine.tflite")


@pytest.mark.parametrize("text, message", [
    ("[mood]\nwindow_s = -5", "mood.window_s must be in 0.1..3600.0, got -5"),
    ("[mood]\nwindow_s = 'long'", "mood.window_s must be a number"),
    ("[mood]\nwindow_sec = 5", "unknown key mood.window_sec"),
    ("[moood]\nwindow_s = 5", "unknown key moood"),
    ("mood = 3", "[mood] must be a table"),
    ("[camera]\nsize = [640]", "camera.size must be [width, height]"),
    ("[camera]\ninterval_s = nan", "camera.interval_s must be a number"),
    ("[mpd]\nport = 70000", "mpd.port must be in 1..65535"),
    ("[mpd]\nport = 66.5", "mpd.port must be a whole number"),
    ("[buttons]\nenabled = 'yes'", "buttons.enabled must be true or false"),
    ("[buttons]\npress = 17", "buttons.press must be a table of BCM pin = action"),
    ("[buttons.press]\n60 = 'skip'", "buttons.press.60: the key must be a BCM pin number 0..53"),
    ("[buttons.hold]\n27 = 'dance'", "buttons.hold.27 must be one of 'skip', 'like', 'hold', 'pause'"),
    ("[music]\nswitch = 'later'", "music.switch must be one of 'after_current', 'now'"),
    ("[face]\nlistener = 'all'", "face.listener must be one of"),
    ("[music.playlists]\nhappi = 'x'", "unknown key music.playlists.happi"),
    ("[music.playlists]\nhappy = []", "music.playlists.happy must be a playlist name or a non-empty list"),
    ("[music.playlists]\nhappy = [1]", "music.playlists.happy must be a playlist name"),
    ("[state]\ndir = ''", "state.dir must be a non-empty string"),
    # values the parts refuse are refused here, so the daemon exits 2 with the key instead of a traceback
    ("[face]\nmin_score = 0.0", "face.min_score must be > 0.0 and < 1.0, got 0.0"),
    ("[face]\nmin_score = 1.0", "face.min_score must be > 0.0 and < 1.0, got 1.0"),
    ("[mood]\nmin_confidence = 1.0", "mood.min_confidence must be >= 0.0 and < 1.0, got 1.0"),
    ("[mood]\nhysteresis = 1.0", "mood.hysteresis must be >= 0.0 and < 1.0, got 1.0"),
    ("[mpd]\ntimeout_s = 30", "mpd.timeout_s must be in 0.1..10.0, got 30"),
    ("[buttons]\nhold_time_s = 0.1\ndebounce_s = 0.2",
     "buttons.hold_time_s (0.1) must be longer than buttons.debounce_s (0.2)"),
    ("[buttons]\nled_pin = 17", "buttons.led_pin and buttons.press.17 are both pin 17"),
])
def test_bad_values_name_file_key_and_expectation(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert isinstance(err.value, ConfigValueError) and err.value.path == str(path) and err.value.key in message


def test_values_at_the_accepted_ends_build_the_parts(tmp_path):
    """The other side of the range checks: what the config accepts, the parts accept."""
    from gpiozero.pins.mock import MockFactory

    from moodbox.frontends.buttons import Buttons
    from moodbox.perception.faces import FaceFinder
    from moodbox.perception.mood import MoodTracker

    config = load_config(write(tmp_path, "[face]\nmin_score = 0.999\n[mood]\nmin_confidence = 0.999\n"
                                         "hysteresis = 0.999\n[buttons]\nhold_time_s = 0.2\ndebounce_s = 0.19\n"))
    FaceFinder.from_config(config)
    MoodTracker.from_config(config, EXPRESSIONS)
    Buttons.from_config(config, on_action=print, pin_factory=MockFactory()).close()


def test_buttons_bind_pins_to_actions_for_press_and_hold(tmp_path):
    config = load_config(write(tmp_path, "[buttons.press]\n5 = 'like'\n6 = 'status'\n[buttons.hold]\n5 = 'pause'\n"))
    assert dict(config.buttons.press) == {5: "like", 6: "status"} and dict(config.buttons.hold) == {5: "pause"}
    assert dict(Config().buttons.press) == {17: "skip", 27: "like", 22: "pause"}


def test_model_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(write(tmp_path, "[model]\npath = '~/models/emotion.tflite'\n"))
    assert config.model.path == str(tmp_path / "home" / "models" / "emotion.tflite")


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "[mood]\nwindow_s = 5\nhysteresis = = 0.1\n")
    with pytest.raises(ConfigSyntaxError, match=r"invalid TOML: .*line 3") as err:
        load_config(path)
    assert (err.value.path, err.value.line, err.value.exit_code) == (str(path), 3, EXIT_CONFIG)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigNotFound, match="nothere.toml: config file not found") as err:
        load_config(tmp_path / "nothere.toml")
    assert err.value.path == str(tmp_path / "nothere.toml") and err.value.exit_code == EXIT_CONFIG


def test_systemd_directories_set_state_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/moodbox-test")
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/moodbox-test")
    config = load_config(write(tmp_path, ""))
    assert config.state.dir == "/var/lib/moodbox-test"
    assert config.state.control_socket == "/run/moodbox-test/control.sock"


@pytest.mark.parametrize("content, message, kind, line", [
    ("[camera]\nsource = 'caméra'\n".encode("latin-1"),
     r"not UTF-8 text \(line 2, byte 22 is 0xe9\): save it as UTF-8", ConfigUnreadable, 2),
    (b"x = " + b"[" * 2000 + b"]" * 2000 + b"\n", "invalid TOML: nested too deeply", ConfigSyntaxError, None),
    (b"x = " + b"{a = " * 1500 + b"1" + b"}" * 1500 + b"\n", "invalid TOML: nested too deeply", ConfigSyntaxError,
     None),
    (b"# " + b"x" * (300 * 1024) + b"\n", "larger than 256 KiB", ConfigUnreadable, None),
])
def test_unreadable_files_are_config_errors_naming_the_file(tmp_path, content, message, kind, line):
    """Defect 15: a non-UTF-8 or deeply nested file was a traceback and exit 1, not exit 2 naming the file."""
    path = tmp_path / "moodbox.toml"
    path.write_bytes(content)
    with pytest.raises(kind, match=rf"{path}: {message}") as err:
        load_config(path)
    assert (err.value.path, err.value.line) == (str(path), line)
    from moodbox.cli import main as cli_main
    assert cli_main(["run", "--config", str(path)]) == 2


def test_dev_zero_is_refused_without_reading_it_all():
    """Defect 15: `--config /dev/zero` grew the memory for ever."""
    with pytest.raises(ConfigError, match="/dev/zero: not a regular file"):
        load_config("/dev/zero")


def test_a_huge_string_is_refused_with_a_short_message(tmp_path):
    """Defect 15: a 10 MB camera.source was accepted, and logged in every line."""
    path = write(tmp_path, "[camera]\nsource = '" + "x" * 200_000 + "'\n")
    with pytest.raises(ConfigError, match="camera.source must be at most 1024 characters, got 200000") as err:
        load_config(path)
    assert len(str(err.value)) < 300
    path = write(tmp_path, "[music.playlists]\nhappy = ['" + "x" * 2000 + "']\n")
    with pytest.raises(ConfigError, match=r"music.playlists.happy must be .* at most 1024 characters") as err:
        load_config(path)
    assert len(str(err.value)) < 400


def test_library_rule_replaces_the_default_and_paths_resolve_next_to_the_file(tmp_path):
    config = load_config(write(tmp_path, """
[library]
prefix = ""
model_dir = "music-model"
[library.playlists]
party = "Q1"
quiet = ["Q3", "Q4", "Q3"]
"""))
    assert dict(config.library.playlists) == {"party": ("Q1",), "quiet": ("Q3", "Q4")}
    assert config.library.prefix == "" and config.library.model_dir == str(tmp_path / "music-model")
    assert load_config(write(tmp_path, "")).library.playlists["upbeat"] == ("Q1",)


@pytest.mark.parametrize("text, key", [
    ("[library.playlists]\nparty = [\"Q5\"]", "library.playlists.party"),
    ("[library.playlists]\nparty = []", "library.playlists.party"),
    ("[library]\nnice = 20", "library.nice"),
    ("[library]\nmax_tracks = 0", "library.max_tracks"),
])
def test_library_mistakes_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigValueError, match=key.replace(".", r"\.")) as err:
        load_config(write(tmp_path, text))
    assert err.value.key == key


def test_a_utf8_file_with_a_byte_order_mark_is_accepted(tmp_path):
    """Issue 25 item 12: a config saved with a BOM (Notepad) was refused as "Invalid statement (line 1, column 1)"."""
    path = tmp_path / "moodbox.toml"
    path.write_bytes("\ufeff[mood]\nwindow_s = 5\n".encode("utf-8"))
    assert load_config(path).mood.window_s == 5.0


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_fifo_or_device_as_config_is_refused_at_once_naming_it(tmp_path, kind):
    """Issue 25 item 12: `--config` naming a FIFO blocked for ever (and a device read on); now refused at once."""
    import os
    import subprocess
    import sys

    if kind == "fifo":
        path = tmp_path / "moodbox.toml"
        os.mkfifo(path)
    else:
        path = Path("/dev/null") if kind == "device" else tmp_path
    result = subprocess.run([sys.executable, "-m", "moodbox", "run", "--config", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert f"{path}: not a regular file (a FIFO, device or folder)" in result.stderr


def test_each_program_checks_its_own_sections_strictly_and_only_warns_about_the_others(tmp_path, caplog):
    """Issue 25 item 9: a bad key in [web] or [library] stopped the speaker (exit 2); a bad key in [mood] must
    still stop it, and the library scan must still refuse a bad [library] key."""
    from moodbox.config import DAEMON_SECTIONS
    from moodbox.frontends.library_cli import LIBRARY_SECTIONS

    path = write(tmp_path, "[web]\nport = 80\n[library]\nmax_tracks = 0\n[mood]\nwindow_s = 5\n")
    config = load_config(path, own=DAEMON_SECTIONS)
    assert config.mood.window_s == 5.0 and config.web.port == 8470 and config.library.max_tracks == 200
    assert "web.port must be in 1024..65535, got 80 (a key of [web], which this program does not use" in caplog.text
    assert "library.max_tracks" in caplog.text
    with pytest.raises(ConfigError, match="library.max_tracks must be"):
        load_config(path, own=LIBRARY_SECTIONS)
    with pytest.raises(ConfigError, match="web.port must be"):
        load_config(path, own=("web", "state"))
    bad_mood = write(tmp_path, "[web]\nport = 80\n[mood]\nwindow_s = -1\n")
    with pytest.raises(ConfigError, match="mood.window_s must be"):
        load_config(bad_mood, own=DAEMON_SECTIONS)
    typo = write(tmp_path, "[moood]\nwindow_s = 5\n")
    with pytest.raises(ConfigError, match="unknown key moood"):
        load_config(typo, own=DAEMON_SECTIONS)
