//! Storm grouping: log lines that differ only in ids (hex, UUID, ULID, nanoid, base36/62/64,
//! pod suffixes, AWS request and trace ids), numbers with units, addresses or quoted values
//! collapse into one group with a count, so 2,000 near-identical lines read as one.
//!
//! Normalisation is a linear pass over the bytes (no regex, no backtracking); keys are built
//! in one reused buffer and only copied when a new group starts. Slightly over 600 lines: the id
//! heuristics and the letter-pair table they read are kept beside the pass that uses them.

use crate::decode::LogEvent;
use lookout_shared::redact::Redactor;
use lookout_shared::severity::{self, Severity};
use lookout_shared::state::Fingerprint;
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group<'e> {
    /// The first event's message, redacted.
    pub message: Cow<'e, str>,
    pub first_id: &'e str,
    pub count: u64,
    pub first_timestamp: i64,
    pub last_timestamp: i64,
    pub severity: Severity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grouped<'e> {
    /// Most severe first, then in order of first appearance.
    pub groups: Vec<Group<'e>>,
    pub events: u64,
    pub redactions: u64,
    /// Indexed like [`Severity::ALL`].
    pub severity_counts: [u64; 4],
    pub first_timestamp: i64,
    pub last_timestamp: i64,
    /// Events rated below `MIN_SEVERITY`: counted, not grouped or shown.
    pub below_min: u64,
    /// The most severe rating among those events (NOTICE when there were none).
    pub below_min_severity: Severity,
    /// Groups already alerted inside the suppression window, set aside by
    /// [`Grouped::set_aside_known`]: counted, not shown.
    pub known: Known,
}

/// Groups of a batch that were already alerted inside the suppression window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Known {
    pub lines: u64,
    pub events: u64,
}

impl Grouped<'_> {
    /// Every event of the batch: those at or above `MIN_SEVERITY` and those below it.
    pub(crate) fn total_events(&self) -> u64 {
        self.events.saturating_add(self.below_min)
    }

    pub(crate) fn severity(&self) -> Severity {
        self.groups.iter().map(|g| g.severity).max().unwrap_or_default()
    }

    pub(crate) fn count_of(&self, severity: Severity) -> u64 {
        Severity::ALL
            .iter()
            .position(|s| *s == severity)
            .map_or(0, |i| self.severity_counts[i])
    }

    /// Events that joined an existing group instead of starting one.
    pub(crate) fn grouped_away(&self) -> u64 {
        self.events
            .saturating_sub(self.known.events)
            .saturating_sub(self.groups.len() as u64)
    }

    /// Moves the groups that `is_known(index)` names (indexes in the current order) out of the
    /// shown groups into [`Grouped::known`]: the alert leads with what is new.
    pub(crate) fn set_aside_known(&mut self, is_known: impl Fn(usize) -> bool) {
        let known = &mut self.known;
        let mut index = 0;
        self.groups.retain(|g| {
            let keep = !is_known(index);
            index += 1;
            if !keep {
                known.lines += 1;
                known.events += g.count;
            }
            keep
        });
    }
}

/// Redacts, classifies and groups a batch; events rated below `min` are only counted.
pub(crate) fn redact_classify_group<'e>(
    events: &'e [LogEvent<'_>],
    redactor: &Redactor,
    min: Severity,
) -> Grouped<'e> {
    let mut out = Grouped {
        first_timestamp: i64::MAX,
        last_timestamp: i64::MIN,
        ..Grouped::default()
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut key = String::new();
    for event in events {
        let (message, redactions) = redactor.redact(&event.message);
        let severity = severity::detect(&message);
        if severity < min {
            out.below_min += 1;
            out.below_min_severity = out.below_min_severity.max(severity);
            continue;
        }
        out.redactions += redactions as u64;
        out.events += 1;
        out.first_timestamp = out.first_timestamp.min(event.timestamp);
        out.last_timestamp = out.last_timestamp.max(event.timestamp);
        if let Some(i) = Severity::ALL.iter().position(|s| *s == severity) {
            out.severity_counts[i] += 1;
        }
        key.clear();
        normalize_into(&message, &mut key);
        match index.get(key.as_str()) {
            Some(&i) => {
                let g = &mut out.groups[i];
                g.count += 1;
                g.first_timestamp = g.first_timestamp.min(event.timestamp);
                g.last_timestamp = g.last_timestamp.max(event.timestamp);
                g.severity = g.severity.max(severity);
            }
            None => {
                index.insert(key.clone(), out.groups.len());
                out.groups.push(Group {
                    message,
                    first_id: &event.id,
                    count: 1,
                    first_timestamp: event.timestamp,
                    last_timestamp: event.timestamp,
                    severity,
                });
            }
        }
    }
    if out.events == 0 {
        out.first_timestamp = 0;
        out.last_timestamp = 0;
    }
    // Stable sort: within a severity, groups keep their order of first appearance.
    out.groups.sort_by_key(|g| std::cmp::Reverse(g.severity));
    out
}

/// The suppression windows' keys, one per group of the first `max` (most severe first): the
/// account (the payload's `owner`), the log group and the line's shape, so a storm's batches
/// share them whatever numbers and ids they carry, and the same failure in two accounts is two
/// alerts. Suppression decides per group: one line cannot stand for, and hide, another.
pub(crate) fn fingerprints(
    account: &str,
    log_group: &str,
    grouped: &Grouped<'_>,
    max: usize,
) -> Vec<Fingerprint> {
    let mut shape = String::new();
    grouped
        .groups
        .iter()
        .take(max)
        .map(|g| {
            shape.clear();
            normalize_into(&g.message, &mut shape);
            Fingerprint::new("log-alert", &[account, log_group, &shape])
        })
        .collect()
}

/// Writes the shape of `message` into `out`: ids, numbers with their units and addresses become
/// `#`, quoted values `'*'`; words stay.
///
/// Linear and allocation-free: a token is looked at again at most once (a compound such as
/// `V1StGXR8_Z5jdHi6B-myT` is judged whole before its parts are written), never backtracked.
pub(crate) fn normalize_into(message: &str, out: &mut String) {
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let at_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if at_start {
            if let Some(end) = quoted_value_end(bytes, i) {
                out.push_str("'*'");
                i = end;
                continue;
            }
            if let Some(end) = ipv6_end(bytes, i).or_else(|| number_end(bytes, i)) {
                out.push('#');
                i = end;
                continue;
            }
        }
        if b.is_ascii_alphanumeric() && is_uuid_at(bytes, i) {
            out.push('#');
            i += 36;
            continue;
        }
        let starts_compound = b.is_ascii_alphanumeric()
            || (at_start
                && is_joiner(b)
                && bytes
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || is_joiner(*c)));
        if starts_compound {
            i = push_compound(message, i, out);
            continue;
        }
        // Copy up to the next byte that may start a token: those are ASCII, so always
        // character boundaries, and multibyte text is copied whole.
        let start = i;
        i += 1;
        while i < bytes.len() && !may_start_token(bytes[i]) {
            i += 1;
        }
        out.push_str(&message[start..i]);
    }
}

/// Joins the parts of one token: `web-7d9f8b6c5-x2k4q`, `V1StGXR8_Z5jdHi6B-myT`, base64's
/// `+` and `/`, paths.
fn is_joiner(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'+' | b'/')
}

fn is_quote(b: u8) -> bool {
    matches!(b, b'\'' | b'"' | b'`')
}

fn may_start_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || is_joiner(b) || is_quote(b) || b == b':'
}

/// A quoted value, `user 'alice' not found`: one token (no whitespace, at most 64 bytes) in
/// quotes that open after a space or bracket. It is a value like an id, whatever its letters;
/// quoted text with spaces (`msg="failed to connect"`), keys (`'user':`) and quotes after `=`
/// or `:` (JSON, logfmt) are left to the word rules. Returns the index after the closing quote.
fn quoted_value_end(bytes: &[u8], i: usize) -> Option<usize> {
    let quote = bytes[i];
    if !is_quote(quote) || (i > 0 && !matches!(bytes[i - 1], b' ' | b'\t' | b'(' | b'[')) {
        return None;
    }
    let close = bytes
        .iter()
        .skip(i + 1)
        .take(65)
        .position(|&c| c == quote || c.is_ascii_whitespace() || c.is_ascii_control())?
        + i
        + 1;
    let after = bytes.get(close + 1).copied();
    (bytes[close] == quote
        && close - i <= 65
        && after.is_none_or(|c| !c.is_ascii_alphanumeric() && c != b':'))
    .then_some(close + 1)
}

/// An IPv6 (or MAC) address or a `12:00:01` time starting at `i`: hex groups of at most four
/// separated by colons, at least two colons and one digit. Returns the index after it.
fn ipv6_end(bytes: &[u8], i: usize) -> Option<usize> {
    let first = bytes[i];
    if !(first.is_ascii_hexdigit() || (first == b':' && bytes.get(i + 1) == Some(&b':'))) {
        return None;
    }
    let mut end = i;
    let (mut colons, mut group, mut digit, mut double) = (0, 0, false, 0);
    while let Some(&c) = bytes.get(end) {
        if c == b':' {
            if bytes.get(end + 1) == Some(&b':') {
                if double > 0 || bytes.get(end + 2) == Some(&b':') {
                    return None;
                }
                double += 1;
                colons += 1;
                end += 1;
            } else if !bytes.get(end + 1).is_some_and(u8::is_ascii_hexdigit) {
                // A trailing colon (`at 12:00:01: failed`) is not part of the address.
                break;
            }
            colons += 1;
            group = 0;
        } else if c.is_ascii_hexdigit() {
            group += 1;
            digit |= c.is_ascii_digit();
            if group > 4 {
                return None;
            }
        } else {
            break;
        }
        end += 1;
    }
    let boundary = bytes.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
    (boundary && digit && (2..=8).contains(&colons)).then_some(end)
}

/// A number at `i` with its fraction and unit, and chains of them: `1200ms`, `3.2MB`, `1m30s`,
/// `10.0.0.12`, `2xx`, a short commit `3f2a1bc`. The unit is dropped with the number, so
/// `1.2s` and `900ms` are one shape. Returns the index after it, `None` when the token goes
/// on (`4ever`, `2025-11-25`): those are judged as compounds.
fn number_end(bytes: &[u8], i: usize) -> Option<usize> {
    if !bytes[i].is_ascii_digit() {
        return None;
    }
    let end = unit_chain_end(bytes, i, true)?;
    let goes_on = bytes.get(end).is_some_and(|&c| {
        c.is_ascii_alphanumeric()
            || (is_joiner(c) && bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric))
    });
    (!goes_on).then_some(end)
}

/// Digits (with `.digits` fractions when `dots`), each followed by at most three letters,
/// repeated. `None` when a longer run of letters follows.
fn unit_chain_end(bytes: &[u8], mut k: usize, dots: bool) -> Option<usize> {
    while bytes.get(k).is_some_and(u8::is_ascii_digit) {
        while bytes.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        while dots && bytes.get(k) == Some(&b'.') && bytes.get(k + 1).is_some_and(u8::is_ascii_digit) {
            k += 1;
            while bytes.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
        }
        // `µs`: the micro sign (U+00B5) or Greek mu (U+03BC) starts a unit.
        if matches!(bytes.get(k..k + 2), Some([0xC2, 0xB5] | [0xCE, 0xBC])) {
            k += 2;
        }
        let letters = bytes[k..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if letters > 3 {
            return None;
        }
        k += letters;
    }
    Some(k)
}

/// Writes the compound token starting at `i` (letters, digits and joiners) and returns the
/// index after it. A compound made of ids and no word (`V1StGXR8_Z5jdHi6B-myT`,
/// `dGhpcy+c2Vj/Zm9v==`, `1-5759e988-bd862e3f…`) is one `#`; otherwise each part is judged on
/// its own, so `web-7d9f8b6c5-x2k4q` keeps its name: `web-#-#`.
fn push_compound(message: &str, i: usize, out: &mut String) -> usize {
    let bytes = message.as_bytes();
    let end = i + bytes[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || is_joiner(**c))
        .count();
    let token = &bytes[i..end];
    let joined = token.iter().any(|c| is_joiner(*c));
    if joined && compound_is_id(token) {
        out.push('#');
        return end + padding(&bytes[end..]);
    }
    let mut j = i;
    let mut after_id = false;
    while j < end {
        if is_joiner(bytes[j]) {
            out.push(char::from(bytes[j]));
            j += 1;
            continue;
        }
        let start = j;
        while j < end && bytes[j].is_ascii_alphanumeric() {
            j += 1;
        }
        let before = if start > 0 { bytes[start - 1] } else { b' ' };
        after_id = push_part(&message[start..j], before, after_id, out);
    }
    if !joined && after_id {
        return end + padding(&bytes[end..]);
    }
    end
}

/// Base64 padding after an id belongs to it: `=` or `==` not followed by a value.
fn padding(rest: &[u8]) -> usize {
    let n = rest.iter().take(2).take_while(|c| **c == b'=').count();
    if rest.get(n).is_some_and(u8::is_ascii_alphanumeric) {
        0
    } else {
        n
    }
}

/// Whether a compound of several parts is one id: it holds an id with letters and nothing that
/// names it. What names a compound is a lowercase word in front (`db-x2k4q`, `ch_3MqKz…`), a
/// lowercase or capitalised word of five letters or more anywhere, or of three in a path;
/// capitals and shorter words inside a random id (`OIJ_…`, `V1St_Qwa-x9`) come by chance.
fn compound_is_id(token: &[u8]) -> bool {
    let path = token.contains(&b'/');
    let mut has_id = false;
    let parts = token.split(|c| is_joiner(*c)).filter(|p| !p.is_empty());
    for (k, part) in parts.enumerate() {
        if is_id(part, b' ') {
            has_id |= !part.iter().all(u8::is_ascii_digit);
            continue;
        }
        let first = k == 0 && token[0].is_ascii_alphanumeric();
        let names = part[0].is_ascii_alphabetic()
            && part[1..].iter().all(u8::is_ascii_lowercase)
            && (part.len() >= 5
                || (part[0].is_ascii_lowercase()
                    && ((first && part.len() >= 2) || (path && part.len() >= 3))));
        if names {
            return false;
        }
    }
    has_id
}

/// Writes one run of letters and digits; returns whether it was an id with letters in it (a
/// pod's ReplicaSet hash), after which a short part behind `-` is the pod's suffix.
fn push_part(part: &str, before: u8, after_id: bool, out: &mut String) -> bool {
    let bytes = part.as_bytes();
    let hex_body = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X"));
    if hex_body.is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())) {
        out.push('#');
        return true;
    }
    let number = bytes[0].is_ascii_digit() && unit_chain_end(bytes, 0, false) == Some(bytes.len());
    if number || is_id(bytes, before) || (after_id && before == b'-' && bytes.len() <= 10) {
        out.push('#');
        return bytes.iter().any(u8::is_ascii_alphabetic);
    }
    if !bytes.iter().any(u8::is_ascii_digit) {
        out.push_str(part);
        return false;
    }
    // `req42` → `req#`: keep the letters, drop the numbers.
    let mut in_digits = false;
    for c in part.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    false
}

/// The alphabet Kubernetes (and ECS-style tooling) draws pod and ReplicaSet suffixes from: no
/// vowels, no `0 1 3`, so suffixes never spell words.
const POD_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Whether a run of ASCII letters and digits is an id rather than a word:
/// - hex with a digit, or 8+ hex letters (`effddeea`);
/// - letters and digits interleaved (`x2k4q`, `3MqKz9`), or a long mixed-case run with digits;
/// - one number and letters where the letters do not read as a word (a pair English rarely
///   writes, four consonants in a row, no vowel: `sgbfobs4`), at most two letters before four
///   or more digits (`xq123456`), or 5 or 8 to 10 characters after `-` (pod suffixes);
/// - letters only: random ones (see [`random_letters`]), six or more without a vowel, a long
///   run after `_` (`cus_NffrFeUfNV2Hib`), or a pod suffix after `-` (the Kubernetes alphabet,
///   or five lowercase letters that do not read as a word).
fn is_id(bytes: &[u8], before: u8) -> bool {
    // One pass for the shape; the letter statistics only for the few runs that need them.
    let (mut digits, mut upper, mut switches, mut hex) = (0, 0, 0, true);
    let mut prev_digit = None;
    for &c in bytes {
        let digit = c.is_ascii_digit();
        digits += usize::from(digit);
        upper += usize::from(c.is_ascii_uppercase());
        hex &= c.is_ascii_hexdigit();
        // Letter/digit alternations: `req42` and `17ms` have one, `x2k4q` four.
        switches += usize::from(prev_digit.is_some_and(|p| p != digit));
        prev_digit = Some(digit);
    }
    let letters = bytes.len() - digits;
    let lower = letters - upper;
    if hex && (digits > 0 || bytes.len() >= 8) {
        return true;
    }
    if digits > 0 {
        if switches >= 2
            || (upper > 0 && lower > 0 && bytes.len() >= 10)
            || (letters <= 2 && digits >= 4 && bytes[0].is_ascii_alphabetic())
            // A pod's ReplicaSet hash or suffix: 8 to 10 or 5 characters after `-`.
            || (before == b'-' && matches!(bytes.len(), 5 | 8..=10))
        {
            return true;
        }
        if letters < 3 {
            return false;
        }
        // One number and letters: `req42`, `utf8`, `worker12` are words with a number; the
        // letters of a random id rarely read as a word.
        let first_letter = bytes.iter().position(u8::is_ascii_alphabetic).unwrap_or(0);
        let stats = LetterStats::of(
            &bytes[first_letter..first_letter + letters],
            upper > 0 && lower > 0,
        );
        return stats.rare >= 1 || stats.consonant_run >= 4 || stats.vowels == 0;
    }
    if (before == b'_' && bytes.len() >= 14)
        || (before == b'-'
            && matches!(bytes.len(), 5 | 8..=10)
            && bytes.iter().all(|b| POD_SUFFIX_ALPHABET.contains(b)))
    {
        return true;
    }
    if bytes.len() < 5 {
        return false;
    }
    let mixed = upper > 0 && lower > 0;
    let stats = LetterStats::of(bytes, mixed);
    // Five letters after `-` stand where a pod's suffix stands: judged more readily.
    let suffix = before == b'-' && bytes.len() == 5 && lower == 5;
    (suffix && (stats.rare >= 1 || stats.consonant_run >= 4 || stats.vowels == 0))
        || (bytes.len() >= 6 && stats.vowels == 0)
        || random_letters(bytes, mixed, &stats)
}

/// Pairs of letters common in English and technical text (counted over the Rust documentation
/// and the man pages; a pair is common from 1 in 100,000 pairs): row = first letter, bit =
/// second letter. A random string of letters soon holds pairs English rarely writes (`qj`, `xk`).
const COMMON_BIGRAMS: [u32; 26] = [
    0b11111111111111111111111111, // a
    0b11111111101111111111111111, // b
    0b01111111111111110111111111, // c
    0b01111111111111111111111111, // d
    0b11111111111111111111111111, // e
    0b01000111111111110111111111, // f
    0b11001111111111110111111111, // g
    0b11000111101111100100111111, // h
    0b11111111111111111111111111, // i
    0b00000101000101000100010001, // j
    0b01010111101111110101111111, // k
    0b11011111111111110111111111, // l
    0b01011111101111110101111111, // m
    0b11111111111111111111111111, // n
    0b11111111101111111111111111, // o
    0b01011111101111110111111111, // p
    0b00000111100000100000011000, // q
    0b01011111101111110111111111, // r
    0b01011111111111110111111111, // s
    0b11111111101111110111111111, // t
    0b01110111101111110101111111, // u
    0b01000111101101100100110101, // v
    0b00010011101110110111011101, // w
    0b01100111101101100111111101, // x
    0b11011111101111100101011111, // y
    0b11000101000101100100010001, // z
];

/// Counts over a run of letters, case folded.
struct LetterStats {
    /// Letter pairs not in [`COMMON_BIGRAMS`]; in mixed case only pairs ending in a lowercase
    /// letter count, as capitals start words and acronyms (`XMLHttpRequest`).
    rare: usize,
    /// The longest run of consonants (`y` counts as a vowel).
    consonant_run: usize,
    vowels: usize,
}

impl LetterStats {
    fn of(letters: &[u8], mixed: bool) -> Self {
        let mut stats = LetterStats {
            rare: 0,
            consonant_run: 0,
            vowels: 0,
        };
        let mut run = 0;
        let mut prev: Option<u8> = None;
        for &c in letters {
            let folded = c.to_ascii_lowercase();
            if matches!(folded, b'a' | b'e' | b'i' | b'o' | b'u' | b'y') {
                stats.vowels += 1;
                run = 0;
            } else {
                run += 1;
                stats.consonant_run = stats.consonant_run.max(run);
            }
            if let Some(p) = prev
                && (!mixed || c.is_ascii_lowercase())
                && p.is_ascii_lowercase()
                && folded.is_ascii_lowercase()
                && COMMON_BIGRAMS[usize::from(p - b'a')] & (1 << (folded - b'a')) == 0
            {
                stats.rare += 1;
            }
            prev = Some(folded);
        }
        stats
    }
}

/// Whether a run of letters (five or more) is random rather than a word. The rule was measured
/// against 20,000 common English words (0.1% taken for random: `albuquerque`, `schwartz`) and
/// random lowercase strings (about 60% of 8-letter and 35% of 5-letter ones recognised):
/// - two letter pairs English rarely writes (`kq`, `jx`), or one and four consonants in a row;
/// - mixed case: a lowercase letter alone between capitals twice (`PaYVtG`; `getUserById`
///   has one), or a case switch every other letter in 16 or more (random base62;
///   `CrashLoopBackOff` switches 6 times).
fn random_letters(letters: &[u8], mixed: bool, stats: &LetterStats) -> bool {
    if letters.len() < 5 {
        return false;
    }
    if mixed {
        let islands = letters
            .windows(3)
            .filter(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_lowercase() && w[2].is_ascii_uppercase())
            .count();
        let case_switches = letters
            .windows(2)
            .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
            .count();
        if islands >= 2 || (letters.len() >= 16 && case_switches * 2 >= letters.len()) {
            return true;
        }
    }
    stats.rare >= 2 || (stats.rare >= 1 && stats.consonant_run >= 4)
}

fn is_uuid_at(b: &[u8], i: usize) -> bool {
    let Some(candidate) = b.get(i..i + 36) else {
        return false;
    };
    let shape_ok = candidate.iter().enumerate().all(|(j, c)| {
        if matches!(j, 8 | 13 | 18 | 23) {
            *c == b'-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    // Must not continue an alphanumeric run.
    shape_ok && b.get(i + 36).is_none_or(|c| !c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut out = String::new();
        normalize_into(s, &mut out);
        out
    }

    fn event(id: usize, ts: i64, message: &str) -> LogEvent<'static> {
        LogEvent {
            id: Cow::Owned(id.to_string()),
            timestamp: ts,
            message: Cow::Owned(message.to_string()),
        }
    }

    #[test]
    fn normalisation_hides_volatile_parts() {
        assert_eq!(
            norm("user 42 req 550e8400-e29b-41d4-a716-446655440000 from 10.0.0.12:5432 took 17ms"),
            "user # req # from #:# took #"
        );
        assert_eq!(norm("trace 0x7ffd5e8a1c2b id=deadbeefcafebabe"), "trace # id=#");
        assert_eq!(norm("ip fe80::1ff:fe23:4567:890a"), "ip #");
        assert_eq!(norm("commit 3f2a1bc"), "commit #");
        // Words stay words, multibyte text is kept whole.
        assert_eq!(norm("décédé face added 日本 42"), "décédé face added 日本 #");
    }

    #[test]
    fn a_storm_collapses_into_few_groups() {
        let mut events = Vec::new();
        for i in 0..2_000 {
            events.push(event(
                i,
                1_000 + i as i64,
                &format!(
                    "ERROR connect to 10.0.{}.{}:5432 failed after {} ms (req {:08x})",
                    i % 7,
                    i % 250,
                    i * 3,
                    i * 7919
                ),
            ));
        }
        events.push(event(9_000, 5_000, "FATAL out of file descriptors"));
        events.push(event(9_001, 6_000, "ERROR payment 7 declined"));
        let grouped = redact_classify_group(&events, &Redactor::disabled(), Severity::Notice);
        assert_eq!(grouped.events, 2_002);
        assert_eq!(grouped.groups.len(), 3);
        assert_eq!(grouped.groups[0].severity, Severity::Critical);
        let storm = &grouped.groups[1];
        assert_eq!(storm.count, 2_000);
        assert_eq!(storm.first_id, "0");
        assert_eq!((storm.first_timestamp, storm.last_timestamp), (1_000, 2_999));
        assert_eq!(grouped.grouped_away(), 1_999);
        assert_eq!((grouped.first_timestamp, grouped.last_timestamp), (1_000, 6_000));
        assert_eq!(grouped.count_of(Severity::Error), 2_001);
    }

    #[test]
    fn redaction_happens_before_grouping_and_is_counted() {
        let events = vec![
            event(1, 1, "ERROR login password=hunter2 failed"),
            event(2, 2, "ERROR login password=letmein failed"),
        ];
        let grouped = redact_classify_group(&events, &Redactor::new(&[]).unwrap(), Severity::Notice);
        assert_eq!(grouped.groups.len(), 1);
        assert_eq!(
            grouped.groups[0].message,
            "ERROR login password=[REDACTED] failed"
        );
        assert_eq!(grouped.redactions, 2);
    }

    #[test]
    fn different_stack_traces_stay_apart_and_line_numbers_do_not_split_them() {
        let a = "java.lang.IllegalStateException: x\n\tat com.a.B.c(B.java:10)";
        let b = "java.lang.IllegalStateException: x\n\tat com.a.B.c(B.java:11)";
        let c = "java.lang.NullPointerException\n\tat com.a.B.c(B.java:10)";
        let events = [event(1, 1, a), event(2, 2, b), event(3, 3, c)];
        let grouped = redact_classify_group(&events, &Redactor::disabled(), Severity::Notice);
        assert_eq!(
            grouped.groups.iter().map(|g| g.count).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }

    /// A deterministic stream of ids drawn from `alphabet` (a fixed LCG: the test never changes).
    fn ids(alphabet: &[u8], len: usize, seed: u64) -> impl Iterator<Item = String> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    alphabet[(state >> 33) as usize % alphabet.len()] as char
                })
                .collect()
        })
    }

    #[test]
    fn lines_differing_only_by_letter_and_digit_ids_form_one_group() {
        let pod = b"bcdfghjklmnpqrstvwxz2456789";
        let base62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rs = ids(pod, 10, 1);
        let mut suffix = ids(pod, 5, 2);
        let mut charge = ids(base62, 24, 3);
        let mut hex_letters = ids(b"abcdef", 8, 4);
        let mut hex = ids(b"0123456789abcdef", 32, 5);
        let events: Vec<LogEvent> = (0..200)
            .map(|i| {
                let h = hex.next().unwrap();
                let line = format!(
                    "ERROR pod web-{}-{} charge ch_{} failed span {} req {}-{}-{}-{}-{}",
                    rs.next().unwrap(),
                    suffix.next().unwrap(),
                    charge.next().unwrap(),
                    hex_letters.next().unwrap(),
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..],
                );
                event(i, i as i64, &line)
            })
            .collect();
        let grouped = redact_classify_group(&events, &Redactor::disabled(), Severity::Notice);
        assert_eq!(
            grouped.groups.len(),
            1,
            "{:?}",
            grouped
                .groups
                .iter()
                .take(3)
                .map(|g| &g.message)
                .collect::<Vec<_>>()
        );
        assert_eq!(grouped.groups[0].count, 200);
        assert_eq!(
            norm("web-7d9f8b6c5-x2k4q ch_3MqKzW2eZvKYlo2C effddeea"),
            "web-#-# ch_# #"
        );
        assert_eq!(norm("cus_GgpeSFPaYVtGBrkKNQzrByrF web-bcdfg"), "cus_# web-#");
        // Words stay words: names of exceptions, units, protocols, snake_case.
        assert_eq!(
            norm("NullPointerException req42 took 17ms via http utf8 AbstractSingletonProxyFactoryBean"),
            "NullPointerException req# took # via http utf# AbstractSingletonProxyFactoryBean"
        );
        assert_eq!(
            norm("http_requests_errors_total max-retries"),
            "http_requests_errors_total max-retries"
        );
    }

    /// Groups `lines` (all rated ERROR) and returns the groups' sizes, largest first.
    fn group_sizes(lines: &[String]) -> Vec<u64> {
        let events: Vec<LogEvent> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| event(i, i as i64, l))
            .collect();
        let grouped = redact_classify_group(&events, &Redactor::disabled(), Severity::Notice);
        assert_eq!(grouped.events, lines.len() as u64, "every line is rated ERROR");
        let mut sizes: Vec<u64> = grouped.groups.iter().map(|g| g.count).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes
    }

    /// 2,000 lines of `template` with `{}` replaced by the next id of `ids`.
    fn storm(template: &str, ids: impl Iterator<Item = String>) -> Vec<String> {
        ids.take(2_000).map(|id| template.replace("{}", &id)).collect()
    }

    const HEX: &[u8] = b"0123456789abcdef";
    const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const NANOID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    fn uuids(seed: u64) -> impl Iterator<Item = String> {
        ids(HEX, 32, seed).map(|h| {
            format!(
                "{}-{}-4{}-a{}-{}",
                &h[..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..]
            )
        })
    }

    #[test]
    fn storms_of_structured_ids_numbers_addresses_and_quoted_values_form_one_group() {
        let mut n = 0u64;
        let mut next = move || {
            n = n
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            n >> 33
        };
        let mut case = 0;
        let shapes: Vec<(&str, Vec<String>)> = vec![
            (
                "ulid",
                storm("ERROR order 01J{} not found", ids(CROCKFORD, 23, 11)),
            ),
            ("ksuid", storm("ERROR event {} dropped", ids(BASE62, 27, 12))),
            (
                "snowflake",
                storm("ERROR message {} failed to send", ids(b"0123456789", 19, 13)),
            ),
            ("objectid", storm("ERROR document {} not found", ids(HEX, 24, 14))),
            (
                "uuid in any case",
                storm(
                    "ERROR request {} timed out",
                    uuids(15).map(|u| {
                        case += 1;
                        if case % 2 == 0 { u.to_uppercase() } else { u }
                    }),
                ),
            ),
            (
                "aws request and trace ids",
                storm(
                    "ERROR RequestId: {} Error: Runtime exited",
                    uuids(16).zip(ids(HEX, 32, 17)).map(|(u, h)| {
                        format!(
                            "{u} trace Root=1-{}-{};Parent={};Sampled=1",
                            &h[..8],
                            &h[8..],
                            &h[16..]
                        )
                    }),
                ),
            ),
            (
                "ecs task and container ids",
                storm(
                    "ERROR task arn:aws:ecs:eu-west-1:123456789012:task/prod/{} stopped",
                    ids(HEX, 32, 18).map(|h| format!("{h}: container ecs-web-12-web-{} exited", &h[..18])),
                ),
            ),
            (
                "pod names, Kubernetes alphabet",
                storm(
                    "ERROR pod checkout-{} OOMKilled",
                    ids(POD_SUFFIX_ALPHABET, 15, 19).map(|p| format!("{}-{}", &p[..10], &p[10..])),
                ),
            ),
            (
                "numbers with units",
                storm(
                    "ERROR upstream timed out after {} read",
                    (0..).map(|i: u64| match i % 6 {
                        0 => format!("{}ms", next() % 5_000),
                        1 => format!("{}.{}s", next() % 60, next() % 10),
                        2 => format!("{}m{}s", next() % 9, next() % 60),
                        3 => format!("{}µs", next() % 999),
                        4 => format!("{}.{}MB", next() % 900, next() % 10),
                        _ => format!("{}KiB", next() % 4_096),
                    }),
                ),
            ),
            (
                "ipv4 with ports",
                storm(
                    "ERROR connect to {} refused",
                    (0..).map(|_: u64| {
                        format!(
                            "{}.{}.{}.{}:{}",
                            next() % 256,
                            next() % 256,
                            next() % 256,
                            next() % 256,
                            next() % 65_536
                        )
                    }),
                ),
            ),
            (
                "ipv6 with ports",
                storm(
                    "ERROR connect to {} refused",
                    ids(HEX, 16, 20).map(|h| match h.as_bytes()[0] % 3 {
                        0 => format!("[2001:db8:{}:{}::{}]:5432", &h[..4], &h[4..7], &h[7..9]),
                        1 => format!("[fe80::{}:{}:{}]:443", &h[..4], &h[4..8], &h[8..11]),
                        _ => format!(
                            "[{}:{}:{}:{}:{}:{}:{}:{}]:8080",
                            &h[..2],
                            &h[2..4],
                            &h[4..6],
                            &h[6..8],
                            &h[8..10],
                            &h[10..12],
                            &h[12..14],
                            &h[14..]
                        ),
                    }),
                ),
            ),
            (
                "quoted values",
                storm(
                    "ERROR user {} not found",
                    ids(b"abcdefghijklmnopqrstuvwxyz", 9, 21).map(|name| match name.as_bytes()[0] % 3 {
                        0 => format!("'{}'", &name[..3]),
                        1 => format!("\"{name}\""),
                        _ => format!("`{}`", &name[..6]),
                    }),
                ),
            ),
        ];
        for (shape, lines) in shapes {
            assert_eq!(group_sizes(&lines), vec![2_000], "{shape}: {:?}", &lines[..2]);
        }
    }

    /// Ids drawn from letters (and digits) may spell something that reads as a word; each such
    /// line makes a group of its own. The bounds are about twice the lines these seeds leave
    /// apart (nanoid 24, base36 98, base62 1, base64 31, base64url 21, pods 28 and 119); the
    /// normalisation before these rules left 957, 360, 7, 1,016, 1,254, 757 and 614.
    #[test]
    fn storms_of_random_letter_ids_leave_few_lines_apart() {
        let cases: Vec<(&str, Vec<String>, u64)> = vec![
            (
                "nanoid",
                storm("ERROR session {} expired", ids(NANOID, 21, 31)),
                60,
            ),
            (
                "base36",
                storm("ERROR job {} failed: worker lost", ids(BASE36, 8, 32)),
                180,
            ),
            (
                "base62",
                storm("ERROR payment {} declined", ids(BASE62, 22, 33)),
                2,
            ),
            (
                "base64",
                storm(
                    "ERROR invalid token {} for client",
                    ids(BASE64, 22, 34).map(|b| format!("{b}==")),
                ),
                60,
            ),
            (
                "base64url cursor",
                storm("ERROR page cursor {} expired", ids(NANOID, 32, 35)),
                60,
            ),
            (
                "pod names outside the Kubernetes alphabet",
                storm(
                    "ERROR pod checkout-{} OOMKilled",
                    ids(BASE36, 15, 36).map(|p| format!("{}-{}", &p[..10], &p[10..])),
                ),
                60,
            ),
            (
                "pod suffixes outside the Kubernetes alphabet",
                storm("ERROR pod node-exporter-{} evicted", ids(BASE36, 5, 37)),
                240,
            ),
        ];
        for (shape, lines, apart) in cases {
            let sizes = group_sizes(&lines);
            assert!(
                sizes[0] >= 2_000 - apart,
                "{shape}: {} of 2,000 in the main group ({} groups)",
                sizes[0],
                sizes.len()
            );
        }
    }

    #[test]
    fn lines_that_differ_by_one_word_stay_apart() {
        let pairs = [
            (
                "ERROR failed to connect to db",
                "ERROR failed to connect to cache",
            ),
            (
                "ERROR failed to connect to postgres",
                "ERROR failed to connect to mongodb",
            ),
            ("ERROR Connection refused", "ERROR Connection reset"),
            (
                "ERROR java.lang.NullPointerException",
                "ERROR java.lang.IllegalStateException",
            ),
            ("ERROR connect: ECONNREFUSED", "ERROR connect: ETIMEDOUT"),
            (
                "ERROR pod web-7d9f8b6c5-x2k4q OOMKilled",
                "ERROR pod api-7d9f8b6c5-x2k4q OOMKilled",
            ),
            ("ERROR pod db-x2k4q evicted", "ERROR pod mq-x2k4q evicted"),
            (
                "ERROR charge ch_3MqKzW2eZvKYlo2C failed",
                "ERROR charge pi_3MqKzW2eZvKYlo2C failed",
            ),
            (
                r#"ERROR {"msg":"timeout","id":"V1StGXR8_Z5jdHi6B-myT"}"#,
                r#"ERROR {"msg":"refused","id":"V1StGXR8_Z5jdHi6B-myT"}"#,
            ),
            (
                r#"ERROR msg="failed to connect to db""#,
                r#"ERROR msg="failed to connect to cache""#,
            ),
            (
                "ERROR GET /api/v1/users/42 failed",
                "ERROR GET /api/v1/teams/42 failed",
            ),
            ("ERROR took 1200ms in checkout", "ERROR took 1200ms in payments"),
        ];
        for (a, b) in pairs {
            assert_eq!(
                group_sizes(&[a.to_string(), b.to_string()]),
                vec![1, 1],
                "{a} / {b}"
            );
        }
    }

    #[test]
    fn a_storm_mixing_two_templates_gives_two_groups() {
        let mut ulids = ids(CROCKFORD, 23, 41);
        let mut requests = uuids(42);
        let lines: Vec<String> = (0..2_000)
            .map(|i| match i % 2 {
                0 => format!("ERROR order 01J{} not found after {}ms", ulids.next().unwrap(), i),
                _ => format!(
                    "ERROR payment for request {} declined by '{}'",
                    requests.next().unwrap(),
                    i % 7
                ),
            })
            .collect();
        assert_eq!(group_sizes(&lines), vec![1_000, 1_000]);
    }

    #[test]
    fn words_of_any_case_are_not_ids() {
        let words = "Connection refused NullPointerException IllegalStateException database postgres \
            mongodb kubectl systemd ECONNREFUSED ETIMEDOUT SIGKILL OOMKilled CrashLoopBackOff \
            XMLHttpRequest getUserById OAuthToken DynamoDB ElastiCache strength handshake substring \
            abstract constraint instruction northbound Deadline exceeded UNAVAILABLE throttling \
            ThrottlingException AccessDeniedException https httpd nginx mysql rabbitmq zookeeper \
            checkout payments worker scheduler";
        for word in words.split(' ').filter(|w| !w.is_empty()) {
            assert_eq!(norm(word), word);
            assert_eq!(norm(&word.to_uppercase()), word.to_uppercase());
        }
    }

    #[test]
    fn ids_numbers_addresses_and_quoted_values_have_one_shape() {
        assert_eq!(
            norm("took 1200ms reading 3.2MB from [fe80::1]:8443 user 'alice' at 12:00:01: failed"),
            "took # reading # from [#]:# user '*' at #: failed"
        );
        assert_eq!(
            norm("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1 id V1StGXR8_Z5jdHi6B-myT"),
            "Root=#;Sampled=# id #"
        );
        assert_eq!(norm("cursor dGhpcyBpcyBh+c2VjcmV0/Zm9v== next"), "cursor # next");
        // Quoted text, keys and JSON or logfmt values are text, not placeholders.
        assert_eq!(
            norm(r#"{"user":"alice"} msg="failed to connect" 'key': can't"#),
            r#"{"user":"alice"} msg="failed to connect" 'key': can't"#
        );
        assert_eq!(
            norm("/var/log/app-7d9f8b6c5-x2k4q/current v1.2.3"),
            "/var/log/app-#-#/current v#.#"
        );
    }

    #[test]
    fn events_below_the_minimum_are_counted_not_grouped() {
        let events = [
            event(1, 10, "WARN disk at 91%"),
            event(2, 20, "ERROR payment 7 declined"),
            event(3, 30, "INFO started"),
        ];
        let grouped = redact_classify_group(&events, &Redactor::disabled(), Severity::Error);
        assert_eq!((grouped.events, grouped.below_min), (1, 2));
        assert_eq!(grouped.below_min_severity, Severity::Warning);
        assert_eq!(grouped.groups.len(), 1);
        assert_eq!((grouped.first_timestamp, grouped.last_timestamp), (20, 20));
    }
}
