//! The tokenizer against its references: tiktoken-rs (which runs tiktoken's own regexes and
//! merge loop) on random texts built from the characters the regexes treat differently,
//! Python tiktoken's committed counts, and parallel/streamed counting against serial.

use std::sync::OnceLock;

use super::parallel::{self, Source};
use super::*;

/// A small seeded generator (SplitMix64): reproducible texts without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces whose neighbours the regexes treat differently: letters of every case class,
/// marks, numbers, whitespace of every kind, contractions (also with `ſ`, which folds to
/// `s`), punctuation, `/` after punctuation, CJK, emoji with ZWJ and skin tones.
const ATOMS: &[&str] = &[
    "a",
    "b",
    "z",
    "A",
    "Q",
    "Z",
    "hello",
    "World",
    "HTTP",
    "camelCase",
    "don",
    "'",
    "'s",
    "'S",
    "'t",
    "'re",
    "'VE",
    "'m",
    "'ll",
    "'Ll",
    "'d",
    "'ſ",
    "'x",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    " \n",
    "\u{a0}",
    "\u{3000}",
    "\u{2028}",
    "\u{85}",
    "\u{b}",
    "\u{c}",
    "0",
    "7",
    "12",
    "123",
    "4567",
    "\u{663}",
    "\u{bd}",
    "\u{216b}",
    "\u{b2}",
    ".",
    ",",
    "!",
    "?",
    "/",
    "//",
    "-",
    "_",
    "(",
    ")",
    "{",
    "}",
    "<|endoftext|>",
    "é",
    "e\u{301}",
    "\u{301}",
    "\u{308}",
    "\u{93f}",
    "\u{20dd}",
    "ǅ",
    "ʰ",
    "ß",
    "Σ",
    "ς",
    "中",
    "文字",
    "日本語",
    "ｶ",
    "한국어",
    "\u{200d}",
    "👍",
    "👍🏽",
    "👨\u{200d}👩\u{200d}👧",
    "🏳️\u{200d}🌈",
    "\u{feff}",
    "\u{0}",
    "\u{7f}",
    "ÿ",
    "Ω",
    "ǈ",
    "\u{1f1fa}\u{1f1f8}",
    "$",
    "€",
    "™",
];

fn random_text(rng: &mut Rng, atoms: usize) -> String {
    let mut s = String::new();
    for _ in 0..atoms {
        s.push_str(ATOMS[rng.below(ATOMS.len())]);
    }
    s
}

fn reference(enc: Encoding) -> &'static tiktoken_rs::CoreBPE {
    static O200K: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    static CL100K: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    match enc {
        Encoding::Cl100kBase => CL100K.get_or_init(|| tiktoken_rs::cl100k_base().unwrap()),
        _ => O200K.get_or_init(|| tiktoken_rs::o200k_base().unwrap()),
    }
}

fn pieces(enc: Encoding, s: &str) -> Vec<&str> {
    let next = match enc {
        Encoding::Cl100kBase => pretok::next_cl100k,
        _ => pretok::next_o200k,
    };
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let e = next(b, p);
        assert!(
            e > p && e <= b.len() && s.is_char_boundary(e),
            "bad piece end"
        );
        out.push(&s[p..e]);
        p = e;
    }
    out
}

fn check_same(enc: Encoding, text: &str) {
    let want = reference(enc).encode_ordinary(text).len() as u64;
    let got = enc.count(text);
    if got != want {
        // Show where the split differs, token by token, for the failure message.
        let pieces = pieces(enc, text);
        let diff: Vec<String> = pieces
            .iter()
            .map(|p| {
                format!(
                    "{p:?}:{}/{}",
                    reference(enc).encode_ordinary(p).len(),
                    enc.count(p)
                )
            })
            .collect();
        panic!(
            "{}: {text:?}: tiktoken {want}, llmpipe {got}; pieces {diff:?}",
            enc.name()
        );
    }
}

#[test]
fn random_texts_count_as_tiktoken_rs() {
    // LLMPIPE_FUZZ_ROUNDS=1000000 cargo test --release … runs a longer search.
    let rounds = std::env::var("LLMPIPE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(0x5eed_0001);
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        for i in 0..rounds {
            let text = random_text(&mut rng, 1 + i % 40);
            check_same(enc, &text);
        }
    }
}

/// tiktoken's patterns, verbatim (tiktoken_ext/openai_public.py).
const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

#[test]
fn random_texts_split_as_tiktoken_regexes() {
    let rounds = std::env::var("LLMPIPE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(0x5eed_0006);
    for (enc, pattern) in [
        (Encoding::O200kBase, O200K_PATTERN),
        (Encoding::Cl100kBase, CL100K_PATTERN),
    ] {
        let re = fancy_regex::Regex::new(pattern).unwrap();
        for i in 0..rounds {
            let text = random_text(&mut rng, 1 + i % 40);
            let want: Vec<&str> = re.find_iter(&text).map(|m| m.unwrap().as_str()).collect();
            assert_eq!(pieces(enc, &text), want, "{}: {text:?}", enc.name());
        }
    }
}

#[test]
fn long_and_repetitive_pieces_count_as_tiktoken_rs() {
    let texts = [
        "a".repeat(5000),
        "ab".repeat(700),
        " ".repeat(3000) + "x",
        "\n".repeat(257),
        "é".repeat(300),
        "中".repeat(1000),
        "👍".repeat(200),
        "1".repeat(1001),
        ".".repeat(999),
        "e\u{301}".repeat(400),
        "Σ".repeat(129) + "ς",
    ];
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        for t in &texts {
            check_same(enc, t);
        }
    }
}

#[test]
fn the_whole_vocabulary_is_one_token_each() {
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        let vocab = enc.vocab();
        let bpe = reference(enc);
        for rank in 0..vocab.tokens as u32 {
            let bytes = bpe.decode_bytes(&[rank]).unwrap();
            assert_eq!(vocab.rank(&bytes), rank, "{}: rank {rank}", enc.name());
        }
        assert_eq!(vocab.rank(b"<|endoftext|>"), u32::MAX);
    }
}

/// Python tiktoken's counts for the awkward texts, generated by
/// `tests/data/gen_token_counts.py` and committed.
#[test]
fn awkward_texts_count_as_python_tiktoken() {
    let data: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/data/token_counts.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        for (name, want) in case["counts"].as_object().unwrap() {
            let enc = Encoding::from_name(name).unwrap();
            assert_eq!(
                enc.count(text),
                want.as_u64().unwrap(),
                "{name} on {:?}",
                case["name"]
            );
        }
    }
}

#[test]
fn every_safe_split_keeps_the_count() {
    let mut rng = Rng(0x5eed_0002);
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        for _ in 0..300 {
            let text = random_text(&mut rng, 30);
            let s = text.as_bytes();
            let whole = enc.count(&text);
            for b in 1..s.len() {
                if pretok::is_safe_split(s, b) {
                    let (x, y) = s.split_at(b);
                    assert_eq!(
                        enc.count_bytes(x) + enc.count_bytes(y),
                        whole,
                        "{}: split of {text:?} at {b}",
                        enc.name()
                    );
                }
            }
        }
    }
}

/// A large random text with realistic words among the awkward atoms.
fn large_text(rng: &mut Rng, bytes: usize) -> String {
    let words = [
        "the", " quick", " brown", " fox", ",", " jumps", "\n", " over", " 42",
    ];
    let mut s = String::with_capacity(bytes + 64);
    while s.len() < bytes {
        if rng.below(3) == 0 {
            s.push_str(ATOMS[rng.below(ATOMS.len())]);
        } else {
            s.push_str(words[rng.below(words.len())]);
        }
    }
    s
}

#[test]
fn parallel_and_streamed_counts_equal_serial() {
    let mut rng = Rng(0x5eed_0003);
    for (enc, size) in [
        (Encoding::O200kBase, 5 * parallel::CHUNK),
        (Encoding::Cl100kBase, 3 * parallel::CHUNK + 12345),
    ] {
        let text = large_text(&mut rng, size);
        let serial = enc.count(&text);
        for threads in [1, 2, 3] {
            assert_eq!(parallel::count_str(enc, &text, threads), serial);
            let units = |c: &[u8]| enc.count_bytes(c);
            let streamed = parallel::count_sources(
                vec![Source {
                    name: "test".into(),
                    reader: Box::new(text.as_bytes()),
                }],
                threads,
                &units,
            )
            .unwrap();
            assert_eq!(streamed.units, serial, "{} threads", threads);
            assert_eq!(streamed.bytes, text.len() as u64);
        }
    }
}

#[test]
fn small_chunks_equal_serial() {
    // Many cuts: pieces of ~64 bytes at every safe point.
    let mut rng = Rng(0x5eed_0004);
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        for _ in 0..50 {
            let text = large_text(&mut rng, 4000);
            let s = text.as_bytes();
            let cuts = parallel::split_points(s, 64);
            assert!(cuts.len() > 10);
            let sum: u64 = cuts
                .windows(2)
                .map(|w| enc.count_bytes(&s[w[0]..w[1]]))
                .sum();
            assert_eq!(sum, enc.count(&text));
        }
    }
}

#[test]
fn sources_join_with_blank_lines_and_check_utf8() {
    let enc = Encoding::O200kBase;
    let units = |c: &[u8]| enc.count_bytes(c);
    let src = |name: &str, bytes: &'static [u8]| Source {
        name: name.into(),
        reader: Box::new(bytes),
    };
    let n = parallel::count_sources(
        vec![src("a", b"hello"), src("empty", b""), src("b", b"world\n")],
        2,
        &units,
    )
    .unwrap();
    assert_eq!(n.units, enc.count("hello\n\nworld\n"));
    assert_eq!(n.bytes, 11);
    let err = parallel::count_sources(vec![src("a", b"ok"), src("b", b"ab\xffc")], 1, &units)
        .unwrap_err();
    assert_eq!(err.kind, crate::error::Kind::Usage);
    assert!(
        err.message.contains("b is not valid UTF-8"),
        "{}",
        err.message
    );
    assert!(err.message.contains("offset 2"), "{}", err.message);
    // A sequence cut off by the end of the source.
    let err = parallel::count_sources(vec![src("c", "é".as_bytes().split_at(1).0)], 1, &units)
        .unwrap_err();
    assert!(err.message.contains("offset 0"), "{}", err.message);
}

#[test]
fn model_rules_follow_tiktoken() {
    use ModelEncoding::*;
    let o = Known(Encoding::O200kBase);
    let c = Known(Encoding::Cl100kBase);
    for (m, want) in [
        ("gpt-4o", o),
        ("gpt-4o-mini", o),
        ("gpt-4o-2024-08-06", o),
        ("gpt-4.1-nano", o),
        ("gpt-4.5-preview", o),
        ("gpt-5", o),
        ("gpt-5.4-mini", o),
        ("o1", o),
        ("o3-mini", o),
        ("o4-mini-2025-04-16", o),
        ("chatgpt-4o-latest", o),
        ("gpt-4", c),
        ("gpt-4-turbo", c),
        ("gpt-4-32k-0613", c),
        ("gpt-3.5-turbo-0125", c),
        ("gpt-35-turbo-16k", c),
        ("ft:gpt-4o-mini:org::id", o),
        ("ft:gpt-3.5-turbo:org::id", c),
        ("text-embedding-3-small", c),
        ("gpt-oss-120b", Known(Encoding::O200kHarmony)),
        ("text-davinci-003", Unsupported("p50k_base")),
        ("davinci", Unsupported("r50k_base")),
        ("llama3", Unknown),
        ("o2", Unknown),
    ] {
        assert_eq!(tiktoken_encoding_for_model(m), want, "{m}");
    }
}

#[test]
fn every_table_model_has_the_encoding_tiktoken_gives_it() {
    for m in crate::models::MODELS {
        match m.provider {
            ProviderKind::OpenAi => assert_eq!(
                ModelEncoding::Known(m.encoding.expect(m.id)),
                tiktoken_encoding_for_model(m.id),
                "{}",
                m.id
            ),
            ProviderKind::Anthropic => assert_eq!(m.encoding, None, "{}", m.id),
        }
    }
}

#[test]
fn chat_overhead_is_the_cookbooks() {
    // The cookbook's example: 3 per message + role + content, + 3 reply priming.
    let enc = Encoding::O200kBase;
    let req = Request {
        system: Some("You are terse.".into()),
        messages: vec![crate::chat::Message::user_text("Hello there")],
        ..Default::default()
    };
    let c = Counter::Tiktoken(enc).request_units(&req, 1);
    let want = 3
        + enc.count("system")
        + enc.count("You are terse.")
        + 3
        + enc.count("user")
        + enc.count("Hello there")
        + 3;
    assert_eq!(c.units, want);
    assert_eq!(c.images, 0);
    // The estimate: every character of every text, rounded up once.
    let chars = "You are terse.".len() + "Hello there".len();
    let est = Counter::Chars(&crate::models::CLAUDE_3_TOKENIZER);
    assert_eq!(
        est.tokens(est.request_units(&req, 1).units),
        (chars as u64 * 2).div_ceil(7)
    );
    assert_eq!(est.tokens(7), 2);
    assert_eq!(est.tokens(8), 3);
    assert_eq!(est.tokens(0), 0);
    // The Claude Opus 4.7 generation: 2.6 characters per token.
    let new = Counter::Chars(&crate::models::CLAUDE_4_7_TOKENIZER);
    assert_eq!(new.tokens(26), 10);
    assert_eq!(new.tokens(27), 11);
    assert_eq!(new.method(true), "chars/2.6 (claude-4.7 tokenizer)");
    assert_eq!(est.method(false), "chars/3.5 (claude-3 tokenizer)");
}

#[test]
fn non_utf8_bytes_never_panic() {
    // Callers validate first; this only proves the counters are total functions.
    let mut rng = Rng(0x5eed_0005);
    for _ in 0..2000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let _ = enc.count_bytes(&bytes);
            for b in 0..bytes.len() {
                let _ = pretok::is_safe_split(&bytes, b);
            }
        }
    }
}

/// Runs of one character past `RUN_FROM` bytes are counted by [`run_count`]'s formula:
/// it must equal byte-pair merging the whole run, for every ASCII character and a sample
/// of others (letters, marks, CJK, emoji, spaces of every kind). For the characters long
/// runs are usually made of, the periodicity it rests on is checked at every length.
#[test]
fn runs_of_one_character_count_as_merging_them() {
    let mut chars: Vec<char> = (0u8..128).map(char::from).collect();
    chars.extend([
        'é', 'ß', 'Σ', 'ς', 'ж', 'ي', 'א', '中', '日', 'ー', '가', '\u{301}', '\u{a0}', '\u{3000}',
        '\u{2028}', '\u{85}', '…', '—', '€', '½', '٣', '👍', '😀', '🙂', '\u{200d}', '\u{feff}',
    ]);
    let first = RUN_BASE + 3 * RUN_PERIOD;
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        let vocab = enc.vocab();
        let merged = |c: &str, n: usize| vocab.count_piece(c.repeat(n).as_bytes()) as u64;
        for &c in &chars {
            let unit = c.to_string();
            for n in [first + 101, 4097] {
                let got = run_count(vocab, unit.repeat(n).as_bytes());
                assert_eq!(got, Some(merged(&unit, n)), "{enc:?} {c:?} x {n}");
            }
        }
        for c in [" ", "a", "\0"] {
            let d = merged(c, RUN_BASE + RUN_PERIOD) - merged(c, RUN_BASE);
            for m in RUN_BASE..RUN_BASE + RUN_PERIOD {
                let far = merged(c, m + 3 * RUN_PERIOD);
                assert_eq!(far, merged(c, m) + 3 * d, "{enc:?} {c:?} x {m}");
            }
        }
    }
    // Against the reference itself, through the whole counter.
    check_same(Encoding::O200kBase, &" ".repeat(4200));
    check_same(Encoding::Cl100kBase, &"a".repeat(4200));
}

/// A run is counted in constant memory and linear time: 10 MB of spaces stays exact.
#[test]
fn long_runs_are_exact_and_fast() {
    let text = " ".repeat(10_000_000);
    let started = std::time::Instant::now();
    assert_eq!(Encoding::O200kBase.count(&text), 78_125);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let text = "ab".repeat(3000);
    assert!(run_count(Encoding::O200kBase.vocab(), text.as_bytes()).is_none());
}

/// A piece over 64 KiB that is not one repeated character is counted in windows, and the
/// count is marked approximate.
#[test]
fn long_mixed_pieces_are_windowed_and_marked() {
    let mut rng = Rng(7);
    let word: String = (0..200_000)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    let n = Encoding::O200kBase.count(&word);
    assert!(n > 30_000 && n < 200_000, "{n}");
    assert!(approximated());
}

/// An endless source ends with a usage error at the limit, in bounded memory.
#[test]
fn endless_sources_stop_at_the_limit() {
    let enc = Encoding::O200kBase;
    let units = |c: &[u8]| enc.count_bytes(c);
    let src = Source {
        name: "/dev/zero".into(),
        reader: Box::new(std::io::repeat(0)),
    };
    let err = parallel::count_sources_within(vec![src], 2, &units, 20 << 20).unwrap_err();
    assert_eq!(err.kind, crate::error::Kind::Usage);
    assert!(
        err.message.contains("larger than 20 MiB"),
        "{}",
        err.message
    );
}
