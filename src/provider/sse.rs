//! Server-sent events from a byte stream, per the WHATWG event-stream rules.
//!
//! Bytes arrive in arbitrary chunks: a line, a CRLF pair or a UTF-8 character may be split
//! anywhere. Lines are cut on raw bytes (`\n`, `\r\n` or a lone `\r`) and only whole lines
//! are decoded, so a split character is reassembled before decoding.

/// One dispatched event. `event` is `None` when the server sent no `event:` line
/// (OpenAI never does).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the events it completes.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        // Only the first byte after the `\r` can complete it (an empty chunk decides nothing).
        if self.skip_lf && !chunk.is_empty() {
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
            self.skip_lf = false;
        }
        // The buffer is taken out while its lines are handled, so they can be read in place.
        let mut buf = std::mem::take(&mut self.buf);
        // What is kept from before holds no line end: only the new bytes are searched, so
        // a long line arriving in many chunks costs linear time, not quadratic.
        let mut i = buf.len();
        buf.extend_from_slice(chunk);
        let mut start = 0;
        // Line ends are found with a vectorised search: most of a stream's bytes are JSON.
        while let Some(at) = memchr::memchr2(b'\n', b'\r', &buf[i..]) {
            i += at;
            self.line(&buf[start..i], &mut out);
            let cr = buf[i] == b'\r';
            i += 1;
            if cr {
                if i == buf.len() {
                    self.skip_lf = true;
                } else if buf[i] == b'\n' {
                    i += 1;
                }
            }
            start = i;
        }
        buf.drain(..start);
        self.buf = buf;
        out
    }

    /// The stream ended: an unterminated last line and a pending event still count, so a
    /// server that omits the final blank line loses nothing. (A cut-off event then fails
    /// to parse as JSON, which the provider reports.)
    pub fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, &mut out);
        }
        self.line(b"", &mut out);
        out
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            if self.has_data {
                // The next event is likely as long: one allocation for it, not a doubling
                // series.
                let next = String::with_capacity(self.data.len());
                out.push(Event {
                    event: self.event.take(),
                    data: std::mem::replace(&mut self.data, next),
                });
            }
            self.event = None;
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        // Valid UTF-8 (the usual case) is checked by the fast validator and borrowed.
        let line = match std::str::from_utf8(line) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(line),
        };
        let (field, value) = match line.find(':') {
            Some(pos) => {
                let v = &line[pos + 1..];
                (&line[..pos], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields do not matter here
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], split: impl Fn(&[u8]) -> Vec<&[u8]>) -> Vec<Event> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for c in split(input) {
            out.extend(p.push(c));
        }
        out.extend(p.finish());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> Event {
        Event {
            event: event.map(str::to_owned),
            data: data.into(),
        }
    }

    const SAMPLE: &[u8] = "event: message_start\r\ndata: {\"a\":\"h\u{e9}llo \u{1F600}\"}\r\n\r\n: keep-alive\n\nevent: ping\ndata:{\"type\":\"ping\"}\n\ndata: line1\ndata: line2\n\rdata: [DONE]\r\r".as_bytes();

    fn expected() -> Vec<Event> {
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
}
