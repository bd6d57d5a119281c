//! Secret redaction, applied to every log line (and finding title) before it leaves the function.
//!
//! The rules live in `redact/rules.rs`, one reviewed table; `shared/tests/secrets-corpus.json`
//! holds the shapes they must and must not redact, and SECURITY.md lists what is covered.
//! The `regex` crate matches in linear time, so hostile log lines cannot make redaction slow.
//!
//! Callers redact a whole text, then cut it: a cut first leaves the part of a secret before it,
//! which no rule recognises (30 of a token's 40 characters).

mod rules;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

pub const MARK: &str = "[REDACTED]";

#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("redaction pattern {pattern:?} is not a valid regular expression: {source}")]
    Invalid {
        pattern: String,
        source: Box<regex::Error>,
    },
    #[error("redaction pattern {pattern:?} matches the empty string: it would mark every line")]
    MatchesEmpty { pattern: String },
}

struct Rule {
    pattern: Cow<'static, str>,
    /// Compiled on the first line the gate sends to this rule: most batches hold no secret,
    /// and compiling every rule at init would cost milliseconds of cold start.
    /// `None` if it failed to compile: then lines it is asked about are withheld.
    regex: OnceLock<Option<Regex>>,
    /// Replace only this named group (the secret), keeping the context around it.
    group: Option<&'static str>,
    check: Option<rules::Check>,
}

impl Rule {
    fn regex(&self) -> Option<&Regex> {
        self.regex.get_or_init(|| Regex::new(&self.pattern).ok()).as_ref()
    }
}

pub struct Redactor {
    /// The built-in rules (at most 64, see `Gate`), then the operator's.
    rules: Vec<Rule>,
    /// Chooses the built-in rules a line needs, and clears most lines without running any.
    /// `None`: every built-in rule runs on every line.
    gate: Option<Gate>,
    builtin: usize,
}

impl Redactor {
    /// The built-in rules plus `extra` patterns. An extra pattern with a group named `secret`
    /// redacts only that group; otherwise the whole match. Extra patterns run on every line.
    pub fn new(extra: &[String]) -> Result<Self, PatternError> {
        let mut redactor = Self::built_in();
        // An operator's patterns are compiled now, so a bad one fails the deployment at init.
        for pattern in extra {
            let regex = Regex::new(pattern).map_err(|source| PatternError::Invalid {
                pattern: pattern.clone(),
                source: Box::new(source),
            })?;
            if regex.is_match("") {
                return Err(PatternError::MatchesEmpty {
                    pattern: pattern.clone(),
                });
            }
            let group = regex
                .capture_names()
                .flatten()
                .any(|n| n == "secret")
                .then_some("secret");
            redactor.rules.push(Rule {
                pattern: Cow::Owned(pattern.clone()),
                regex: OnceLock::from(Some(regex)),
                group,
                check: None,
            });
        }
        Ok(redactor)
    }

    /// The built-in rules only. No regex is compiled here: see `Rule::regex`.
    pub fn built_in() -> Self {
        let specs = rules::specs();
        let gate = Gate::new(&specs);
        Self {
            builtin: specs.len(),
            rules: specs
                .into_iter()
                .map(|s| Rule {
                    pattern: Cow::Owned(s.pattern),
                    regex: OnceLock::new(),
                    group: s.group,
                    check: s.check,
                })
                .collect(),
            gate,
        }
    }

    /// Redaction turned off (no rules): lines pass unchanged.
    pub fn disabled() -> Self {
        Self {
            rules: Vec::new(),
            gate: None,
            builtin: 0,
        }
    }

    /// The text with secrets replaced, and how many were replaced.
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        let mut out = Cow::Borrowed(text);
        let mut replaced = 0;
        let candidates = self.gate.as_ref().map(|gate| gate.candidates(text));
        for (i, rule) in self.rules.iter().enumerate() {
            // `Gate::new` refuses more than 64 rules, so the shift cannot overflow.
            if i < self.builtin && candidates.is_some_and(|c| c & (1 << i) == 0) {
                continue;
            }
            let Some(regex) = rule.regex() else {
                // Fail closed: a rule that cannot run must not let its secret through.
                return (Cow::Borrowed(MARK), replaced + 1);
            };
            if let Some(next) = apply(rule, regex, &out, &mut replaced) {
                out = Cow::Owned(next);
            }
        }
        (out, replaced)
    }
}

/// One rule over the text: `None` when it replaced nothing.
fn apply(rule: &Rule, regex: &Regex, text: &str, replaced: &mut usize) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while at <= text.len() {
        let Some(caps) = regex.captures_at(text, at) else {
            break;
        };
        let Some(whole) = caps.get(0) else {
            break;
        };
        let target = rule.group.and_then(|g| caps.name(g)).unwrap_or(whole);
        let secret = target.as_str();
        // Empty matches hide nothing; a value already marked (by an earlier rule, or upstream)
        // is not counted twice.
        if !secret.is_empty() && !is_marked(secret) && rule.check.is_none_or(|check| check(&caps)) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..target.start()]);
            requote(o, secret);
            copied = target.end();
            *replaced += 1;
        }
        // Resume after the secret, not after the match: a rule may consume the delimiter
        // that begins the next secret (two bare keys separated by one space).
        let next = if target.end() > at {
            target.end()
        } else {
            whole.end()
        };
        at = if next > at { next } else { next_boundary(text, at) };
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

fn next_boundary(text: &str, at: usize) -> usize {
    let mut next = at + 1;
    while next < text.len() && !text.is_char_boundary(next) {
        next += 1;
    }
    next
}

/// The opening quote of a value, with the backslashes that escape it (`"`, `\"`, `\\\"`, `'`).
fn opener(value: &str) -> &str {
    let slashes = value.bytes().take_while(|&b| b == b'\\').count();
    match value.as_bytes().get(slashes) {
        Some(b'"' | b'\'') => &value[..=slashes],
        _ => "",
    }
}

/// The value without the quotes `requote` keeps.
fn unquote(value: &str) -> &str {
    let open = opener(value);
    let rest = &value[open.len()..];
    rest.strip_suffix(open).unwrap_or(rest)
}

/// Already redacted: the mark alone, in quotes, or followed by what closes its object or list
/// (`{"Authorization":[REDACTED]}` seen again by a rule that runs to the end of the line).
fn is_marked(value: &str) -> bool {
    unquote(value)
        .strip_prefix(MARK)
        .is_some_and(|rest| rest.chars().all(|c| "\"'\\}]),;".contains(c)))
}

/// The mark, inside the value's own quotes so the surrounding syntax stays intact.
fn requote(out: &mut String, value: &str) {
    let open = opener(value);
    let closed = !open.is_empty() && value.len() >= 2 * open.len() && value.ends_with(open);
    out.push_str(open);
    out.push_str(MARK);
    if closed {
        out.push_str(open);
    }
}

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
struct Gate {
    any: AnyLiteral,
    literals: Vec<&'static str>,
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
enum AnyLiteral {
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

    fn automaton(literals: &[&str]) -> Option<Self> {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(literals)
            .ok()
            .map(Self::Automaton)
    }

    fn is_match(&self, text: &[u8]) -> bool {
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
    fn new(specs: &[rules::Spec]) -> Option<Self> {
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
    fn candidates(&self, text: &str) -> u64 {
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
fn longest_mixed_run(bytes: &[u8], min: usize) -> usize {
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
fn card_candidate(bytes: &[u8]) -> bool {
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

#[cfg(test)]
mod tests;
