#!/bin/sh
# The demo's workload, run by dock as its main child:
#  - a worker that leaves orphans behind (its children outlive it and are re-parented to dock),
#  - a leftover that needs 300 ms of cleanup after SIGTERM (dock waits for it: the grace period),
#  - then the HTTP server replaces this shell (exec), so it is dock's main child.
dir=$(dirname "$0")
httpd=${HTTPD:-$dir/../target/release/examples/httpd}

# Worker: starts three background jobs and exits at once; they become orphans.
sh -c 'for i in 1 2 3; do sleep 600 & done; echo "worker: left 3 orphans behind"' &

# A leftover with a SIGTERM handler that takes a moment to clean up.
(
    trap 'echo "cleanup: flushing state (300 ms)"; sleep 0.3; echo "cleanup: done"; exit 0' TERM
    while :; do sleep 600 & wait $!; done
) &

exec "$httpd" 127.0.0.1:${PORT:-8089}
