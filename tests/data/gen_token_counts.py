#!/usr/bin/env python3
"""Writes tests/data/token_counts.json: Python tiktoken's counts for awkward texts.

The unit tests in src/tokens/tests.rs compare llmpipe's counts with these committed values
(tests never need Python). Regenerate after adding a case:

    python3 -m venv bench/.venv && bench/.venv/bin/pip install tiktoken
    TIKTOKEN_CACHE_DIR=DIR bench/.venv/bin/python tests/data/gen_token_counts.py

tiktoken downloads its BPE files on first use; offline, point TIKTOKEN_CACHE_DIR at a folder
holding tiktoken-rs's copies (assets/*.tiktoken in the crate) named as tiktoken's cache names
them, the sha1 hex of the download URL (`python3 bench/py/tiktoken_offline.py DIR
~/.cargo/registry` does that; `bench/run` leaves one in bench/.venv/tiktoken-cache).
"""

import json
import os
import sys

import tiktoken

CASES = [
    ("empty", ""),
    ("english", "The quick brown fox jumps over the lazy dog. It's 3:45pm, isn't it?"),
    ("cjk", "日本語のテキストと中文文本，还有한국어 텍스트。混在しています。"),
    ("emoji_zwj", "family 👨\u200d👩\u200d👧\u200d👦 flag 🏳️\u200d🌈 thumbs 👍🏽👍🏿 rainbow 🇺🇸🇯🇵"),
    ("combining_marks", "e\u0301 a\u0308 Zalgo: Z\u0351\u0308\u0353a\u0364\u0345l\u0310g\u0334o\u0337 देवनागरी"),
    ("whitespace_runs", "a" + " " * 100 + "b\t\t\t\t c" + " " * 37 + "\n" + " " * 12 + "end   "),
    ("repeated_5000_a", "a" * 5000),
    ("repeated_5000_space", " " * 5000),
    ("repeated_5000_emoji", "😀" * 5000),
    ("repeated_5000_digits", "7" * 5000),
    ("code", "fn main() {\n    let x: Vec<u8> = (0..10).map(|i| i * 2).collect();\n    println!(\"{:?}\", x); // done\n}\n\tif (a && b || !c) { return -1; }\n"),
    ("special_tokens", "<|endoftext|> hello <|fim_prefix|><|fim_middle|><|fim_suffix|><|endofprompt|><|im_start|>"),
    ("mixed_newlines", "line one\r\nline two\rline three\n\n\r\n\r\r\n  \n\t\nlast"),
    ("contractions", "I'm you're we've they'll he'd she's IT'S DON'T can'ſ 'twas rock'n'roll"),
    ("numbers", "3.14159 1,000,000 12345678901234567890 ٣٤٥ ½ Ⅻ ²³"),
    ("unicode_spaces", "a\u00a0b\u3000c\u2028d\u0085e\u000bf\u000cg \u2003h"),
    ("mixed_case_words", "camelCase PascalCase HTTPServer XMLHttpRequest ǅungla ǈubljana ΣΑΣ σας"),
    ("json", '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":1}'),
    ("urls_paths", "see https://example.com/a/b?c=d&e=f#g and /usr/local/bin/ or C:\\Windows\\\n//comment\n/*x*/"),
    ("punctuation_runs", "!!! ??? ... ,,, --- ___ *** ### $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}\n...\n/"),
    ("arabic_hebrew", "مرحبا بالعالم שלום עולם"),
    ("thai_devanagari", "สวัสดีครับ नमस्ते दुनिया"),
]

ENCODINGS = ["o200k_base", "cl100k_base", "o200k_harmony"]


def main() -> None:
    encs = {name: tiktoken.get_encoding(name) for name in ENCODINGS}
    cases = []
    for name, text in CASES:
        counts = {n: len(e.encode_ordinary(text)) for n, e in encs.items()}
        cases.append({"name": name, "text": text, "counts": counts})
    out = {
        "generator": "tests/data/gen_token_counts.py",
        "tiktoken_version": tiktoken.__version__,
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "token_counts.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
