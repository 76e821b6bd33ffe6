#!/bin/bash
# Runs inside the system suite's virtual machine at its first boot (tests/system/test_first_boot_vm.py): the box as
# setup.sh installed it, with no config edit, no playlists and an emulated sound card. Says what it sees as
# "CHECK key value" lines on the serial console, then powers the machine off.
set -u
CONFIG=/etc/moodbox/moodbox.toml
CAMERA=/srv/camera

say() { echo "CHECK $*"; }

# One field of MPD's status or current song ("state", "elapsed", "file", "error"), from its protocol.
mpd_field() {
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
with socket.create_connection(("localhost", 6600), timeout=5) as connection:
    stream = connection.makefile("rw")
    stream.readline()
    stream.write("status\ncurrentsong\nclose\n")
    stream.flush()
    fields = dict(line.rstrip("\n").split(": ", 1) for line in stream if ": " in line)
print(fields.get(sys.argv[1], ""))
EOF
}

status_field() {
    /opt/moodbox/venv/bin/moodbox status --json 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$1" 2>/dev/null
}

# Polls "$@" (a command) every half second until it succeeds or $1 seconds pass; the seconds it took, or "never".
wait_until() {
    local limit=$1 started
    shift
    started=$(date +%s.%N)
    while ! "$@"; do
        if (($(date +%s) > ${started%.*} + limit)); then
            echo never
            return 1
        fi
        sleep 0.5
    done
    python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 1))" "$started"
}

playing() { [[ $(mpd_field state) == play ]]; }
has_a_sound_card() { aplay -l 2>/dev/null | grep -q '^card '; }
camera_is() { [[ $(status_field camera) == "$1" ]]; }
another_song_plays() { playing && [[ -n $(mpd_field file) && $(mpd_field file) != "$1" ]]; }

# What the machine did, for the test's failure message.
diagnose() {
    {
        mpc status
        mpc outputs
        systemctl --no-pager status moodbox.service mpd.service
        journalctl --no-pager -b -n 60 -u moodbox.service -u mpd.service
        /opt/moodbox/venv/bin/moodbox status
    } 2>&1 | sed 's/^/DIAG /'
}
trap diagnose EXIT

say boot_s "$(cut -d ' ' -f 1 /proc/uptime)"
say sound_card_after_s "$(wait_until 120 has_a_sound_card)"

# 1. Music within a minute of the service starting, with nothing edited and no camera.
wait_until 400 playing >/dev/null
now_s=$(cut -d ' ' -f 1 /proc/uptime)
start_us=$(systemctl show -p ExecMainStartTimestampMonotonic --value moodbox.service)
say play_after_service_start_s "$(python3 -c "print(round($now_s - $start_us / 1e6, 1))")"
say service_restarts "$(systemctl show -p NRestarts --value moodbox.service)"
say playlist "$(status_field playlist)"
say camera "$(status_field camera)"
first=$(mpd_field elapsed)
sleep 3
second=$(mpd_field elapsed)
say elapsed_advanced_s "$(python3 -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))' \
    "${first:-0}" "${second:-0}")"
say mpd_error "$(mpd_field error)"
say doctor_audio "$(runuser -u moodbox -- /opt/moodbox/venv/bin/moodbox doctor 2>&1 | awk '$2 == "audio" {print $1}')"

# 2. A camera that works (the folder source stands in for one plugged in), then is unplugged: the music goes on.
sed -i "s|^source = \"0\"$|source = \"$CAMERA\"|" "$CONFIG"
systemctl reload moodbox.service
say camera_plugged_after_s "$(wait_until 120 camera_is ok)"
song=$(mpd_field file)
mv "$CAMERA" "$CAMERA.unplugged"
say camera_lost_after_s "$(wait_until 120 camera_is lost)"
say next_song_after_unplug_s "$(wait_until 120 another_song_plays "$song")"
say state_after_unplug "$(mpd_field state)"
say done 1
systemctl poweroff --no-block
