"""What setup.sh's pip step installs on a Pi resolves to wheels for the Pi: aarch64, CPython 3.11 (Raspberry Pi OS
Bookworm), with the numpy<2 pin setup.sh adds there. Nothing is built from source on the box (a Pi Zero 2 W could
not), and ai-edge-litert, the runtime the device prefers, has a wheel for it (issue 26, item 3). Needs the network
(PyPI), as setup.sh does."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

pytestmark = pytest.mark.slow

PI_PYTHON = "3.11"
PI_NUMPY_PIN = "numpy<2"  # setup.sh, plan_platform: pi on bookworm
# Bookworm's glibc is 2.36: every manylinux tag up to it (pip takes the list as given, it does not fill it in).
PLATFORMS = (*(f"manylinux_2_{minor}_aarch64" for minor in range(36, 16, -1)), "manylinux2014_aarch64")


def test_the_device_packages_resolve_to_aarch64_wheels_for_the_pi(repo_root, tmp_path):
    project = tomllib.loads((repo_root / "device" / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], PI_NUMPY_PIN]
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--disable-pip-version-check", "--only-binary=:all:", "--python-version", PI_PYTHON,
               "--implementation", "cp", "--target", str(tmp_path / "site"), "--report", str(tmp_path / "plan.json"),
               *(argument for platform in PLATFORMS for argument in ("--platform", platform)), *requirements]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and ("NewConnectionError" in done.stderr or "Network is unreachable" in done.stderr):
        pytest.skip(f"PyPI not reachable: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr[-3000:]
    plan = json.loads((tmp_path / "plan.json").read_text())["install"]
    wheels = {item["metadata"]["name"].lower(): item["download_info"]["url"].rsplit("/", 1)[-1] for item in plan}
    print("\n".join(f"{name}: {wheel}" for name, wheel in sorted(wheels.items())))
    assert all(wheel.endswith(".whl") for wheel in wheels.values()), wheels
    for name in ("ai-edge-litert", "numpy", "opencv-python-headless"):
        assert "aarch64" in wheels[name] and ("cp311" in wheels[name] or "abi3" in wheels[name]), wheels[name]
    assert wheels["numpy"].startswith("numpy-1."), wheels["numpy"]
