"""A Debian bookworm root with systemd as PID 1 (systemd-nspawn), for tests of what the units and setup.sh do.

The root is built once with mmdebstrap and cached outside the work tree, under CACHE/<key>, where the key hashes
everything that goes into it; each test session boots it through an overlay, so the cached root is never
changed and a session starts from a clean Debian. Commands run inside through nsenter, as root with a clean
environment (what `sudo` gives an owner).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("MOODBOX_SYSTEM_ROOT_CACHE", "/var/cache/moodbox-system-root"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# A Debian box with systemd as init and D-Bus (systemd-analyze security reads units over it), a kernel to boot it
# as a virtual machine with a sound card (vm_support.py), git (an owner clones with it) and sox, which the device
# tests run on the installed box need for their music (test_device_tests_beside_the_box.py).
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "linux-image-amd64", "git", "sox", "libsox-fmt-base")
HOSTNAME = "moodbox"
# What the Debian installer writes and mmdebstrap does not: MPD's bind_to_address "localhost" needs it.
HOSTS = f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
             "LANG": "C.UTF-8", "TERM": "dumb"}
NSPAWN_REBOOT = 133  # systemd-nspawn's exit status when the container's systemd asked for a reboot


def unavailable() -> str | None:
    """Why the system suite cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn boots the test root); run the suite as root"
    for tool, package in (("systemd-nspawn", "systemd-container"), ("mmdebstrap", "mmdebstrap"),
                          ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt-get install {package})"
    if "overlay" not in Path("/proc/filesystems").read_text():
        subprocess.run(["modprobe", "overlay"], capture_output=True)
        if "overlay" not in Path("/proc/filesystems").read_text():
            return "needs the kernel's overlay file system (each session boots the cached root through an overlay)"
    return None


def setup_packages(repo_root: Path) -> list[str]:
    """The apt packages setup.sh installs on a generic Debian machine, as setup.sh itself lists them."""
    listed = subprocess.run(["bash", "-c", 'source "$0/setup.sh"; PLATFORM=generic; plan_platform; '
                             'echo "${APT_PACKAGES[@]}"', str(repo_root)],
                            capture_output=True, text=True, check=True)
    return listed.stdout.split()


def recipe(repo_root: Path) -> dict:
    """What goes into the root. setup.sh's apt packages are in it already: dpkg unpacking them inside a booted
    container takes many minutes on a small shared machine (mmdebstrap does it in one), and setup.sh's package
    plan is tested in tests/appliance. The root is then a box whose owner has installed MPD already."""
    packages = sorted(set(BASE_PACKAGES) | set(setup_packages(repo_root)))
    return {"suite": SUITE, "mirror": MIRROR, "variant": "minbase", "packages": packages, "hostname": HOSTNAME,
            "version": 3}


def root_key(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_root(repo_root: Path) -> tuple[Path, float]:
    """The cached root (built now when absent) and the seconds spent building it (0 when cached). A lock keeps two
    sessions from building the same root; a half-built root never takes the final name."""
    wanted = recipe(repo_root)
    key = root_key(wanted)
    folder = CACHE / key
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "root" / "usr" / "lib" / "systemd" / "systemd").exists():
            (folder / "recipe.json").touch()  # last used
            return folder / "root", 0.0
        started = time.monotonic()
        building = Path(tempfile.mkdtemp(prefix=f"{key}.building.", dir=CACHE))
        try:
            subprocess.run(["mmdebstrap", "--quiet", f"--variant={wanted['variant']}",
                            f"--include={','.join(wanted['packages'])}", SUITE, str(building / "root"), MIRROR],
                           check=True, timeout=900, stdout=subprocess.DEVNULL)
            (building / "root" / "etc" / "hostname").write_text(HOSTNAME + "\n")
            (building / "root" / "etc" / "hosts").write_text(HOSTS)
            (building / "recipe.json").write_text(json.dumps(wanted, indent=1) + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            building.rename(folder)
        finally:
            if building.exists():
                shutil.rmtree(building)
        forget_old_roots()
        return folder / "root", time.monotonic() - started


def forget_old_roots(keep: int = 2) -> None:
    """Only the roots used last stay (another branch's recipe may still want one): each takes about 500 MB."""
    roots = sorted(CACHE.glob("*/recipe.json"), key=lambda recipe: recipe.stat().st_mtime, reverse=True)
    for recipe_file in roots[keep:]:
        shutil.rmtree(recipe_file.parent, ignore_errors=True)
        (CACHE / f"{recipe_file.parent.name}.lock").unlink(missing_ok=True)


@contextlib.contextmanager
def machine_slot(timeout: float = 1200):
    """One booted test machine per host at a time: it shares the host's network, so two would both want MPD's port
    6600 and the page's 8470. Waits for another session's machine to go."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "machine.lock", "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another test session's machine held {CACHE / 'machine.lock'} for {timeout} s")
                time.sleep(2)
        yield


def ports_in_use(ports: tuple[int, ...]) -> list[int]:
    """Which of these TCP ports something on this host already listens on (the machine shares its network)."""
    taken = []
    for port in ports:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            taken.append(port)
        finally:
            probe.close()
    return taken


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Container:
    """One booted machine: the cached root below an overlay whose upper layer lives as long as this object, so a
    reboot or a hard stop keeps what was written, as a disk does."""

    def __init__(self, lower: Path, workdir: Path, name: str = "moodbox-test"):
        self.lower, self.name = lower, name
        self.upper, self.work, self.root = workdir / "upper", workdir / "work", workdir / "root"
        for folder in (self.upper, self.work, self.root):
            folder.mkdir(parents=True, exist_ok=True)
        self.console = workdir / "console.log"
        self.nspawn: subprocess.Popen | None = None
        self.boots = 0

    # -- life cycle ----------------------------------------------------------------------------------------------

    def mount(self) -> None:
        if not os.path.ismount(self.root):
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}", str(self.root)],
                           check=True)

    def boot(self, timeout: float = 120) -> float:
        """Boots systemd as PID 1 and waits until it has finished starting units; the seconds that took."""
        self.mount()
        started = time.monotonic()
        self.boots += 1
        with open(self.console, "a") as console:
            console.write(f"\n==== boot {self.boots}\n")
            console.flush()
            self.nspawn = subprocess.Popen(
                ["systemd-nspawn", "--boot", f"--directory={self.root}", f"--machine={self.name}",
                 "--register=no", "--keep-unit", "--console=pipe", "--quiet",
                 # nspawn's seccomp filter refuses bpf(), and systemd then runs units without their IP firewall
                 # (IPAddressDeny=) and says nothing at its default log level: let it in, as on a real machine.
                 "--system-call-filter=bpf"],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode}; see {self.console}")
            if self.leader() is not None:
                state = self.run("systemctl", "is-system-running", "--wait", timeout=deadline - time.monotonic())
                if state.stdout.strip() in ("running", "degraded"):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"the container did not finish booting in {timeout} s; see {self.console}")

    def leader(self) -> int | None:
        """The host PID of the container's PID 1 (systemd)."""
        if self.nspawn is None or self.nspawn.poll() is not None:
            return None
        try:
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read_text().split()
        except FileNotFoundError:
            return None
        for pid in children:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            except FileNotFoundError:
                continue
        return None

    def shutdown(self, how: str = "poweroff", timeout: float = 90) -> int:
        """`systemctl poweroff` or `reboot` inside; waits for systemd-nspawn to exit and returns its status."""
        assert self.nspawn is not None
        self.run("systemctl", "--no-block", how)
        try:
            return self.nspawn.wait(timeout=timeout)
        finally:
            self.nspawn = None

    def reboot(self) -> float:
        """A reboot as systemd does it (units stopped, file systems synced), then the next boot; its seconds."""
        status = self.shutdown("reboot")
        assert status == NSPAWN_REBOOT, f"systemd-nspawn exited with {status}, not the reboot status {NSPAWN_REBOOT}"
        return self.boot()

    def hard_stop(self) -> None:
        """SIGKILL to the container's PID 1: the kernel kills every process of the machine at once, nothing is
        stopped or synced by systemd. (Unlike a power cut it cannot drop the host's page cache.)"""
        leader = self.leader()
        assert leader is not None, "the container is not running"
        os.kill(leader, signal.SIGKILL)
        assert self.nspawn is not None
        self.nspawn.wait(timeout=60)
        self.nspawn = None

    def destroy(self) -> None:
        """Stops the machine (hard, when a clean stop does not come) and removes the overlay."""
        nspawn = self.nspawn
        if nspawn is not None and nspawn.poll() is None:
            leader = self.leader()
            try:
                self.shutdown(timeout=60)
            except (subprocess.TimeoutExpired, AssertionError):
                if leader is not None:
                    os.kill(leader, signal.SIGKILL)  # every process of the machine with it
                nspawn.kill()
                nspawn.wait(timeout=60)
        if os.path.ismount(self.root):
            if subprocess.run(["umount", str(self.root)], check=False).returncode != 0:
                subprocess.run(["umount", "--lazy", str(self.root)], check=False)

    # -- inside ----------------------------------------------------------------------------------------------------

    def run(self, *argv: str, timeout: float = 120, check: bool = False, user: str | None = None,
            input: str | None = None) -> Result:
        """A command inside the machine, in all of its namespaces, with a clean environment."""
        leader = self.leader()
        assert leader is not None, "the container is not running"
        command = ["nsenter", f"--target={leader}", "--all", "--", "env", "-i",
                   *(f"{key}={value}" for key, value in CLEAN_ENV.items())]
        if user is not None:
            command += ["runuser", "-u", user, "--"]
        done = subprocess.run(command + list(argv), capture_output=True, text=True, timeout=max(timeout, 1),
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
        result = Result(done.returncode, done.stdout, done.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited with {result.returncode}:\n{result.output[-3000:]}")
        return result

    def sh(self, script: str, **kwargs) -> Result:
        return self.run("bash", "-c", script, **kwargs)

    def path(self, inside: str) -> Path:
        """A path of the machine as seen from the host (through the overlay)."""
        return self.root / inside.lstrip("/")

    # -- systemd -------------------------------------------------------------------------------------------------

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        result = self.run("systemctl", "show", unit, *(f"--property={name}" for name in properties), check=True)
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def journal(self, unit: str, since: str | None = None) -> str:
        args = ["journalctl", "--no-pager", "-o", "cat", "-u", unit]
        if since:
            args += ["--since", since]
        return self.run(*args).stdout

    def clock(self) -> str:
        """The machine's time now, for `journalctl --since`."""
        return self.run("date", "+%Y-%m-%d %H:%M:%S").stdout.strip()

    def wait_for(self, predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
        """Polls predicate() until it returns something true; that value, or TimeoutError naming what."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not reached in {timeout} s")
            time.sleep(interval)
