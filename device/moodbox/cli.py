"""The ``moodbox`` command: run the daemon, the demo, the checks, the benchmark, or talk to the running daemon."""

from __future__ import annotations

import argparse
import json
import os
import sys

from moodbox import __version__, installed_commit
from moodbox.config import DAEMON_SECTIONS, DEFAULT_PATH, load_config_leniently
from moodbox.config_checks import ConfigNotFound, ConfigValueError
from moodbox.errors import EXIT_FAILURE
from moodbox.names import ACTION_INFO


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `moodbox status | head -2`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # demo and bench have their own options: hand their arguments over untouched
    if argv and argv[0] == "demo":
        from moodbox.devkit import demo
        return demo.main(argv[1:])
    if argv and argv[0] == "bench":
        from moodbox.devkit import bench
        return bench.main(argv[1:])
    if argv and argv[0] == "simulate":
        from moodbox.devkit import simulate
        return simulate.main(argv[1:])
    if argv and argv[0] == "library":
        from moodbox.frontends import library_cli
        return library_cli.main(argv[1:])
    if argv and argv[0] == "bundle":
        from moodbox.frontends import bundle
        return bundle.main(argv[1:])
    if argv and argv[0] == "camera-check":
        from moodbox.frontends import camera_check
        return camera_check.main(argv[1:])
    if argv and argv[0] in ("history", "top", "web"):
        from importlib import import_module
        return import_module(f"moodbox.frontends.{argv[0]}").main(argv[1:])

    parser = argparse.ArgumentParser(prog="moodbox", description="Offline, emotion-aware smart speaker.")
    parser.add_argument("--version", action="version",
                        version=f"moodbox {__version__} (commit {installed_commit() or 'unknown'})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon (what the systemd service starts)")
    run.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    run.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands.add_parser("demo", help="the whole box with a private MPD and scripted faces (see moodbox demo -h)")
    doctor = commands.add_parser("doctor", help="check config, model, camera, MPD, buttons, state directory")
    doctor.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    doctor.add_argument("--json", action="store_true", help="one JSON object: every check and the problem count")
    commands.add_parser("bench", help="latency, speed-up, CPU and memory figures (see moodbox bench -h)")
    commands.add_parser("simulate", help="simulated listeners against the learning policy (see moodbox simulate -h)")
    commands.add_parser("library", help="sort the music library by mood: tag, scan, explain (see moodbox library -h)")
    commands.add_parser("history", help="moods, songs, likes and skips from the store, as a table or a chart")
    commands.add_parser("top", help="live view of what the box sees and plays, with keys to steer it")
    commands.add_parser("web", help="the opt-in phone page (see moodbox web -h; --pair pairs a phone)")
    commands.add_parser("bundle", help="a support archive to attach to an issue, without moods or songs "
                                       "(see moodbox bundle -h)")
    commands.add_parser("camera-check", help="one look through the camera: face and expression (see moodbox "
                                             "camera-check -h)")
    for action in ACTION_INFO.values():
        command = commands.add_parser(action.name, help=action.help)
        where = command.add_mutually_exclusive_group()
        where.add_argument("--socket", help="control socket (default: state.control_socket of --config)")
        where.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
        command.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
        for param in action.params:
            command.add_argument(param)
    args = parser.parse_args(argv)

    if args.command == "run":
        return run_daemon(args.config, verbose=args.verbose)
    if args.command == "doctor":
        from moodbox.frontends.doctor import main as doctor_main
        return doctor_main(args.config, as_json=args.json)
    return _send_action(args)


def _send_action(args) -> int:
    from moodbox.frontends.control import ControlError, send_command

    socket_path = args.socket
    if socket_path is None:  # only the socket path is needed: a typo elsewhere in the config must not matter
        config, errors = load_config_leniently(args.config)
        missing_default = errors and isinstance(errors[0], ConfigNotFound) and args.config == str(DEFAULT_PATH)
        fatal = [error for error in errors  # the file cannot be read, or its [state] is wrong
                 if not isinstance(error, ConfigValueError) or error.key.split(".")[0] == "state"]
        if fatal and not missing_default:  # where the socket is cannot be known: say what to fix
            print(f"moodbox {args.command}: {fatal[0]}", file=sys.stderr)
            return fatal[0].exit_code
        socket_path = config.state.control_socket  # no config file: the daemon uses the default too
    try:
        answer = send_command(socket_path, args.command,
                              params={param: getattr(args, param) for param in ACTION_INFO[args.command].params})
    except ControlError as err:
        print(f"moodbox {args.command}: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(answer))
    elif not answer.get("ok"):
        print(f"moodbox {args.command}: {answer.get('error', 'failed')}", file=sys.stderr)
    elif args.command == "insights":
        print(format_insights(answer))
    elif args.command == "status":
        print(format_status(answer))
    else:
        print("\n".join(f"{key.replace('_', ' ')}: {_plain(value)}" for key, value in answer.items() if key != "ok"))
    return 0 if answer.get("ok") else EXIT_FAILURE


def _plain(value) -> str:
    """A value of the daemon's answer for people: no Python reprs (None, True, [...], {...})."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "; ".join(map(_plain, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_plain(item)}" for key, item in value.items()) or "none"
    return str(value)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def format_status(answer: dict) -> str:
    """``moodbox status`` for people (``--json`` gives the daemon's answer as it is)."""
    get = answer.get
    problems = get("problems") or []
    lines = [f"status      {get('status')}" + (f": {'; '.join(problems)}" if problems else "")]
    if get("mood"):
        confidence = get("mood_confidence")
        lines.append(f"mood        {get('mood')}" + (f" ({confidence:.0%} sure)" if confidence is not None else ""))
    else:
        lines.append("mood        not known yet (the everyday music plays)")
    face = {True: "in view", False: "not in view", None: "the camera cannot tell"}[get("face_in_view")]
    lines.append(f"camera      {get('camera')}, face {face}")
    if get("expression"):
        seen = ", ".join(f"{label} {p:.0%}" for label, p in (get("expressions") or {}).items())
        lines.append(f"expression  {get('expression')} {_plain(get('expression_age_s'))} s ago"
                     + (f" (mood scores: {seen})" if seen else ""))
    if get("now_playing"):
        progress = f"{_minutes(get('elapsed_s'))} of {_minutes(get('duration_s'))}"
        state = "" if get("state") == "play" else f", {get('state') == 'pause' and 'paused' or get('state')}"
        lines.append(f"playing     {get('now_playing')} ({progress}{state})")
    else:
        lines.append("playing     nothing")
    lines.append(f"playlist    {get('playlist') or 'none'}; MPD {get('mpd')}"
                 + (f"; volume {get('volume')}%" if get("volume") is not None else ""))
    if get("held_for_s"):
        lines.append(f"held        {_minutes(get('held_for_s'))} more (moodbox hold lets go)")
    for note in get("warnings") or []:
        lines.append(f"warning     {note}")
    return "\n".join(lines)


def format_insights(answer: dict) -> str:
    """``moodbox insights`` for people: per mood, playlists by estimated preference, then held-off songs."""
    import time

    lines = [f"what the box learned (evidence fades by half every {answer['half_life_days']:g} days; "
             f"other moods' playlists tried in {answer['explore']:.0%} of choices; you skip "
             f"{answer.get('skip_rate', 0):.0%} of songs)"]
    for mood, rows in answer["moods"].items():
        lines.append(f"{mood}:")
        for row in rows:
            lines.append(f"  {row['playlist']:16} {row['preference']:.2f} ± {row['uncertainty']:.2f}"
                         f"{'  (mapped)' if row['mapped'] else '':10}  likes {row['likes']}, holds {row['holds']}, "
                         f"full plays {row['full_plays']}, early skips {row['early_skips']}, "
                         f"late skips {row['late_skips']}"
                         f"{ {'pin': ', pinned by you', 'exclude': ', excluded by you'}.get(row.get('choice'), '')}")
        for part, rows in answer.get("parts_of_day", {}).get(mood, {}).items():
            lines.append(f"  in the {part}: " + ", ".join(f"{row['playlist']} {row['preference']:.2f} "
                                                           f"({row['events']} events)" for row in rows))
    held = answer["held_off"]
    shown = f" (the {len(held)} skipped last)" if len(held) < answer["held_off_count"] else ""
    lines.append(f"songs on hold-off after an early skip: {answer['held_off_count'] or 'none'}{shown}")
    for entry in held:
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry["until"]))
        lines.append(f"  {entry['track']} (until {until})")
    return "\n".join(lines)


def forbid_core_dumps() -> None:
    """A native crash (LiteRT, OpenCV, libcamera) must not write process memory, camera frames included, to disk."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_daemon(config_path: str, *, verbose: bool = False) -> int:
    """``moodbox run``: load the config, start, loop until SIGTERM; returns the process exit code."""
    from moodbox.config import ConfigError, load_config
    from moodbox.daemon import Daemon, StartupError, log
    from moodbox.notify import setup_logging

    setup_logging(verbose)
    forbid_core_dumps()
    try:
        config = load_config(config_path, own=DAEMON_SECTIONS)
    except ConfigError as err:
        log.error("%s", err)
        return err.exit_code
    daemon = Daemon(config)
    daemon.install_signal_handlers()
    try:
        daemon.start()
    except StartupError as err:
        log.error("not starting: %s", err)
        return err.exit_code
    daemon.run()
    log.info("moodbox stopped")
    return 0
