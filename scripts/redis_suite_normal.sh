#!/usr/bin/env bash
# Redis's own test suite (tag 7.0.15) in its normal mode against Keystream: the suite starts
# the server itself from its own redis.conf, so `src/redis-server` in a scratch copy of the
# suite is a wrapper that runs this checkout's `keystream serve <conf>`; the other tools are
# Debian's binaries. Prints one "unit ok err exceptions" line per unit.
#
#   REDIS_SRC=$HOME/redis-7.0.15 scripts/redis_suite_normal.sh integration/rdb unit/dump
#
# REDIS_SRC: an extracted redis 7.0.15 tree (see shared/conformance/README.md); never
# committed. SUITE_ARGS: extra runtest arguments (e.g. --skiptest /stream). Baseline on this
# machine with real Redis 7.0.15: integration/rdb 14 ok, aof 40, aof-multi-part 35,
# corrupt-dump 74, convert-* 3/2/2, unit/dump 26; 0 err each.
set -euo pipefail
: "${REDIS_SRC:?set REDIS_SRC to a redis 7.0.15 source tree}"
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t ks-redis-suite.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$REDIS_SRC/tests" "$REDIS_SRC/runtest" "$work/"
mkdir -p "$work/src" "$work/tests/tmp"
cat > "$work/src/redis-server" <<WRAP
#!/bin/sh
PYTHONPATH="$here/src" exec python3 -m keystream serve --kafka-port 0 "\$@"
WRAP
chmod +x "$work/src/redis-server"
for b in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
    ln -sf "$(command -v $b)" "$work/src/$b"
done
base=${SUITE_BASEPORT:-$((30000 + RANDOM % 20000))}
cd "$work"
for unit in "$@"; do
    out="$work/$(echo "$unit" | tr / _).log"
    timeout 1800 ./runtest --single "$unit" --clients 1 --baseport "$base" --timeout 120 \
        ${SUITE_ARGS:-} >"$out" 2>&1 || true
    clean=$(sed 's/\x1b\[[0-9;]*m//g' "$out")
    ok=$(grep -c '^\[ok\]' <<<"$clean" || true)
    err=$(grep -c '^\[err\]' <<<"$clean" || true)
    exc=$(grep -c '^\[exception\]\|^\[TIMEOUT\]' <<<"$clean" || true)
    echo "$unit ok=$ok err=$err exceptions=$exc"
    base=$((base + 100))
done
