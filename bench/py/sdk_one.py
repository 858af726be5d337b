"""One request through an official Python SDK, the way a minimal script would do it.

    python sdk_one.py openai|anthropic complete|stream MODEL PROMPT

`complete` prints the reply text and a newline; `stream` prints each text delta as it
arrives (flushed), then a newline: what `llmpipe complete` / `llmpipe stream` print.
The SDKs read OPENAI_BASE_URL / ANTHROPIC_BASE_URL and the keys from the environment.
"""
import sys

provider, mode, model, prompt = sys.argv[1:5]
MAX_TOKENS = 4096
out = sys.stdout

if provider == "openai":
    from openai import OpenAI

    client = OpenAI()
    messages = [{"role": "user", "content": prompt}]
    if mode == "complete":
        r = client.chat.completions.create(
            model=model, messages=messages, max_completion_tokens=MAX_TOKENS
        )
        out.write(r.choices[0].message.content + "\n")
    else:
        stream = client.chat.completions.create(
            model=model,
            messages=messages,
            max_completion_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                out.write(chunk.choices[0].delta.content)
                out.flush()
        out.write("\n")
else:
    from anthropic import Anthropic

    client = Anthropic()
    messages = [{"role": "user", "content": prompt}]
    if mode == "complete":
        r = client.messages.create(model=model, max_tokens=MAX_TOKENS, messages=messages)
        out.write("".join(b.text for b in r.content if b.type == "text") + "\n")
    else:
        with client.messages.stream(
            model=model, max_tokens=MAX_TOKENS, messages=messages
        ) as stream:
            for text in stream.text_stream:
                out.write(text)
                out.flush()
        out.write("\n")
