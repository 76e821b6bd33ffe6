"""The phone page: what it shows of the box's status (:func:`view`, the one renderer: the server's first paint and
the page's script both show exactly this), its templates (Jinja2, autoescaping), and its manifest and icons.
The page's files (templates, script, style) are in ``webpage/``; :mod:`moodbox.frontends.web` serves them.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from moodbox.frontends.history import clock_text
from moodbox.names import ACTION_INFO

PAGE_DIR = Path(__file__).with_name("webpage")
ICON_SIZES = (192, 512)
FACE_TEXT = {True: "in view", False: "not in view", None: "unknown (camera off)"}
BUTTONS = tuple(info.name for info in ACTION_INFO.values() if info.button)  # what the page offers, in order


def view(status: dict) -> dict:
    """How the page shows ``status``: its lines and each button's label and state. The server's first paint and
    the page's script (every refresh) both show exactly this, so the wording lives here only."""
    if not status.get("ok"):
        return {"problem": True, "mood": status.get("error") or "no answer from the box", "mood_class": "problem",
                "face": "", "song": "", "progress": "", "box": "", "buttons": {}}
    text = lambda value: "-" if value is None else str(value)  # noqa: E731
    paused = status.get("camera") == "paused"
    held_s = status.get("held_for_s") or 0
    seen = " · ".join(f"{label} {p:.0%}" for label, p in (status.get("expressions") or {}).items()) or "-"
    if paused:
        mood, mood_class, face = "camera paused", "mood paused", "face: camera paused (privacy)"
    else:
        confidence = f" {status['mood_confidence']:.0%}" if status.get("mood") and status.get("mood_confidence") else ""
        mood = (status.get("mood") or "not known yet") + confidence
        mood_class = f"mood {status.get('mood') or 'unknown'}"
        face = f"face {FACE_TEXT[status.get('face_in_view')]} · sees {seen}"
    playing = status.get("state") in ("play", "pause") and status.get("now_playing") is not None
    return {
        "problem": False, "mood": mood, "mood_class": mood_class, "face": face,
        "song": f"{text(status.get('playlist'))}: {text(status.get('now_playing'))}",
        "progress": f"{clock_text(status.get('elapsed_s'))} / {clock_text(status.get('duration_s'))} · "
                    f"{text(status.get('state'))} · volume {text(status.get('volume'))}",
        "box": f"{text(status.get('status'))} · camera {text(status.get('camera'))} · MPD {text(status.get('mpd'))}"
               f" · problems: {'; '.join(status.get('problems') or []) or 'none'}",
        "buttons": {name: _button(name, status, playing, paused, held_s) for name in BUTTONS}}


def _button(name: str, status: dict, playing: bool, paused: bool, held_s: float) -> dict:
    """A button's label (what it does now) and state; the stateless ones keep their name from ACTION_INFO."""
    label, pressed = ACTION_INFO[name].button, False
    if name == "hold" and held_s:
        label, pressed = f"Release ({_minutes(held_s)} left)", True
    elif name == "pause" and paused:
        label, pressed = "Resume camera", True
    disabled = (name in ("skip", "like") and not playing) or (name in ("quieter", "louder")
                                                               and status.get("volume") is None)
    return {"label": label, "disabled": disabled, "pressed": pressed}


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min" if seconds >= 60 else f"{int(seconds)} s"


@lru_cache(maxsize=None)
def icon_png(size: int) -> bytes:
    """The home-screen icon, drawn here: a round face in the page's colours on a dark square."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "#1f2a44")
    draw = ImageDraw.Draw(image)
    unit = size / 16
    draw.ellipse([3 * unit, 3 * unit, 13 * unit, 13 * unit], fill="#f2c230")
    for x in (6.2, 9.8):
        draw.ellipse([(x - 0.7) * unit, 6.3 * unit, (x + 0.7) * unit, 7.7 * unit], fill="#1f2a44")
    draw.arc([5.5 * unit, 6.5 * unit, 10.5 * unit, 11 * unit], 20, 160, fill="#1f2a44", width=max(1, int(unit)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def manifest() -> dict:
    return {"name": "moodbox", "short_name": "moodbox", "description": "What the box sees and plays; steer it",
            "start_url": "/", "scope": "/", "display": "standalone", "background_color": "#fafafa",
            "theme_color": "#1f2a44",
            "icons": [{"src": f"/icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png",
                       "purpose": "any"} for size in ICON_SIZES]}


@lru_cache(maxsize=None)
def templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(PAGE_DIR), autoescape=True, undefined=StrictUndefined)
