//! The default `FilterPattern` (template.yaml, parameter `FilterPattern`) decides what
//! log-alert ever sees: every failure line it would rate ERROR or worse must pass the filter,
//! and the pattern must be one CloudWatch Logs accepts, since a rejected filter fails the deploy.
//! The evaluator of CloudWatch's filter semantics, and the limits it checks, are in
//! tests/src/filter_pattern.rs.
//!
//! The corpus is `tests/corpus/failures.txt` and `tests/corpus/benign.txt`, one log line each;
//! the larger per-format corpus of tests/tests/severity_corpus.rs is `tests/corpus/severity/`.

use lookout_shared::severity::{Severity, detect};
use lookout_tests::filter_pattern::{Filter, MAX_PATTERN_CHARS, default_pattern};
use lookout_tests::workspace::root;

fn corpus(name: &str) -> Vec<String> {
    let path = root().join("tests/corpus").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn the_evaluator_follows_the_documented_examples() {
    let authorized = Filter::parse("%AUTHORIZED%").unwrap();
    assert!(authorized.matches("[ERROR 401] UNAUTHORIZED REQUEST"));
    assert!(authorized.matches("[SUCCESS 200] AUTHORIZED REQUEST"));
    assert!(!authorized.matches("authorized"), "case-sensitive");
    let either = Filter::parse("%[Ee]rror|[Ff]ail%").unwrap();
    assert!(either.matches("Error") && either.matches("a fail") && !either.matches("ERROR"));
    let terms = Filter::parse("?ERROR ?WARN").unwrap();
    assert!(terms.matches("WARN slow") && !terms.matches("error"));
    let both = Filter::parse("ERROR 404").unwrap();
    assert!(both.matches("ERROR at 404") && !both.matches("ERROR at 500"));
    let phrase = Filter::parse(r#"?"Task timed out""#).unwrap();
    assert!(phrase.matches("x Task timed out after 3.00 seconds") && !phrase.matches("Task timed"));
    // The page's rejected example, and the documented restrictions.
    assert!(Filter::parse("%something!%").is_err());
    assert!(Filter::parse("%(a|b)c%").is_err());
    assert!(Filter::parse("%café%").is_err());
    assert!(
        Filter::parse("%a b%").is_err(),
        "space is not in the documented set"
    );
    assert!(Filter::parse("%a% %b% %c%").is_err(), "more than 2 regex");
    assert!(Filter::parse(&format!("%{}%", "a".repeat(MAX_PATTERN_CHARS))).is_err());
    assert!(
        Filter::parse(r"%\d+%").is_err(),
        "only symbol escapes are relied on"
    );
    assert!(
        Filter::parse(r"%10\.10\.0\.1%")
            .unwrap()
            .matches("from 10.10.0.1")
    );
    // `^` anchors to the start of the event; `\[` is a bracket, also inside a class.
    let anchored = Filter::parse("%^fail:|[\\[:]error\\]%").unwrap();
    assert!(anchored.matches("fail: Kestrel[13]") && !anchored.matches("x fail: y"));
    assert!(anchored.matches("[proxy:error] x") && anchored.matches("[error] x"));
    assert!(!anchored.matches("error] x"));
    assert!(
        Filter::parse("{ $.level = \"error\" }").is_err(),
        "JSON patterns are not implemented"
    );
}

#[test]
fn the_default_pattern_is_one_documented_regex() {
    let pattern = default_pattern();
    let filter = Filter::parse(&pattern).unwrap_or_else(|e| panic!("{e}: {pattern}"));
    // One standalone regex: it counts once against the 5 regex filters a log group may have,
    // and leaves room for one more subscription filter (2 per log group) of the operator's.
    assert_eq!(filter.regex_count(), 1);
    assert_eq!(filter.term_count(), 1);
    assert!(pattern.starts_with('%') && pattern.ends_with('%'));
}

#[test]
fn the_default_pattern_passes_every_failure_line() {
    let filter = Filter::parse(&default_pattern()).unwrap();
    let failures = corpus("failures.txt");
    assert!(failures.len() >= 40, "{} failure lines", failures.len());
    let missed: Vec<&String> = failures.iter().filter(|l| !filter.matches(l)).collect();
    assert!(missed.is_empty(), "the filter drops failures: {missed:#?}");
}

#[test]
fn the_default_pattern_passes_no_benign_line() {
    let filter = Filter::parse(&default_pattern()).unwrap();
    let benign = corpus("benign.txt");
    assert!(benign.len() >= 20, "{} benign lines", benign.len());
    let passed: Vec<&String> = benign.iter().filter(|l| filter.matches(l)).collect();
    assert!(passed.is_empty(), "the filter passes noise: {passed:#?}");
}

/// The filter is a superset of what log-alert alerts on: each failure line it passes is one
/// log-alert rates ERROR or worse (`lookout_shared::severity::detect`).
#[test]
fn log_alert_rates_every_failure_line_error_or_worse() {
    let low: Vec<(Severity, String)> = corpus("failures.txt")
        .into_iter()
        .map(|l| (detect(&l), l))
        .filter(|(s, _)| *s < Severity::Error)
        .collect();
    assert!(low.is_empty(), "rated below ERROR: {low:#?}");
}

/// What the previous default (case-sensitive terms) let through: many real failures never
/// reached log-alert.
#[test]
fn the_previous_default_dropped_failures_the_new_one_passes() {
    let old = Filter::parse(r#"?ERROR ?FATAL ?CRITICAL ?Exception ?Traceback ?panicked ?"Task timed out""#)
        .unwrap();
    let missed: Vec<String> = corpus("failures.txt")
        .into_iter()
        .filter(|l| !old.matches(l))
        .collect();
    for expected in [
        "panic: runtime error: invalid memory address or nil pointer dereference",
        "Runtime.ExitError",
        "SEVERE: Servlet.service() for servlet [dispatcherServlet] threw exception",
        "crit: Microsoft.AspNetCore.Hosting.Diagnostics[6]",
        r#"{"level":"error","message":"db down","service":"api","timestamp":"2024-05-01T10:00:00.000Z"}"#,
    ] {
        assert!(
            missed.iter().any(|m| m == expected),
            "old default passes {expected}"
        );
    }
}
