# loopback.sh: process and port helpers for the scripts that start servers on
# 127.0.0.1 (tools/demo.sh, bench/*.sh). Sourced, not run; the caller defines
# note() (stop_pid uses it when it has to kill).
# shellcheck shell=sh

# alive PID: running and not a zombie (a child we have not reaped yet still
# has /proc).
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

# is_ours PID TEXT: true when process PID is alive and its command line
# contains TEXT. Pid files can be stale and pids reused, so we only ever
# signal a process that is recognisably ours.
is_ours() {
    alive "$1" || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# stop_pid PID [WHAT]: TERM, then KILL after 10 seconds; with WHAT, says so
# when it has to kill.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    i=0
    while alive "$1"; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            [ -z "${2:-}" ] || note "$2 (pid $1) did not stop within 10 seconds; killing it"
            kill -KILL "$1" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
}

# port_free PORT: true when PORT on 127.0.0.1 can be bound.
port_free() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}
