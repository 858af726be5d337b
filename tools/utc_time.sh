#!/bin/sh
# llmpipe tool: the current UTC time. Takes no arguments (the {} on stdin is ignored).
printf '{"utc": "%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
