"""The daemon's configuration: one TOML file, one frozen dataclass per section.

Every key has a default, so an empty file is a valid config. Unknown keys, wrong types and out-of-range values raise
:class:`ConfigError` naming the file, the key (``mood.window_s``) and what was expected, so a typo never starts a
half-working daemon. ``device/moodbox/moodbox.toml`` is the commented reference of every key.

>>> config = load_config(Path(__file__).with_name("moodbox.toml"))  # the reference: every default
>>> config.music.playlists["happy"]
('upbeat',)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from moodbox.errors import MoodboxError
from moodbox.names import ACTION_INFO, EXPRESSIONS, QUADRANTS
from moodbox.paths import shipped_model

if sys.version_info >= (3, 11):
    import tomllib
else:  # Jetson's Python 3.10
    import tomli as tomllib

log = logging.getLogger("moodbox.config")

DEFAULT_PATH = Path("/etc/moodbox/moodbox.toml")
MAX_CONFIG_BYTES = 256 * 1024  # the commented reference is about 8 KB; /dev/zero must not fill the memory
MAX_STRING_CHARS = 1024        # a path, a camera source, a playlist name: longer is a mistake (and every log line)
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


class ConfigError(MoodboxError):
    """A config file that cannot be used; the message names the file and the key to fix."""


class ConfigNotFound(ConfigError):
    """There is no config file at the path given."""


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
        return _resolve_paths(config_from_dict(_read_document(path), source=str(path)), path)
    config, problems = _load_each_key(path, _read_document(path))
    mine = [message for section, message in problems if section is None or section in own]
    if mine:
        raise ConfigError(mine[0])
    for section, message in problems:
        log.warning("%s (a key of [%s], which this program does not use: ignored here)", message, section)
    return config


def load_config_leniently(path: str | os.PathLike) -> tuple[Config, list[str]]:
    """``(config, errors)``: like load_config, but a bad key (or section) keeps its default and is listed in
    ``errors`` instead of failing the whole file. For the doctor and the CLI, which must see past one typo; the
    daemon uses load_config and refuses to start."""
    path = Path(path)
    try:
        document = _read_document(path)
    except ConfigError as err:
        return Config(source_path=str(path)), [str(err)]
    config, problems = _load_each_key(path, document)
    return config, [message for _, message in problems]


def _load_each_key(path: Path, document: dict) -> tuple[Config, list[tuple[str | None, str]]]:
    """The config with every bad key at its default, and ``(section, error)`` for each (section None: the
    problem is the file's, e.g. an unknown section)."""
    source = str(path)
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name != "source_path"}
    errors: list[tuple[str | None, str]] = []
    for name in document:
        if name not in sections:
            errors.append((None, f"{source}: unknown key {name} (known keys: {', '.join(sections)})"))
    values: dict[str, Any] = {}
    for name, section_field in sections.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            errors.append((name, f"{source}: [{name}] must be a table (a [{name}] section), got {_describe(table)}"))
            continue
        good = {}
        for key, value in table.items():
            try:
                _build_section(section_field.default_factory, {key: value}, source, name)
                good[key] = value
            except ConfigError as err:
                errors.append((name, str(err)))
        values[name] = _build_section(section_field.default_factory, good, source, name)
    config = Config(**values, source_path=source)
    try:
        _check_across_keys(config, source)
    except ConfigError as err:
        errors.append(("buttons", str(err)))
    return _resolve_paths(config, path), errors


def _read_document(path: Path) -> dict:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would block the read, or never end
            raise ConfigError(f"{path}: not a regular file (a FIFO, device or folder): give --config the path "
                              "of a moodbox.toml file")
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB: not a moodbox config file")
        document = tomllib.loads(data.decode("utf-8-sig"))  # editors on Windows start UTF-8 with a BOM
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (line {line}, byte {err.start} is {data[err.start]:#04x}): "
                          "save it as UTF-8") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    except FileNotFoundError:
        raise ConfigNotFound(f"{path}: config file not found (pass --config PATH, or copy the example "
                              f"from the moodbox package's moodbox.toml)") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    return document


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
    _reject_unknown(document, sections, source, prefix="")
    values: dict[str, Any] = {}
    for name, section_field in sections.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table (a [{name}] section), got {_describe(table)}")
        values[name] = _build_section(section_field.default_factory, table, source, name)
    config = Config(**values, source_path=source)
    _check_across_keys(config, source)
    return config


def _check_across_keys(config: Config, source: str) -> None:
    """Rules that tie keys together (each key alone already passed its own check)."""
    buttons = config.buttons
    if buttons.hold_time_s <= buttons.debounce_s:
        raise ConfigError(f"{source}: buttons.hold_time_s ({buttons.hold_time_s}) must be longer than "
                          f"buttons.debounce_s ({buttons.debounce_s})")
    for table in ("press", "hold"):
        if buttons.led_pin in getattr(buttons, table):
            raise ConfigError(f"{source}: buttons.led_pin and buttons.{table}.{buttons.led_pin} are both pin "
                              f"{buttons.led_pin}: the LED needs its own pin")


def _build_section(cls: type, table: Mapping[str, Any], source: str, section: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(table, fields, source, prefix=f"{section}.")
    values = {}
    for name, value in table.items():
        key = f"{section}.{name}"
        if section == "music" and name == "playlists":
            values[name] = _playlists(value, source, key)
        elif section == "buttons" and name in ("press", "hold"):
            values[name] = _pin_actions(value, source, key)
        elif section == "library" and name == "playlists":
            values[name] = _library_playlists(value, source, key)
        else:
            values[name] = _check_value(fields[name], value, source, key)
    return cls(**values)


def _reject_unknown(table: Mapping[str, Any], known: Mapping[str, Any], source: str, prefix: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigError(f"{source}: unknown key {prefix}{name} (known keys: "
                              f"{', '.join(prefix + k for k in known)})")


def _check_value(spec: dataclasses.Field, value: Any, source: str, key: str) -> Any:
    kind = spec.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {_describe(value)}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not (value or spec.metadata.get("allow_empty")):
            raise ConfigError(f"{source}: {key} must be a non-empty string, got {_describe(value)}")
        if len(value) > MAX_STRING_CHARS:
            raise ConfigError(f"{source}: {key} must be at most {MAX_STRING_CHARS} characters, got {len(value)}")
        choices = spec.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{source}: {key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if kind in ("int", "float"):
        whole = kind == "int"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
                or (not whole and not math.isfinite(value)):
            expected = "a whole number" if whole else "a number"
            raise ConfigError(f"{source}: {key} must be {expected}{_range_text(spec)}, got {_describe(value)}")
        low, high = spec.metadata.get("range") or (None, None)
        open_low, open_high = spec.metadata.get("exclusive", (False, False))
        if (low is not None and (value <= low if open_low else value < low)) \
                or (high is not None and (value >= high if open_high else value > high)):
            raise ConfigError(f"{source}: {key} must be{_range_text(spec)}, got {value!r}")
        return value if whole else float(value)
    if kind == "tuple[int, int]":
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 8192 for v in value)):
            raise ConfigError(f"{source}: {key} must be [width, height] in pixels (16..8192 each), "
                              f"got {_describe(value)}")
        return (value[0], value[1])
    raise AssertionError(f"no validator for {key} of type {kind}")


def _playlists(value: Any, source: str, key: str) -> Mapping[str, tuple[str, ...]]:
    """``music.playlists``: expression -> playlist name or list of names; unnamed expressions keep the defaults."""
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {key} must be a table mapping expressions to playlist names, "
                          f"got {_describe(value)}")
    playlists = dict(DEFAULT_PLAYLISTS)
    for expression, names in value.items():
        if expression not in EXPRESSIONS:
            raise ConfigError(f"{source}: unknown key {key}.{expression} (expressions: {', '.join(EXPRESSIONS)})")
        if isinstance(names, str):
            names = [names]
        if not (isinstance(names, list) and names
                and all(isinstance(n, str) and 0 < len(n) <= MAX_STRING_CHARS for n in names)):
            raise ConfigError(f"{source}: {key}.{expression} must be a playlist name or a non-empty list of "
                              f"names of at most {MAX_STRING_CHARS} characters, got {_describe(names)}")
        playlists[expression] = tuple(dict.fromkeys(names))
    return MappingProxyType(playlists)


def _pin_actions(value: Any, source: str, key: str) -> Mapping[int, str]:
    """``buttons.press`` / ``buttons.hold``: BCM pin (0..53) -> action name; the table replaces the default one."""
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {key} must be a table of BCM pin = action, e.g. 17 = \"skip\", "
                          f"got {_describe(value)}")
    actions = {}
    for pin, action in value.items():
        if not (pin.isdigit() and 0 <= int(pin) <= 53):
            raise ConfigError(f"{source}: {key}.{pin}: the key must be a BCM pin number 0..53")
        if action not in ACTION_INFO:
            raise ConfigError(f"{source}: {key}.{pin} must be one of {', '.join(map(repr, ACTION_INFO))}, "
                              f"got {_describe(action)}")
        actions[int(pin)] = action
    return MappingProxyType(actions)


def _library_playlists(value: Any, source: str, key: str) -> Mapping[str, tuple[str, ...]]:
    """``library.playlists``: playlist name -> the quadrants whose tracks fill it; it replaces the default rule."""
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{source}: {key} must be a table mapping playlist names to lists of quadrants "
                          f"(Q1..Q4), got {_describe(value)}")
    playlists = {}
    for name, quadrants in value.items():
        if len(name) > MAX_STRING_CHARS:
            raise ConfigError(f"{source}: {key} names a playlist of {len(name)} characters: at most "
                              f"{MAX_STRING_CHARS}")
        if isinstance(quadrants, str):
            quadrants = [quadrants]
        if not (isinstance(quadrants, list) and quadrants and all(q in QUADRANTS for q in quadrants)):
            raise ConfigError(f"{source}: {key}.{name} must be a quadrant or a list of quadrants "
                              f"({', '.join(QUADRANTS)}), got {_describe(quadrants)}")
        playlists[name] = tuple(dict.fromkeys(quadrants))
    return MappingProxyType(playlists)


def _range_text(spec: dataclasses.Field) -> str:
    low, high = spec.metadata.get("range") or (None, None)
    open_low, open_high = spec.metadata.get("exclusive", (False, False))
    if low is not None and high is not None and not (open_low or open_high):
        return f" in {low}..{high}"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if open_low else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if open_high else '<='} {high}")
    return " " + " and ".join(bounds) if bounds else ""


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:80] + '...'}"
