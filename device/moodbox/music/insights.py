"""``moodbox insights``: what the music policy learned, for people (the CLI) and pages."""

from __future__ import annotations

import math
from collections import Counter

from moodbox.music.preferences import PARTS_OF_DAY

MAX_HELD_OFF_SHOWN = 50  # the songs skipped most recently (one control-socket answer stays small)


def insights(policy, now: float) -> dict:
    """What ``policy`` (a :class:`~moodbox.music.policy.MusicPolicy`) learned, at ``now``: per mood, each playlist
    with its estimated preference (posterior mean and standard deviation), whether the config maps it there, and
    the evidence counts; per mood and part of the day, the preference there of each playlist with evidence from
    that part of the day; the listener's skip rate, and its skip rate on the music that serves it best (what a full
    play is weighed against); and the songs on hold-off (how many, and the :data:`MAX_HELD_OFF_SHOWN` skipped last,
    latest first)."""
    counts_of = policy.preferences.counts
    moods, parts = {}, {}
    learned_moods = {mood for mood, _, _ in counts_of}
    for mood in list(policy.playlists) + sorted(learned_moods - set(policy.playlists)):
        rows = []
        for name in policy.all_playlists():
            counts = counts_of.get((mood, None, name), Counter())
            mapped = policy.available.mapped(mood, name)
            choice = policy.choices.get(mood, name)
            if not mapped and not counts and choice is None:
                continue
            a, b = policy.posterior(mood, name, now)
            rows.append({"playlist": name, "mapped": mapped, "choice": choice, "preference": round(a / (a + b), 3),
                         "uncertainty": round(math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))), 3),
                         "likes": counts["like"], "holds": counts["hold"], "full_plays": counts["played"],
                         "early_skips": counts["early_skip"], "late_skips": counts["late_skip"],
                         "tolerated_only": policy.preferences.tolerated_only(mood, name)})
        moods[mood] = sorted(rows, key=lambda row: -row["preference"])
        for part in PARTS_OF_DAY:
            rows = []
            for name in policy.all_playlists():
                events = sum(counts_of.get((mood, part, name), Counter()).values())
                if events:
                    a, b = policy.posterior(mood, name, now, part)
                    rows.append({"playlist": name, "preference": round(a / (a + b), 3), "events": events})
            if rows:
                parts.setdefault(mood, {})[part] = sorted(rows, key=lambda row: -row["preference"])
    held = policy.preferences.held_off_tracks(now, policy.hold_off_s)
    latest = sorted(held.items(), key=lambda item: (-item[1], item[0]))[:MAX_HELD_OFF_SHOWN]
    return {"moods": moods, "parts_of_day": parts, "skip_rate": round(policy.preferences.skip_rate, 3),
            "best_served_skip_rate": round(policy.preferences.reference_rate, 3),
            "held_off_count": len(held),
            "held_off": [{"track": track, "until": round(until, 1)} for track, until in latest],
            "half_life_days": policy.preferences.half_life_s / 86400.0, "explore": policy.explore}
