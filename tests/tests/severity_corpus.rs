//! Severity detection across the logging ecosystem (issue 22), on a table of lines shaped as
//! the tools print them: `tests/corpus/severity/failures.tsv` (each must be rated ERROR or
//! worse, and pass the template's default `FilterPattern`) and `benign.tsv` (at most 2% may be
//! rated ERROR or worse). One case per line: `format<TAB>line`; the line may hold tabs, and
//! `\x1b` in it stands for the ESC byte of an ANSI colour code. `#` starts a comment line.

use lookout_shared::severity::{Severity, detect};
use lookout_tests::filter_pattern::{Filter, MAX_PATTERN_CHARS, default_pattern};
use lookout_tests::workspace::root;
use std::collections::BTreeMap;

/// Every format tag the corpus uses; a tag outside this list is a typo.
const FORMATS: &[&str] = &[
    "ansi", "apache", "dotnet", "ecs", "envoy", "go", "java", "journald", "json", "klog", "lambda", "logfmt",
    "mysql", "nginx", "node", "oom", "pino", "postgres", "python", "rust", "segfault", "syslog",
];
/// Lines in no particular format: counts of none, paths, names that contain "error".
const BENIGN_ONLY: &[&str] = &["plain"];

#[derive(Debug)]
struct Case {
    format: String,
    line: String,
}

fn corpus(name: &str) -> Vec<Case> {
    let path = root().join("tests/corpus/severity").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (format, line) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{name}: no format tag: {l}"));
            Case {
                format: format.to_string(),
                line: line.replace("\\x1b", "\x1b"),
            }
        })
        .collect()
}

fn per_format(cases: &[Case]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for case in cases {
        *counts.entry(case.format.as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn the_corpus_covers_every_format() {
    let failures = corpus("failures.tsv");
    let benign = corpus("benign.tsv");
    assert!(failures.len() >= 200, "{} failure lines", failures.len());
    assert!(benign.len() >= 200, "{} benign lines", benign.len());
    let failure_counts = per_format(&failures);
    let benign_counts = per_format(&benign);
    for format in failure_counts.keys() {
        assert!(
            FORMATS.contains(format),
            "unknown format tag {format:?} in failures.tsv"
        );
    }
    for format in benign_counts.keys() {
        assert!(
            FORMATS.contains(format) || BENIGN_ONLY.contains(format),
            "unknown format tag {format:?} in benign.tsv"
        );
    }
    for format in FORMATS {
        let failing = failure_counts.get(format).copied().unwrap_or(0);
        let fine = benign_counts.get(format).copied().unwrap_or(0);
        assert!(failing >= 7, "{format}: {failing} failure lines");
        assert!(fine >= 3, "{format}: {fine} benign lines");
    }
}

#[test]
fn every_failure_line_is_rated_error_or_worse() {
    let failures = corpus("failures.tsv");
    let low: Vec<(Severity, &str, &str)> = failures
        .iter()
        .map(|c| (detect(&c.line), c.format.as_str(), c.line.as_str()))
        .filter(|(s, _, _)| *s < Severity::Error)
        .collect();
    assert!(low.is_empty(), "rated below ERROR: {low:#?}");
}

#[test]
fn at_most_two_percent_of_benign_lines_are_rated_error_or_worse() {
    let benign = corpus("benign.tsv");
    let high: Vec<(Severity, &str, &str)> = benign
        .iter()
        .map(|c| (detect(&c.line), c.format.as_str(), c.line.as_str()))
        .filter(|(s, _, _)| *s >= Severity::Error)
        .collect();
    // 2%: high / total <= 1 / 50.
    assert!(
        high.len() * 50 <= benign.len(),
        "{} of {} benign lines rated ERROR or worse: {high:#?}",
        high.len(),
        benign.len()
    );
}

#[test]
fn the_default_filter_pattern_passes_every_failure_line() {
    let pattern = default_pattern();
    let filter = Filter::parse(&pattern).unwrap_or_else(|e| panic!("{e}: {pattern}"));
    let failures = corpus("failures.tsv");
    let dropped: Vec<&Case> = failures.iter().filter(|c| !filter.matches(&c.line)).collect();
    assert!(dropped.is_empty(), "the filter drops failures: {dropped:#?}");
}

/// CloudWatch Logs refuses a pattern over 1,024 characters, with a character outside the
/// documented set, with parentheses, or with more than 2 regex; [`Filter::parse`] refuses the
/// same. One standalone regex also counts once against the 5 regex patterns of a log group.
#[test]
fn the_default_filter_pattern_stays_within_cloudwatch_limits() {
    let pattern = default_pattern();
    assert!(
        pattern.chars().count() <= MAX_PATTERN_CHARS,
        "{} characters",
        pattern.chars().count()
    );
    let filter = Filter::parse(&pattern).unwrap_or_else(|e| panic!("{e}: {pattern}"));
    assert_eq!(filter.regex_count(), 1);
    assert_eq!(filter.term_count(), 1);
}

/// The shapes issue 22 reproduced as dropped or under-rated, written out by hand.
#[test]
fn the_reported_shapes_are_rated_and_delivered() {
    let filter = Filter::parse(&default_pattern()).unwrap_or_else(|e| panic!("{e}"));
    for (line, expected) in [
        ("\x1b[31mERROR\x1b[0m payment capture failed", Severity::Error),
        ("\x1b[1;31mERROR:\x1b[0m could not open queue.db", Severity::Error),
        (
            "time=2024-11-24T16:00:00Z level=\x1b[31merror\x1b[0m msg=\"flush failed\"",
            Severity::Error,
        ),
        (
            "E1124 16:00:00.000000       1 reflector.go:138] failed to list *v1.Pod: unauthorized",
            Severity::Error,
        ),
        (
            "F1124 16:00:00.000000       1 server.go:269] failed to run Kubelet",
            Severity::Critical,
        ),
        (
            "Killed process 4242 (java) total-vm:8123456kB, anon-rss:4023412kB, file-rss:0kB: out of memory",
            Severity::Error,
        ),
        (
            r#"{"time":"2024-11-24T16:00:03.118Z","type":"platform.report","record":{"requestId":"6f7f0961","metrics":{"durationMs":3000.0},"status":"timeout"}}"#,
            Severity::Error,
        ),
    ] {
        assert_eq!(detect(line), expected, "{line:?}");
        assert!(filter.matches(line), "the filter drops {line:?}");
    }
}
