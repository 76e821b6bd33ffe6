"""How long a burst of simultaneous page loads waits: N phones (threads) open the paired page at the same moment,
against a running demo, with the page's listen backlog (web.LISTEN_BACKLOG) and, as the baseline in the same run,
with the old backlog of 5. Prints how many answered, their HTTP codes, and the median and slowest answer.

Usage: .venv/bin/python scripts/web_burst.py [--loads 50] [--dataset DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from moodbox.frontends.control import ControlError, send_command
from moodbox.frontends.web import LISTEN_BACKLOG

OLD_BACKLOG = 5  # http.server's default, what the page listened with before issue 27


def start_web(config: Path, backlog: int) -> tuple[subprocess.Popen, int]:
    code = ("import sys; import moodbox.frontends.web as web; web.Server.request_queue_size = int(sys.argv[1]); "
            "sys.exit(web.main(sys.argv[2:]))")
    process = subprocess.Popen([sys.executable, "-c", code, str(backlog), "--config", str(config), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = process.stdout.readline().split(" on ")[1].split()[0]
    return process, int(url.rstrip("/").rsplit(":", 1)[1])


def pair(port: int, token: str) -> str:
    """A session cookie, as a phone gets one: a code from the admin door, then the pairing link."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/admin/pair", body=b"{}", headers={"X-Moodbox-Token": token})
    code = json.loads(connection.getresponse().read())["code"]
    connection.request("GET", f"/pair?code={code}")
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer.headers["Set-Cookie"].split(";")[0]


def burst(port: int, cookie: str, loads: int) -> list[tuple[float, int | str]]:
    """``loads`` page loads started together, each on its own connection: (seconds, HTTP code or error)."""
    start = threading.Barrier(loads)
    results: list[tuple[float, int | str]] = []
    lock = threading.Lock()

    def load():
        start.wait()
        began = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", "/", headers={"Cookie": cookie})
            answer = connection.getresponse()
            answer.read()
            connection.close()
            outcome: int | str = answer.status
        except OSError as err:
            outcome = type(err).__name__
        with lock:
            results.append((time.monotonic() - began, outcome))

    threads = [threading.Thread(target=load) for _ in range(loads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=50, help="simultaneous page loads (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per backlog (default 3)")
    parser.add_argument("--dataset", help="FER2013 folder for the demo (default: the demo's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodbox-burst-") as tmp:
        tmp = Path(tmp)
        state, token = tmp / "state", "burst-token-0123456789abcdef"
        socket_path = str(state / "control.sock")
        (tmp / "web.token").write_text(token)
        os.chmod(tmp / "web.token", 0o600)
        (tmp / "web.toml").write_text(
            f'[state]\ndir = "{state}"\ncontrol_socket = "{socket_path}"\n[web]\nenabled = true\n'
            f'address = "127.0.0.1"\ntoken_file = "{tmp / "web.token"}"\nstate_dir = "{tmp / "web-state"}"\n')
        demo = subprocess.Popen([sys.executable, "-m", "moodbox", "demo", "--state-dir", str(state),
                                 *(["--dataset", args.dataset] if args.dataset else [])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if send_command(socket_path, "status").get("now_playing"):
                        break
                except ControlError:
                    pass
                time.sleep(0.5)
            else:
                sys.exit("web_burst: the demo did not start playing within 120 s")
            print(f"{args.loads} simultaneous page loads (GET / with a session), {args.rounds} bursts per backlog, "
                  f"{os.cpu_count()} CPUs")
            for backlog in (OLD_BACKLOG, LISTEN_BACKLOG):
                web, port = start_web(tmp / "web.toml", backlog)
                try:
                    cookie = pair(port, token)
                    for round_number in range(1, args.rounds + 1):
                        results = burst(port, cookie, args.loads)
                        seconds = sorted(s for s, _ in results)
                        codes = {}
                        for _, outcome in results:
                            codes[outcome] = codes.get(outcome, 0) + 1
                        within = sum(s <= 5.0 and outcome == 200 for s, outcome in results)
                        print(f"backlog {backlog:3d} burst {round_number}: {within}/{args.loads} answered 200 "
                              f"within 5 s; codes {codes}; median {statistics.median(seconds):.2f} s, slowest "
                              f"{seconds[-1]:.2f} s")
                        time.sleep(1)
                finally:
                    web.terminate()
                    web.wait(10)
        finally:
            demo.terminate()
            demo.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
