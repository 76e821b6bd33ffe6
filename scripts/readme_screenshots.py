"""Make the README's pictures of the three views from a running demo: docs/top.png (moodbox top captured from an
80x24 tmux), docs/history.png (moodbox history --plot) and docs/web.png (the phone page in headless Chromium).

Usage: .venv/bin/python scripts/readme_screenshots.py [--dataset DIR] [--minutes M]   (needs tmux and chromium)
The demo runs M minutes (default 1.5) first, with a like and a skip, so that the history has something to show.
"""

from __future__ import annotations

import argparse
import io
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from moodbox.frontends.control import ControlError, send_command

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--hide-scrollbars"]


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    sys.exit(f"readme_screenshots: gave up waiting for {what}")


def playing(socket_path: str) -> bool:
    try:
        return send_command(socket_path, "status").get("now_playing") is not None
    except ControlError:
        return False


def screenshot(url: str, png: Path, size: str, profile: Path) -> None:
    subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", f"--window-size={size}", f"--screenshot={png}", url],
                   check=True, capture_output=True, timeout=120)
    print(f"wrote {png.relative_to(REPO)} ({png.stat().st_size // 1024} KiB)")


def terminal_png(ansi: str, png: Path, tmp: Path) -> None:
    """The tmux capture (with its colours) drawn as a terminal: Rich's SVG export, photographed by Chromium."""
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=80, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    console.print(Text.from_ansi(ansi.rstrip("\n")), end="")
    page = tmp / "top.svg"
    page.write_text(console.export_svg(title="ssh moodbox.local: moodbox top"))
    screenshot(page.as_uri(), png, "994,500", tmp / "profile")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", help="FER2013 folder for the demo (default: the demo's default)")
    parser.add_argument("--minutes", type=float, default=1.5, help="how long the demo runs before the pictures")
    args = parser.parse_args()
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="moodbox-shots-") as tmp:
        tmp = Path(tmp)
        state = tmp / "state"
        socket_path = str(state / "control.sock")
        demo = subprocess.Popen([sys.executable, "-m", "moodbox", "demo", "--state-dir", str(state),
                                 *(["--dataset", args.dataset] if args.dataset else [])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        web = None
        try:
            wait_for(lambda: playing(socket_path), 90, "the demo to play")
            time.sleep(args.minutes * 30)
            send_command(socket_path, "like")
            time.sleep(args.minutes * 20)
            send_command(socket_path, "skip")
            time.sleep(args.minutes * 10)

            tmux = ["tmux", "-L", "moodbox-shots"]
            subprocess.run([*tmux, "new-session", "-d", "-s", "top", "-x", "80", "-y", "24",
                            f"{sys.executable} -m moodbox top --socket {socket_path}"], check=True)
            time.sleep(4)
            ansi = subprocess.run([*tmux, "capture-pane", "-p", "-e", "-t", "top"], capture_output=True,
                                  text=True, check=True).stdout
            subprocess.run([*tmux, "kill-server"], capture_output=True)
            terminal_png(ansi, DOCS / "top.png", tmp)

            subprocess.run([sys.executable, "-m", "moodbox", "history", "--db", str(state / "feedback.db"),
                            "--since", f"{args.minutes + 1:g}m", "--plot", str(DOCS / "history.png")],
                           check=True, capture_output=True)
            print(f"wrote docs/history.png ({(DOCS / 'history.png').stat().st_size // 1024} KiB)")

            token = secrets.token_urlsafe(24)
            (tmp / "web.token").write_text(token)
            (tmp / "web.toml").write_text(
                f'[state]\ndir = "{state}"\ncontrol_socket = "{socket_path}"\n'
                f'[web]\nenabled = true\naddress = "127.0.0.1"\ntoken_file = "{tmp / "web.token"}"\n')
            web = subprocess.Popen([sys.executable, "-m", "moodbox", "web", "--config", str(tmp / "web.toml"),
                                    "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            url = web.stdout.readline().split(" on ")[1].split()[0]
            screenshot(f"{url}?token={token}", DOCS / "web.png", "420,600", tmp / "profile")
        finally:
            for process in (web, demo):
                if process is not None:
                    process.terminate()
                    process.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
