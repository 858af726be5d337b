#!/usr/bin/env bash
# Benchmark (not a test): `llmpipe count-tokens` against Python tiktoken on a 20 MB text,
# whole processes, median of several runs; then the wall time on a 1 KB input.
# Usage: bench/tokens.sh [RUNS]   (needs python3 and PyPI access for the first run)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --locked --quiet
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet tiktoken
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TIKTOKEN_CACHE_DIR="$work/tiktoken-cache"
bench/tiktoken_cache.sh "$TIKTOKEN_CACHE_DIR" >/dev/null
exec bench/.venv/bin/python bench/tokens.py --runs "$runs" --work "$work" --llmpipe target/release/llmpipe
