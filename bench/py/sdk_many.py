"""The seed's pattern for many inputs: one async request per input line, at most 64 in
flight (asyncio.gather + Semaphore), one JSON line per item in input order.

    python sdk_many.py openai|anthropic MODEL CONCURRENCY < items.txt
"""
import asyncio
import json
import sys

provider, model, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
MAX_TOKENS = 1024


async def main():
    lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
    sem = asyncio.Semaphore(concurrency)
    if provider == "openai":
        from openai import AsyncOpenAI

        client = AsyncOpenAI()

        async def one(i, line):
            async with sem:
                r = await client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": line}],
                    max_completion_tokens=MAX_TOKENS,
                )
                return {
                    "index": i,
                    "input": line,
                    "text": r.choices[0].message.content,
                    "usage": {
                        "input_tokens": r.usage.prompt_tokens,
                        "output_tokens": r.usage.completion_tokens,
                    },
                    "request_id": r._request_id,
                }

    else:
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()

        async def one(i, line):
            async with sem:
                r = await client.messages.create(
                    model=model,
                    max_tokens=MAX_TOKENS,
                    messages=[{"role": "user", "content": line}],
                )
                return {
                    "index": i,
                    "input": line,
                    "text": "".join(b.text for b in r.content if b.type == "text"),
                    "usage": {
                        "input_tokens": r.usage.input_tokens,
                        "output_tokens": r.usage.output_tokens,
                    },
                    "request_id": r._request_id,
                }

    results = await asyncio.gather(*(one(i, line) for i, line in enumerate(lines)))
    out = sys.stdout
    for r in results:
        out.write(json.dumps(r) + "\n")


asyncio.run(main())
