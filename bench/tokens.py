"""Driver for bench/tokens.sh: builds the 20 MB text, times whole processes, prints counts
and throughput ratios. Each measurement is a fresh process (start-up and file reading
included for both sides)."""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import time
import unicodedata

SIZE = 20_000_000

PY_ONE = """
import sys, tiktoken
e = tiktoken.get_encoding(sys.argv[1])
t = open(sys.argv[2], encoding="utf-8", newline="").read()
print(len(e.encode_ordinary(t)))
"""

# Two threads: tiktoken's encode_ordinary_batch (the Rust core releases the GIL). The text is
# cut where llmpipe cuts (a letter, then neither a letter, a mark nor an apostrophe), so the
# sum is the whole text's count: that also checks the split rule against tiktoken itself.
PY_BATCH = """
import sys, tiktoken, unicodedata
e = tiktoken.get_encoding(sys.argv[1])
t = open(sys.argv[2], encoding="utf-8", newline="").read()
parts, start, step = [], 0, len(t) // 16
def safe(i):
    a, b = unicodedata.category(t[i - 1]), unicodedata.category(t[i])
    return a[0] == "L" and b[0] not in "LM" and t[i] != "'"
while len(t) - start > step:
    i = start + step
    while i < len(t) and not safe(i):
        i += 1
    parts.append(t[start:i]); start = i
parts.append(t[start:])
print(sum(len(x) for x in e.encode_ordinary_batch(parts, num_threads=int(sys.argv[3]))))
"""


def corpus(path: str) -> dict:
    """Real text: the Markdown and Rust sources of the crates in the cargo registry (sorted,
    so the same lock file gives the same file), repeated up to 20 MB."""
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    files = sorted(glob.glob(f"{home}/registry/src/*/*/**/*.md", recursive=True))
    files += sorted(glob.glob(f"{home}/registry/src/*/*/**/*.rs", recursive=True))
    data = bytearray()
    while len(data) < SIZE:
        for f in files:
            try:
                b = open(f, "rb").read()
                b.decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            data += b
            if len(data) >= SIZE:
                break
    data = bytes(data[:SIZE])
    while True:  # do not end inside a UTF-8 sequence
        try:
            text = data.decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    open(path, "wb").write(data)
    non_ascii = sum(1 for c in text if ord(c) > 127)
    return {"bytes": len(data), "files": len(files), "non_ascii_chars": non_ascii}


def timed(cmd: list, runs: int) -> tuple:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed: {p.stderr}")
        out = p.stdout.strip()
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", required=True)
    ap.add_argument("--llmpipe", required=True)
    a = ap.parse_args()
    text = os.path.join(a.work, "text20mb.txt")
    info = corpus(text)
    print(f"input: {info['bytes']:,} bytes from {info['files']} registry .md/.rs files, "
          f"{info['non_ascii_chars']:,} non-ASCII characters; {a.runs} runs each, median wall time")
    py = sys.executable
    for enc, model in [("o200k_base", "gpt-4o"), ("cl100k_base", "gpt-4")]:
        rows = [
            ("llmpipe -j 1", [a.llmpipe, "count-tokens", "-m", model, "-j", "1", "-f", text]),
            ("llmpipe -j 2", [a.llmpipe, "count-tokens", "-m", model, "-j", "2", "-f", text]),
            ("tiktoken 1 thread", [py, "-c", PY_ONE, enc, text]),
            ("tiktoken batch 2 threads", [py, "-c", PY_BATCH, enc, text, "2"]),
        ]
        res = {name: timed(cmd, a.runs) for name, cmd in rows}
        base = res["tiktoken 1 thread"][0]
        counts = {out for _, out in res.values()}
        print(f"\n{enc} ({model}): counts {'all equal' if len(counts) == 1 else 'DIFFER'}")
        for name, (t, out) in res.items():
            print(f"  {name:26} {out:>10} tokens  {t:6.3f} s  {info['bytes'] / t / 1e6:7.1f} MB/s"
                  f"  x{base / t:5.2f} vs tiktoken 1 thread")
        print(f"  llmpipe -j 2 vs tiktoken batch 2 threads: x{res['tiktoken batch 2 threads'][0] / res['llmpipe -j 2'][0]:.2f}")

    small = os.path.join(a.work, "text1kb.txt")
    with open(text, "rb") as f:
        chunk = f.read(1024)
    while True:
        try:
            chunk.decode("utf-8")
            break
        except UnicodeDecodeError:
            chunk = chunk[:-1]
    open(small, "wb").write(chunk)
    print(f"\n1 KB input ({len(chunk)} bytes):")
    cmds = [
        ("count-tokens -m gpt-4o", [a.llmpipe, "count-tokens", "-m", "gpt-4o", "-f", small]),
        ("--version (no tokenizer)", [a.llmpipe, "--version"]),
    ]
    if shutil.which("hyperfine"):
        for name, cmd in cmds:
            p = subprocess.run(["hyperfine", "-N", "--warmup", "10", "--runs", "200", "--export-json",
                                os.path.join(a.work, "h.json"), " ".join(cmd)],
                               capture_output=True, text=True)
            import json
            r = json.load(open(os.path.join(a.work, "h.json")))["results"][0]
            print(f"  {name:26} mean {r['mean'] * 1e3:5.2f} ms  median {r['median'] * 1e3:5.2f} ms"
                  f"  max {r['max'] * 1e3:5.2f} ms (hyperfine, 200 runs)")
    else:
        for name, cmd in cmds:
            t, _ = timed(cmd, 200)
            print(f"  {name:26} median {t * 1e3:5.2f} ms (200 runs)")
    print(f"\nbinary: {os.path.getsize(a.llmpipe):,} bytes")


if __name__ == "__main__":
    main()
