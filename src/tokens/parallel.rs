//! Counting large inputs on every core, with bounded memory.
//!
//! A text is cut only at safe split points ([`pretok::is_safe_split`]): places where the
//! pre-tokenizer's pieces provably do not depend on what comes after, so the sum of the
//! parts' counts is the whole text's count. Streams are read in blocks, cut at the last safe
//! point of each block, and the chunks counted by worker threads; at most a few chunks are
//! in memory at once. A stretch with no safe point at all (one giant word, say) stays in one
//! chunk, as it must: tiktoken itself would encode it as one piece. Up to [`MAX_UNSPLIT`]:
//! a longer one is counted in parts, and the count is marked approximate.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};

use super::{Encoding, pretok};
use crate::error::{Error, Result};

/// Chunk size for parallel counting: large enough that per-chunk costs vanish, small enough
/// that two cores share a few MB evenly.
pub const CHUNK: usize = 1 << 20;
/// Texts below this are counted on the calling thread.
const PARALLEL_FROM: usize = 2 * CHUNK;
const READ_BLOCK: usize = 256 << 10;
/// A streamed stretch with no safe split point is held whole up to this size, then counted
/// in parts (and the count marked approximate: [`super::approximated`]).
pub const MAX_UNSPLIT: usize = 16 << 20;

/// The last safe split point in `s[from..]` (searching backwards), if any.
pub fn last_safe_split(s: &[u8], from: usize) -> Option<usize> {
    (from.max(1)..s.len())
        .rev()
        .find(|&b| pretok::is_safe_split(s, b))
}

/// Cuts `s` into pieces of about `size` bytes at safe split points.
pub fn split_points(s: &[u8], size: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let mut start = 0;
    while s.len() - start > size {
        // first safe point after the target, so pieces never shrink below `size`
        let target = start + size;
        match (target..s.len()).find(|&b| pretok::is_safe_split(s, b)) {
            Some(b) => {
                cuts.push(b);
                start = b;
            }
            None => break,
        }
    }
    cuts.push(s.len());
    cuts
}

/// The exact count of `text`, on up to `threads` threads.
pub fn count_str(enc: Encoding, text: &str, threads: usize) -> u64 {
    let s = text.as_bytes();
    if threads <= 1 || s.len() < PARALLEL_FROM {
        return enc.count_bytes(s);
    }
    let cuts = split_points(s, CHUNK);
    let next = AtomicUsize::new(0);
    let total = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(cuts.len() - 1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i + 1 >= cuts.len() {
                        break;
                    }
                    let n = enc.count_bytes(&s[cuts[i]..cuts[i + 1]]);
                    total.fetch_add(n, Ordering::Relaxed);
                }
            });
        }
    });
    total.into_inner()
}

/// Where a stream's bytes come from, for error messages (`stdin`, a path).
pub struct Source<'a> {
    pub name: String,
    pub reader: Box<dyn Read + Send + 'a>,
}

/// What [`count_sources`] read: the units (`units` summed over the chunks) and the bytes of
/// input (separators not included; 0 means the input was empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub units: u64,
    pub bytes: u64,
}

/// The count of the sources joined by blank lines (`\n\n`), as `input::gather` joins them,
/// read in blocks: empty sources add nothing, and each source must be UTF-8 (the error
/// names it and the byte offset). `units` counts one valid chunk.
pub fn count_sources(
    sources: Vec<Source<'_>>,
    threads: usize,
    units: &(dyn Fn(&[u8]) -> u64 + Sync),
) -> Result<Totals> {
    count_sources_within(sources, threads, units, crate::input::MAX_COUNTED_BYTES)
}

/// [`count_sources`], reading at most `limit` bytes (more is a usage error).
pub fn count_sources_within(
    sources: Vec<Source<'_>>,
    threads: usize,
    units: &(dyn Fn(&[u8]) -> u64 + Sync),
    limit: u64,
) -> Result<Totals> {
    std::thread::scope(|scope| {
        let mut sink = Sink {
            scope,
            units,
            total: 0,
            threads,
            tx: None,
            workers: Vec::new(),
            in_flight: Arc::default(),
        };
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + READ_BLOCK);
        let mut scanned: usize = 0; // bytes of `buf` already searched for a split point
        let mut any = false;
        let mut bytes = 0u64;
        for mut source in sources {
            let mut offset = 0u64; // of this source, for UTF-8 errors
            let mut pending: Vec<u8> = Vec::new(); // an incomplete UTF-8 sequence
            let mut block = vec![0u8; READ_BLOCK];
            let mut started = false;
            loop {
                let n = match source.reader.read(&mut block) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(Error::usage(format!(
                            "cannot read {}: {}",
                            source.name,
                            crate::input::io_reason(&e)
                        )));
                    }
                };
                if !started {
                    started = true;
                    if any {
                        buf.extend_from_slice(b"\n\n");
                    }
                    any = true;
                }
                pending.extend_from_slice(&block[..n]);
                let valid = match std::str::from_utf8(&pending) {
                    Ok(_) => pending.len(),
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    Err(e) => {
                        return Err(crate::input::not_utf8(
                            &source.name,
                            offset + e.valid_up_to() as u64,
                        ));
                    }
                };
                buf.extend_from_slice(&pending[..valid]);
                offset += valid as u64;
                bytes += valid as u64;
                if bytes > limit {
                    return Err(
                        Error::usage(crate::input::too_large_message(&source.name, limit))
                            .with_hint("count a part of it (e.g. with head -c)"),
                    );
                }
                pending.drain(..valid);
                if buf.len() >= CHUNK {
                    // search only what was not searched before (minus one character)
                    if let Some(b) = last_safe_split(&buf, scanned.saturating_sub(4)) {
                        let rest = buf.split_off(b);
                        sink.push(std::mem::replace(&mut buf, rest));
                        scanned = 0;
                    } else if buf.len() >= MAX_UNSPLIT {
                        // One "word" of 16 MiB: counted in parts, so memory stays bounded.
                        // `buf` holds whole characters only (`pending` keeps the rest).
                        super::mark_approximated();
                        sink.push(std::mem::take(&mut buf));
                        scanned = 0;
                    } else {
                        scanned = buf.len();
                    }
                }
            }
            if !pending.is_empty() {
                return Err(crate::input::not_utf8(&source.name, offset));
            }
        }
        sink.push_last(buf);
        Ok(Totals {
            units: sink.finish(),
            bytes,
        })
    })
}

/// Counts chunks: on this thread while the input fits in one chunk, else on `threads`
/// workers fed through a bounded channel (so memory stays bounded).
struct Sink<'scope, 'env> {
    scope: &'scope std::thread::Scope<'scope, 'env>,
    units: &'env (dyn Fn(&[u8]) -> u64 + Sync),
    total: u64,
    threads: usize,
    tx: Option<SyncSender<Vec<u8>>>,
    workers: Vec<std::thread::ScopedJoinHandle<'scope, u64>>,
    /// Bytes queued or being counted, at most [`IN_FLIGHT`] (one larger chunk may go alone).
    in_flight: Arc<(Mutex<usize>, Condvar)>,
}

/// The most bytes handed to workers at once, whatever `-j` is.
const IN_FLIGHT: usize = 32 << 20;

impl<'scope, 'env> Sink<'scope, 'env> {
    fn push(&mut self, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        if self.threads <= 1 {
            self.total += (self.units)(&chunk);
            return;
        }
        if self.tx.is_none() {
            let (tx, rx) = sync_channel::<Vec<u8>>(self.threads);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..self.threads {
                let rx = rx.clone();
                let units = self.units;
                let in_flight = self.in_flight.clone();
                self.workers
                    .push(self.scope.spawn(move || worker(&rx, units, &in_flight)));
            }
            self.tx = Some(tx);
        }
        {
            let (lock, freed) = &*self.in_flight;
            let mut busy = lock.lock().unwrap_or_else(|p| p.into_inner());
            while *busy > 0 && *busy + chunk.len() > IN_FLIGHT {
                busy = freed.wait(busy).unwrap_or_else(|p| p.into_inner());
            }
            *busy += chunk.len();
        }
        if let Some(tx) = &self.tx
            && let Err(e) = tx.send(chunk)
        {
            // every worker is gone (cannot happen: they only stop when the channel closes)
            self.total += (self.units)(&e.0);
        }
    }

    /// The end of the input: counted here when it is the only chunk.
    fn push_last(&mut self, chunk: Vec<u8>) {
        if self.tx.is_none() {
            self.total += (self.units)(&chunk);
        } else {
            self.push(chunk);
        }
    }

    fn finish(mut self) -> u64 {
        self.tx = None; // closes the channel: workers drain it and stop
        for w in self.workers.drain(..) {
            self.total += w.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        self.total
    }
}

fn worker(
    rx: &Mutex<Receiver<Vec<u8>>>,
    units: &(dyn Fn(&[u8]) -> u64 + Sync),
    in_flight: &(Mutex<usize>, Condvar),
) -> u64 {
    let mut n = 0;
    loop {
        let chunk = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return n,
        };
        match chunk {
            Ok(c) => {
                n += units(&c);
                let (lock, freed) = in_flight;
                let mut busy = lock.lock().unwrap_or_else(|p| p.into_inner());
                *busy = busy.saturating_sub(c.len());
                freed.notify_all();
            }
            Err(_) => return n, // channel closed: input done
        }
    }
}
