"""Counts the tokens of a file with Python tiktoken, whole process (import, load, read,
encode), as `llmpipe count-tokens` does.

    python tiktoken_count.py ENCODING FILE            # 1 thread: encode_ordinary(text)
    python tiktoken_count.py ENCODING FILE --threads N  # encode_ordinary_batch, N threads

For the batch, the text is cut right after a newline that is followed by a letter: no
pre-tokenizer pattern of cl100k_base or o200k_base matches across such a point (a newline
never starts a word or number token, and a letter never continues a newline run), so the
sum over pieces equals the count of the whole text; the bench checks that it does.
"""
import re
import sys

import tiktoken

encoding, path = sys.argv[1], sys.argv[2]
threads = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--threads" else 0
enc = tiktoken.get_encoding(encoding)
with open(path, encoding="utf-8", newline="") as f:
    text = f.read()
if threads == 0:
    print(len(enc.encode_ordinary(text)))
else:
    # Pieces of about 64 KB, cut only at safe points.
    cuts = [0]
    for m in re.finditer(r"\n(?=[A-Za-z])", text):
        if m.end() - cuts[-1] >= 65536:
            cuts.append(m.end())
    cuts.append(len(text))
    pieces = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    print(sum(map(len, enc.encode_ordinary_batch(pieces, num_threads=threads))))
