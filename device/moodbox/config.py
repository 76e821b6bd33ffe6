"""The daemon's configuration: one TOML file, one frozen dataclass per section.

Every key has a default, so an empty file is a valid config. Unknown keys, wrong types and out-of-range values
raise :class:`ConfigValueError` naming the file, the key (``mood.window_s``) and what was expected, so a typo never
starts a half-working daemon (the check of each value and the error classes: :mod:`moodbox.config_checks`).
``device/moodbox/moodbox.toml`` is the commented reference of every key.

>>> config = load_config(Path(__file__).with_name("moodbox.toml"))  # the reference: every default
>>> config.music.playlists["happy"]
('upbeat',)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from moodbox.config_checks import (ConfigError, ConfigValueError, check_value, describe, library_playlists, pin_actions,
                                   playlists, read_document, reject_unknown)
from moodbox.paths import shipped_model

log = logging.getLogger("moodbox.config")

DEFAULT_PATH = Path("/etc/moodbox/moodbox.toml")
DEFAULT_PLAYLISTS = MappingProxyType({
    "angry": ("calming",),
    "disgust": ("calm",),
    "fear": ("calming",),
    "happy": ("upbeat",),
    "sad": ("calm",),
    "surprise": ("upbeat",),
    "neutral": ("everyday",),
})
DEFAULT_PRESS = MappingProxyType({17: "skip", 27: "like", 22: "pause"})
DEFAULT_HOLD = MappingProxyType({27: "hold"})
DEFAULT_LIBRARY_PLAYLISTS = MappingProxyType({
    "upbeat": ("Q1",),
    "calm": ("Q3", "Q4"),
    "calming": ("Q4",),
    "everyday": ("Q1", "Q4"),
})


def _default_model_path() -> str:
    """The model shipped in the repository this package was installed from (editable install), else the one
    setup.sh installs beside the venv (``/opt/moodbox/venv`` -> ``/opt/moodbox/models``)."""
    return str(shipped_model("emotion.tflite"))


def _default_state_dir() -> str:
    return os.environ.get("STATE_DIRECTORY", "/var/lib/moodbox").split(":")[0]


def _default_control_socket() -> str:
    runtime = os.environ.get("RUNTIME_DIRECTORY", "/run/moodbox").split(":")[0]
    return str(Path(runtime) / "control.sock")


def _key(*, range: tuple[float | None, float | None] | None = None, exclusive: tuple[bool, bool] = (False, False),
         choices: tuple[str, ...] | None = None, default: Any = dataclasses.MISSING,
         default_factory: Any = dataclasses.MISSING) -> Any:
    """A config key with its allowed range (``None`` = unbounded; ends inclusive unless ``exclusive`` says
    otherwise) or its allowed words. The range is what the part using the key accepts, so a value that passes
    here never makes the part raise at start."""
    return field(default=default, default_factory=default_factory,
                 metadata={"range": range, "exclusive": exclusive, "choices": choices})


@dataclass(frozen=True)
class CameraConfig:
    source: str = "picamera"
    size: tuple[int, int] = (640, 480)
    interval_s: float = _key(default=1.0, range=(0.05, 3600.0))
    grab_timeout_s: float = _key(default=2.0, range=(0.1, 60.0))


@dataclass(frozen=True)
class FaceConfig:
    detector: str = _key(default="blazeface", choices=("blazeface", "haar"))
    listener: str = _key(default="largest", choices=("largest", "average"))
    min_score: float = _key(default=0.5, range=(0.0, 1.0), exclusive=(True, True))
    search_passes: float = _key(default=14.0, range=(1.0, 64.0))


@dataclass(frozen=True)
class ModelConfig:
    path: str = field(default_factory=_default_model_path)
    threads: int = _key(default=1, range=(1, 16))


@dataclass(frozen=True)
class MoodConfig:
    window_s: float = _key(default=20.0, range=(0.1, 3600.0))
    min_confidence: float = _key(default=0.4, range=(0.0, 1.0), exclusive=(False, True))
    hysteresis: float = _key(default=0.1, range=(0.0, 1.0), exclusive=(False, True))
    min_dwell_s: float = _key(default=30.0, range=(0.0, 86400.0))
    pause_after_absent_min: float = _key(default=0.0, range=(0.0, 1440.0))


@dataclass(frozen=True)
class MusicConfig:
    playlists: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_PLAYLISTS)
    policy: str = _key(default="match", choices=("match", "lift"))
    lift_step_min: float = _key(default=10.0, range=(0.5, 1440.0))
    switch: str = _key(default="after_current", choices=("after_current", "now"))
    shuffle: bool = True
    hold_minutes: float = _key(default=30.0, range=(0.0, 1440.0))
    explore: float = _key(default=0.05, range=(0.0, 1.0))
    half_life_days: float = _key(default=30.0, range=(0.1, 3650.0))
    hold_off_days: float = _key(default=7.0, range=(0.0, 3650.0))


@dataclass(frozen=True)
class MPDConfig:
    host: str = "localhost"
    port: int = _key(default=6600, range=(1, 65535))
    # At most 10 s: an MPD that accepts connections but never answers costs a tick about twice this (a command,
    # then the reconnect and retry), which must stay well inside the service's WatchdogSec=30.
    timeout_s: float = _key(default=10.0, range=(0.1, 10.0))


@dataclass(frozen=True)
class ButtonsConfig:
    enabled: bool = True
    press: Mapping[int, str] = field(default_factory=lambda: DEFAULT_PRESS)   # BCM pin -> action when pressed
    hold: Mapping[int, str] = field(default_factory=lambda: DEFAULT_HOLD)     # BCM pin -> action when held
    led_pin: int = _key(default=23, range=(0, 53))
    pull_up: bool = True
    hold_time_s: float = _key(default=1.5, range=(0.1, 30.0))
    debounce_s: float = _key(default=0.05, range=(0.0, 1.0))


@dataclass(frozen=True)
class StateConfig:
    dir: str = field(default_factory=_default_state_dir)
    control_socket: str = field(default_factory=_default_control_socket)
    history_days: float = _key(default=365.0, range=(1.0, 36500.0))  # raw events kept; older ones are compacted


def default_music_model_dir() -> str:
    """The music tagger's model folder: the checkout's ``models/music`` (editable install), else the one setup.sh
    installs beside the venv (``/opt/moodbox/models/music``)."""
    return str(shipped_model("music", marker="mood.json"))


@dataclass(frozen=True)
class LibraryConfig:
    music_dir: str = field(default="", metadata={"allow_empty": True})
    model_dir: str = field(default_factory=default_music_model_dir)
    playlists: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_LIBRARY_PLAYLISTS)
    prefix: str = field(default="auto-", metadata={"allow_empty": True})
    overwrite_owner_playlists: bool = False
    max_tracks: int = _key(default=200, range=(1, 100000))
    nice: int = _key(default=10, range=(0, 19))
    threads: int = _key(default=1, range=(1, 16))


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = False  # the phone page is opt-in: `moodbox web` refuses to serve while this is false
    address: str = "0.0.0.0"
    port: int = _key(default=8470, range=(1024, 65535))  # no privileged ports: the web unit has no capabilities
    token_file: str = "/etc/moodbox/web.token"
    state_dir: str = "/var/lib/moodbox-web"  # the paired phones' sessions (the unit's StateDirectory)


@dataclass(frozen=True)
class Config:
    camera: CameraConfig = field(default_factory=CameraConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    mood: MoodConfig = field(default_factory=MoodConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    mpd: MPDConfig = field(default_factory=MPDConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
    state: StateConfig = field(default_factory=StateConfig)
    library: LibraryConfig = field(default_factory=LibraryConfig)
    web: WebConfig = field(default_factory=WebConfig)
    source_path: str | None = field(default=None, compare=False)

    def all_playlists(self) -> list[str]:
        """Every playlist name the config refers to, once each, in config order."""
        return list(dict.fromkeys(name for names in self.music.playlists.values() for name in names))


DAEMON_SECTIONS = ("camera", "face", "model", "mood", "music", "mpd", "buttons", "state")
"""The sections ``moodbox run`` uses; the library scan and the phone page name theirs where they load the file."""


def load_config(path: str | os.PathLike, *, own: tuple[str, ...] | None = None) -> Config:
    """Read and validate a config file; raise :class:`ConfigError` naming the file and the key on any problem.

    With ``own`` (the sections the calling program uses) only a problem in those sections (or a file that cannot
    be read, or an unknown section) is an error; a bad key in another program's section is logged as a warning
    and keeps its default, so that a typo in ``[web]`` never stops the speaker."""
    path = Path(path)
    if own is None:
        return _resolve_paths(config_from_dict(read_document(path), source=str(path)), path)
    config, problems = _load_each_key(path, read_document(path))
    mine = [error for section, error in problems if section is None or section in own]
    if mine:
        raise mine[0]
    for section, error in problems:
        log.warning("%s (a key of [%s], which this program does not use: ignored here)", error, section)
    return config


def load_config_leniently(path: str | os.PathLike) -> tuple[Config, list[ConfigError]]:
    """``(config, errors)``: like load_config, but a bad key (or section) keeps its default and is listed in
    ``errors`` instead of failing the whole file. For the doctor and the CLI, which must see past one typo; the
    daemon uses load_config and refuses to start."""
    path = Path(path)
    try:
        document = read_document(path)
    except ConfigError as err:
        return Config(source_path=str(path)), [err]
    config, problems = _load_each_key(path, document)
    return config, [error for _, error in problems]


def _load_each_key(path: Path, document: dict) -> tuple[Config, list[tuple[str | None, ConfigError]]]:
    """The config with every bad key at its default, and ``(section, error)`` for each (section None: the
    problem is the file's, e.g. an unknown section)."""
    source = str(path)
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name != "source_path"}
    errors: list[tuple[str | None, ConfigError]] = []
    for name in document:
        if name not in sections:
            errors.append((None, ConfigValueError(f"{source}: unknown key {name} (known keys: {', '.join(sections)})",
                                                  path=source, key=name)))
    values: dict[str, Any] = {}
    for name, section_field in sections.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            errors.append((name, _not_a_table(source, name, table)))
            continue
        good = {}
        for key, value in table.items():
            try:
                _build_section(section_field.default_factory, {key: value}, source, name)
                good[key] = value
            except ConfigError as err:
                errors.append((name, err))
        values[name] = _build_section(section_field.default_factory, good, source, name)
    config = Config(**values, source_path=source)
    try:
        _check_across_keys(config, source)
    except ConfigError as err:
        errors.append(("buttons", err))
    return _resolve_paths(config, path), errors


def _not_a_table(source: str, name: str, value: Any) -> ConfigValueError:
    return ConfigValueError(f"{source}: [{name}] must be a table (a [{name}] section), got {describe(value)}",
                            path=source, key=name)


def _resolve_paths(config: Config, path: Path) -> Config:
    model_path = Path(config.model.path).expanduser()
    if not model_path.is_absolute():  # relative paths are relative to the config file, not to the working dir
        model_path = (path.parent / model_path).resolve()
    library_models = Path(config.library.model_dir).expanduser()
    if not library_models.is_absolute():
        library_models = (path.parent / library_models).resolve()
    return dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model_path)),
                               library=dataclasses.replace(config.library, model_dir=str(library_models)))


def config_from_dict(document: Mapping[str, Any], *, source: str = "<config>") -> Config:
    """Validate an already parsed document (a TOML table) into a :class:`Config`."""
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name != "source_path"}
    reject_unknown(document, sections, source, prefix="")
    values: dict[str, Any] = {}
    for name, section_field in sections.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            raise _not_a_table(source, name, table)
        values[name] = _build_section(section_field.default_factory, table, source, name)
    config = Config(**values, source_path=source)
    _check_across_keys(config, source)
    return config


def _check_across_keys(config: Config, source: str) -> None:
    """Rules that tie keys together (each key alone already passed its own check)."""
    buttons = config.buttons
    if buttons.hold_time_s <= buttons.debounce_s:
        raise ConfigValueError(f"{source}: buttons.hold_time_s ({buttons.hold_time_s}) must be longer than "
                               f"buttons.debounce_s ({buttons.debounce_s})", path=source, key="buttons.hold_time_s")
    for table in ("press", "hold"):
        if buttons.led_pin in getattr(buttons, table):
            raise ConfigValueError(f"{source}: buttons.led_pin and buttons.{table}.{buttons.led_pin} are both pin "
                                   f"{buttons.led_pin}: the LED needs its own pin", path=source, key="buttons.led_pin")


def _build_section(cls: type, table: Mapping[str, Any], source: str, section: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    reject_unknown(table, fields, source, prefix=f"{section}.")
    values = {}
    for name, value in table.items():
        key = f"{section}.{name}"
        if section == "music" and name == "playlists":
            values[name] = playlists(value, source, key, DEFAULT_PLAYLISTS)
        elif section == "buttons" and name in ("press", "hold"):
            values[name] = pin_actions(value, source, key)
        elif section == "library" and name == "playlists":
            values[name] = library_playlists(value, source, key)
        else:
            values[name] = check_value(fields[name], value, source, key)
    return cls(**values)
