//! Server-sent events from a byte stream, per the WHATWG event-stream rules.
//!
//! Bytes arrive in arbitrary chunks: a line, a CRLF pair or a UTF-8 character may be split
//! anywhere. Lines are cut on raw bytes (`\n`, `\r\n` or a lone `\r`) and only whole lines
//! are decoded, so a split character is reassembled before decoding.
//!
//! Events are handed to a callback as they complete, borrowed from the parser's own
//! buffers: a stream of thousands of events allocates nothing per event.

/// One dispatched event. `event` is `None` when the server sent no `event:` line
/// (OpenAI never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub event: Option<&'a str>,
    pub data: &'a str,
}

#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    event: String,
    has_event: bool,
    data: String,
    has_data: bool,
    /// The stream's first bytes were checked for a byte order mark.
    started: bool,
}

/// UTF-8's byte order mark, which the WHATWG rules drop once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; `f` gets each event it completes, in order.
    pub fn push(&mut self, mut chunk: &[u8], mut f: impl FnMut(Event<'_>)) {
        if !self.started {
            // A byte order mark may arrive split: its bytes so far are held in `buf`.
            let held = self.buf.len();
            let n = (BOM.len() - held).min(chunk.len());
            if BOM[held..held + n] == chunk[..n] {
                if held + n < BOM.len() {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return;
                }
                self.buf.clear();
                chunk = &chunk[n..];
            }
            // Not a byte order mark (or a whole one, dropped): what is held is text.
            self.started = true;
        }
        // Only the first byte after the `\r` can complete it (an empty chunk decides nothing).
        if self.skip_lf && !chunk.is_empty() {
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
            self.skip_lf = false;
        }
        if self.buf.is_empty() {
            // Nothing held from before: the chunk's lines are read where they are, and only
            // its unfinished last line is kept.
            let start = self.lines(chunk, 0, &mut f);
            self.buf.extend_from_slice(&chunk[start..]);
            return;
        }
        // The buffer is taken out while its lines are handled, so they can be read in place.
        let mut buf = std::mem::take(&mut self.buf);
        // What is kept from before holds no line end: only the new bytes are searched, so
        // a long line arriving in many chunks costs linear time, not quadratic.
        let from = buf.len();
        buf.extend_from_slice(chunk);
        let start = self.lines(&buf, from, &mut f);
        buf.drain(..start);
        self.buf = buf;
    }

    /// Handles every whole line of `bytes` (searching for line ends from `from`); returns
    /// where the unfinished rest begins.
    fn lines(&mut self, bytes: &[u8], from: usize, f: &mut impl FnMut(Event<'_>)) -> usize {
        let mut i = from;
        let mut start = 0;
        // Line ends are found with a vectorised search: most of a stream's bytes are JSON.
        while let Some(at) = memchr::memchr2(b'\n', b'\r', &bytes[i..]) {
            i += at;
            self.line(&bytes[start..i], f);
            let cr = bytes[i] == b'\r';
            i += 1;
            if cr {
                if i == bytes.len() {
                    self.skip_lf = true;
                } else if bytes[i] == b'\n' {
                    i += 1;
                }
            }
            start = i;
        }
        start
    }

    /// The stream ended: an unterminated last line and a pending event still count, so a
    /// server that omits the final blank line loses nothing. (A cut-off event then fails
    /// to parse as JSON, which the provider reports.)
    pub fn finish(&mut self, mut f: impl FnMut(Event<'_>)) {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, &mut f);
        }
        self.line(b"", &mut f);
    }

    fn line(&mut self, line: &[u8], f: &mut impl FnMut(Event<'_>)) {
        if line.is_empty() {
            if self.has_data {
                f(Event {
                    event: self.has_event.then_some(self.event.as_str()),
                    data: &self.data,
                });
                // The buffers are kept for the next event, which is likely as long.
                self.data.clear();
            }
            self.event.clear();
            self.has_event = false;
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(pos) => {
                let v = &line[pos + 1..];
                (&line[..pos], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        // Valid UTF-8 (the usual case) is checked by the fast validator and borrowed.
        let text = |v: &[u8], into: &mut String| match std::str::from_utf8(v) {
            Ok(t) => into.push_str(t),
            Err(_) => into.push_str(&String::from_utf8_lossy(v)),
        };
        match field {
            b"event" => {
                self.event.clear();
                text(value, &mut self.event);
                self.has_event = true;
            }
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                text(value, &mut self.data);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields do not matter here
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = (Option<String>, String);

    fn all(input: &[u8], split: impl Fn(&[u8]) -> Vec<&[u8]>) -> Vec<Owned> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        let mut keep = |e: Event<'_>| out.push((e.event.map(str::to_owned), e.data.to_owned()));
        for c in split(input) {
            p.push(c, &mut keep);
        }
        p.finish(&mut keep);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> Owned {
        (event.map(str::to_owned), data.into())
    }

    const SAMPLE: &[u8] = "event: message_start\r\ndata: {\"a\":\"h\u{e9}llo \u{1F600}\"}\r\n\r\n: keep-alive\n\nevent: ping\ndata:{\"type\":\"ping\"}\n\ndata: line1\ndata: line2\n\rdata: [DONE]\r\r".as_bytes();

    fn expected() -> Vec<Owned> {
        vec![
            ev(Some("message_start"), "{\"a\":\"h\u{e9}llo \u{1F600}\"}"),
            ev(Some("ping"), "{\"type\":\"ping\"}"),
            ev(None, "line1\nline2"),
            ev(None, "[DONE]"),
        ]
    }

    #[test]
    fn whole_input() {
        assert_eq!(all(SAMPLE, |b| vec![b]), expected());
    }

    #[test]
    fn every_two_way_split() {
        for at in 0..=SAMPLE.len() {
            let got = all(SAMPLE, |b| vec![&b[..at], &b[at..]]);
            assert_eq!(got, expected(), "split at byte {at}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        assert_eq!(all(SAMPLE, |b| b.chunks(1).collect()), expected());
    }

    #[test]
    fn unterminated_last_event_is_kept() {
        assert_eq!(all(b"data: [DONE]", |b| vec![b]), vec![ev(None, "[DONE]")]);
    }

    #[test]
    fn empty_data_field_dispatches_and_blank_lines_alone_do_not() {
        assert_eq!(all(b"\n\n\ndata\n\n", |b| vec![b]), vec![ev(None, "")]);
    }
    /// A byte order mark opening the stream is dropped (WHATWG), even split across chunks;
    /// anywhere else it is text.
    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        let input = "\u{FEFF}event: message_start\ndata: \u{FEFF}x\n\n".as_bytes();
        let want = vec![ev(Some("message_start"), "\u{FEFF}x")];
        for at in 0..=input.len() {
            let got = all(input, |b| vec![&b[..at], &b[at..]]);
            assert_eq!(got, want, "split at byte {at}");
        }
        assert_eq!(all(input, |b| b.chunks(1).collect()), want);
        // Only one, and only a whole one.
        let twice = "\u{FEFF}\u{FEFF}data: y\n\n".as_bytes();
        assert_eq!(all(twice, |b| b.chunks(1).collect()), vec![]);
        assert_eq!(all(b"\xEF\xBBdata: z\n\n", |b| vec![b]), vec![]);
        assert_eq!(all(b"\xEF", |b| vec![b]), vec![]);
        assert_eq!(
            all(b"data: z", |b| b.chunks(1).collect()),
            vec![ev(None, "z")]
        );
    }
}
