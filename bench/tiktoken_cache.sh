#!/usr/bin/env bash
# Fills a TIKTOKEN_CACHE_DIR for Python tiktoken from tiktoken-rs's bundled BPE files, so
# tiktoken works offline. tiktoken names cache files by the sha1 hex of the download URL.
# Usage: bench/tiktoken_cache.sh DIR   (tiktoken-rs must be in the cargo registry: build first)
set -euo pipefail
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
assets=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tiktoken-rs-0.12.*/assets | tail -n 1)
for enc in o200k_base cl100k_base; do
  url="https://openaipublic.blob.core.windows.net/encodings/$enc.tiktoken"
  name=$(printf '%s' "$url" | sha1sum | cut -d' ' -f1)
  cp "$assets/$enc.tiktoken" "$dir/$name"
done
echo "$dir"
