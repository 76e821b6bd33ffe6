"""``moodbox simulate``: simulated listeners (:mod:`~moodbox.devkit.listeners`) in a simulated room
(:mod:`~moodbox.devkit.room`: moods as the box perceives them) against the real music policy, and
against the baselines (:mod:`~moodbox.devkit.baselines`); figures in :mod:`~moodbox.devkit.figures`. No MPD, no
camera.

Each policy picks a playlist when the perceived mood changes, as the daemon does ("after the current song"), and
again when it rejects the playing one after an early skip. A listener in the room reacts to every song from its
true mood: skip early, skip late, like (and listen on), or nothing. Every persona also cannot stand a few songs of
each playlist (:data:`DISLIKED_SHARE`). The learning policy reads the feedback log written as the daemon writes it
(a button: the perceived mood and its confidence then; a song played to its end: the mood its playlist was chosen
or kept for when it started, the mood's mean confidence and the share of it a face was in view), from memory
(:func:`simulate` can put it in a real :class:`FeedbackStore`: the same songs, at twice the CPU time). Baselines:
"fixed", the config's mapping and nothing else; "epsilon", epsilon-greedy 0.1 per perceived mood (songs heard to the end
count 1, skips 0, a random playlist in a tenth of the choices).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.devkit.baselines import EpsilonGreedy, MappingOnly, MemoryLog, Oracle, hindsight
from moodbox.devkit.figures import LATER_DAYS, per_day, plot, summarise, targets
from moodbox.devkit.listeners import PERSONAS, make_persona
from moodbox.devkit.room import DAY_S, START, confusion, make_room, utc_hour
from moodbox.devkit.runs import Run, Song
from moodbox.music.misreads import Misreads
from moodbox.music.policy import MusicPolicy
from moodbox.music.preferences import EARLY_SKIP_S, part_of_day
from moodbox.music.store import FeedbackStore
from moodbox.paths import user_cache
from moodbox.perception.expression import likely_misreads

POLICIES = ("moodbox", "fixed", "epsilon")  # compared; "oracle" (the skip-rate bound) is run beside them
SONGS_PER_PLAYLIST = 50
DISLIKED_SHARE = 0.15
DISLIKED_SKIP = 0.9  # a song this listener cannot stand: skipped (early) this often at the usual button rate


def simulate(persona_name: str, seed: int, *, days: int = 14, policy: str = "moodbox",
             real_store: bool = False, misreads: bool = True) -> Run:
    """One persona, one seed, one policy: every song played over ``days`` simulated days. The learning policy reads
    the feedback log from memory, or with ``real_store`` from a :class:`FeedbackStore` in a temporary folder (the
    same events, the same songs, at twice the cost: a test checks they agree); without ``misreads`` it never plays
    a stand-in mood's music (:mod:`~moodbox.music.misreads`), to measure what that adds."""
    persona = make_persona(persona_name)
    room = make_room(seed, days, persona.misread)
    rng = random.Random(f"{persona_name}/{seed}")
    playlists = dict(DEFAULT_PLAYLISTS)
    names = list(dict.fromkeys(name for names in playlists.values() for name in names))
    library = {name: [f"{name}/{i:02d}.ogg" for i in range(SONGS_PER_PLAYLIST)] for name in names}
    disliked = {track for tracks in library.values() for track in tracks if rng.random() < DISLIKED_SHARE}
    run = Run(persona_name, policy, seed)
    clock = [START]
    with tempfile.TemporaryDirectory(dir=_state_dir()) if real_store else nullcontext() as folder:
        log = FeedbackStore(Path(folder) / "feedback.db") if real_store else MemoryLog()
        if policy == "moodbox":
            chooser = MusicPolicy(playlists, events=log.events_after, songs=library.get,
                                  rng=random.Random(seed), wall_clock=lambda: clock[0], hour_of=utc_hour,
                                  misreads=Misreads(likely_misreads(*confusion())) if misreads else None)
        elif policy == "oracle":
            table = hindsight(persona, room, days, names, lambda mood, name: name in playlists[mood])
            chooser = Oracle(playlists, table, disliked, clock)
        elif policy in ("fixed", "epsilon"):
            chooser = (MappingOnly(playlists) if policy == "fixed"
                       else EpsilonGreedy(playlists, log, random.Random(seed)))
        else:
            raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}, oracle")
        try:
            _play(run, persona, room, chooser, log, library, disliked, rng, clock,
                  first_day=days if policy == "oracle" else 1)  # the oracle: only the last day counts
        finally:
            if real_store:
                log.close()
    return run


def _play(run, persona, room, chooser, log, library, disliked, rng, clock, first_day: int = 1) -> None:
    """The songs of every session from ``first_day`` on, the listener's reactions into ``log``, the choices of
    ``chooser``. Each song's length and the listener's draws come from a stream of their own, four numbers a song
    whatever plays (common random numbers: policies making the same choices hear the same songs at the same moments,
    so a difference between them is their choices', not chance's); queues are shuffled with ``rng``."""
    songs = random.Random(f"{run.persona}/{run.seed}/songs")
    current = chosen_for = None
    queue: list[str] = []
    for start, end in room.sessions:
        clock[0] = start + 10.0
        day = int((start - START) // DAY_S) + 1
        if day < first_day:
            continue
        while clock[0] < end:
            at = clock[0]
            mood, confidence, face = room.view(at)
            if mood is None:
                clock[0] += 30.0
                continue
            if mood != chosen_for or current is None:
                playlist = chooser.choose(mood, current, present=face)
                chosen_for = mood
                if playlist != current:
                    current, queue = playlist, _queue(chooser, library[playlist], rng)
            if not queue:
                queue = _queue(chooser, library[current], rng)
            track = queue.pop(0)
            length, draw, when, like_draw = 150.0 + 150.0 * songs.random(), songs.random(), songs.random(), \
                songs.random()
            true, part, heard = room.mood(at), part_of_day(utc_hour(at)), room.present(at)
            early, late, like = persona.reaction_odds(day, true, part, current)
            if track in disliked and not persona.random_skips:
                early = min(1.0, DISLIKED_SKIP * persona.buttons) * (1 - (persona.late_share or 0.0))
                late = min(1.0, DISLIKED_SKIP * persona.buttons) - early
            draw = draw if heard else 1.0
            skip_at = None
            if draw < early:
                skip_at = 3.0 + when * (EARLY_SKIP_S - 8.0)
            elif draw < early + late:
                skip_at = EARLY_SKIP_S + 10.0 + when * (min(length - 10.0, 150.0) - EARLY_SKIP_S - 10.0)
            liked = skip_at is None and heard and like_draw < like / max(1e-9, 1 - early - late)

            if skip_at is not None:
                _press(log, room, "skip", at + skip_at, current, track, skip_at)
                clock[0] = at + skip_at + 1.0
            else:
                if liked:
                    _press(log, room, "like", at + min(60.0, length / 2), current, track, min(60.0, length / 2))
                clock[0] = at + length
                face_share, confidence = room.witness(at, clock[0])  # as the daemon: the mood it was queued for
                log.record_feedback(action="played", expression=None, mood=mood, playlist=current, track=track,
                                    at=clock[0], confidence=confidence, face_share=face_share)
            run.songs.append(Song(day, part, true, mood, current, current in persona.wants(day, true, part), heard,
                                  skip_at is not None, skip_at is not None or liked))
            if skip_at is not None and skip_at < EARLY_SKIP_S and chooser.rejected():
                replacement = chooser.choose(chosen_for, current, present=True)
                if replacement != current:
                    current, queue = replacement, _queue(chooser, library[replacement], rng)


def _press(log, room, action: str, when: float, playlist: str, track: str, elapsed_s: float) -> None:
    """A button pressed at ``when``: credited to the mood the box believes then, with its confidence."""
    mood, confidence, _ = room.view(when)
    log.record_feedback(action=action, expression=mood, mood=mood, playlist=playlist, track=track, at=when,
                        elapsed_s=elapsed_s, confidence=confidence)


def _queue(policy, tracks: list[str], rng: random.Random) -> list[str]:
    """What the player queues: the playlist shuffled, held-off songs left out, liked songs first."""
    shuffled = tracks[:]
    rng.shuffle(shuffled)
    held, liked = policy.arrange(shuffled)
    first = [shuffled[i] for i in liked]
    return first + [track for i, track in enumerate(shuffled) if i not in held and i not in liked]


def _state_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None


def _ci(figure: dict) -> str:
    if figure["mean"] is None:
        return f"{'n/a':>13}"
    return f"{figure['mean']:.3f} ± {figure['half']:.3f}"


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox simulate", description=plain_text(__doc__.split("\n\n")[0]))
    parser.add_argument("--days", type=int, default=14, help="simulated days (default 14, at least 7)")
    parser.add_argument("--seeds", type=int, default=20, help="runs per persona and policy, seeds 1..N (default 20)")
    parser.add_argument("--seed-offset", type=int, default=0, metavar="K",
                        help="seeds K+1..K+N instead (to choose a setting on other seeds than the figures')")
    parser.add_argument("--persona", action="append", choices=PERSONAS, help="only this persona (repeatable)")
    default_plot = user_cache("simulate.png")
    parser.add_argument("--plot", metavar="PNG", nargs="?", const=str(default_plot),
                        help=f"write the learning curves to this PNG file (without a name: {default_plot}; "
                             "without --plot: none)")
    parser.add_argument("--json", action="store_true", help="print only the figures, as one JSON object")
    parser.add_argument("--no-misreads", action="store_true",
                        help="the learning policy never takes skips for the box's misreading (what that adds)")
    args = parser.parse_args(argv)
    if args.days < 7 or args.seeds < 1 or args.seed_offset < 0:
        parser.error("--days must be at least 7, --seeds at least 1 and --seed-offset at least 0")
    names = args.persona or list(PERSONAS)
    started = time.process_time()
    results, daily = {}, {}
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name}: {args.seeds} runs of {args.days} days per policy", file=sys.stderr,
              flush=True)
        seeds = range(args.seed_offset + 1, args.seed_offset + args.seeds + 1)
        runs = {policy: [simulate(name, seed, days=args.days, policy=policy, misreads=not args.no_misreads)
                         for seed in seeds]
                for policy in (*POLICIES, "oracle")}
        daily[name] = per_day(runs["moodbox"], args.days)
        results[name] = summarise(runs, args.days)
    if args.plot:
        try:
            Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
            plot(daily, Path(args.plot))
        except ImportError:
            print("moodbox simulate: no PNG written: matplotlib is not installed (pip install 'moodbox[plot]')",
                  file=sys.stderr)
            args.plot = None
    found = targets(results)
    cpu_s = round(time.process_time() - started, 1)
    if args.json:
        print(json.dumps({"personas": results, "targets": found, "seeds": args.seeds, "seed_offset": args.seed_offset,
                          "days": args.days, "cpu_s": cpu_s, "plot": args.plot}, indent=1))
        return 0
    first = min(LATER_DAYS[0], max(1, args.days - 6))
    print(f"share of wanted music, days {first}-{args.days}, mean ± 95% interval over {args.seeds} seeds "
          "(true moods; the box acts on perceived ones)")
    print(f"{'persona':19} {'mood':9} {'moodbox':>15} {'fixed':>15} {'epsilon 0.1':>15}")
    for name, summary in results.items():
        print(f"{name:19} {'all':9} " + " ".join(f"{_ci(summary[policy]['share']):>15}" for policy in POLICIES))
        for key in ("by_mood", "by_part_of_day"):
            for label in summary["moodbox"][key]:
                print(f"{'':19} {label:9} " + " ".join(f"{_ci(summary[policy][key][label]):>15}"
                                                        for policy in POLICIES))
        skips = summary["moodbox"]["skip_rate"]
        print(f"{'':19} skip rate day 1 {skips['day1']:.3f}, day {args.days} {skips['last_day']:.3f} "
              f"({skips['last_day_misread']:.3f} on songs started in a misread mood; the hindsight oracle's day "
              f"{args.days} {summary['oracle_last_day_skip_rate']:.3f}); "
              f"buttons on {summary['button_rate']:.1%} of songs")
    print()
    for key, value in found.items():
        figures = ", ".join(f"{k} {v}" for k, v in value.items() if k != "holds")
        reach = value.get("reachable at best")
        beyond = " (out of reach for any policy mapping perceived moods to playlists)" if reach and reach > 0.5 else ""
        print(f"target {key}: {figures}: {'holds' if value['holds'] else 'MISSED'}{beyond}")
    print(f"cpu time {cpu_s} s")
    if args.plot:
        print(f"learning curves: {args.plot}")
    return 0
