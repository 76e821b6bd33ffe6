"""``moodbox simulate``: simulated listeners against the real music policy and feedback store (no MPD, no camera).

Each simulated day has :data:`EPISODES_PER_DAY` mood episodes (moods drawn with :data:`MOOD_WEIGHTS`) of
:data:`SONGS_PER_EPISODE` songs. The policy chooses a playlist per episode, :meth:`MusicPolicy.arrange` orders its
shuffled songs, and a persona reacts to every song: early skip, late skip, like (and listens on), or listens to
the end. Every reaction goes into a real :class:`FeedbackStore` with the simulated time, exactly as the daemon
records it, and the policy learns from that log. Two early skips in a row make the policy switch at once, as the
daemon does. Every persona also dislikes a few songs of each playlist (:data:`DISLIKED_SHARE`) and skips them
early: track memory should keep those out.

Personas (``PERSONAS``): ``default-mapping`` wants the config's mapping; ``upbeat-when-sad`` wants ``upbeat``
when sad; ``one-favourite`` wants ``upbeat`` in every mood; ``random-skipper`` skips at random whatever plays;
``taste-change`` wants the mapping until day :data:`TASTE_CHANGE_DAY`, then ``upbeat`` when sad or neutral.

Figures per persona and day: ``share`` (songs from a playlist the persona wants), ``skip rate``, ``regret``
(expected skips per 100 songs above an oracle that always plays what the persona wants). Final figures: see
:func:`summarise`. "today" is the policy before learning: always the mood's mapped playlist, no track memory.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.music.policy import MusicPolicy
from moodbox.music.preferences import EARLY_SKIP_S
from moodbox.music.store import FeedbackStore

PERSONAS = ("default-mapping", "upbeat-when-sad", "one-favourite", "random-skipper", "taste-change")
MOOD_WEIGHTS = {"neutral": 0.3, "happy": 0.25, "sad": 0.2, "angry": 0.1, "surprise": 0.05, "fear": 0.05,
                "disgust": 0.05}
EPISODES_PER_DAY = 12
SONGS_PER_EPISODE = 8
SONGS_PER_PLAYLIST = 50
SONG_S = 210.0
DISLIKED_SHARE = 0.15
TASTE_CHANGE_DAY = 8
AFTER_EPISODES = 20  # share_preferred counts the episodes of a mood after its 20th
# reaction probabilities (early skip, late skip, like); the rest of the songs play to their end
WANTED = (0.04, 0.04, 0.10)
UNWANTED = (0.60, 0.15, 0.02)
RANDOM = (0.25, 0.10, 0.05)


@dataclass
class Persona:
    """A simulated listener: which playlists it wants in which mood on which day, and how it reacts."""
    name: str
    wants: Callable[[int, str], set[str]]   # (day, mood) -> wanted playlists
    random_skips: bool = False

    def reaction_odds(self, day: int, mood: str, playlist: str) -> tuple[float, float, float]:
        if self.random_skips:
            return RANDOM
        return WANTED if playlist in self.wants(day, mood) else UNWANTED


def _mapped(day: int, mood: str) -> set[str]:
    return set(DEFAULT_PLAYLISTS[mood])


def make_persona(name: str) -> Persona:
    if name == "default-mapping":
        return Persona(name, _mapped)
    if name == "upbeat-when-sad":
        return Persona(name, lambda day, mood: {"upbeat"} if mood == "sad" else _mapped(day, mood))
    if name == "one-favourite":
        return Persona(name, lambda day, mood: {"upbeat"})
    if name == "random-skipper":
        return Persona(name, _mapped, random_skips=True)
    if name == "taste-change":
        return Persona(name, lambda day, mood: {"upbeat"} if day >= TASTE_CHANGE_DAY and mood in CHANGED_MOODS
                       else _mapped(day, mood))
    raise ValueError(f"unknown persona {name!r}; expected one of {', '.join(PERSONAS)}")


CHANGED_MOODS = ("sad", "neutral")


class MappingOnly:
    """Today's policy for the default config (one playlist per mood): the mapped playlist, no track memory."""

    def __init__(self, playlists):
        self.playlists = playlists

    def choose(self, mood: str, current: str | None = None) -> str | None:
        return self.playlists[mood][0]

    def rejected(self) -> bool:
        return False

    def arrange(self, tracks: list[str]) -> tuple[set[int], list[int]]:
        return set(), []


@dataclass
class Song:
    day: int
    mood: str
    episode: int            # the how-many-th episode of this mood (1-based)
    playlist: str
    wanted: bool
    skipped: bool
    expected_skip: float    # the persona's skip probability for this song's playlist
    best_skip: float        # ... for the playlist it wants most
    in_hold_off: bool       # skipped early less than the hold-off ago (and not liked since), yet played again


@dataclass
class Run:
    persona: str
    seed: int
    songs: list[Song] = field(default_factory=list)


def simulate(persona_name: str, seed: int, *, days: int = 14, learning: bool = True,
             state_dir: str | None = None) -> Run:
    """One persona, one seed: every song played over ``days`` simulated days."""
    persona = make_persona(persona_name)
    rng = random.Random(f"{persona_name}/{seed}")
    playlists = {mood: names for mood, names in DEFAULT_PLAYLISTS.items()}
    all_playlists = list(dict.fromkeys(name for names in playlists.values() for name in names))
    library = {name: [f"{name}/{i:02d}.ogg" for i in range(SONGS_PER_PLAYLIST)] for name in all_playlists}
    disliked = {track for tracks in library.values() for track in tracks if rng.random() < DISLIKED_SHARE}
    run = Run(persona_name, seed)
    clock = [1.7e9]
    with tempfile.TemporaryDirectory(dir=state_dir) as folder, FeedbackStore(Path(folder) / "feedback.db") as store:
        if learning:
            policy = MusicPolicy(playlists, events=store.events_after, songs=library.get, rng=random.Random(seed),
                                 wall_clock=lambda: clock[0])
        else:
            policy = MappingOnly(playlists)
        episodes_of = {mood: 0 for mood in playlists}
        skipped_early_at: dict[str, float] = {}
        hold_off_s = getattr(policy, "hold_off_s", 0.0)
        current = None
        for day in range(1, days + 1):
            for episode in range(EPISODES_PER_DAY):
                clock[0] = 1.7e9 + (day - 1) * 86400.0 + 8 * 3600.0 + episode * 3600.0
                mood = rng.choices(list(MOOD_WEIGHTS), list(MOOD_WEIGHTS.values()))[0]
                episodes_of[mood] += 1
                wants = persona.wants(day, mood)
                best = min(sum(persona.reaction_odds(day, mood, name)[:2]) for name in all_playlists)
                current = policy.choose(mood, current)
                queue = _queue(policy, library[current], rng)
                for _ in range(SONGS_PER_EPISODE):
                    if not queue:
                        queue = _queue(policy, library[current], rng)
                    track = queue.pop(0)
                    in_hold_off = clock[0] < skipped_early_at.get(track, -hold_off_s) + hold_off_s
                    early, late, like = persona.reaction_odds(day, mood, current)
                    draw = rng.random()
                    if track in disliked and not persona.random_skips:
                        draw = 0.0  # a song this listener cannot stand: skipped at once
                    if draw < early:
                        store.record_feedback(action="skip", expression=mood, mood=mood, playlist=current,
                                              track=track, at=clock[0] + 10.0,
                                              elapsed_s=rng.uniform(2.0, EARLY_SKIP_S - 5.0))
                        skipped_early_at[track] = clock[0] + 10.0
                        clock[0] += 15.0
                    elif draw < early + late:
                        store.record_feedback(action="skip", expression=mood, mood=mood, playlist=current,
                                              track=track, at=clock[0] + 90.0, elapsed_s=rng.uniform(60.0, 180.0))
                        clock[0] += 120.0
                    else:
                        if draw < early + late + like:
                            store.record_feedback(action="like", expression=mood, mood=mood, playlist=current,
                                                  track=track, at=clock[0] + 60.0)
                            skipped_early_at.pop(track, None)  # a like lifts the hold-off
                        clock[0] += SONG_S
                        store.record_feedback(action="played", expression=None, mood=mood, playlist=current,
                                              track=track, at=clock[0])
                    run.songs.append(Song(day, mood, episodes_of[mood], current, current in wants,
                                          draw < early + late, early + late, best, in_hold_off))
                    if policy.rejected():
                        current = policy.choose(mood, current)
                        queue = _queue(policy, library[current], rng)
    return run


def _queue(policy, tracks: list[str], rng: random.Random) -> list[str]:
    """What the player queues: the playlist shuffled, held-off songs left out, liked songs first."""
    shuffled = tracks[:]
    rng.shuffle(shuffled)
    held, liked = policy.arrange(shuffled)
    first = [shuffled[i] for i in liked]
    return first + [track for i, track in enumerate(shuffled) if i not in held and i not in liked]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def per_day(runs: list[Run], days: int) -> list[dict]:
    rows = []
    for day in range(1, days + 1):
        songs = [song for run in runs for song in run.songs if song.day == day]
        rows.append({"day": day, "songs": len(songs),
                     "share": _mean([song.wanted for song in songs]),
                     "skip_rate": _mean([song.skipped for song in songs]),
                     "regret": 100 * _mean([song.expected_skip - song.best_skip for song in songs])})
    return rows


def episodes_to_reach(runs: list[Run], share: float = 0.8, window: int = 5) -> int | None:
    """taste-change: the first episode (counted per changed mood from the change on) from which the share of
    wanted songs over ``window`` episodes, averaged over the changed moods and seeds, reaches ``share``."""
    by_index: dict[int, list[float]] = {}
    for run in runs:
        first = {}
        for song in run.songs:
            if song.day >= TASTE_CHANGE_DAY and song.mood in CHANGED_MOODS:
                first.setdefault(song.mood, song.episode)
                by_index.setdefault(song.episode - first[song.mood] + 1, []).append(song.wanted)
    shares = [_mean(by_index[k]) for k in sorted(by_index)]
    for k in range(len(shares) - window + 1):
        if _mean(shares[k:k + window]) >= share:
            return k + 1
    return None


def summarise(name: str, runs: list[Run], baseline: list[Run], days: int) -> dict:
    """The final figures of one persona."""
    daily = per_day(runs, days)
    later = [song for run in runs for song in run.songs if song.episode > AFTER_EPISODES]
    first_week = [song for run in runs for song in run.songs if song.day <= 7]
    summary = {
        "share_preferred": _mean([song.wanted for song in later]),
        "skip_rate_day1": daily[0]["skip_rate"],
        "skip_rate_day7": daily[min(7, days) - 1]["skip_rate"],
        "regret_day1": daily[0]["regret"],
        "regret_day7": daily[min(7, days) - 1]["regret"],
        # skips on songs from playlists this persona does not want, per song played, days 1-7
        "unwanted_skips_days1_7": _mean([song.skipped and not song.wanted for song in first_week]),
        "today_share_preferred": _mean([song.wanted for run in baseline for song in run.songs
                                        if song.episode > AFTER_EPISODES]),
        "today_skip_rate_days1_7": _mean([song.skipped for run in baseline for song in run.songs if song.day <= 7]),
        "skip_rate_days1_7": _mean([song.skipped for song in first_week]),
        "replayed_within_hold_off": sum(song.in_hold_off for run in runs for song in run.songs),
    }
    if name == "upbeat-when-sad":
        summary["share_upbeat_when_sad"] = _mean([song.playlist == "upbeat" for song in later if song.mood == "sad"])
    if name == "taste-change":
        summary["episodes_to_80pct"] = episodes_to_reach(runs)
    return summary


def targets(results: dict) -> dict:
    """The issue's target figures, computed from the per-persona summaries."""
    ratios = [results[name]["skip_rate_day7"] / results[name]["skip_rate_day1"]
              for name in PERSONAS if name != "random-skipper" and name in results]
    return {
        "upbeat_when_sad_share_after_20": results.get("upbeat-when-sad", {}).get("share_upbeat_when_sad"),
        "default_mapping_exploration_skips_days1_7":
            results.get("default-mapping", {}).get("unwanted_skips_days1_7"),
        "skip_rate_day7_over_day1_mean": _mean(ratios),
        "taste_change_episodes_to_80pct": results.get("taste-change", {}).get("episodes_to_80pct"),
        "early_skipped_songs_replayed_within_hold_off": sum(summary["replayed_within_hold_off"]
                                                            for summary in results.values()),
    }


def plot(daily: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, rows in daily.items():
        days = [row["day"] for row in rows]
        for axis, key in zip(axes, ("share", "skip_rate", "regret")):
            axis.plot(days, [row[key] for row in rows], marker="o", label=name)
    for axis, title in zip(axes, ("share of wanted music", "skip rate", "regret (extra skips per 100 songs)")):
        axis.set_title(title)
        axis.set_xlabel("day")
        axis.grid(alpha=0.3)
    axes[0].axvline(TASTE_CHANGE_DAY - 0.5, color="grey", linestyle=":", label="taste change")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _state_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox simulate", description=plain_text(__doc__.split("\n\n")[0]))
    parser.add_argument("--days", type=int, default=14, help="simulated days (default 14, at least 7)")
    parser.add_argument("--seeds", type=int, default=10, help="runs per persona, seeds 1..N (default 10)")
    parser.add_argument("--persona", action="append", choices=PERSONAS, help="only this persona (repeatable)")
    parser.add_argument("--plot", default="moodbox-simulate.png", help="PNG of the learning curves "
                        "(default moodbox-simulate.png; '' for none)")
    parser.add_argument("--json", action="store_true", help="print only the final figures, as one JSON object")
    args = parser.parse_args(argv)
    if args.days < 7 or args.seeds < 1:
        parser.error("--days must be at least 7 and --seeds at least 1")
    names = args.persona or list(PERSONAS)
    results, daily = {}, {}
    state_dir = _state_dir()
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name}: {args.seeds} runs of {args.days} days", file=sys.stderr, flush=True)
        runs = [simulate(name, seed, days=args.days, state_dir=state_dir) for seed in range(1, args.seeds + 1)]
        baseline = [simulate(name, seed, days=args.days, learning=False, state_dir=state_dir)
                    for seed in range(1, args.seeds + 1)]
        daily[name] = per_day(runs, args.days)
        results[name] = summarise(name, runs, baseline, args.days)
    if args.plot:
        try:
            plot(daily, Path(args.plot))
        except ImportError:
            print("moodbox simulate: no PNG written: matplotlib is not installed (pip install 'moodbox[plot]', "
                  "or pass --plot '')", file=sys.stderr)
            args.plot = ""
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{'persona':17} {'day':>3} {'songs':>5} {'share':>6} {'skips':>6} {'regret':>6}")
    for name, rows in daily.items():
        for row in rows:
            print(f"{name:17} {row['day']:3d} {row['songs']:5d} {row['share']:6.1%} {row['skip_rate']:6.1%} "
                  f"{row['regret']:6.1f}")
    print()
    for name, summary in results.items():
        print(f"{name}: " + ", ".join(f"{key} {_fmt(value)}" for key, value in summary.items()))
    print()
    for key, value in targets(results).items():
        print(f"target {key}: {_fmt(value)}")
    if args.plot:
        print(f"learning curves: {args.plot}")
    return 0


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
