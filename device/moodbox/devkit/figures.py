"""The figures of ``moodbox simulate``: the share of songs, heard with the listener in the room, from a playlist it
wants in its true mood over days 8-14, per persona, per true mood and per part of the day, as a mean over seeds with
a 95% confidence interval (normal approximation); the skip rate of the first and the last day, and how much of the
last day's is skips of songs started in a misread mood (the box chose for a mood the listener was not in), and the
last day's of the hindsight oracle (:class:`~moodbox.devkit.baselines.Oracle`: the least any policy mapping
perceived moods to playlists can reach); the issue's targets; the learning curves' PNG."""

from __future__ import annotations

import math
from pathlib import Path

from moodbox.devkit.room import MOOD_WEIGHTS
from moodbox.devkit.runs import Run, Song
from moodbox.music.preferences import PARTS_OF_DAY

LATER_DAYS = (8, 14)  # the days the share of wanted music is measured over
Z95 = 1.96


def _mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def interval(values: list[float]) -> dict:
    """Mean over seeds and its 95% confidence interval (normal approximation; ``half`` is the half-width)."""
    values = [value for value in values if value is not None]
    if not values:
        return {"mean": None, "half": None, "n": 0}
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": round(mean, 4), "half": round(Z95 * spread / math.sqrt(len(values)), 4), "n": len(values)}


def _share(songs) -> float | None:
    return _mean(song.wanted for song in songs)


def later_songs(run: Run, days: int) -> list[Song]:
    first = min(LATER_DAYS[0], max(1, days - 6))
    return [song for song in run.songs if song.heard and first <= song.day <= days]


def per_day(runs: list[Run], days: int) -> list[dict]:
    heard_on: dict[int, list[Song]] = {day: [] for day in range(1, days + 1)}
    for run in runs:
        for song in run.songs:
            if song.heard:
                heard_on[song.day].append(song)
    rows = []
    for day, songs in heard_on.items():
        rows.append({"day": day, "songs": len(songs), "share": _share(songs),
                     "skip_rate": _mean(song.skipped for song in songs),
                     "misread_skips": _mean(song.skipped and song.seen_mood != song.mood for song in songs)})
    return rows


def summarise(runs: dict[str, list[Run]], days: int) -> dict:
    """The figures of one persona: per policy, the share of wanted music over the later days (all, per true mood,
    per part of the day), each over seeds with its interval, and the skip rate of the first and the last day; the
    listener's button presses per song heard (under the learning policy)."""
    summary = {}
    for policy, policy_runs in runs.items():
        if policy == "oracle":  # the bound: only its last day's skip rate
            summary["oracle_last_day_skip_rate"] = per_day(policy_runs, days)[-1]["skip_rate"]
            continue
        later = [later_songs(run, days) for run in policy_runs]
        daily = per_day(policy_runs, days)
        first, last = daily[0]["skip_rate"], daily[-1]["skip_rate"]
        moods = sorted({song.mood for songs in later for song in songs}, key=list(MOOD_WEIGHTS).index)
        parts = [part for part in PARTS_OF_DAY if any(song.part == part for songs in later for song in songs)]
        summary[policy] = {
            "share": interval([_share(songs) for songs in later]),
            "by_mood": {mood: interval([_share([s for s in songs if s.mood == mood]) for songs in later])
                        for mood in moods},
            "by_part_of_day": {part: interval([_share([s for s in songs if s.part == part]) for songs in later])
                               for part in parts},
            "skip_rate": {"day1": first, "last_day": last, "ratio": last / first if first else None,
                          "last_day_misread": daily[-1]["misread_skips"]},
        }
    learned = runs["moodbox"]
    heard = [song for run in learned for song in run.songs if song.heard]
    summary["button_rate"] = _mean(song.pressed for song in heard)
    summary["songs_per_day"] = len(heard) / len(learned) / days
    return summary


def targets(results: dict[str, dict]) -> dict:
    """The issue's targets, each with its figure and whether it holds."""
    found = {}
    for name, summary in results.items():
        own = summary["moodbox"]["share"]["mean"]
        found[f"{name}: share >= fixed, epsilon"] = {
            "moodbox": own, "fixed": summary["fixed"]["share"]["mean"], "epsilon": summary["epsilon"]["share"]["mean"],
            "holds": own >= summary["fixed"]["share"]["mean"] and own >= summary["epsilon"]["share"]["mean"]}
    if "sparse-buttons" in results:
        summary = results["sparse-buttons"]
        gain = summary["moodbox"]["share"]["mean"] - summary["fixed"]["share"]["mean"]
        found["sparse-buttons: share - fixed >= 0.05"] = {"gain": round(gain, 4), "holds": gain >= 0.05}
    if "no-upbeat-evenings" in results:
        evening = results["no-upbeat-evenings"]["moodbox"]["by_part_of_day"].get("evening", {}).get("mean")
        found["no-upbeat-evenings: evening share >= 0.95"] = {"share": evening,
                                                              "holds": evening is not None and evening >= 0.95}
    for name, summary in results.items():
        if summary["button_rate"] >= 0.2 and name != "random-skipper":  # its skips are noise, nothing to learn
            skips, fixed = summary["moodbox"]["skip_rate"], summary["fixed"]["skip_rate"]["ratio"]
            ratio = skips["ratio"]
            misread = skips["last_day_misread"] / skips["day1"] if skips["day1"] else None
            best = summary.get("oracle_last_day_skip_rate")
            best = best / skips["day1"] if best is not None and skips["day1"] else None
            found[f"{name}: skip rate last day / day 1 <= 0.5"] = {
                "ratio": ratio and round(ratio, 3), "fixed mapping's": fixed and round(fixed, 3),
                "of which misread moods'": misread and round(misread, 3),
                "reachable at best": best and round(best, 3), "holds": ratio is not None and ratio <= 0.5}
    return found


def plot(daily: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, rows in daily.items():
        days = [row["day"] for row in rows]
        for axis, key in zip(axes, ("share", "skip_rate")):
            axis.plot(days, [row[key] for row in rows], marker="o", markersize=3, label=name)
    for axis, title in zip(axes, ("share of wanted music (moodbox)", "skip rate (moodbox)")):
        axis.set_title(title)
        axis.set_xlabel("day")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
