#!/bin/sh
# llmpipe tool: reads {"text": "..."} on stdin, prints {"words": N}.
# POSIX sh only (no jq): JSON escapes (\n, \t, ...) separate words, \uXXXX counts as a letter.
n=$(sed -e 's/^[[:space:]]*{[[:space:]]*"text"[[:space:]]*:[[:space:]]*"//' \
        -e 's/"[[:space:]]*}[[:space:]]*$//' \
        -e 's/\\u[0-9a-fA-F]\{4\}/x/g' \
        -e 's/\\[nrtbf]/ /g' \
        -e 's/\\["\\/]/x/g' | wc -w)
printf '{"words": %d}\n' "$n"
