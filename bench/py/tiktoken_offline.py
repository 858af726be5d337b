"""Makes Python tiktoken (and so ttok) work offline: tiktoken downloads its vocabularies on
first use, which this machine cannot do. The same files, byte for byte, ship inside the
tiktoken-rs crate on crates.io; this copies them into TIKTOKEN_CACHE_DIR under the names
tiktoken looks for, after checking the SHA-256 that tiktoken itself expects.

    python tiktoken_offline.py CACHE_DIR SEARCH_DIR...

SEARCH_DIR are searched for `<name>.tiktoken` files and for `tiktoken-rs-*.crate` archives.
Exits 1 when a vocabulary is missing.
"""
import glob
import hashlib
import os
import sys
import tarfile


URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
# From tiktoken_ext/openai_public.py (also checked by tiktoken when it loads the file).
SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

cache, search = sys.argv[1], sys.argv[2:]
os.makedirs(cache, exist_ok=True)


def candidates(name):
    for d in search:
        yield from glob.glob(os.path.join(d, "**", f"{name}.tiktoken"), recursive=True)


def from_crates(name):
    for d in search:
        for crate in sorted(glob.glob(os.path.join(d, "**", "tiktoken-rs-*.crate"), recursive=True)):
            with tarfile.open(crate) as t:
                for m in t.getmembers():
                    if m.name.endswith(f"/assets/{name}.tiktoken"):
                        yield t.extractfile(m).read()


missing = []
for name, sha in SHA256.items():
    dest = os.path.join(cache, hashlib.sha1(URL.format(name).encode()).hexdigest())
    if os.path.exists(dest) and hashlib.sha256(open(dest, "rb").read()).hexdigest() == sha:
        continue
    found = None
    for path in candidates(name):
        data = open(path, "rb").read()
        if hashlib.sha256(data).hexdigest() == sha:
            found = data
            break
    if found is None:
        for data in from_crates(name):
            if hashlib.sha256(data).hexdigest() == sha:
                found = data
                break
    if found is None:
        missing.append(name)
        continue
    with open(dest + ".tmp", "wb") as f:
        f.write(found)
    os.replace(dest + ".tmp", dest)
    print(f"tiktoken: {name} ready in {cache}")

if missing:
    print("tiktoken: not found: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
