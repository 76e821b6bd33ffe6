"""--uninstall and --uninstall --purge, compared with the file list of the root before setup.sh ran."""

from __future__ import annotations

import pytest

from install_support import CHECKOUT, file_list

pytestmark = pytest.mark.system

# What the README says stays after --uninstall: the config, the state (likes, history) and the user.
KEPT = ("/etc/moodbox", "/var/lib/moodbox")
# What stays after --purge too: MPD, its music and its own state (database, playlists, likes per song), setup.sh's
# copy of Debian's mpd.conf... no: --purge puts that back. And the owner's clone, where pip builds the package.
MPD_STATE = ("/var/lib/mpd/",)
ACCOUNTS = ("/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-")  # the account tools' backups


def differences(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(path for path in set(before) & set(after) if before[path] != after[path])}


def outside(paths: list[str], allowed: tuple[str, ...]) -> list[str]:
    allowed = allowed + (CHECKOUT + "/",) + MPD_STATE + ACCOUNTS
    return [path for path in paths if not any(path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/")
                                              or path == prefix for prefix in allowed)]


def test_uninstall_removes_the_program_and_keeps_config_likes_and_user(install):
    machine = install.machine
    result = machine.run("bash", "-c", f"cd {CHECKOUT} && ./setup.sh --uninstall", timeout=180)
    assert result.returncode == 0, result.output[-3000:]
    for unit in ("moodbox.service", "moodbox-web.service", "moodbox-library.service"):
        assert machine.show(unit, "LoadState")["LoadState"] == "not-found", unit
    assert machine.run("id", "moodbox").returncode == 0
    diff = differences(install.before, file_list(machine))
    print(diff)
    assert outside(diff["added"], KEPT + ("/etc/mpd.conf.moodbox-orig",)) == []
    assert outside(diff["removed"] + diff["changed"], ()) == []
    assert "/var/lib/moodbox/feedback.db" in diff["added"] and "/etc/moodbox/moodbox.toml" in diff["added"]


def test_purge_leaves_the_root_as_before(install):
    machine = install.machine
    result = machine.run("bash", "-c", f"cd {CHECKOUT} && ./setup.sh --uninstall --purge", timeout=180)
    assert result.returncode == 0, result.output[-3000:]
    assert machine.run("id", "moodbox").returncode != 0
    assert machine.run("getent", "group", "moodbox").returncode != 0
    diff = differences(install.before, file_list(machine))
    print(diff)
    assert outside(diff["added"] + diff["removed"] + diff["changed"], ()) == []
    stock = machine.run("dpkg-query", "-W", "-f=${Conffiles}", "mpd", check=True).stdout
    md5 = machine.run("md5sum", "/etc/mpd.conf", check=True).stdout.split()[0]
    assert f"/etc/mpd.conf {md5}" in stock, "Debian's own mpd.conf is back"
