"""moodbox-web.service as systemd runs it: a transient user, the token as a credential, the page answering with
it (the daemon's status through the group's socket, the history from the group-readable store), no devices."""

from __future__ import annotations

import json
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


def test_the_page_answers_with_the_token_only(install):
    machine = install.machine
    token = machine.run("cat", "/etc/moodbox/web.token", check=True).stdout.strip()
    assert get("/")[0] == 401
    assert get("/?token=wrong-token-of-some-length")[0] == 401
    code, page = get(f"/?token={token}")
    assert code == 200 and b"moodbox" in page
    header = {"X-Moodbox-Token": token}
    code, body = get("/api/status", header)
    assert code == 200, body
    assert json.loads(body)["mpd"] == "connected"  # the daemon answered through its control socket
    code, body = get("/api/history?since=1h", header)
    assert code == 200, body  # the store, read through the group


def test_it_cannot_see_any_camera(install):
    """A V4L2 node exists in the machine; the page's private /dev has none."""
    machine = install.machine
    machine.sh("test -e /dev/video0 || mknod -m 0660 /dev/video0 c 81 0", check=True)
    pid = web_pid(machine)
    seen = machine.run("nsenter", f"--target={pid}", "--mount", "--", "ls", "/dev").stdout.split()
    assert "null" in seen and not [name for name in seen if name.startswith(("video", "media"))], seen
    daemon = machine.show("moodbox.service", "MainPID")["MainPID"]
    assert "video0" in machine.run("nsenter", f"--target={daemon}", "--mount", "--", "ls", "/dev").stdout.split()
