"""--uninstall and --uninstall --purge, compared with the file list of the root before setup.sh ran."""

from __future__ import annotations

import pytest

from install_support import CHECKOUT, file_list

pytestmark = pytest.mark.system

# What the README says --uninstall keeps: the config, the state (likes, history) and the user; MPD's configuration
# as setup.sh wrote it (with Debian's copy beside it until --purge).
KEPT = ("/etc/moodbox", "/var/lib/moodbox", "/etc/mpd.conf.moodbox-orig", "/etc/mpd.conf",
        "/var/lib/moodbox-web", "/var/lib/private/moodbox-web")  # the last two: the phone page's paired phones
# What stays after --purge too, as the README says: MPD (setup.sh enabled it) and its music and own state (its
# database, playlists, including the auto-* ones the tagger wrote, stickers).
MPD = ("/var/lib/mpd", "/etc/systemd/system/multi-user.target.wants/mpd.service",
       "/etc/systemd/system/sockets.target.wants")
# The account tools' backup copies (useradd/userdel by setup.sh). The owner's clone stays untouched: pip used to
# leave root-owned device/build and device/moodbox.egg-info in it.
OTHERS = ("/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-")


def differences(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(path for path in set(before) & set(after) if before[path] != after[path])}


def unexplained(diff: dict[str, list[str]], allowed: tuple[str, ...]) -> list[str]:
    paths = diff["added"] + diff["removed"] + diff["changed"]
    return [path for path in paths if not any(path == prefix or path.startswith(prefix + "/") for prefix in allowed)]


def packages_setup_installed(machine, diff: dict[str, list[str]]) -> tuple[str, ...]:
    """What the apt packages setup.sh installed brought (they stay, as MPD does: e.g. avahi-daemon with --web): the
    packages' files, dpkg's records of them, and the links their install made to enable their units."""
    records = [path for path in diff["added"] if path.startswith("/var/lib/dpkg/info/") and path.endswith(".list")]
    names = [path.rsplit("/", 1)[1][:-len(".list")] for path in records]
    if not names:
        return ()
    files = machine.run("dpkg-query", "-L", *names, check=True).stdout.split()
    info = [path for path in diff["added"] if path.startswith("/var/lib/dpkg/info/")
            and path.rsplit("/", 1)[1].rsplit(".", 1)[0] in names]
    links = [path for path in diff["added"] if path.startswith("/etc/systemd/system/")
             and not path.endswith(".wants")]
    targets = machine.run("readlink", "-f", *links).stdout.split() if links else []
    enabled = [link for link, target in zip(links, targets) if target in files]
    return tuple(files + info + enabled)


def test_uninstall_removes_the_program_and_keeps_config_likes_and_user(install):
    machine = install.machine
    result = machine.run("bash", "-c", f"cd {CHECKOUT} && ./setup.sh --uninstall", timeout=180)
    assert result.returncode == 0, result.output[-3000:]
    for unit in ("moodbox.service", "moodbox-web.service", "moodbox-library.service"):
        assert machine.show(unit, "LoadState")["LoadState"] == "not-found", unit
    assert machine.run("id", "moodbox").returncode == 0
    diff = differences(install.before, file_list(machine))
    assert unexplained(diff, KEPT + MPD + OTHERS + packages_setup_installed(machine, diff)) == [], diff
    assert "/var/lib/moodbox/feedback.db" in diff["added"] and "/etc/moodbox/moodbox.toml" in diff["added"]
    assert not [path for path in diff["added"] if path.startswith(("/opt/moodbox", "/usr/local/bin/moodbox"))]


def test_purge_after_uninstall_leaves_the_root_as_before(install):
    """The README's way: --uninstall first, later --uninstall --purge (which found the units already gone), on a box
    where someone joined the moodbox group to read the status (userdel then kept the group)."""
    machine = install.machine
    machine.run("usermod", "-a", "-G", "moodbox", "listener", check=True)
    result = machine.run("bash", "-c", f"cd {CHECKOUT} && ./setup.sh --uninstall --purge", timeout=180)
    assert result.returncode == 0, result.output[-3000:]
    assert machine.run("id", "moodbox").returncode != 0
    assert machine.run("getent", "group", "moodbox").returncode != 0
    diff = differences(install.before, file_list(machine))
    print(diff)
    assert unexplained(diff, MPD + OTHERS + packages_setup_installed(machine, diff)) == [], diff
    stock = machine.run("dpkg-query", "-W", "-f=${Conffiles}", "mpd", check=True).stdout
    md5 = machine.run("md5sum", "/etc/mpd.conf", check=True).stdout.split()[0]
    assert f"/etc/mpd.conf {md5}" in stock, "Debian's own mpd.conf is back"
