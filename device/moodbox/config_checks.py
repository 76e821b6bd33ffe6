"""How each config value is checked, and the typed errors a config file raises.

Every error names the file and, where known, the key (``mood.window_s``) and the line; callers tell the cases
apart by class, never by message text, and all of them exit with ``EXIT_CONFIG``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import stat
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from moodbox.errors import EXIT_CONFIG, MoodboxError
from moodbox.names import ACTION_INFO, EXPRESSIONS, QUADRANTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # Jetson's Python 3.10
    import tomli as tomllib

MAX_CONFIG_BYTES = 256 * 1024  # the commented reference is about 8 KB; /dev/zero must not fill the memory
MAX_STRING_CHARS = 1024        # a path, a camera source, a playlist name: longer is a mistake (and every log line)


class ConfigError(MoodboxError):
    """A config file that cannot be used; the message names the file and the key to fix."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None, line: int | None = None):
        super().__init__(message)
        self.path, self.key, self.line = path, key, line


class ConfigNotFound(ConfigError):
    """There is no config file at the path given."""


class ConfigUnreadable(ConfigError):
    """The file cannot be read as text: no permission, too large, not UTF-8 (``line`` says where)."""


class ConfigSyntaxError(ConfigError):
    """The file is not valid TOML; ``line`` is where the parser stopped (None when it cannot say)."""


class ConfigValueError(ConfigError):
    """A key that is unknown, of the wrong type or out of range, or two keys that disagree; ``key`` names it
    (a section's name for a section that is not a table)."""


def reject_unknown(table: Mapping[str, Any], known: Mapping[str, Any], source: str, prefix: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigValueError(f"{source}: unknown key {prefix}{name} (known keys: "
                                   f"{', '.join(prefix + k for k in known)})", path=source, key=prefix + name)


def check_value(spec: dataclasses.Field, value: Any, source: str, key: str) -> Any:
    """``value`` as the section's field ``spec`` takes it (a float for an int in a float key), or ConfigValueError."""
    def bad(text: str) -> ConfigValueError:
        return ConfigValueError(f"{source}: {key} {text}", path=source, key=key)

    kind = spec.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad(f"must be true or false, got {describe(value)}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not (value or spec.metadata.get("allow_empty")):
            raise bad(f"must be a non-empty string, got {describe(value)}")
        if len(value) > MAX_STRING_CHARS:
            raise bad(f"must be at most {MAX_STRING_CHARS} characters, got {len(value)}")
        choices = spec.metadata.get("choices")
        if choices and value not in choices:
            raise bad(f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if kind in ("int", "float"):
        whole = kind == "int"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
                or (not whole and not math.isfinite(value)):
            expected = "a whole number" if whole else "a number"
            raise bad(f"must be {expected}{_range_text(spec)}, got {describe(value)}")
        low, high = spec.metadata.get("range") or (None, None)
        open_low, open_high = spec.metadata.get("exclusive", (False, False))
        if (low is not None and (value <= low if open_low else value < low)) \
                or (high is not None and (value >= high if open_high else value > high)):
            raise bad(f"must be{_range_text(spec)}, got {value!r}")
        return value if whole else float(value)
    if kind == "tuple[int, int]":
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 8192 for v in value)):
            raise bad(f"must be [width, height] in pixels (16..8192 each), got {describe(value)}")
        return (value[0], value[1])
    raise AssertionError(f"no validator for {key} of type {kind}")


def playlists(value: Any, source: str, key: str,
              defaults: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    """``music.playlists``: expression -> playlist name or list of names; unnamed expressions keep ``defaults``."""
    if not isinstance(value, dict):
        raise ConfigValueError(f"{source}: {key} must be a table mapping expressions to playlist names, "
                               f"got {describe(value)}", path=source, key=key)
    chosen = dict(defaults)
    for expression, names in value.items():
        if expression not in EXPRESSIONS:
            raise ConfigValueError(f"{source}: unknown key {key}.{expression} (expressions: "
                                   f"{', '.join(EXPRESSIONS)})", path=source, key=f"{key}.{expression}")
        if isinstance(names, str):
            names = [names]
        if not (isinstance(names, list) and names
                and all(isinstance(n, str) and 0 < len(n) <= MAX_STRING_CHARS for n in names)):
            raise ConfigValueError(f"{source}: {key}.{expression} must be a playlist name or a non-empty list of "
                                   f"names of at most {MAX_STRING_CHARS} characters, got {describe(names)}",
                                   path=source, key=f"{key}.{expression}")
        chosen[expression] = tuple(dict.fromkeys(names))
    return MappingProxyType(chosen)


def pin_actions(value: Any, source: str, key: str) -> Mapping[int, str]:
    """``buttons.press`` / ``buttons.hold``: BCM pin (0..53) -> action name; the table replaces the default one."""
    if not isinstance(value, dict):
        raise ConfigValueError(f"{source}: {key} must be a table of BCM pin = action, e.g. 17 = \"skip\", "
                               f"got {describe(value)}", path=source, key=key)
    actions = {}
    for pin, action in value.items():
        if not (pin.isdigit() and 0 <= int(pin) <= 53):
            raise ConfigValueError(f"{source}: {key}.{pin}: the key must be a BCM pin number 0..53",
                                   path=source, key=f"{key}.{pin}")
        if action not in ACTION_INFO:
            raise ConfigValueError(f"{source}: {key}.{pin} must be one of {', '.join(map(repr, ACTION_INFO))}, "
                                   f"got {describe(action)}", path=source, key=f"{key}.{pin}")
        actions[int(pin)] = action
    return MappingProxyType(actions)


def library_playlists(value: Any, source: str, key: str) -> Mapping[str, tuple[str, ...]]:
    """``library.playlists``: playlist name -> the quadrants whose tracks fill it; it replaces the default rule."""
    if not isinstance(value, dict) or not value:
        raise ConfigValueError(f"{source}: {key} must be a table mapping playlist names to lists of quadrants "
                               f"(Q1..Q4), got {describe(value)}", path=source, key=key)
    chosen = {}
    for name, quadrants in value.items():
        if len(name) > MAX_STRING_CHARS:
            raise ConfigValueError(f"{source}: {key} names a playlist of {len(name)} characters: at most "
                                   f"{MAX_STRING_CHARS}", path=source, key=key)
        if isinstance(quadrants, str):
            quadrants = [quadrants]
        if not (isinstance(quadrants, list) and quadrants and all(q in QUADRANTS for q in quadrants)):
            raise ConfigValueError(f"{source}: {key}.{name} must be a quadrant or a list of quadrants "
                                   f"({', '.join(QUADRANTS)}), got {describe(quadrants)}",
                                   path=source, key=f"{key}.{name}")
        chosen[name] = tuple(dict.fromkeys(quadrants))
    return MappingProxyType(chosen)


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


def describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:80] + '...'}"


def read_document(path: Path) -> dict:
    """The TOML document of the config file ``path``, or the typed error that says why it cannot be used."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would block the read, or never end
            raise ConfigUnreadable(f"{path}: not a regular file (a FIFO, device or folder): give --config the path "
                                   "of a moodbox.toml file", path=str(path))
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigUnreadable(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB: not a moodbox config file",
                                   path=str(path))
        document = tomllib.loads(data.decode("utf-8-sig"))  # editors on Windows start UTF-8 with a BOM
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ConfigUnreadable(f"{path}: not UTF-8 text (line {line}, byte {err.start} is {data[err.start]:#04x}): "
                               "save it as UTF-8", path=str(path), line=line) from None
    except RecursionError:
        raise ConfigSyntaxError(f"{path}: invalid TOML: nested too deeply", path=str(path)) from None
    except FileNotFoundError:
        raise ConfigNotFound(f"{path}: config file not found (pass --config PATH, or copy the example "
                             f"from the moodbox package's moodbox.toml)", path=str(path)) from None
    except OSError as err:
        raise ConfigUnreadable(f"{path}: cannot read config file: {err.strerror}", path=str(path)) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigSyntaxError(f"{path}: invalid TOML: {err}", path=str(path), line=_error_line(err)) from None
    return document


def _error_line(err: tomllib.TOMLDecodeError) -> int | None:
    """The line the TOML parser stopped at (its attribute since Python 3.14, in its message before)."""
    if getattr(err, "lineno", None):
        return err.lineno
    found = re.search(r"at line (\d+)", str(err))
    return int(found.group(1)) if found else None
