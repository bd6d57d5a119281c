//! The gate in front of the rules: which built-in rules a line needs, found without running
//! any regex. Apart from `redact.rs` because it is a search engine of its own (literals, base64
//! runs, card-number runs) with its own invariants and tests, while `redact.rs` applies rules.

use super::rules;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::cell::RefCell;
use std::sync::OnceLock;

/// The fast path and the rule selector, both derived from the rule table (`rules::Gate`).
///
/// A line is lowercased once (ASCII) into a reused buffer. One leftmost-first search for the
/// table's literals (the packed SIMD searcher, which needs leftmost semantics and at most 64
/// literals), one scan for long mixed-class base64 runs and one for card-number digit runs
/// clear most lines. A line that passes is searched again with overlapping matches, to pick
/// exactly the rules it needs; rules that need a line break are dropped for one-line text.
///
/// Built at every cold start, so built cheaply: the yes/no search is the packed SIMD searcher
/// itself (half the build time of an automaton using it as prefilter), the overlapping search
/// an NFA (aho-corasick's own choice, a DFA, took ≈0.2 ms more to build) made on the first line
/// that needs it; most lines, and most batches, never do.
pub(super) struct Gate {
    pub(super) any: AnyLiteral,
    pub(super) literals: Vec<&'static str>,
    /// `None` inside: it could not be built; every rule then runs on such lines.
    each: OnceLock<Option<AhoCorasick>>,
    /// Per literal of `each`: the rules (bit i = rule i) that contain it.
    rules_of: Vec<u64>,
    /// Per rule gated on a run: (bit, minimum run length).
    runs: Vec<(u64, usize)>,
    shortest_run: usize,
    /// The rules gated on a card number (`card_candidate`).
    cards: u64,
    /// The rules that need a line break in the text.
    multiline: u64,
}

/// Does the text hold any of the literals?
pub(super) enum AnyLiteral {
    /// Teddy, where the CPU has it (SSSE3/AVX2 on x86_64, NEON on aarch64).
    Packed(aho_corasick::packed::Searcher),
    /// Anywhere else.
    Automaton(AhoCorasick),
}

impl AnyLiteral {
    fn new(literals: &[&str]) -> Option<Self> {
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(literals)
            .build();
        match packed {
            Some(searcher) => Some(Self::Packed(searcher)),
            None => Self::automaton(literals),
        }
    }

    pub(super) fn automaton(literals: &[&str]) -> Option<Self> {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(literals)
            .ok()
            .map(Self::Automaton)
    }

    pub(super) fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Self::Packed(searcher) => searcher.find(text).is_some(),
            Self::Automaton(automaton) => automaton.is_match(text),
        }
    }
}

/// Byte classes for the run scan: 0 ends a run.
const UPPER: u8 = 1;
const DIGIT: u8 = 2;
const OTHER: u8 = 4;
const CLASS: [u8; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'A'..=b'Z' => UPPER,
            b'0'..=b'9' => DIGIT,
            b'a'..=b'z' | b'+' | b'/' => OTHER,
            _ => 0,
        };
        b += 1;
    }
    t
};

impl Gate {
    /// `None` if the table has more than 64 rules or an automaton cannot be built: every rule
    /// then runs on every line, which costs speed, never a secret.
    pub(super) fn new(specs: &[rules::Spec]) -> Option<Self> {
        if specs.len() > 64 {
            return None;
        }
        let mut literals: Vec<&'static str> = Vec::new();
        let mut rules_of: Vec<u64> = Vec::new();
        let mut runs = Vec::new();
        let (mut cards, mut multiline) = (0, 0);
        for (i, spec) in specs.iter().enumerate() {
            match spec.gate {
                rules::Gate::Words(words) | rules::Gate::WordsAndLineBreak(words) => {
                    if matches!(spec.gate, rules::Gate::WordsAndLineBreak(_)) {
                        multiline |= 1u64 << i;
                    }
                    for word in words {
                        match literals.iter().position(|l| l == word) {
                            Some(p) => rules_of[p] |= 1 << i,
                            None => {
                                literals.push(word);
                                rules_of.push(1 << i);
                            }
                        }
                    }
                }
                rules::Gate::Run(min) => runs.push((1u64 << i, min)),
                rules::Gate::CardNumber => cards |= 1u64 << i,
            }
        }
        // For the yes/no search, a literal containing another is redundant.
        let minimal: Vec<&str> = literals
            .iter()
            .filter(|l| !literals.iter().any(|o| o != *l && l.contains(o)))
            .copied()
            .collect();
        let any = AnyLiteral::new(&minimal)?;
        let shortest_run = runs.iter().map(|r| r.1).min().unwrap_or(usize::MAX);
        Some(Self {
            any,
            literals,
            each: OnceLock::new(),
            rules_of,
            runs,
            shortest_run,
            cards,
            multiline,
        })
    }

    fn each(&self) -> Option<&AhoCorasick> {
        self.each
            .get_or_init(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    // Only lines the prefiltered search let through get here.
                    .prefilter(false)
                    .build(&self.literals)
                    .ok()
            })
            .as_ref()
    }

    /// The rules the line needs (bit i = rule i); 0 for most lines.
    pub(super) fn candidates(&self, text: &str) -> u64 {
        thread_local! {
            static LOWERCASE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        LOWERCASE.with_borrow_mut(|lower| {
            lower.clear();
            lower.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
            let run = longest_mixed_run(text.as_bytes(), self.shortest_run);
            let mut rules = self
                .runs
                .iter()
                .filter(|(_, min)| run >= *min)
                .fold(0, |acc, (bit, _)| acc | bit);
            if self.cards != 0 && card_candidate(text.as_bytes()) {
                rules |= self.cards;
            }
            if self.any.is_match(lower.as_slice()) {
                let Some(each) = self.each() else {
                    return u64::MAX;
                };
                for m in each.find_overlapping_iter(lower.as_slice()) {
                    rules |= self.rules_of[m.pattern().as_usize()];
                }
                if rules & self.multiline != 0 && !text.contains('\n') {
                    rules &= !self.multiline;
                }
            }
            rules
        })
    }
}

/// The length of the longest run of `[A-Za-z0-9+/]` holding an upper-case letter and a digit,
/// if it is at least `min`; otherwise 0.
///
/// Every line goes through this, so it skips: a run of `min` bytes starting anywhere in
/// `start..=probe` covers the byte at `probe`, so one byte outside the set there clears `min`
/// positions at once, and otherwise only the bytes before it not yet looked at are scanned.
/// Each byte is read a bounded number of times, so hostile input cannot make it quadratic.
pub(super) fn longest_mixed_run(bytes: &[u8], min: usize) -> usize {
    let in_set = |b: u8| CLASS[usize::from(b)] != 0;
    let reach = min.saturating_sub(1);
    // `start`: 0 or just after a byte outside the set. Bytes in `start.max(known)..probe` are
    // the ones not yet known to be in the set.
    let (mut best, mut start, mut known) = (0, 0usize, 0);
    while let Some(probe) = start.checked_add(reach).filter(|&p| p < bytes.len()) {
        if !in_set(bytes[probe]) {
            start = probe + 1;
            continue;
        }
        let from = known.max(start);
        if let Some(gap) = bytes[from..probe].iter().rposition(|&b| !in_set(b)) {
            start = from + gap + 1;
            known = probe + 1;
            continue;
        }
        let end = bytes[probe..]
            .iter()
            .position(|&b| !in_set(b))
            .map_or(bytes.len(), |len| probe + len);
        let seen = bytes[start..end]
            .iter()
            .fold(0, |seen, &b| seen | CLASS[usize::from(b)]);
        if seen & (UPPER | DIGIT) == UPPER | DIGIT {
            best = best.max(end - start);
        }
        start = end + 1;
    }
    best
}

/// Whether the text may hold a payment card number: a run of digits, with single spaces or
/// dashes between digits, in which 13 digits or more follow the first digit 2-6 that no digit
/// precedes.
///
/// Skips like `longest_mixed_run`: such a run is at least 13 bytes long, so a byte that cannot
/// be in one (a letter, or a space not between two digits, as in most log text) at `start + 12`
/// clears 13 positions at once. Epoch milliseconds (13 digits starting with 1) are cleared here,
/// not by the rule.
pub(super) fn card_candidate(bytes: &[u8]) -> bool {
    const SPAN: usize = 13;
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let in_run =
        |i: usize| digit(i) || (matches!(bytes[i], b' ' | b'-') && i > 0 && digit(i - 1) && digit(i + 1));
    let (mut start, mut known) = (0usize, 0);
    while let Some(probe) = start.checked_add(SPAN - 1).filter(|&p| p < bytes.len()) {
        if !in_run(probe) {
            start = probe + 1;
            continue;
        }
        let from = known.max(start);
        if let Some(gap) = (from..probe).rev().find(|&i| !in_run(i)) {
            start = gap + 1;
            known = probe + 1;
            continue;
        }
        let end = (probe..bytes.len()).find(|&i| !in_run(i)).unwrap_or(bytes.len());
        let run = &bytes[start..end];
        let first = (0..run.len())
            .find(|&i| matches!(run[i], b'2'..=b'6') && (i == 0 || !run[i - 1].is_ascii_digit()));
        if first.is_some_and(|i| run[i..].iter().filter(|b| b.is_ascii_digit()).count() >= SPAN) {
            return true;
        }
        start = end + 1;
    }
    false
}
