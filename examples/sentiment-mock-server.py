# A stand-in OpenAI server for trying `llmpipe eval` without a key: it answers each review of
# examples/sentiment-eval.jsonl the way a scripted "v1" or "v2" of prompts/sentiment would (v2
# is told apart by its system prompt), every other review with its label. Standard library only.
#
#   python3 examples/sentiment-mock-server.py 8765 examples/sentiment-eval.jsonl &
#   OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=sk-mock \
#     llmpipe eval --prompt sentiment@v1 --prompt sentiment@v2 --data examples/sentiment-eval.jsonl
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
V1 = {
 "Not what I feared at all": "negative", "Oh great, another charger": "positive",
 "It would be a nice lamp": "positive", "Great screen, but": "positive",
 "Comfortable to wear, though": "positive", "The sound is excellent; the app is awful": "negative",
 "It does what it says": "positive", "Some pieces are excellent": "positive",
 "Bought it as a replacement": "Neutral.", "Average product at an average price": "mixed",
}
V2 = {"I wanted to love it": "neutral", "It would be a nice lamp": "neutral"}
DATA = [json.loads(l) for l in open(sys.argv[2])]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        msgs = body["messages"]
        v2 = "Mixed or purely factual" in json.dumps(msgs)
        review = msgs[-1]["content"]
        review = review if isinstance(review, str) else "".join(p.get("text", "") for p in review)
        review = review.removeprefix("Review: ")
        answer = next((d["expected"] for d in DATA if d["input"] == review), "neutral")
        for k, v in (V2 if v2 else V1).items():
            if review.startswith(k): answer = v
        prompt_tokens = len(json.dumps(msgs)) // 4
        out = json.dumps({"id": "chatcmpl-demo", "object": "chat.completion", "created": 1, "model": "gpt-4.1-mini-2025-04-14",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps({"label": answer}) if answer in ("positive","negative","neutral") else answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 6, "total_tokens": prompt_tokens + 6}}).encode()
        self.send_response(200); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(out))); self.end_headers(); self.wfile.write(out)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
