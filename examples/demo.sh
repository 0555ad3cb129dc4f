#!/bin/sh
# make demo: dock as PID 1 (or as a subreaper without root) over a real HTTP server and a worker
# that leaves orphans; fetch a page, stop it with SIGTERM, show forwarding, reaping, teardown and
# the exit status.
set -eu
exec 2>&1   # one stream, so dock's -d lines interleave with the output in order
cd "$(dirname "$0")/.."
dock=target/release/dock
fetch=target/release/examples/fetch
port=${PORT:-8089}
export PORT=$port

if [ "$(id -u)" = 0 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
    echo "== dock as PID 1 of a new PID namespace (unshare)"
    unshare --pid --fork --mount-proc --kill-child "$dock" -d --grace-period 3 --bind-port "$port" \
        sh examples/app.sh &
else
    echo "== not root: dock as a child subreaper"
    "$dock" -d --grace-period 3 --bind-port "$port" sh examples/app.sh &
fi
runner=$!

echo "== fetching http://127.0.0.1:$port/"
"$fetch" "127.0.0.1:$port" /
# dock is unshare's child when it runs as PID 1; otherwise it is $runner itself.
dock_pid=$(cat /proc/$runner/task/$runner/children 2>/dev/null | awk '{print $1}')
case "$(cat /proc/$runner/comm)" in dock) dock_pid=$runner ;; esac
echo "== docker stop: SIGTERM to dock (pid $dock_pid)"
kill -TERM "$dock_pid"
set +e
wait "$runner"
status=$?
set -e
echo "== dock exited with status $status (the server's own status after its clean shutdown)"
