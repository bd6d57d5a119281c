//! Storm grouping: log lines that differ only in numbers, hex ids, UUIDs or IP addresses
//! collapse into one group with a count, so 2,000 near-identical lines read as one.
//!
//! Normalisation is a single pass over the bytes (no regex, no backtracking); keys are built
//! in one reused buffer and only copied when a new group starts.

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

/// The suppression windows' keys, one per group of the first `max` (most severe first): the log
/// group and the line's shape, so a storm's batches share them whatever numbers and ids they
/// carry. Suppression decides per group: one line cannot stand for, and hide, another.
pub(crate) fn fingerprints(log_group: &str, grouped: &Grouped<'_>, max: usize) -> Vec<Fingerprint> {
    let mut shape = String::new();
    grouped
        .groups
        .iter()
        .take(max)
        .map(|g| {
            shape.clear();
            normalize_into(&g.message, &mut shape);
            Fingerprint::new("log-alert", &[log_group, &shape])
        })
        .collect()
}

/// Writes the shape of `message` into `out`: UUIDs become `<uuid>`, hex ids and numbers `#`.
pub(crate) fn normalize_into(message: &str, out: &mut String) {
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphanumeric() {
            if is_uuid_at(bytes, i) {
                out.push_str("<uuid>");
                i += 36;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let before = if start > 0 { bytes[start - 1] } else { b' ' };
            push_word(&message[start..i], before, out);
        } else {
            // Copy everything up to the next ASCII alphanumeric: ASCII bytes are always
            // character boundaries, so multibyte text is copied whole.
            let start = i;
            i += 1;
            while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            out.push_str(&message[start..i]);
        }
    }
}

/// The alphabet Kubernetes (and ECS-style tooling) draws pod and ReplicaSet suffixes from: no
/// vowels, no `0 1 3`, so suffixes never spell words.
const POD_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Whether a run of ASCII letters and digits is an id rather than a word: hex (with a digit, or 8+
/// hex letters like `effddeea`), letters and digits interleaved (`x2k4q`, `3MqKz9`), a long
/// mixed-case run holding digits or switching case every few letters (base62, `ch_3MqKzW…`), a
/// long run after `_` (`cus_NffrFeUfNV2Hib`), or a vowel-free pod suffix after `-`.
fn is_id(word: &str, before: u8) -> bool {
    let bytes = word.as_bytes();
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    if bytes.iter().all(u8::is_ascii_hexdigit) && (has_digit || bytes.len() >= 8) {
        return true;
    }
    // Letter/digit alternations: `req42` and `17ms` have one, `x2k4q` four.
    let switches = bytes
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    if has_digit && switches >= 2 {
        return true;
    }
    let upper = bytes.iter().any(u8::is_ascii_uppercase);
    let lower = bytes.iter().any(u8::is_ascii_lowercase);
    if has_digit && upper && lower && bytes.len() >= 10 {
        return true;
    }
    // CamelCase words switch case about twice per word (`IllegalStateException`: 4 in 21);
    // random base62 about every other letter.
    let case_switches = bytes
        .windows(2)
        .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
        .count();
    if bytes.len() >= 16 && upper && lower && case_switches * 3 >= bytes.len() {
        return true;
    }
    if before == b'_' && bytes.len() >= 14 {
        return true;
    }
    before == b'-'
        && matches!(bytes.len(), 5 | 8..=10)
        && bytes.iter().all(|b| POD_SUFFIX_ALPHABET.contains(b))
}

fn push_word(word: &str, before: u8, out: &mut String) {
    let hex_body = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X"));
    if hex_body.is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())) {
        out.push('#');
        return;
    }
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    if is_id(word, before) {
        out.push('#');
        return;
    }
    if !has_digit {
        out.push_str(word);
        return;
    }
    // `req42` → `req#`: keep the letters, drop the numbers.
    let mut in_digits = false;
    for c in word.chars() {
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
            "user # req <uuid> from #.#.#.#:# took #ms"
        );
        assert_eq!(norm("trace 0x7ffd5e8a1c2b id=deadbeefcafebabe"), "trace # id=#");
        assert_eq!(norm("ip fe80::1ff:fe23:4567:890a"), "ip #::#:#:#:#");
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
            "NullPointerException req# took #ms via http utf# AbstractSingletonProxyFactoryBean"
        );
        assert_eq!(
            norm("http_requests_errors_total max-retries"),
            "http_requests_errors_total max-retries"
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
