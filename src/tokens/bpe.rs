//! Byte-pair encoding of one pre-tokenizer piece, counting the tokens only.
//!
//! The vocabulary is a static open-addressing table laid out by `build.rs` (see
//! `table_hash.rs` for the slot format), so nothing is built at start-up. The merge rule is
//! tiktoken's: repeatedly merge the adjacent pair whose concatenated bytes have the lowest
//! rank, the leftmost one on ties, until no pair is in the vocabulary.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::table_hash::{OFFSET_BITS, hash, slot_of};

pub struct Vocab {
    pub n_slots: usize,
    /// Number of tokens (ranks `0..tokens`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub tokens: usize,
    pub slots: &'static [u8],
    pub bytes: &'static [u8],
}

const NONE: u32 = u32::MAX;

/// Pieces shorter than this use tiktoken's quadratic scan (fast for short pieces); longer
/// ones a heap, so a 5,000-character word costs O(n log n).
const HEAP_FROM: usize = 128;

impl Vocab {
    #[inline]
    fn slot(&self, i: usize) -> u64 {
        let mut a = [0u8; 8];
        if let Some(b) = self.slots.get(i * 8..i * 8 + 8) {
            a.copy_from_slice(b);
        }
        u64::from_le_bytes(a)
    }

    /// The rank of `key`, or `u32::MAX` when it is not a token.
    #[inline]
    pub fn rank(&self, key: &[u8]) -> u32 {
        let h = hash(key);
        let fingerprint = h & 0xff;
        let mut i = slot_of(h, self.n_slots);
        loop {
            let s = self.slot(i);
            if s == 0 {
                return NONE;
            }
            if s >> 56 == fingerprint && ((s >> 24) & 0xff) as usize == key.len() {
                let off = (s & ((1 << OFFSET_BITS) - 1)) as usize;
                if self.bytes.get(off..off + key.len()) == Some(key) {
                    return ((s >> 32) & 0xff_ffff) as u32 - 1;
                }
            }
            i += 1;
            if i == self.n_slots {
                i = 0;
            }
        }
    }

    /// The number of tokens `piece` encodes to.
    #[inline]
    pub fn count_piece(&self, piece: &[u8]) -> usize {
        if piece.len() <= 1 {
            return piece.len();
        }
        if self.rank(piece) != NONE {
            return 1;
        }
        if piece.len() < HEAP_FROM {
            self.merge_small(piece)
        } else {
            self.merge_large(piece)
        }
    }

    /// tiktoken's `_byte_pair_merge`: parts as (start, rank of merging with the next part).
    fn merge_small(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        let mut parts = [(0u32, NONE); HEAP_FROM + 1];
        let mut len = n + 1;
        for (i, part) in parts.iter_mut().enumerate().take(n + 1) {
            let rank = if i + 2 <= n {
                self.rank(&piece[i..i + 2])
            } else {
                NONE
            };
            *part = (i as u32, rank);
        }
        // rank of the part at `i` merged with the one after, once `i + 1` is gone
        let rank_after = |parts: &[(u32, u32)], len: usize, i: usize| {
            if i + 3 < len {
                self.rank(&piece[parts[i].0 as usize..parts[i + 3].0 as usize])
            } else {
                NONE
            }
        };
        loop {
            let mut min = (NONE, 0);
            for (i, &(_, r)) in parts[..len - 1].iter().enumerate() {
                if r < min.0 {
                    min = (r, i);
                }
            }
            if min.0 == NONE {
                break;
            }
            let i = min.1;
            if i > 0 {
                parts[i - 1].1 = rank_after(&parts, len, i - 1);
            }
            parts[i].1 = rank_after(&parts, len, i);
            parts.copy_within(i + 2..len, i + 1);
            len -= 1;
        }
        len - 1
    }

    /// The same merges with a heap of candidate pairs keyed by (rank, start): the minimum
    /// is the lowest rank, leftmost on ties, as in the scan. Stale entries are skipped.
    fn merge_large(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        // Part starting at i: its end, and the start of the part before it.
        let mut end: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let r = self.rank(&piece[i..i + 2]);
            if r != NONE {
                heap.push(Reverse((r, i, i + 2)));
            }
        }
        let mut parts = n;
        while let Some(Reverse((_, start, merged_end))) = heap.pop() {
            // Valid only if the part at `start` and the one after still span `merged_end`.
            if !alive[start] {
                continue;
            }
            let right = end[start];
            if right >= n || !alive[right] || end[right] != merged_end {
                continue;
            }
            alive[right] = false;
            end[start] = merged_end;
            parts -= 1;
            if merged_end < n {
                prev[merged_end] = start;
                let next_end = end[merged_end];
                let r = self.rank(&piece[start..next_end]);
                if r != NONE {
                    heap.push(Reverse((r, start, next_end)));
                }
            }
            if start > 0 {
                let p = prev[start];
                let r = self.rank(&piece[p..merged_end]);
                if r != NONE {
                    heap.push(Reverse((r, p, merged_end)));
                }
            }
        }
        parts
    }
}
