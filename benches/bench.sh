#!/bin/sh
# make bench: installs the peers (Debian: tini, dumb-init, catatonit), runs benches/peers.rs and every
# other benches/*.rs, and writes BENCHMARKS.md (date, command, machine, the peers table, the others'
# figures). Run from the repository root as root; DOCK_STATIC_BIN / DOCK_STATIC_NOTLS_BIN name the
# static binaries (the Makefile sets them).
set -eu
CARGO=${CARGO:-cargo}
out=target/bench
mkdir -p "$out"

missing=
for p in tini-static:tini dumb-init:dumb-init catatonit:catatonit; do
    command -v "${p%%:*}" >/dev/null 2>&1 || missing="$missing ${p#*:}"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing the peers:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "bench: missing peers:$missing (apt-get install them as root); their columns will say n/a"
    fi
fi

# Each bench separately, so its figures land in their own section. peers runs last, so the kernel's
# teardown of its 20 000 orphans cannot weigh on another bench, and dirty pages are flushed before
# each, so no bench pays for the previous one's writeback.
benches=$(ls benches/*.rs | sed 's|benches/||; s|\.rs$||' | grep -vx peers; echo peers)
for b in $benches; do
    sync
    echo "== cargo bench --bench $b"
    "$CARGO" bench --bench "$b" >"$out/$b.txt" 2>"$out/$b.err" || { cat "$out/$b.err"; exit 1; }
    cat "$out/$b.txt"
done

# The history (earlier runs' figures and what changed them) is kept: everything from its heading on.
history=$(sed -n '/^## History/,$p' BENCHMARKS.md 2>/dev/null || true)
{
    echo "# Benchmarks"
    echo
    echo "Written by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC'): \`$CARGO bench --bench <each of $(echo $benches | tr ' ' ',')>\`"
    echo "with DOCK_STATIC_BIN=${DOCK_STATIC_BIN:+${DOCK_STATIC_BIN#"$PWD"/}}${DOCK_NIGHTLY_BIN:+ and DOCK_NIGHTLY_BIN=${DOCK_NIGHTLY_BIN#"$PWD"/}}. Machine: $(nproc) cores,"
    echo "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r);"
    echo "peers from Debian: $(dpkg-query -W -f '${Package} ${Version}, ' tini dumb-init catatonit 2>/dev/null | sed 's/, $//')."
    echo
    echo "## dock beside tini-static, dumb-init and catatonit"
    echo
    cat "$out/peers.txt"
    echo
    cat benches/peers-method.md
    for b in $benches; do
        [ "$b" = peers ] && continue
        echo
        echo "## benches/$b.rs"
        echo
        echo '```'
        cat "$out/$b.txt"
        echo '```'
    done
    if [ -n "$history" ]; then
        echo
        echo "$history"
    fi
} >BENCHMARKS.md
echo "== wrote BENCHMARKS.md"
