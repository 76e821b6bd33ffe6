"""Make the README's pictures of the three views from a running demo: docs/top.png (moodbox top captured from an
80x24 tmux), docs/history.png (moodbox history --plot) and the phone page in headless Chromium at a phone's size,
paired the way a phone pairs: docs/web-pair.png (not paired yet), docs/web.png (Now) and docs/web-music.png (Music).

Usage: .venv/bin/python scripts/readme_screenshots.py [--dataset DIR] [--minutes M] [--web-only]
(needs tmux and chromium; --web-only: the phone page's pictures only)
The demo runs M minutes (default 1.5) first, with a like and a skip, so that the history has something to show.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from moodbox.frontends.control import ControlError, send_command

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "device"))
from browser import Browser  # noqa: E402 - the tests' DevTools driver of Debian's chromium
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


def phone_pictures(url: str, token: str, profile: Path) -> None:
    """The phone page as a phone shows it: before pairing, then paired with a code (as `moodbox web --pair`)."""
    connection = http.client.HTTPConnection(url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]), timeout=10)
    connection.request("POST", "/admin/pair", body=b"{}", headers={"X-Moodbox-Token": token})
    code = json.loads(connection.getresponse().read())["code"]
    browser = Browser(profile)
    try:
        tab = browser.tab(f"{url}/")
        shoot(tab, "web-pair.png")
        tab.open(f"{url}/pair?code={code}", settle_s=3)
        tab.click("#ranges button[data-since='1h']")
        time.sleep(3)
        shoot(tab, "web.png")
        tab.click("nav button[data-view=music]")
        time.sleep(2)
        shoot(tab, "web-music.png")
    finally:
        browser.close()


def shoot(tab, name: str) -> None:
    tab.screenshot(DOCS / name)
    print(f"wrote docs/{name} ({(DOCS / name).stat().st_size // 1024} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", help="FER2013 folder for the demo (default: the demo's default)")
    parser.add_argument("--minutes", type=float, default=1.5, help="how long the demo runs before the pictures")
    parser.add_argument("--web-only", action="store_true", help="only the phone page's pictures")
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

            if not args.web_only:
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
            os.chmod(tmp / "web.token", 0o600)
            (tmp / "web.toml").write_text(
                f'[state]\ndir = "{state}"\ncontrol_socket = "{socket_path}"\n'
                f'[web]\nenabled = true\naddress = "127.0.0.1"\ntoken_file = "{tmp / "web.token"}"\n'
                f'state_dir = "{tmp / "web-state"}"\n')
            web = subprocess.Popen([sys.executable, "-m", "moodbox", "web", "--config", str(tmp / "web.toml"),
                                    "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            url = web.stdout.readline().split(" on ")[1].split()[0].rstrip("/")
            phone_pictures(url, token, tmp / "phone")
        finally:
            for process in (web, demo):
                if process is not None:
                    process.terminate()
                    process.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
