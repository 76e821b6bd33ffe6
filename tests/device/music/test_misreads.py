"""Misread moods: the stand-in mood for a run of skips of wanted music, from the model's recorded mistakes."""

from __future__ import annotations

from moodbox.config import ModelConfig
from moodbox.music.misreads import Misreads
from moodbox.names import EXPRESSIONS


def test_the_shipped_model_names_a_stand_in_for_every_mood():
    misreads = Misreads.of_model(ModelConfig().path)
    assert set(misreads.confused_with) == set(EXPRESSIONS)
    assert all(misreads.confused_with[mood] in EXPRESSIONS and misreads.confused_with[mood] != mood
               for mood in EXPRESSIONS)


def test_a_stand_in_only_when_its_music_differs(tmp_path):
    misreads = Misreads({"sad": "neutral"})
    best = {"neutral": "everyday", "happy": "upbeat"}
    assert misreads.stand_in("sad", "calm", best.get) == "neutral"
    assert misreads.stand_in("sad", "everyday", best.get) is None  # the same music either way: no misread to fix
    assert misreads.stand_in("happy", "upbeat", best.get) is None  # nothing known of happy's misreadings
    assert misreads.stand_in("sad", "calm", lambda mood: None) is None
    assert Misreads.of_model(tmp_path / "elsewhere.tflite").confused_with == {}  # no JSON: no stand-ins
