#!/usr/bin/env python3
"""Peak memory of `llmpipe batch submit` and `llmpipe batch results` on a large job.

Starts a minimal OpenAI Batch API on 127.0.0.1 (Files upload and content, Batches create
and retrieve; standard library only), submits N items with llmpipe, and reads the results
back; the results file comes back in shuffled order (within each provider batch of 50,000
requests, and the batches' files in reverse), so llmpipe has to reorder all of it. Prints
the peak RSS of each llmpipe process and the wall time, and checks that the output has
one line per item, in input order.

    bench/batch_memory.py [--items 1000000] [--llmpipe target/release/llmpipe]

Everything stays on this machine; the data directory is a fresh temporary one.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILES = {}  # file id -> list of custom_ids (input files)
BATCHES = {}  # batch id -> input file id
LOCK = threading.Lock()


def completion(text):
    return {
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1730000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                  "prompt_tokens_details": {"cached_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0}},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        if self.path == "/v1/files":
            ids = []
            for line in body.split(b"\n"):
                if line.startswith(b'{"custom_id"'):
                    ids.append(json.loads(line)["custom_id"])
            with LOCK:
                fid = f"file-in{len(FILES)}"
                FILES[fid] = ids
            return self.reply(200, {"id": fid, "object": "file", "bytes": n, "purpose": "batch",
                                    "filename": "in.jsonl", "created_at": int(time.time())})
        if self.path == "/v1/batches":
            req = json.loads(body)
            with LOCK:
                bid = f"batch_bench{len(BATCHES):04d}"
                BATCHES[bid] = req["input_file_id"]
            return self.reply(200, self.batch(bid, "validating"))
        self.reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def batch(self, bid, status):
        n = len(FILES[BATCHES[bid]])
        done = status == "completed"
        return {"id": bid, "object": "batch", "endpoint": "/v1/chat/completions", "status": status,
                "input_file_id": BATCHES[bid], "completion_window": "24h",
                "output_file_id": f"file-out-{bid}" if done else None, "error_file_id": None,
                "created_at": int(time.time()), "completed_at": int(time.time()) if done else None,
                "request_counts": {"total": n, "completed": n if done else 0, "failed": 0}}

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["v1", "batches"] and len(parts) == 3:
            return self.reply(200, self.batch(parts[2], "completed"))
        if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
            bid = parts[2].removeprefix("file-out-")
            ids = list(FILES[BATCHES[bid]])
            random.Random(bid).shuffle(ids)
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            buf = []
            for i, cid in enumerate(ids):
                line = {"id": f"batch_req_{i}", "custom_id": cid,
                        "response": {"status_code": 200, "request_id": f"req_{i}",
                                     "body": completion(f"answer to {cid}")}, "error": None}
                buf.append(json.dumps(line))
                if len(buf) == 2000:
                    self.chunk(("\n".join(buf) + "\n").encode())
                    buf = []
            if buf:
                self.chunk(("\n".join(buf) + "\n").encode())
            self.wfile.write(b"0\r\n\r\n")
            return
        self.reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


# Spawns the command from a fresh, small interpreter and reports wait4's rusage of that one
# process: a child forked from this process would count this process's memory (the mock holds
# every result of the job) in its peak, since ru_maxrss keeps the high-water mark across exec.
MEASURE = r"""
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, ru = os.wait4(p.pid, 0)
sys.stderr.write(json.dumps([os.waitstatus_to_exitcode(status), ru.ru_maxrss / 1024,
                             err.decode(errors="replace")[-2000:]]))
"""


def run_measured(cmd, env, stdin=None, stdout=None):
    """Runs cmd; returns (exit code, peak RSS of that process in MiB, seconds)."""
    started = time.time()
    p = subprocess.run([sys.executable, "-c", MEASURE, *cmd], env=env, stdin=stdin,
                       stdout=stdout, stderr=subprocess.PIPE)
    code, peak, err = json.loads(p.stderr.decode())
    if code != 0:
        print(err, file=sys.stderr)
    return code, peak, time.time() - started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--llmpipe", default="target/release/llmpipe")
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    work = tempfile.mkdtemp(prefix="llmpipe-batch-bench-")
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work,
               "XDG_DATA_HOME": os.path.join(work, "data"), "TMPDIR": work,
               "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        items = os.path.join(work, "items.txt")
        with open(items, "w") as f:
            for i in range(a.items):
                f.write(f"Review number {i}: the product arrived on time and works as described.\n")
        with open(items) as stdin:
            code, peak, secs = run_measured(
                [a.llmpipe, "batch", "submit", "--json", "-m", "gpt-4o-mini", "Sentiment:"],
                env, stdin=stdin, stdout=open(os.path.join(work, "job.json"), "w"))
        if code != 0:
            sys.exit(f"batch submit failed (exit {code})")
        job = json.load(open(os.path.join(work, "job.json")))
        print(f"batch submit  {a.items:>9} items  {len(job['provider_batch_ids']):>3} batches  "
              f"peak RSS {peak:7.1f} MiB  {secs:6.1f} s")
        out = os.path.join(work, "results.jsonl")
        with open(out, "w") as stdout:
            code, peak, secs = run_measured([a.llmpipe, "batch", "results", job["id"]], env, stdout=stdout)
        if code != 0:
            sys.exit(f"batch results failed (exit {code})")
        n = 0
        with open(out) as f:
            for i, line in enumerate(f):
                if i % 1000 == 0 or i == a.items - 1:
                    v = json.loads(line)
                    assert v["index"] == i and v["batch"] is True, line
                n += 1
        assert n == a.items, f"{n} lines for {a.items} items"
        print(f"batch results {a.items:>9} items  in input order     "
              f"peak RSS {peak:7.1f} MiB  {secs:6.1f} s")
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
