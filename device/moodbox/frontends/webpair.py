"""``moodbox web --pair``, ``--sessions`` and ``--revoke``: through the running web process, which owns the codes
and sessions, with the box's token, from this machine only."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from moodbox.config import WebConfig
from moodbox.errors import EXIT_FAILURE

TOKEN_HEADER = "X-Moodbox-Token"


def lan_address() -> str:
    """This machine's address on its default route (a UDP connect picks the route; no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, never sent to
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def local_url(web: WebConfig) -> str:
    """Where ``moodbox web`` on this machine reaches the running page."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(web.address, web.address)
    return f"http://{host if ':' not in host or host.startswith('[') else f'[{host}]'}:{web.port}"


def pair_urls(web: WebConfig, code: str, host: str | None = None) -> list[str]:
    """The pairing links: by the mDNS name (``NAME.local``, Avahi) first, then by the LAN address."""
    hosts = [host] if host else [f"{socket.gethostname()}.local",
                                 lan_address() if web.address in ("0.0.0.0", "::", "") else web.address]
    return [f"http://{name}:{web.port}/pair?code={quote(code)}" for name in hosts]


def admin_call(config, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(local_url(config.web) + path, method=method,
                                     headers={TOKEN_HEADER: token, "Content-Type": "application/json"},
                                     data=json.dumps(body or {}).encode() if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"{}") | {"ok": False}
    except OSError as err:
        return {"ok": False, "error": f"the phone page does not answer on {local_url(config.web)} ({err}): is it "
                                     "running? (sudo systemctl status moodbox-web)"}


def manage(config, token: str, args) -> int:
    """--pair, --sessions, --revoke: through the running web process, which owns the codes and sessions."""
    if args.pair:
        answer = admin_call(config, token, "POST", "/admin/pair")
        if not answer.get("ok"):
            print(f"moodbox web: {answer.get('error', 'no code')}", file=sys.stderr)
            return EXIT_FAILURE
        import segno
        first, *others = pair_urls(config.web, answer["code"], args.host)
        print(f"Open this on the phone within 10 minutes (it works once):\n{first}")
        for other in others:
            print(f"or, where the phone does not find .local names:\n{other}")
        segno.make(first, error="m").terminal(compact=True)
        return 0
    if args.sessions:
        answer = admin_call(config, token, "GET", "/admin/sessions")
        if not answer.get("ok"):
            print(f"moodbox web: {answer.get('error', 'no answer')}", file=sys.stderr)
            return EXIT_FAILURE
        rows = answer["sessions"]
        when = lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t))  # noqa: E731
        print("\n".join(f"{s['id']}  paired {when(s['created'])}  last seen {when(s['last_seen'])}  {s['label']}"
                        for s in rows) or "no paired phones (moodbox web --pair pairs one)")
        return 0
    answer = admin_call(config, token, "POST", "/admin/revoke", {"id": args.revoke})
    if not answer.get("ok"):
        problem = answer.get("error", "no answer")
        if problem == "no such session":
            problem = f"no paired phone with id {args.revoke!r} (moodbox web --sessions lists them)"
        print(f"moodbox web: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"unpaired {answer['revoked']} phone{'s' if answer['revoked'] != 1 else ''}")
    return 0
