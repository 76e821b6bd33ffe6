"""Plain helpers for the appliance tests: platform profiles and running setup.sh with every path in a temp dir."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
MISSING = "/nonexistent/moodbox-test"


@dataclass(frozen=True)
class Profile:
    """A platform as setup.sh sees it: fixture files standing in for /proc and /etc, plus uname/dpkg answers, and
    a dpkg database with nothing installed (a fresh box: the plan never depends on the host's packages)."""

    name: str
    uname_m: str
    dpkg_arch: str

    def env(self) -> dict[str, str]:
        folder = FIXTURES / self.name
        return {
            "MOODBOX_DT_MODEL": str(folder / "device-tree-model"),
            "MOODBOX_OS_RELEASE": str(folder / "os-release"),
            "MOODBOX_NV_TEGRA_RELEASE": str(folder / "nv_tegra_release"),
            "MOODBOX_UNAME_M": self.uname_m,
            "MOODBOX_DPKG_ARCH": self.dpkg_arch,
            "MOODBOX_DPKG_ADMINDIR": str(FIXTURES / "no-packages"),
        }


PROFILES = {
    "pi5-bookworm": Profile("pi5-bookworm", "aarch64", "arm64"),
    "pi4-trixie": Profile("pi4-trixie", "aarch64", "arm64"),
    "jetson-orin-jammy": Profile("jetson-orin-jammy", "aarch64", "arm64"),
    "generic-bookworm": Profile("generic-bookworm", "x86_64", "amd64"),
    # A Pi 4 boots a 64-bit kernel under 32-bit Raspberry Pi OS: uname says aarch64, the userland is armhf.
    "pi4-raspbian-armhf": Profile("pi4-raspbian-armhf", "aarch64", "armhf"),
    "pi3-bullseye": Profile("pi3-bullseye", "aarch64", "arm64"),
    "fedora": Profile("fedora", "x86_64", "amd64"),
}



def run_setup(repo_root: Path, *args: str, profile: Profile | None = None, paths: dict[str, Path] | None = None,
              extra_env: dict[str, str] | None = None, preexec=None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # Never let a test reach the host's systemd, whatever the machine the tests run on.
    env["MOODBOX_SYSTEMD_RUN_DIR"] = MISSING
    if profile is not None:
        env.update(profile.env())
    for key, value in (paths or {}).items():
        env[key] = str(value)
    env.update(extra_env or {})
    return subprocess.run(["bash", str(repo_root / "setup.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec)


def actions(output: str) -> list[str]:
    """The '+ ...' lines: what setup.sh did (or, under --dry-run, would do)."""
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]
