# shellcheck shell=bash
# Sourced by scripts/demo and tests/run before they call apt-get: right after first boot another apt or dpkg
# (unattended-upgrades, packagekit) often holds the dpkg lock, and apt-get would fail at once. This waits for it,
# bounded, and says why.
#   MOODBOX_DPKG_LOCKS         the lock files (default: dpkg's frontend and database locks, apt's lists lock)
#   MOODBOX_DPKG_LOCK_WAIT_S   how long to wait at most (default 600)

# Prints the first lock file another process holds (dpkg and apt use fcntl locks: probe them the same way).
dpkg_lock_held() {
    local locks
    read -r -a locks <<<"${MOODBOX_DPKG_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock}"
    python3 - "${locks[@]}" <<'PY'
import fcntl, sys
for path in sys.argv[1:]:
    try:
        lock = open(path, "a")
    except OSError:
        continue
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(path)
        break
    finally:
        lock.close()
PY
}

# wait_for_dpkg_lock WHO: returns once no other apt or dpkg holds the lock; exits 1 after the limit.
wait_for_dpkg_lock() {
    local who="$1" limit="${MOODBOX_DPKG_LOCK_WAIT_S:-600}" waited=0 held
    while held="$(dpkg_lock_held)" && [[ -n "$held" ]]; do
        if ((waited == 0)); then
            echo "$who: another apt or dpkg (e.g. unattended-upgrades after first boot) holds $held: waiting up to ${limit} s for it to finish"
        fi
        if ((waited >= limit)); then
            echo "$who: $held is still held after ${limit} s; run again when the other apt or dpkg has finished" >&2
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}
