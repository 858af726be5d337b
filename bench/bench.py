"""The measurements behind `bench/run` (which builds everything first and then runs this).

Every number comes from this one run, on this machine, against the local mock server
(`bench/mock`, 127.0.0.1 only). Each command is timed as a whole process by
`benchmock time` (spawn → wait4: wall time and max RSS of the same run), N runs after a
warm-up, reported as median [min–max]. Ratios compare medians measured here, side by side.

Writes bench/results.md (and results.json) and prints the ratio table.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = os.path.join(HERE, "py")

OPENAI_MODEL = "gpt-4.1-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-5"
MODELS = {"openai": OPENAI_MODEL, "anthropic": ANTHROPIC_MODEL}
PROMPT = "Write a long story about Unix pipes."
REPLY_TOKENS = 2000
ITEM_REPLY_TOKENS = 16
ITEMS = 2000
BIG_ITEMS = 100_000
CONCURRENCY = 64


def fmt_s(s):
    if s is None:
        return "–"
    if s < 0.001:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms" if s < 0.01 else f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_mb(kb):
    return "–" if kb is None else f"{kb / 1024:.1f} MB"


def med(xs):
    return statistics.median(xs) if xs else None


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = tempfile.mkdtemp(prefix="llmpipe-bench-")
        self.procs = []
        self.rows = {}  # key -> measurement
        self.notes = []
        self.ratios = []
        self.sections = []  # (title, [keys])
        self.section_case = {}  # many-requests section title -> case
        self.env = {
            "PATH": os.path.join(HERE, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""),
            "HOME": self.work,
            "XDG_CONFIG_HOME": os.path.join(self.work, "xdg"),
            "LANG": "C.UTF-8",
            "OPENAI_API_KEY": "sk-bench-fake-key",
            "ANTHROPIC_API_KEY": "sk-ant-bench-fake-key",
            "TIKTOKEN_CACHE_DIR": args.tiktoken_cache,
            "LLM_USER_PATH": os.path.join(self.work, "llm"),
        }
        self.runs = (lambda n: max(3, n // 3)) if args.quick else (lambda n: n)

    # ---- processes ----

    def start_mock(self, tokens, **kw):
        cmd = [self.a.mock, "serve", "--tokens", str(tokens), "--max-seconds", "3600"]
        for k, v in kw.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        port = int(p.stdout.readline())
        return port

    def stop(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    def env_for(self, port):
        e = dict(self.env)
        e["OPENAI_BASE_URL"] = f"http://127.0.0.1:{port}/v1"
        e["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        return e

    def path(self, name):
        return os.path.join(self.work, name)

    def measure(self, key, label, cmd, runs, warmup=1, stdin=None, port=None, max_seconds=600):
        """Times `cmd` (whole process); its last stdout is kept in work/<key>.out."""
        out = self.path(key + ".out")
        err = self.path(key + ".err")
        tcmd = [self.a.mock, "time", "--runs", str(runs), "--warmup", str(warmup),
                "--stdout", out, "--stderr", err, "--max-seconds", str(max_seconds)]
        if stdin:
            tcmd += ["--stdin", stdin]
        tcmd += ["--"] + cmd
        print(f"  {label} ({runs} runs)…", flush=True)
        r = subprocess.run(tcmd, env=self.env_for(port) if port else self.env,
                           cwd=self.work, capture_output=True, text=True)
        m = {"label": label, "cmd": " ".join(cmd), "runs": runs}
        if r.returncode != 0:
            m["error"] = (r.stderr.strip() or f"exit {r.returncode}")[-600:]
            print(f"    FAILED: {m['error']}", flush=True)
        else:
            d = json.loads(r.stdout)
            m.update(d)
            m["wall"] = med(d["wall_s"])
            m["rss"] = med(d["maxrss_kb"])
            print(f"    {fmt_s(m['wall'])} [{fmt_s(min(d['wall_s']))}–{fmt_s(max(d['wall_s']))}], "
                  f"max RSS {fmt_mb(m['rss'])}", flush=True)
        self.rows[key] = m
        return m

    def measure_interleaved(self, items, runs, block=5, port=None):
        """Times several commands in turn, `block` runs of each at a time, until each has
        `runs`: a change in the machine's speed during the measurement (this VM's is large)
        then hits all of them alike, so ratios between them hold. `items`: (key, label, cmd)."""
        walls = {k: [] for k, _, _ in items}
        rss = {k: [] for k, _, _ in items}
        failed = {}
        print(f"  {len(items)} commands in turn, {block} runs at a time, {runs} runs each…", flush=True)
        while any(len(walls[k]) < runs for k, _, _ in items if k not in failed):
            for key, label, cmd in items:
                if key in failed or len(walls[key]) >= runs:
                    continue
                out, err = self.path(key + ".out"), self.path(key + ".err")
                tcmd = [self.a.mock, "time", "--runs", str(block), "--warmup", "1",
                        "--stdout", out, "--stderr", err, "--max-seconds", "600", "--"] + cmd
                r = subprocess.run(tcmd, env=self.env_for(port) if port else self.env,
                                   cwd=self.work, capture_output=True, text=True)
                if r.returncode != 0:
                    failed[key] = (r.stderr.strip() or f"exit {r.returncode}")[-600:]
                    continue
                d = json.loads(r.stdout)
                walls[key] += d["wall_s"]
                rss[key] += d["maxrss_kb"]
        for key, label, cmd in items:
            m = {"label": label, "cmd": " ".join(cmd), "runs": len(walls[key])}
            if key in failed:
                m["error"] = failed[key]
                print(f"    {label}: FAILED: {m['error']}", flush=True)
            else:
                m["wall_s"], m["maxrss_kb"] = walls[key], rss[key]
                m["wall"], m["rss"] = med(walls[key]), med(rss[key])
                print(f"    {label}: {fmt_s(m['wall'])} [{fmt_s(min(walls[key]))}–"
                      f"{fmt_s(max(walls[key]))}], max RSS {fmt_mb(m['rss'])}", flush=True)
            self.rows[key] = m

    def output(self, key):
        try:
            with open(self.path(key + ".out"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def ok(self, key):
        return key in self.rows and "error" not in self.rows[key]

    def ratio(self, label, value, target=None, higher_is_better=True, unit="×", detail=""):
        met = None
        if value is not None and target is not None:
            met = value >= target if higher_is_better else value <= target
        self.ratios.append({"label": label, "value": value, "target": target,
                            "higher": higher_is_better, "unit": unit, "met": met,
                            "detail": detail})

    def fact(self, label, shown):
        """A row of the ratio table that is a statement, not a ratio (memory)."""
        self.ratios.append({"label": label, "value": None, "target": None, "higher": True,
                            "unit": "fact", "met": None, "detail": shown})

    def rss(self, key):
        return self.rows[key]["rss"] if self.ok(key) else None

    def memory_facts(self):
        mb = lambda k: fmt_mb(self.rss(k))  # noqa: E731
        if self.ok("startup.version") and self.ok("startup.llm"):
            self.fact("max RSS, start-up: `llmpipe --version` / `llm --version`",
                      f"{mb('startup.version')} / {mb('startup.llm')}")
        for mode in ("complete", "stream"):
            ks = [f"one.{p}.{mode}" for p in ("openai", "anthropic")]
            if all(self.ok(k + ".llmpipe") and self.ok(k + ".sdk") for k in ks):
                self.fact(f"max RSS, one `{mode}`: llmpipe / SDK script (openai, anthropic)",
                          f"{mb(ks[0] + '.llmpipe')}, {mb(ks[1] + '.llmpipe')} / "
                          f"{mb(ks[0] + '.sdk')}, {mb(ks[1] + '.sdk')}")
        k = "many.latency.openai"
        if self.ok(k + ".llmpipe") and self.ok(k + ".python"):
            self.fact(f"max RSS, `--each-line` {ITEMS:,} items: llmpipe / Python pattern (openai)",
                      f"{mb(k + '.llmpipe')} / {mb(k + '.python')}")
        if self.ok("many.100k"):
            self.fact(f"max RSS, `--each-line` {BIG_ITEMS:,} items (llmpipe)", mb("many.100k"))
        if self.ok("tokens.llmpipe") and self.ok("tokens.tiktoken1"):
            self.fact("max RSS, 20 MB count: llmpipe / tiktoken 1 thread / batch 2 threads",
                      f"{mb('tokens.llmpipe')} / {mb('tokens.tiktoken1')} / {mb('tokens.tiktoken2')}")

    def speedup(self, label, fast_key, slow_key, target=None, detail=""):
        if self.ok(fast_key) and self.ok(slow_key):
            v = self.rows[slow_key]["wall"] / self.rows[fast_key]["wall"]
        else:
            v = None
        self.ratio(label, v, target, True, "×", detail)

    def note(self, s):
        print("  note: " + s, flush=True)
        self.notes.append(s)

    # ---- the measurements ----

    def llmpipe(self, *args):
        return [self.a.llmpipe, *args]

    def has_count_tokens(self):
        r = subprocess.run(self.llmpipe("count-tokens", "--help"), env=self.env,
                           capture_output=True, text=True, cwd=self.work)
        return r.returncode == 0

    def startup(self):
        print("Start-up", flush=True)
        keys = []
        n, np_ = self.runs(40), self.runs(10)
        one_kb = self.path("1kb.txt")
        with open(one_kb, "w") as f:
            f.write(make_text(1024, seed=1))
        self.one_kb = one_kb
        self.measure("startup.version", "`llmpipe --version`", self.llmpipe("--version"), n, 3)
        self.measure("startup.dry_run", "`llmpipe complete --dry-run`",
                     self.llmpipe("complete", "--dry-run", PROMPT), n, 3)
        keys += ["startup.version", "startup.dry_run"]
        if self.count_tokens:
            self.measure("startup.count_tokens", "`llmpipe count-tokens -m gpt-4o` (1 KB stdin)",
                         self.llmpipe("count-tokens", "-m", "gpt-4o"), n, 3, stdin=one_kb)
            keys.append("startup.count_tokens")
        self.measure("startup.llm", "`llm --version`", [self.venv("llm"), "--version"], np_, 1)
        self.measure("startup.ttok", "`ttok -m gpt-4o` (1 KB stdin)",
                     [self.venv("ttok"), "-m", "gpt-4o"], np_, 1, stdin=one_kb)
        keys += ["startup.llm", "startup.ttok"]
        if shutil.which("curl"):
            # Context for the curl floor below: how much of it is curl starting up.
            self.measure("startup.curl", "`curl --version` (context for the curl floor)", ["curl", "--version"], n, 3)
            keys.append("startup.curl")
        self.sections.append(("Start-up", keys))
        self.speedup("`llmpipe --version` vs `llm --version`", "startup.version", "startup.llm", 100)
        self.speedup("`llmpipe complete --dry-run` vs `llm --version`", "startup.dry_run", "startup.llm")
        if self.count_tokens:
            self.speedup("`llmpipe count-tokens` 1 KB vs `ttok` 1 KB", "startup.count_tokens", "startup.ttok")
            w = self.rows["startup.count_tokens"].get("wall")
            self.ratio("`llmpipe count-tokens` on 1 KB (time)", w * 1e3 if w else None, 10, False, " ms")
            a, b = self.output("startup.count_tokens"), self.output("startup.ttok")
            if first_int(a) != first_int(b):
                self.note(f"count-tokens 1 KB: llmpipe says {first_int(a)}, ttok says {first_int(b)}")
        else:
            self.note("`llmpipe count-tokens` is not in this binary (`llmpipe count-tokens --help` fails): "
                      "its start-up and 20 MB measurements are skipped; they run by themselves once it exists.")

    def dry_run_request(self, provider, port, stream):
        cmd = "stream" if stream else "complete"
        r = subprocess.run(self.llmpipe(cmd, "--dry-run", "-m", MODELS[provider], "--max-tokens", "4096", PROMPT),
                           env=self.env_for(port), capture_output=True, text=True, cwd=self.work, check=True)
        return json.loads(r.stdout)

    def curl_cmd(self, req, name):
        body = self.path(name + ".json")
        with open(body, "w") as f:
            json.dump(req["body"], f, separators=(",", ":"))
        cmd = ["curl", "-sS", "--fail", "-o", "/dev/null", "-X", "POST", req["url"]]
        for k, v in req["headers"].items():
            v = v.replace("[REDACTED]", self.env["OPENAI_API_KEY"] if k == "authorization"
                          else self.env["ANTHROPIC_API_KEY"])
            cmd += ["-H", f"{k}: {v}"]
        return cmd + ["--data-binary", "@" + body]

    def one_request(self):
        print(f"One request ({REPLY_TOKENS}-token reply, zero token delay)", flush=True)
        port = self.start_mock(REPLY_TOKENS)
        n, np_ = self.runs(20), self.runs(10)
        keys = []
        have_curl = shutil.which("curl") is not None
        if not have_curl:
            self.note("curl not found: the curl floor is skipped")
        for provider in ("openai", "anthropic"):
            model = MODELS[provider]
            for mode in ("complete", "stream"):
                k = f"one.{provider}.{mode}"
                self.measure(k + ".llmpipe", f"`llmpipe {mode}` ({provider})",
                             self.llmpipe(mode, "-m", model, "--max-tokens", "4096", PROMPT), n, 2, port=port)
                self.measure(k + ".sdk", f"{provider} SDK script, {mode}",
                             [self.venv("python"), os.path.join(PY, "sdk_one.py"), provider, mode, model, PROMPT],
                             np_, 1, port=port)
                keys += [k + ".llmpipe", k + ".sdk"]
                if have_curl:
                    req = self.dry_run_request(provider, port, mode == "stream")
                    self.measure(k + ".curl", f"curl {mode} ({provider}) to /dev/null",
                                 self.curl_cmd(req, k), n, 2, port=port)
                    keys.append(k + ".curl")
                req = self.dry_run_request(provider, port, mode == "stream")
                self.measure(k + ".raw", f"raw Rust client ({mode}, {provider}): `benchmock load --conns 1 --requests 1`",
                             self.load_cmd(port, req, 1, 1), n, 2, port=port)
                keys.append(k + ".raw")
                a, b = self.output(k + ".llmpipe"), self.output(k + ".sdk")
                if not a.strip() or a != b:
                    self.note(f"{provider} {mode}: llmpipe printed {len(a)} bytes, the SDK script {len(b)}; they differ")
                self.speedup(f"`{mode}` {provider}: vs the {provider} SDK script", k + ".llmpipe", k + ".sdk", 20)
                if have_curl and self.ok(k + ".llmpipe") and self.ok(k + ".curl"):
                    v = self.rows[k + ".llmpipe"]["wall"] / self.rows[k + ".curl"]["wall"]
                    self.ratio(f"`{mode}` {provider}: time ÷ curl floor", v, 1.5, False)
                if self.ok(k + ".llmpipe") and self.ok(k + ".raw"):
                    v = self.rows[k + ".llmpipe"]["wall"] / self.rows[k + ".raw"]["wall"]
                    self.ratio(f"`{mode}` {provider}: time ÷ raw Rust client (no target; the true floor)", v, None, False)
        self.sections.append((f"One request: {REPLY_TOKENS}-token reply", keys))

    def costs(self):
        """What streaming and the call log add to one request, llmpipe against itself."""
        print(f"Costs: streaming and the call log ({REPLY_TOKENS}-token reply)", flush=True)
        port = self.start_mock(REPLY_TOKENS)
        n = self.runs(100)
        keys = []
        for provider in ("openai", "anthropic"):
            model = MODELS[provider]
            k = f"costs.{provider}"
            items = []
            for mode, extra in (("complete", ["--no-log"]), ("stream", ["--no-log"]), ("complete", [])):
                key = f"{k}.{mode}{'.nolog' if extra else '.log'}"
                label = f"`llmpipe {mode}{' --no-log' if extra else ''}` ({provider})"
                items.append((key, label, self.llmpipe(mode, *extra, "-m", model, "--max-tokens", "4096", PROMPT)))
            # The floors: a minimal Rust client reading the same two replies (no parsing),
            # and reqwest (llmpipe's features and runtime), which carries llmpipe's replies
            # and until 2026-11-29 carried its streams too, reading a stream frame by frame
            # as llmpipe did: what reading streams off the socket (src/provider/h1.rs) saves.
            for mode in ("complete", "stream"):
                req = self.dry_run_request(provider, port, mode == "stream")
                items.append((f"{k}.{mode}.raw", f"raw Rust client, {mode} ({provider})",
                              self.load_cmd(port, req, 1, 1)))
                items.append((f"{k}.{mode}.reqwest", f"reqwest alone, {mode} ({provider}): `benchmock fetch`",
                              self.fetch_cmd(port, req, mode == "stream")))
            self.measure_interleaved(items, n, port=port)
            keys += [key for key, _, _ in items]
            if self.ok(k + ".stream.nolog") and self.ok(k + ".complete.nolog"):
                v = self.rows[k + ".stream.nolog"]["wall"] / self.rows[k + ".complete.nolog"]["wall"]
                self.ratio(f"`stream` ÷ `complete`, same {REPLY_TOKENS:,}-token reply ({provider})", v, 1.3, False,
                           detail="plain")
            if self.ok(k + ".stream.raw") and self.ok(k + ".complete.raw"):
                raw_s, raw_c = self.rows[k + ".stream.raw"]["wall"], self.rows[k + ".complete.raw"]["wall"]
                added = ""
                if self.ok(k + ".stream.nolog") and self.ok(k + ".complete.nolog"):
                    ours = self.rows[k + ".stream.nolog"]["wall"] - self.rows[k + ".complete.nolog"]["wall"]
                    added = f"; streaming adds {ours * 1000:.2f} ms to llmpipe, {(raw_s - raw_c) * 1000:.2f} ms to it"
                self.ratio(f"the same ratio for a raw Rust client ({provider}){added}", raw_s / raw_c, None, False)
            if self.ok(k + ".stream.reqwest") and self.ok(k + ".complete.reqwest"):
                rq_s, rq_c = self.rows[k + ".stream.reqwest"]["wall"], self.rows[k + ".complete.reqwest"]["wall"]
                floor = ""
                if self.ok(k + ".complete.nolog"):
                    # llmpipe's complete plus what reading the stream costs reqwest alone: the
                    # best a stream read through reqwest could do, were parsing free.
                    c = self.rows[k + ".complete.nolog"]["wall"]
                    floor = f"; a stream read through it could at best be {(c + rq_s - rq_c) / c:.2f}× `complete`"
                self.ratio(f"the same ratio for reqwest alone ({provider}), which no longer reads llmpipe's streams; streaming adds {(rq_s - rq_c) * 1000:.2f} ms to it{floor}",
                           rq_s / rq_c, None, False)
            if self.ok(k + ".complete.log") and self.ok(k + ".complete.nolog"):
                log, nolog = self.rows[k + ".complete.log"]["wall"], self.rows[k + ".complete.nolog"]["wall"]
                self.ratio(f"`complete` with the call log ÷ `--no-log` ({provider}); adds {(log - nolog) * 1000:.2f} ms",
                           log / nolog, 1.25, False, detail="plain")
        self.sections.append((f"Costs: streaming and the call log, {REPLY_TOKENS}-token reply", keys))

    # (name, tokens, first delay ms, token delay ms, target applies)
    TTFB_CASES = [
        ("paced: 50 tokens, 5 ms apart, like a model", 50, 20, 5, True),
        ("burst: the 2,000-token reply, the rest written at once after the first", REPLY_TOKENS, 20, 0, True),
    ]

    def ttfb(self):
        print("Time to first printed byte (server writes the first text delta → first byte on the client's stdout)", flush=True)
        self.ttfb_rows = []
        for case, tokens, first, gap, target in self.TTFB_CASES:
            for provider in ("openai", "anthropic"):
                model = MODELS[provider]
                clients = [("llmpipe stream", self.llmpipe("stream", "-m", model, PROMPT), self.runs(30))]
                if target:
                    clients.append((f"{provider} SDK script, stream",
                                    [self.venv("python"), os.path.join(PY, "sdk_one.py"), provider, "stream", model, PROMPT],
                                    self.runs(10)))
                for who, cmd, runs in clients:
                    print(f"  {case}: {who} ({provider}, {runs} runs)…", flush=True)
                    r = subprocess.run([self.a.mock, "ttfb", "--tokens", str(tokens), "--first-delay-ms", str(first),
                                        "--token-delay-ms", str(gap), "--runs", str(runs), "--warmup", "2", "--"] + cmd,
                                       env=self.env, cwd=self.work, capture_output=True, text=True)
                    row = {"label": f"{who} ({provider})", "case": case, "runs": runs}
                    if r.returncode != 0:
                        row["error"] = r.stderr.strip()[-400:]
                        print("    FAILED: " + row["error"], flush=True)
                    else:
                        lat = json.loads(r.stdout)["latency_us"]
                        row.update(median=med(lat), min=min(lat), max=max(lat))
                        print(f"    {row['median']:.0f} µs [{row['min']:.0f}–{row['max']:.0f}]", flush=True)
                    self.ttfb_rows.append(row)
                    if who == "llmpipe stream":
                        v = row.get("median")
                        self.ratio(f"`stream` {provider}: first printed byte after the server's, median ({case.split(':')[0]})",
                                   v / 1000 if v is not None else None, 1.0 if target else None, False, " ms")

    def items_file(self, name, count):
        path = self.path(name)
        rnd = random.Random(7)
        words = ("great product works well battery died after two days shipping was slow love the colour "
                 "would buy again screen cracked support answered fast too expensive for what it does").split()
        with open(path, "w") as f:
            for i in range(count):
                f.write(f"Review {i}: " + " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 18))) + "\n")
        return path

    def check_lines(self, key, count):
        lines = self.output(key).splitlines()
        bad = 0
        for i, line in enumerate(lines):
            try:
                o = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if o.get("index") != i or "error" in o or not o.get("text"):
                bad += 1
        if len(lines) != count or bad:
            self.note(f"{key}: {len(lines)} lines for {count} items, {bad} not a successful in-order result")

    def wrk(self, port, provider, body_req):
        if not shutil.which("wrk"):
            return None
        lua = self.path(f"wrk-{provider}.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\n')
            f.write("wrk.body = [==[" + json.dumps(body_req["body"], separators=(",", ":")) + "]==]\n")
            for k, v in body_req["headers"].items():
                v = v.replace("[REDACTED]", self.env["OPENAI_API_KEY"] if k == "authorization"
                              else self.env["ANTHROPIC_API_KEY"])
                f.write(f'wrk.headers["{k}"] = "{v}"\n')
        rates = []
        for _ in range(self.runs(3)):
            r = subprocess.run(["wrk", "-t1", f"-c{CONCURRENCY}", "-d5s", "-s", lua, body_req["url"]],
                               capture_output=True, text=True, timeout=60)
            m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
            if r.returncode != 0 or not m or "Non-2xx" in r.stdout or "Socket errors" in r.stdout:
                self.note(f"wrk ({provider}) failed or saw errors: {r.stdout[-300:]} {r.stderr[-300:]}")
                return None
            rates.append(float(m.group(1)))
        return rates

    def load_cmd(self, port, body_req, conns, requests):
        self.n_bodies = getattr(self, "n_bodies", 0) + 1
        body = self.path(f"load-{self.n_bodies}.json")
        with open(body, "w") as f:
            json.dump(body_req["body"], f, separators=(",", ":"))
        path = "/" + body_req["url"].split("/", 3)[3]
        cmd = [self.a.mock, "load", "--port", str(port), "--path", path, "--body", body,
               "--conns", str(conns), "--requests", str(requests)]
        for k, v in body_req["headers"].items():
            if k == "content-type":
                continue
            v = v.replace("[REDACTED]", self.env["OPENAI_API_KEY"] if k == "authorization"
                          else self.env["ANTHROPIC_API_KEY"])
            cmd += ["--header", f"{k}: {v}"]
        return cmd

    def fetch_cmd(self, port, body_req, stream):
        """`benchmock fetch`: the same request through reqwest alone."""
        cmd = self.load_cmd(port, body_req, 1, 1)
        cmd[1] = "fetch"
        i = cmd.index("--conns")
        del cmd[i:i + 4]  # --conns 1 --requests 1
        return cmd + ["--stream", "true" if stream else "false"]

    def load(self, port, provider, body_req):
        cmd = self.load_cmd(port, body_req, CONCURRENCY, ITEMS)
        rates = []
        for _ in range(self.runs(5)):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                self.note(f"benchmock load ({provider}) failed: {r.stderr[-300:]}")
                return None
            rates.append(json.loads(r.stdout)["rps"])
        return rates

    # (key, description, first delay ms, token delay ms)
    MANY_CASES = [
        ("latency", "model-like latency: 16 tokens × 1 ms per reply", 0, 1),
        ("zero", "zero-latency mock: client CPU is the limit", 0, 0),
    ]

    def many(self):
        items = self.items_file("items.txt", ITEMS)
        n, np_ = self.runs(7), self.runs(5)
        self.ceilings = []
        for case, desc, first, gap in self.MANY_CASES:
            print(f"Many requests ({desc}): --each-line, {ITEMS} items, concurrency {CONCURRENCY}, "
                  f"{ITEM_REPLY_TOKENS}-token replies", flush=True)
            port = self.start_mock(ITEM_REPLY_TOKENS, first_delay_ms=first, token_delay_ms=gap)
            keys = []
            for provider in ("openai", "anthropic"):
                model = MODELS[provider]
                k = f"many.{case}.{provider}"
                self.measure(k + ".llmpipe", f"`llmpipe complete --each-line --concurrency {CONCURRENCY}` ({provider})",
                             self.llmpipe("complete", "-m", model, "--each-line", "--concurrency", str(CONCURRENCY)),
                             n, 1, stdin=items, port=port)
                self.check_lines(k + ".llmpipe", ITEMS)
                self.measure(k + ".python", f"Python Async{'OpenAI' if provider == 'openai' else 'Anthropic'}, "
                             f"gather + Semaphore({CONCURRENCY}) ({provider})",
                             [self.venv("python"), os.path.join(PY, "sdk_many.py"), provider, model, str(CONCURRENCY)],
                             np_, 1, stdin=items, port=port)
                self.check_lines(k + ".python", ITEMS)
                keys += [k + ".llmpipe", k + ".python"]
                for key in (k + ".llmpipe", k + ".python"):
                    if self.ok(key):
                        self.rows[key]["rps"] = ITEMS / self.rows[key]["wall"]
                # The ceiling: the same request body llmpipe sends for an item, from a plain load generator.
                r = subprocess.run(self.llmpipe("complete", "-m", model, "--each-line", "--dry-run"),
                                   input="Review 0: great product\n", env=self.env_for(port),
                                   capture_output=True, text=True, cwd=self.work, check=True)
                req = json.loads(r.stdout.splitlines()[0])
                print(f"  ceiling ({provider}): wrk -t1 -c{CONCURRENCY} -d5s, and benchmock load…", flush=True)
                w = self.wrk(port, provider, req)
                lo = self.load(port, provider, req)
                if w is None and shutil.which("wrk") is None:
                    self.note("wrk not installed: the ceiling is benchmock load alone")
                self.ceilings.append({"case": case, "provider": provider, "wrk": w, "load": lo})
                ceiling = med(w) if w else (med(lo) if lo else None)
                if w:
                    print(f"    wrk {med(w):.0f} req/s [{min(w):.0f}–{max(w):.0f}]", flush=True)
                if lo:
                    print(f"    benchmock load {med(lo):.0f} req/s [{min(lo):.0f}–{max(lo):.0f}]", flush=True)
                short = "model-like latency" if case == "latency" else "zero-latency mock"
                self.speedup(f"`--each-line` {provider}, {short}: vs Python asyncio pattern",
                             k + ".llmpipe", k + ".python", 5)
                if ceiling and self.ok(k + ".llmpipe"):
                    self.ratio(f"`--each-line` {provider}, {short}: share of the raw ceiling "
                               f"({'wrk' if w else 'benchmock load'})",
                               self.rows[k + ".llmpipe"]["rps"] / ceiling * 100, 80, True, " %")
            self.sections.append((f"Many requests, {desc}: {ITEMS} items", keys))
            self.section_case[f"Many requests, {desc}: {ITEMS} items"] = case
            if case == "zero":
                self.zero_port = port

        print(f"Memory: --each-line with {BIG_ITEMS:,} items", flush=True)
        big = self.items_file("items-100k.txt", BIG_ITEMS)
        port = self.zero_port
        self.measure("many.100k", f"`llmpipe complete --each-line` {BIG_ITEMS:,} items (openai)",
                     self.llmpipe("complete", "-m", OPENAI_MODEL, "--each-line", "--concurrency", str(CONCURRENCY)),
                     1, 0, stdin=big, port=port)
        self.check_lines("many.100k", BIG_ITEMS)
        if self.ok("many.100k"):
            self.rows["many.100k"]["rps"] = BIG_ITEMS / self.rows["many.100k"]["wall"]
        self.sections.append(("Memory: 100,000 items", ["many.100k"]))

    def tokens(self):
        """count-tokens on 20 MB against Python tiktoken, whole processes, both encodings:
        llmpipe on every core and on one (`-j 1`), tiktoken `encode_ordinary` (one thread)
        and `encode_ordinary_batch` (two threads). All counts of one encoding must be equal."""
        if not self.count_tokens:
            return
        print("Tokens: count-tokens on 20 MB", flush=True)
        big = self.path("20mb.txt")
        with open(big, "w") as f:
            f.write(make_text(20 * 1024 * 1024, seed=2))
        n = self.runs(5)
        tiktoken = [self.venv("python"), os.path.join(PY, "tiktoken_count.py")]
        keys = ["tokens.llmpipe", "tokens.llmpipe1", "tokens.tiktoken1", "tokens.tiktoken2"]
        self.measure("tokens.llmpipe", "`llmpipe count-tokens -m gpt-4o` (20 MB stdin)",
                     self.llmpipe("count-tokens", "-m", "gpt-4o"), n, 1, stdin=big)
        self.measure("tokens.llmpipe1", "`llmpipe count-tokens -m gpt-4o -j 1` (20 MB stdin, one thread)",
                     self.llmpipe("count-tokens", "-m", "gpt-4o", "-j", "1"), n, 1, stdin=big)
        self.measure("tokens.tiktoken1", "Python tiktoken `encode_ordinary`, 1 thread (o200k_base)",
                     tiktoken + ["o200k_base", big], n, 1)
        self.measure("tokens.tiktoken2", "Python tiktoken `encode_ordinary_batch`, 2 threads (o200k_base)",
                     tiktoken + ["o200k_base", big, "--threads", "2"], n, 1)
        cl_keys = ["tokens.cl100k.llmpipe", "tokens.cl100k.tiktoken1"]
        self.measure("tokens.cl100k.llmpipe", "`llmpipe count-tokens --encoding cl100k_base` (20 MB stdin)",
                     self.llmpipe("count-tokens", "--encoding", "cl100k_base"), n, 1, stdin=big)
        self.measure("tokens.cl100k.tiktoken1", "Python tiktoken `encode_ordinary`, 1 thread (cl100k_base)",
                     tiktoken + ["cl100k_base", big], n, 1)
        same = True
        for group in (keys, cl_keys):
            counts = {k: first_int(self.output(k)) for k in group}
            for k in group:
                if k in self.rows:
                    self.rows[k]["tokens"] = counts[k]
            if len(set(counts.values())) != 1:
                same = False
                self.note(f"token counts differ on 20 MB: {counts}")
        self.sections.append(("Tokens: 20 MB", keys + cl_keys))
        self.speedup("`count-tokens` 20 MB vs tiktoken, 1 thread", "tokens.llmpipe", "tokens.tiktoken1", 2.5)
        self.speedup("`count-tokens` 20 MB vs tiktoken batch, 2 threads", "tokens.llmpipe", "tokens.tiktoken2", 1.5)
        self.speedup("`count-tokens -j 1` 20 MB vs tiktoken, both on 1 thread", "tokens.llmpipe1",
                     "tokens.tiktoken1")
        self.speedup("`count-tokens` 20 MB vs tiktoken, 1 thread (cl100k_base)", "tokens.cl100k.llmpipe",
                     "tokens.cl100k.tiktoken1")
        self.ratio("`count-tokens` 20 MB: counts identical to tiktoken (both encodings)", 1.0 if same else 0.0,
                   1.0, True, "")

    def venv(self, name):
        return os.path.join(HERE, ".venv", "bin", name)

    # ---- report ----

    def versions(self):
        def out(cmd):
            try:
                # The caller's environment: rustup and friends find their homes there.
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                return (r.stdout or r.stderr).strip().splitlines()[0]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                return "not found"
        try:
            pkgs = subprocess.run([self.venv("python"), "-c",
                                   "import importlib.metadata as m\n"
                                   "for p in ('llm','ttok','openai','anthropic','tiktoken','httpx'):\n"
                                   "    print(p, m.version(p))"], capture_output=True, text=True).stdout.split("\n")
        except OSError:  # no bench/.venv: a run of llmpipe-only sections (--only costs)
            pkgs = []
        git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if os.path.dirname(os.path.dirname(os.path.dirname(self.a.llmpipe))) == ROOT:
            where = f"git {git}{', uncommitted changes' if dirty else ''}"
        else:
            where = f"binary {self.a.llmpipe}" + (f", built from {self.a.llmpipe_source}" if self.a.llmpipe_source else "")
        return [
            ("llmpipe", f"{out(self.llmpipe('--version')).removeprefix('llmpipe ')} ({where}), release build"),
            ("rustc", out(["rustc", "--version"])),
            ("python", out([self.venv("python"), "--version"])),
            *[(p.split()[0], p.split()[1]) for p in pkgs if p.strip()],
            ("curl", out(["curl", "--version"])),
            ("wrk", out(["wrk", "--version"]) if shutil.which("wrk") else "not installed"),
        ]

    def machine(self):
        cpu = "unknown"
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        mem = "?"
        try:
            kb = int(open("/proc/meminfo").readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
        except (OSError, ValueError, IndexError):
            pass
        return f"{cpu}, {os.cpu_count()} CPUs, {mem} RAM, {platform.system()} {platform.release()}"

    def ratio_table(self, short=False):
        lines = ["| measure | result | target | met |", "|---|---|---|---|"]
        for r in self.ratios:
            v = r["value"]
            if short and r["target"] is None and r["unit"] != "fact":
                continue
            if r["unit"] == "fact":
                lines.append(f"| {r['label']} | {r['detail']} | | |")
                continue
            if r["unit"] == "×":
                shown = "–" if v is None else (f"{v:.0f}× faster" if v >= 10 else f"{v:.2f}×")
                target = f"≥ {r['target']}×" if r["target"] and r["higher"] else (
                    f"≤ {r['target']}×" if r["target"] else "")
                if r["target"] and not r["higher"]:
                    shown = "–" if v is None else f"{v:.2f}×{'' if r['detail'] == 'plain' else ' the floor'}"
            elif r["unit"] == " %":
                shown = "–" if v is None else f"{v:.0f} %"
                target = f"≥ {r['target']} %"
            elif r["unit"] == " ms":
                shown = "–" if v is None else f"{v:.3f} ms"
                target = f"≤ {r['target']} ms" if r["target"] else ""
            else:
                shown = "–" if v is None else ("yes" if v else "no")
                target = "yes"
                r = dict(r, met=None if v is None else bool(v))
            met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
            lines.append(f"| {r['label']} | {shown} | {target} | {met} |")
        return "\n".join(lines)

    def report(self, started, load_before):
        load_after = open("/proc/loadavg").read().split()[:3]
        md = ["# llmpipe benchmark results", "",
              f"Written by `bench/run` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} "
              f"({'quick' if self.a.quick else 'full'} run, {time.time() - started:.0f} s of measuring). "
              "Do not edit by hand: run `bench/run` again.", "",
              f"**Machine:** {self.machine()}. Load average before / after: "
              f"{' '.join(load_before)} / {' '.join(load_after)} (other work on the machine shows here).", "",
              "**Versions:** " + "; ".join(f"{k} {v}" for k, v in self.versions()), "",
              "**Method.** Every command runs as a whole process (start-up included) under "
              "`benchmock time`, which spawns it and takes wall time and max RSS from the same `wait4`; "
              "numbers are the median of N runs after a warm-up, with [min–max]. Requests go to "
              "`bench/mock` on 127.0.0.1 (one thread, HTTP/1.1 keep-alive, the APIs' exact JSON and SSE "
              "bodies, zero token delay unless said). Ratios are of medians from this run.", "",
              "## Ratios", "", self.ratio_table(), ""]
        for title, keys in self.sections:
            md += [f"## {title}", "", "| command | runs | wall: median [min–max] | max RSS (median) | notes |",
                   "|---|---|---|---|---|"]
            for k in keys:
                m = self.rows.get(k)
                if not m:
                    continue
                if "error" in m:
                    md.append(f"| {m['label']} | {m['runs']} | failed | | {m['error'][:200]!r} |")
                    continue
                extra = []
                if "rps" in m:
                    extra.append(f"{m['rps']:.0f} items/s")
                if "tokens" in m:
                    extra.append(f"{m['tokens']} tokens")
                w = m["wall_s"]
                md.append(f"| {m['label']} | {m['runs']} | {fmt_s(m['wall'])} [{fmt_s(min(w))}–{fmt_s(max(w))}] "
                          f"| {fmt_mb(m['rss'])} | {', '.join(extra)} |")
            md.append("")
            if title.startswith("Many") and self.ceilings:
                md += ["Raw ceiling of the mock (same request body, 64 keep-alive connections, one client thread):", ""]
                for c in self.ceilings:
                    if c["case"] != self.section_case.get(title):
                        continue
                    parts = []
                    if c["wrk"]:
                        parts.append(f"wrk -t1 -c64 -d5s: {med(c['wrk']):.0f} req/s "
                                     f"[{min(c['wrk']):.0f}–{max(c['wrk']):.0f}] ({len(c['wrk'])} runs)")
                    if c["load"]:
                        parts.append(f"benchmock load ({ITEMS} requests): {med(c['load']):.0f} req/s "
                                     f"[{min(c['load']):.0f}–{max(c['load']):.0f}] ({len(c['load'])} runs)")
                    md.append(f"- {c['provider']}: " + "; ".join(parts or ["not measured"]))
                md.append("")
            if title.startswith("One request") and getattr(self, "ttfb_rows", None):
                cases = "; ".join(f"*{c[0]}*" for c in self.TTFB_CASES)
                md += ["Time to first printed byte: from the mock writing the chunk with the first text delta "
                       "(after a 20 ms pause following the stream's preamble, like a model's time to first token) "
                       "to the first byte on the client's stdout pipe. `benchmock ttfb` runs the mock in its own "
                       "process and reads the client's stdout there, so both instants come from one monotonic "
                       "clock (CLOCK_MONOTONIC).", "",
                       f"Streams: {cases}.", "",
                       "| stream | client | runs | median [min–max] |", "|---|---|---|---|"]
                for r in self.ttfb_rows:
                    if "error" in r:
                        md.append(f"| {r['case']} | {r['label']} | {r['runs']} | failed: {r['error'][:150]!r} |")
                    else:
                        md.append(f"| {r['case']} | {r['label']} | {r['runs']} | {r['median'] / 1000:.3f} ms "
                                  f"[{r['min'] / 1000:.3f}–{r['max'] / 1000:.3f}] |")
                md.append("")
        if self.notes:
            md += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        if self.a.analysis and os.path.exists(self.a.analysis):
            md += [open(self.a.analysis).read().rstrip(), ""]
        text = "\n".join(md)
        with open(self.a.out, "w") as f:
            f.write(text)
        with open(os.path.splitext(self.a.out)[0] + ".json", "w") as f:
            json.dump({"rows": self.rows, "ratios": self.ratios, "notes": self.notes,
                       "ttfb": getattr(self, "ttfb_rows", []), "ceilings": getattr(self, "ceilings", [])},
                      f, indent=1)
        return text


def first_int(s):
    m = re.search(r"\d+", s or "")
    return int(m.group()) if m else None


def make_text(size, seed):
    """Deterministic mixed text: English prose, code, numbers, accented Latin, CJK, emoji."""
    rnd = random.Random(seed)
    words = ("the of and to in is that for it as with was on be by this are from at or an have not "
             "pipeline stream token model reply request server client buffer process latency memory "
             "quickly carefully although because however therefore meanwhile").split()
    foreign = ["café", "naïve", "façade", "Größe", "élève", "mañana", "日本語", "中文字符", "한국어",
               "Привет", "мир", "🙂", "🚀", "½", "—"]
    code = ["fn main() {", "    let x = vec![1, 2, 3];", "    println!(\"{x:?}\");", "}",
            "def f(a, b=2):", "    return {'k': a * b}", "if (x != null && y >= 10) { return; }"]
    out, n = [], 0
    while n < size:
        r = rnd.random()
        if r < 0.7:
            s = " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 20)))
            line = s[0].upper() + s[1:] + rnd.choice([".", ".", "!", "?", ","])
        elif r < 0.8:
            line = rnd.choice(code)
        elif r < 0.9:
            line = " ".join(rnd.choice(foreign + words) for _ in range(rnd.randint(3, 10)))
        else:
            line = f"Item {rnd.randint(0, 99999)}: {rnd.randint(0, 10**6)}.{rnd.randint(0, 99):02d} USD, {rnd.random():.4f}"
        out.append(line)
        n += len(line.encode()) + 1
        if rnd.random() < 0.1:
            out.append("")
            n += 1
    text = "\n".join(out) + "\n"
    data = text.encode()[:size]
    return data.decode("utf-8", errors="ignore")


def update_readme(path, table, results):
    start, end = "<!-- bench:ratios:start -->", "<!-- bench:ratios:end -->"
    text = open(path).read()
    if start not in text or end not in text:
        print(f"{path} has no {start} … {end} block: not updated", file=sys.stderr)
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    stamp = (f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d} by `bench/run` (rows without a "
             f"target, and every number behind these, are in [{results}]({results})).")
    with open(path, "w") as f:
        f.write(head + start + "\n" + table + "\n\n" + stamp + "\n" + end + tail)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--llmpipe", required=True)
    p.add_argument("--mock", required=True)
    p.add_argument("--tiktoken-cache", required=True)
    p.add_argument("--out", default=os.path.join(HERE, "results.md"))
    p.add_argument("--analysis", default=os.path.join(HERE, "analysis.md"),
                   help="hand-written findings appended to results.md")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--llmpipe-source", help="what --llmpipe was built from, for the report (another checkout)")
    p.add_argument("--only", default="startup,one,costs,ttfb,many,tokens")
    p.add_argument("--readme", help="README whose ratio table (between the bench:ratios markers) is rewritten")
    a = p.parse_args()
    for k in ("llmpipe", "mock", "tiktoken_cache", "out", "analysis", "readme"):
        if getattr(a, k):
            setattr(a, k, os.path.abspath(getattr(a, k)))
    b = Bench(a)
    started = time.time()
    load_before = open("/proc/loadavg").read().split()[:3]
    try:
        b.count_tokens = b.has_count_tokens()
        only = a.only.split(",")
        if "startup" in only:
            b.startup()
        if "one" in only:
            b.one_request()
        if "costs" in only:
            b.costs()
        if "ttfb" in only:
            b.ttfb()
        if "many" in only:
            b.many()
        if "tokens" in only:
            b.tokens()
        b.memory_facts()
        b.report(started, load_before)
    finally:
        b.stop()
    if a.readme:
        update_readme(a.readme, b.ratio_table(short=True), os.path.relpath(a.out, os.path.dirname(a.readme)))
    print()
    print(b.ratio_table())
    print()
    print(f"Full results: {os.path.relpath(a.out, os.getcwd())}")
    misses = [r for r in b.ratios if r["met"] is False]
    if misses:
        print(f"{len(misses)} target(s) missed (see the table).")


if __name__ == "__main__":
    main()
