"""The ``moodbox`` command: run the daemon, the demo, the checks, the benchmark, or talk to the running daemon."""

from __future__ import annotations

import argparse
import json
import os
import sys

from moodbox import __version__
from moodbox.config import DEFAULT_PATH, load_config_leniently
from moodbox.errors import EXIT_CONFIG, EXIT_FAILURE
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
    if argv and argv[0] in ("history", "top", "web"):
        from importlib import import_module
        return import_module(f"moodbox.frontends.{argv[0]}").main(argv[1:])

    parser = argparse.ArgumentParser(prog="moodbox", description="Offline, emotion-aware smart speaker.")
    parser.add_argument("--version", action="version", version=f"moodbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon (what the systemd service starts)")
    run.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    run.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands.add_parser("demo", help="the whole box with a private MPD and scripted faces (see moodbox demo -h)")
    doctor = commands.add_parser("doctor", help="check config, model, camera, MPD, buttons, state directory")
    doctor.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
    commands.add_parser("bench", help="latency, speed-up, CPU and memory figures (see moodbox bench -h)")
    commands.add_parser("simulate", help="simulated listeners against the learning policy (see moodbox simulate -h)")
    commands.add_parser("library", help="sort the music library by mood: tag, scan, explain (see moodbox library -h)")
    commands.add_parser("history", help="moods, songs, likes and skips from the store, as a table or a chart")
    commands.add_parser("top", help="live view of what the box sees and plays, with keys to steer it")
    commands.add_parser("web", help="the opt-in phone page (see moodbox web -h; --url shows its link)")
    for action in ACTION_INFO.values():
        command = commands.add_parser(action.name, help=action.help)
        where = command.add_mutually_exclusive_group()
        where.add_argument("--socket", help="control socket (default: state.control_socket of --config)")
        where.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH})")
        command.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    args = parser.parse_args(argv)

    if args.command == "run":
        return run_daemon(args.config, verbose=args.verbose)
    if args.command == "doctor":
        from moodbox.frontends.doctor import main as doctor_main
        return doctor_main(args.config)
    return _send_action(args)


def _send_action(args) -> int:
    from moodbox.frontends.control import ControlError, send_command

    socket_path = args.socket
    if socket_path is None:  # only the socket path is needed: a typo elsewhere in the config must not matter
        config, errors = load_config_leniently(args.config)
        missing_default = errors and "config file not found" in errors[0] and args.config == str(DEFAULT_PATH)
        fatal = [error for error in errors if "config file not found" in error or "state." in error
                 or "[state]" in error or "invalid TOML" in error or "not UTF-8" in error or "larger than" in error]
        if fatal and not missing_default:  # where the socket is cannot be known: say what to fix
            print(f"moodbox {args.command}: {fatal[0]}", file=sys.stderr)
            return EXIT_CONFIG
        socket_path = config.state.control_socket  # no config file: the daemon uses the default too
    try:
        answer = send_command(socket_path, args.command)
    except ControlError as err:
        print(f"moodbox {args.command}: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(answer))
    elif not answer.get("ok"):
        print(f"moodbox {args.command}: {answer.get('error', 'failed')}", file=sys.stderr)
    elif args.command == "insights":
        print(format_insights(answer))
    else:
        print("\n".join(f"{key}: {value}" for key, value in answer.items() if key != "ok"))
    return 0 if answer.get("ok") else EXIT_FAILURE


def format_insights(answer: dict) -> str:
    """``moodbox insights`` for people: per mood, playlists by estimated preference, then held-off songs."""
    import time

    lines = [f"what the box learned (evidence fades by half every {answer['half_life_days']:g} days; "
             f"other moods' playlists tried in {answer['explore']:.0%} of choices)"]
    for mood, rows in answer["moods"].items():
        lines.append(f"{mood}:")
        for row in rows:
            lines.append(f"  {row['playlist']:16} {row['preference']:.2f} ± {row['uncertainty']:.2f}"
                         f"{'  (mapped)' if row['mapped'] else '':10}  likes {row['likes']}, holds {row['holds']}, "
                         f"full plays {row['full_plays']}, early skips {row['early_skips']}, "
                         f"late skips {row['late_skips']}")
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
        config = load_config(config_path)
    except ConfigError as err:
        log.error("%s", err)
        return EXIT_CONFIG
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
