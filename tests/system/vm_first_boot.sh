#!/bin/bash
# Runs inside the system suite's virtual machine at its first boot (tests/system/test_first_boot_vm.py): the box as
# setup.sh installed it, with no config edit, no playlists, no camera and an emulated sound card. Says what it sees as
# "CHECK key value" lines on the serial console, then powers the machine off.
set -u
say() { echo "CHECK $*"; }

# MPD's state and the daemon's STATUS= line, read with mpc and systemctl: a Python start costs seconds emulated.
mpd_state() { mpc status 2>/dev/null | sed -n 's/^\[\([a-z]*\)\].*/\1/p'; }  # playing | paused; empty: stopped
mpd_elapsed_s() { mpc status 2>/dev/null | sed -n 's|^\[[a-z]*\] *#[0-9]*/[0-9]* *\([0-9]*\):\([0-9]*\)/.*|\1 \2|p' |
    awk '{print $1 * 60 + $2}'; }
mpd_error() { mpc status 2>/dev/null | sed -n 's/^ERROR: //p'; }
status_text() { systemctl show -p StatusText --value moodbox.service; }

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
    awk -v from="$started" -v to="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", to - from }'
}

playing() { [[ $(mpd_state) == playing ]]; }
has_a_sound_card() { aplay -l 2>/dev/null | grep -q '^card '; }

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

uptime_s() { cut -d ' ' -f 1 /proc/uptime; }
say boot_s "$(uptime_s)"
wait_until 180 has_a_sound_card >/dev/null
card_s=$(uptime_s)
say sound_card_at_s "$card_s"

# Music within a minute of the service starting, with nothing edited and no camera. Emulated, the kernel may load
# the sound card's driver long after the units started (on a Pi it is there first): counted from the later of both.
wait_until 400 playing >/dev/null
play_s=$(uptime_s)
start_s=$(awk -v us="$(systemctl show -p ExecMainStartTimestampMonotonic --value moodbox.service)" \
    'BEGIN { printf "%.1f\n", us / 1e6 }')
say service_started_at_s "$start_s"
say play_after_service_start_s "$(awk -v a="$play_s" -v b="$start_s" 'BEGIN { printf "%.1f\n", a - b }')"
say play_after_service_and_card_s "$(awk -v a="$play_s" -v b="$start_s" -v c="$card_s" \
    'BEGIN { printf "%.1f\n", a - (b > c ? b : c) }')"
ready_us=$(systemctl show -p ActiveEnterTimestampMonotonic --value moodbox.service)
say ready_after_service_start_s "$(awk -v r="$ready_us" -v b="$start_s" 'BEGIN { printf "%.1f\n", r / 1e6 - b }')"
say service_restarts "$(systemctl show -p NRestarts --value moodbox.service)"
say status "$(status_text)"
first=$(mpd_elapsed_s)
sleep 4
second=$(mpd_elapsed_s)
say elapsed_advanced_s "$((${second:-0} - ${first:-0}))"
say mpd_error "$(mpd_error)"
say doctor_audio "$(runuser -u moodbox -- /opt/moodbox/venv/bin/moodbox doctor 2>&1 | awk '$2 == "audio" {print $1}')"
say finished 1
diagnose
systemctl poweroff --no-block
