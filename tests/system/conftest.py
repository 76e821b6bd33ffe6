"""One booted Debian machine with systemd as PID 1 for the whole session, with moodbox installed by setup.sh.

The expensive parts happen once: the root is built once per machine (cached), the container boots once and
setup.sh installs once (and runs once more, to show it changes nothing); the test modules then share the running
machine, in the order below, the ones that reboot, kill or remove it last. Right after the first install, before the
harness changes anything, the stopped machine's files are copied into the disk of a virtual machine with a sound card
(test_first_boot_vm.py): the box as an owner has it after setup.sh, with no config edit.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from install_support import AUDIO_CARD, CAMERA, CHECKOUT, CONFIG, MUSIC, TRACKS, file_list
from system_support import Container, Result, cached_root, machine_slot, ports_in_use, unavailable
from vm_support import FirstBoot, make_disk, vm_unavailable

SESSION_TIMEOUT_S = 1500
PORTS = (6600, 8470)  # MPD and the phone page, as setup.sh and the shipped config set them
MODULE_ORDER = ["test_install.py", "test_services.py", "test_hardening.py", "test_web_unit.py", "test_first_hour.py",
                "test_device_tests_beside_the_box.py", "test_watchdog.py", "test_reboot.py", "test_uninstall.py",
                "test_first_boot_vm.py"]  # the VM boots in the background from the install on: read it last


def pytest_collection_modifyitems(items):
    """The shared machine's story in order: install, look, then watchdog, reboot, power cut and removal."""
    def rank(item):
        name = Path(str(item.fspath)).name
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else -1
    system = [item for item in items if "tests/system/" in str(item.fspath)]
    for item in system:  # the first test waits for the root's build and setup.sh (many minutes on a cold machine)
        item.add_marker(pytest.mark.timeout(SESSION_TIMEOUT_S))
    others = [item for item in items if item not in system]
    items[:] = others + sorted(system, key=rank)


@dataclass
class Install:
    machine: Container
    before: dict[str, str]  # the root's files before setup.sh: path -> type, mode, owner
    first: Result           # setup.sh's first run
    second: Result          # the run after the harness pointed camera.source at a folder, on the installed box
    setup_s: float
    first_boot: FirstBoot | str  # the VM booting the disk made after the first run, or why there is none


def copy_checkout(repo_root: Path, dest: Path) -> None:
    """The checkout as a clone has it: tracked and untracked files, nothing git ignores (no venvs, no caches)."""
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo_root,
                           capture_output=True, check=True).stdout
    packed = subprocess.run(["tar", "--null", "-T", "-", "-cf", "-"], cwd=repo_root, input=files,
                            capture_output=True, check=True).stdout
    subprocess.run(["tar", "-xf", "-", "-C", str(dest)], input=packed, check=True)


def leave_an_old_build(clone: Path) -> None:
    """What pip left in the clone under setup.sh before it built from a copy: device/build, here holding a module
    the checkout no longer has and an old config.py, newer than the sources (an owner updating the clone)."""
    old = clone / "device" / "build" / "lib" / "moodbox"
    old.mkdir(parents=True)
    for name in ("gone.py", "config.py"):
        (old / name).write_text('raise ImportError("from an older checkout")\n')


def make_music(folder: Path) -> None:
    """A dozen short tagged tracks (sox) in MPD's music directory."""
    folder.mkdir(parents=True, exist_ok=True)
    for artist, title, genre, hz in TRACKS:
        subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", "--comment", f"ARTIST={artist}", "--add-comment",
                        f"TITLE={title}", "--add-comment", f"GENRE={genre}", str(folder / f"{artist}-{title}.ogg"),
                        "synth", "20", "sine", str(hz), "vol", "0.3"], check=True)


def make_camera_folder(folder: Path) -> None:
    """Grey frames with nobody in view (plain PGM): the camera works, no mood is read."""
    folder.mkdir(parents=True)
    width, height = 160, 120
    for index in range(3):
        pixels = bytes((x + y + 40 * index) % 256 for y in range(height) for x in range(width))
        (folder / f"frame{index}.pgm").write_bytes(f"P5 {width} {height} 255\n".encode() + pixels)


def trust_the_hosts_certificates(box: Container) -> None:
    """A machine behind a TLS-inspecting proxy has its CA in /usr/local/share/ca-certificates; the container shares
    that network, so it gets the same trust (apt's and the system's store, and pip's through /etc/pip.conf)."""
    local = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if not local:
        return
    for certificate in local:
        shutil.copy2(certificate, box.path("/usr/local/share/ca-certificates") / certificate.name)
    box.run("update-ca-certificates", check=True)
    box.path("/etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")


def failed_units(box: Container) -> str:
    """What a failed install left behind: the failed units and the end of their journals."""
    failed = box.run("systemctl", "list-units", "--failed", "--plain", "--no-legend").stdout.split()
    units = [word for word in failed if word.endswith((".service", ".socket"))]
    return "\n".join(f"--- journal of {unit}:\n{box.run('journalctl', '--no-pager', '-n', '40', '-u', unit).stdout}"
                     for unit in units)


@pytest.fixture(scope="session")
def system_root(repo_root) -> Path:
    reason = unavailable()
    if reason:
        pytest.skip(f"system suite: {reason}")
    root, build_s = cached_root(repo_root)
    print(f"system root {root}: " + (f"built in {build_s:.0f} s" if build_s else "cached"))
    return root


@pytest.fixture(scope="session")
def machine(system_root, repo_root):
    with machine_slot():
        taken = ports_in_use(PORTS)
        if taken:  # e.g. on an installed box: its MPD and page stay as they are
            pytest.skip(f"system suite: TCP port(s) {taken} in use on this host (an installed moodbox's MPD or "
                        "page?): the test machine shares the host's network and needs them free")
        workdir = Path(tempfile.mkdtemp(prefix="moodbox-system-", dir="/var/tmp"))
        box = Container(system_root, workdir)
        try:
            box.mount()
            copy_checkout(repo_root, box.path(CHECKOUT))
            leave_an_old_build(box.path(CHECKOUT))
            make_music(box.path(MUSIC))
            make_camera_folder(box.path(CAMERA))
            boot_s = box.boot()
            print(f"booted in {boot_s:.1f} s")
            trust_the_hosts_certificates(box)
            yield box
        finally:
            box.destroy()
            shutil.rmtree(workdir, ignore_errors=True)


def boot_a_copy_as_a_vm(machine: Container) -> FirstBoot | str:
    """The installed box's files as a VM's disk (vm_support), taken with the machine stopped; then the container
    boots again and the VM boots beside it."""
    reason = vm_unavailable()
    if reason:
        return reason
    assert machine.shutdown() == 0
    image = machine.upper.parent / "first-boot.img"
    started = time.monotonic()
    kernel, initrd = make_disk(machine.root, image)
    print(f"first-boot disk made in {time.monotonic() - started:.0f} s; booted again in {machine.boot():.1f} s")
    return FirstBoot(image, kernel, initrd, machine.upper.parent / "first-boot-console.log")


@pytest.fixture(scope="session")
def install(machine):
    """`sudo ./setup.sh --web --audio Intel` as an owner runs it in the clone (no playlists, no config edit; the
    card is the VM's, which the container lacks); a copy boots as the VM; then the harness points camera.source at
    the camera folder (the container has no camera) and runs setup.sh once more (it keeps the edited config)."""
    # Two accounts of the household, made before the snapshot: one joins the moodbox group later, one never does.
    for user in ("listener", "stranger"):
        machine.run("useradd", "--no-create-home", user, check=True)
    before = file_list(machine)
    started = time.monotonic()
    first = machine.run("bash", "-c", f"cd {CHECKOUT} && ./setup.sh --web --audio {AUDIO_CARD}", timeout=900)
    setup_s = time.monotonic() - started
    print(f"setup.sh --web: exit {first.returncode} in {setup_s:.0f} s")
    assert first.returncode == 0, f"setup.sh --web failed:\n{first.output[-5000:]}\n{failed_units(machine)}"
    first_boot = boot_a_copy_as_a_vm(machine)
    try:
        machine.run("sed", "-i", f's|^source = "0"$|source = "{CAMERA}"|', CONFIG, check=True)
        second = machine.run("bash", "-c", f"cd {CHECKOUT} && ./setup.sh --web", timeout=300)
        yield Install(machine, before, first, second, setup_s, first_boot)
    finally:
        if isinstance(first_boot, FirstBoot):
            first_boot.stop()
