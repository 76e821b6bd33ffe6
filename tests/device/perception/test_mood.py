"""MoodTracker with synthetic probability vectors: smoothing, hysteresis, dwell, confidence gate, absence."""

from __future__ import annotations

import numpy as np
import pytest

from moodbox.names import EXPRESSIONS as LABELS
from moodbox.perception.mood import MoodTracker


def vector(label: str, top: float = 0.8) -> np.ndarray:
    """Probabilities with ``top`` on ``label`` and the rest spread evenly."""
    probabilities = np.full(len(LABELS), (1 - top) / (len(LABELS) - 1), np.float32)
    probabilities[LABELS.index(label)] = top
    return probabilities


def mix(weights: dict[str, float]) -> np.ndarray:
    probabilities = np.zeros(len(LABELS), np.float32)
    for label, weight in weights.items():
        probabilities[LABELS.index(label)] = weight
    return probabilities


def feed(tracker, start, seconds, probabilities, interval=1.0):
    states = []
    for tick in range(int(seconds / interval)):
        states.append(tracker.update(start + tick * interval, probabilities))
    return states


def test_first_mood_needs_a_few_confident_frames_but_no_dwell():
    tracker = MoodTracker(LABELS, window_s=10, min_dwell_s=30, min_samples=3)
    states = feed(tracker, 0, 5, vector("happy"))
    assert [state.mood for state in states] == [None, None, "happy", "happy", "happy"]
    assert [state.changed for state in states] == [False, False, True, False, False]
    assert states[2].confidence == pytest.approx(0.8) and states[2].present and states[2].absent_s == 0


def test_first_mood_waits_for_a_clear_leader():
    tracker = MoodTracker(LABELS, window_s=10, hysteresis=0.1)
    states = feed(tracker, 0, 5, mix({"happy": 0.45, "surprise": 0.4, "neutral": 0.15}))
    assert all(state.mood is None for state in states)
    assert states[-1].smoothed[LABELS.index("happy")] == pytest.approx(0.45)


def test_hysteresis_keeps_the_mood_until_a_challenger_clearly_leads():
    tracker = MoodTracker(LABELS, window_s=4, hysteresis=0.1, min_dwell_s=0)
    feed(tracker, 0, 4, vector("happy"))
    close = feed(tracker, 4, 8, mix({"happy": 0.42, "sad": 0.48, "neutral": 0.1}))
    assert all(state.mood == "happy" and not state.changed for state in close)
    clear = feed(tracker, 12, 4, mix({"happy": 0.3, "sad": 0.6, "neutral": 0.1}))
    assert [state.changed for state in clear] == [True, False, False, False]
    assert clear[0].mood == "sad"


def test_minimum_dwell_delays_a_clear_change():
    tracker = MoodTracker(LABELS, window_s=4, min_dwell_s=30)
    first = feed(tracker, 0, 10, vector("happy"))
    assert first[2].changed  # happy since t = 2
    early = feed(tracker, 10, 22, vector("angry"))
    assert all(state.mood == "happy" for state in early)  # angry leads from t = 12, dwell ends at t = 32
    later = feed(tracker, 32, 3, vector("angry"))
    assert later[0].changed and later[0].mood == "angry"


def test_low_confidence_frames_do_not_count_but_the_face_is_present():
    tracker = MoodTracker(LABELS, window_s=5, min_confidence=0.4, min_dwell_s=0)
    feed(tracker, 0, 3, vector("neutral"))
    unsure = feed(tracker, 3, 20, mix({"fear": 0.35, "surprise": 0.35, "neutral": 0.3}))
    assert all(state.mood == "neutral" and state.present and state.absent_s == 0 for state in unsure)
    assert not unsure[-1].smoothed.any()  # the confident frames have left the window; nothing replaced them


def test_nobody_there_keeps_the_mood_and_pauses_after_the_limit():
    tracker = MoodTracker(LABELS, window_s=5, pause_after_absent_s=60)
    feed(tracker, 0, 5, vector("happy"))  # last seen at t = 4
    away = feed(tracker, 5, 70, None)
    assert all(state.mood == "happy" and not state.present and not state.changed for state in away)
    assert [state.absent_s for state in away[:3]] == [1, 2, 3]
    assert away[58].absent_s == 59 and not away[58].pause_music
    assert away[59].absent_s == 60 and away[59].pause_music
    back = tracker.update(75, vector("sad"))
    assert back.present and back.absent_s == 0 and not back.pause_music and back.mood == "happy"


def test_pause_after_zero_never_pauses():
    tracker = MoodTracker(LABELS, pause_after_absent_s=0)
    states = feed(tracker, 0, 3600, None, interval=60)
    assert states[-1].absent_s == 3540 and not any(state.pause_music for state in states)
    assert states[-1].mood is None


def test_window_is_time_based_so_irregular_ticks_work():
    tracker = MoodTracker(LABELS, window_s=10, min_dwell_s=0)
    for now in (0, 0.3, 0.4, 3):
        tracker.update(now, vector("happy"))
    state = tracker.update(20, vector("sad"))  # a long gap: the happy frames are older than the window
    assert state.smoothed[LABELS.index("happy")] == pytest.approx(vector("sad")[LABELS.index("happy")])


def scripted_run(seed, script, interval=1.0, random_share=0.3, **settings):
    """Scripted expressions with ``random_share`` of frames replaced by confident random expressions."""
    rng = np.random.default_rng(seed)
    tracker = MoodTracker(LABELS, **settings)
    changes, boundaries, now = [], [], 0.0
    for label, seconds in script:
        boundaries.append((now, label))
        for _ in range(int(seconds / interval)):
            if rng.random() < random_share:
                probabilities = vector(LABELS[rng.integers(len(LABELS))], top=rng.uniform(0.5, 0.9))
            else:
                probabilities = rng.dirichlet(np.ones(len(LABELS))) * 0.4
                probabilities[LABELS.index(label)] += 0.6
            state = tracker.update(now, probabilities)
            if state.changed:
                changes.append((now, state.mood))
            now += interval
    return changes, boundaries


@pytest.mark.parametrize("seed", range(5))
def test_scripted_moods_with_30_percent_noise_switch_exactly_when_the_script_does(seed):
    script = [("happy", 45), ("sad", 45), ("neutral", 45), ("happy", 45), ("angry", 45), ("surprise", 45)]
    window, interval = 10.0, 1.0
    changes, boundaries = scripted_run(seed, script, interval, window_s=window, min_dwell_s=20, hysteresis=0.1,
                                       min_confidence=0.4)
    assert [mood for _, mood in changes] == [label for _, label in boundaries]
    for (changed_at, _), (scripted_at, _) in zip(changes, boundaries):
        assert scripted_at <= changed_at <= scripted_at + window + interval


@pytest.mark.parametrize("setting, value", [("window_s", 0), ("min_confidence", 1.2), ("hysteresis", -0.1),
                                            ("min_dwell_s", -1), ("pause_after_absent_s", -5)])
def test_bad_settings_name_the_setting(setting, value):
    with pytest.raises(ValueError, match=setting):
        MoodTracker(LABELS, **{setting: value})


def test_wrong_number_of_probabilities_is_refused():
    with pytest.raises(ValueError, match="expected 7 probabilities"):
        MoodTracker(LABELS).update(0, np.ones(5) / 5)


def test_the_state_says_since_when_the_mood_holds():
    tracker = MoodTracker(LABELS, window_s=5.0, min_dwell_s=0.0)
    assert tracker.state is None
    feed(tracker, 0.0, 3, vector("sad"))
    assert tracker.state.mood == "sad" and tracker.state.since == 2.0  # the third confident frame settles it
    feed(tracker, 3.0, 10, vector("happy"))
    assert tracker.state.mood == "happy" and 3.0 < tracker.state.since < 13.0
    since = tracker.state.since
    assert tracker.update(20.0, None).since == since  # nobody there: the mood and its start stay
