#!/usr/bin/env bash
# bench/batch_memory.sh — peak memory of `llmpipe batch submit` and `batch results` on a
# large job (default 1,000,000 items) against a local mock of the OpenAI Batch API.
#
#   bench/batch_memory.sh                      1,000,000 items, release build
#   bench/batch_memory.sh --items 20000        a quick check
#   bench/batch_memory.sh --llmpipe target/debug/llmpipe --items 20000
#
# Builds llmpipe (release) unless --llmpipe is given. Python 3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=("$@")
case " $* " in
    *" --llmpipe "*) ;;
    *) cargo build --release --locked; ARGS+=(--llmpipe target/release/llmpipe) ;;
esac
exec python3 bench/batch_memory.py "${ARGS[@]}"
