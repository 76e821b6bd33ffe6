"""moodbox-web.service as systemd runs it: a transient user, the token as a credential, a phone paired with a
one-time code (the daemon's status through the group's socket, the history from the group-readable store), no
devices."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.system

PORT = 8470  # web.port as shipped; the container shares the host's network


def web_pid(machine) -> str:
    pid = machine.show("moodbox-web.service", "MainPID")["MainPID"]
    assert pid != "0", machine.journal("moodbox-web.service")[-2000:]
    return pid


def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_runs_as_a_dynamic_user_in_the_moodbox_group(install):
    machine = install.machine
    status = machine.run("cat", f"/proc/{web_pid(machine)}/status", check=True).stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = int(fields["Uid"].split()[0])
    assert 61184 <= uid <= 65519, f"uid {uid} is not in systemd's DynamicUser range"
    group = machine.run("getent", "group", "moodbox", check=True).stdout.split(":")[2]
    assert group in fields["Groups"].split()


def test_the_token_arrives_as_a_credential(install):
    machine = install.machine
    environ = machine.run("cat", f"/proc/{web_pid(machine)}/environ", check=True).stdout.split("\0")
    credentials = [entry.split("=", 1)[1] for entry in environ if entry.startswith("CREDENTIALS_DIRECTORY=")]
    assert credentials, environ
    token = machine.run("cat", f"{credentials[0]}/token", check=True).stdout.strip()
    assert token == machine.run("cat", "/etc/moodbox/web.token", check=True).stdout.strip()


def test_a_phone_pairs_with_a_code_and_the_page_answers_its_session_only(install):
    """The token opens nothing by itself: `moodbox web --pair` (root, through the running page) gives a one-time
    code; the code gives a session cookie; the page and its API answer that session."""
    machine = install.machine
    token = machine.run("cat", "/etc/moodbox/web.token", check=True).stdout.strip()
    assert get("/")[0] == 401
    assert get(f"/?token={token}")[0] == 401
    paired = machine.run("moodbox", "web", "--pair", "--config", "/etc/moodbox/moodbox.toml", check=True).stdout
    codes = re.findall(r"/pair\?code=([\w-]+)", paired)
    assert codes, paired
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}/pair?code={codes[0]}")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        answer = opener.open(request, timeout=20)
        status, cookie = answer.status, answer.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as err:
        status, cookie = err.code, err.headers.get("Set-Cookie", "")
    assert status == 303 and cookie.startswith("moodbox_session="), (status, cookie)
    session = {"Cookie": cookie.split(";", 1)[0]}
    code, page = get("/", session)
    assert code == 200 and b"moodbox" in page
    code, body = get("/api/status", session)
    assert code == 200, body
    assert json.loads(body)["mpd"] == "connected"  # the daemon answered through its control socket
    assert get(f"/pair?code={codes[0]}")[0] == 403  # a code works once
    PAIRED.update(session)


PAIRED: dict[str, str] = {}  # the session cookie of the phone paired above


def test_the_page_reads_the_history_from_the_running_daemons_store(install):
    """The unit's StateDirectory (the page's sessions) once became the default state.dir, where the page looked for
    the daemon's store: 503 "no history yet" on every installed box."""
    machine = install.machine
    assert PAIRED, "runs after the pairing test"
    code, body = get("/api/history?since=1h", PAIRED)
    assert code == 200, (body, machine.run("ls", "-la", "/var/lib/moodbox").output)  # the store, through the group


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_it_cannot_see_any_camera(install):
    """A V4L2 node exists in the machine; the page's private /dev has none."""
    machine = install.machine
    machine.sh("test -e /dev/video0 || mknod -m 0660 /dev/video0 c 81 0", check=True)
    pid = web_pid(machine)
    seen = machine.run("nsenter", f"--target={pid}", "--mount", "--", "ls", "/dev").stdout.split()
    assert "null" in seen and not [name for name in seen if name.startswith(("video", "media"))], seen
    daemon = machine.show("moodbox.service", "MainPID")["MainPID"]
    assert "video0" in machine.run("nsenter", f"--target={daemon}", "--mount", "--", "ls", "/dev").stdout.split()
