"""The installed box booted as a whole virtual machine with a sound card (QEMU, plain emulation).

systemd-nspawn shares the host's kernel, which here has no sound card; a VM has its own kernel and an emulated Intel
HDA card, so MPD plays to real ALSA. The container's root after setup.sh becomes the VM's disk (mke2fs -d copies a
folder into a new ext4 image without mounting anything); a check script, started at boot by the kernel command line,
prints what it sees on the serial console and powers the machine off. KVM is not used: guests hang under it on
these machines (tried), so it takes a few minutes.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

CHECK_SCRIPT = Path(__file__).with_name("vm_first_boot.sh")
CHECK_PATH = "/usr/local/sbin/moodbox-vm-check"
CHECK_UNIT = "moodbox-vm-check.service"
CHECK_UNIT_TEXT = f"""[Unit]
Description=The system suite's first-boot check (tests/system/vm_first_boot.sh)
ConditionVirtualization=vm

[Service]
Type=oneshot
ExecStart={CHECK_PATH}
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
"""
DISK_SIZE = "4G"


def vm_unavailable() -> str | None:
    if platform.machine() != "x86_64":
        return f"the VM check boots an amd64 kernel under qemu-system-x86_64; this host is {platform.machine()}"
    if shutil.which("qemu-system-x86_64") is None:
        return "needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
    if shutil.which("mke2fs") is None:
        return "needs mke2fs (apt-get install e2fsprogs)"
    return None


def make_disk(root: Path, image: Path) -> tuple[Path, Path]:
    """An ext4 image of ``root`` (a stopped machine's files) with the check script and its unit in it; the root's
    kernel and initramfs, which QEMU boots directly. The script and unit are removed from ``root`` again."""
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    assert kernels, f"no kernel in {root / 'boot'}: the cached root's recipe installs linux-image-amd64"
    kernel = kernels[-1]
    initrd = root / "boot" / kernel.name.replace("vmlinuz-", "initrd.img-")
    script, unit = root / CHECK_PATH.lstrip("/"), root / "etc/systemd/system" / CHECK_UNIT
    shutil.copy2(CHECK_SCRIPT, script)
    script.chmod(0o755)
    unit.write_text(CHECK_UNIT_TEXT)
    try:
        subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(root), "-F", str(image), DISK_SIZE], check=True,
                       stdout=subprocess.DEVNULL, timeout=600)
    finally:
        script.unlink()
        unit.unlink()
    return Path(shutil.copy2(kernel, image.parent)), Path(shutil.copy2(initrd, image.parent))


class FirstBoot:
    """The disk booted with an Intel HDA sound card and no network, in the background (plain emulation takes
    minutes; the container's tests go on meanwhile, so it gets one CPU), until the check powers it off."""

    def __init__(self, image: Path, kernel: Path, initrd: Path, console: Path):
        self.console = console
        self.started = time.monotonic()
        with open(console, "wb") as log:
            self.process = subprocess.Popen(
                ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "1",
                 "-m", "1536", "-display", "none", "-monitor", "none", "-no-reboot", "-nic", "none",
                 "-kernel", str(kernel), "-initrd", str(initrd),
                 # no login prompt on the serial console: its getty would hang up the check's output there
                 "-append", f"root=/dev/vda rw console=ttyS0 quiet systemd.wants={CHECK_UNIT} "
                           "systemd.mask=serial-getty@ttyS0.service",
                 "-drive", f"file={image},if=virtio,format=raw",
                 "-audiodev", "none,id=speaker", "-device", "ich9-intel-hda", "-device",
                 "hda-output,audiodev=speaker", "-serial", "stdio"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def result(self, timeout: float) -> tuple[dict[str, str], float]:
        """Waits for the machine to power off (at most ``timeout`` seconds after it started); its CHECK lines as a
        dict, and the seconds it ran."""
        try:
            returncode = self.process.wait(timeout=max(self.started + timeout - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"the VM did not power off in {timeout:.0f} s; see {self.console}") from None
        text = self.console.read_text(errors="replace")
        assert returncode == 0, f"qemu exited with {returncode}; see {self.console}"
        checks = dict(match.groups() for match in re.finditer(r"^CHECK (\S+) ?(.*?)\r?$", text, re.MULTILINE))
        return checks, time.monotonic() - self.started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
