//! The default `FilterPattern` (template.yaml, parameter `FilterPattern`) decides what
//! log-alert ever sees: every failure line it would rate ERROR or worse must pass the filter,
//! and the pattern must be one CloudWatch Logs accepts, since a rejected filter fails the deploy.
//!
//! [`Filter`] evaluates the part of the documented filter syntax Lookout uses, from "Filter
//! pattern syntax for metric filters, subscription filters, filter log events, and Live Tail"
//! and its "Supported regular expressions (regex) syntax" section
//! (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html and
//! regex-expressions.html):
//! - unstructured terms are case-sensitive; `?A ?B` matches either term, `A B` needs both, and
//!   `"a phrase"` matches the phrase;
//! - a regex sits between `%…%` and may contain only alphanumerics, the symbols
//!   `: _ # = @ / ; , -` and the operators `^ $ ? [ ] { } | \ * + .`; no parentheses ("you cannot
//!   use parentheses to define a subpattern"), no multibyte characters; it matches anywhere in
//!   the event (`%AUTHORIZED%` matches "UNAUTHORIZED REQUEST");
//! - at most 2 regex per filter pattern (when combined with other terms) and at most 5 filter
//!   patterns with regex per log group; a filter pattern is at most 1,024 characters
//!   (PutSubscriptionFilter / MetricFilter `filterPattern` length constraint).
//!
//! JSON (`{ $.x = … }`), space-delimited (`[a, b]`) and exclusion (`-term`) patterns are not
//! implemented: the evaluator refuses them rather than guess. Within a regex we also refuse
//! `\` before a letter or digit (`\d`, `\s`): the page documents `\` as the escape operator,
//! so the default relies only on escaping symbols (`\.`, `\[`, `\]`).
//!
//! The corpus is `tests/corpus/failures.txt` and `tests/corpus/benign.txt`, one log line each.

use lookout_shared::severity::{Severity, detect};
use lookout_tests::workspace::root;
use serde_norway::Value;

const MAX_PATTERN_CHARS: usize = 1024;
const MAX_REGEX_PER_PATTERN: usize = 2;
const SYMBOLS: &str = ":_#=@/;,-";
const OPERATORS: &str = "^$?[]{}|\\*+.";

#[derive(Debug)]
enum Term {
    Word(String),
    Phrase(String),
    Regex(regex::Regex),
}

impl Term {
    fn matches(&self, line: &str) -> bool {
        match self {
            Term::Word(w) | Term::Phrase(w) => line.contains(w.as_str()),
            Term::Regex(r) => r.is_match(line),
        }
    }
}

#[derive(Debug)]
struct Filter {
    /// `?A ?B`: any term; `A B`: every term.
    any: bool,
    terms: Vec<Term>,
}

impl Filter {
    fn parse(pattern: &str) -> Result<Filter, String> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!("longer than {MAX_PATTERN_CHARS} characters"));
        }
        let mut terms = Vec::new();
        let mut optional = Vec::new();
        let mut rest = pattern.trim();
        while !rest.is_empty() {
            let (is_optional, body) = match rest.strip_prefix('?') {
                Some(b) => (true, b),
                None => (false, rest),
            };
            let (term, after) = match body.chars().next() {
                Some('"') => {
                    let end = body[1..].find('"').ok_or("unterminated phrase")? + 1;
                    (Term::Phrase(body[1..end].to_string()), &body[end + 1..])
                }
                Some('%') => {
                    let end = body[1..].find('%').ok_or("unterminated regex")? + 1;
                    (Term::Regex(documented_regex(&body[1..end])?), &body[end + 1..])
                }
                Some('{' | '[' | '-') => return Err(format!("unsupported pattern form at {body:.10}")),
                _ => {
                    let end = body.find(char::is_whitespace).unwrap_or(body.len());
                    (Term::Word(body[..end].to_string()), &body[end..])
                }
            };
            terms.push(term);
            optional.push(is_optional);
            rest = after.trim_start();
        }
        let regexes = terms.iter().filter(|t| matches!(t, Term::Regex(_))).count();
        if regexes > MAX_REGEX_PER_PATTERN {
            return Err(format!(
                "{regexes} regex in one pattern; at most {MAX_REGEX_PER_PATTERN}"
            ));
        }
        let any = optional.iter().all(|&o| o);
        if !any && optional.iter().any(|&o| o) {
            return Err("mixes ?terms and required terms".into());
        }
        Ok(Filter { any, terms })
    }

    fn matches(&self, line: &str) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        if self.any {
            self.terms.iter().any(|t| t.matches(line))
        } else {
            self.terms.iter().all(|t| t.matches(line))
        }
    }

    fn regex_count(&self) -> usize {
        self.terms.iter().filter(|t| matches!(t, Term::Regex(_))).count()
    }
}

/// A regex that uses only what the documentation lists, compiled with the `regex` crate (whose
/// syntax is a superset of that list, with the same meaning for it).
fn documented_regex(body: &str) -> Result<regex::Regex, String> {
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if !c.is_ascii() {
            return Err(format!("multibyte character at {at}"));
        }
        if c == '(' || c == ')' {
            return Err(format!("parenthesis at {at}: subpatterns are not supported"));
        }
        if !(c.is_ascii_alphanumeric() || SYMBOLS.contains(c) || OPERATORS.contains(c)) {
            return Err(format!("character {c:?} at {at} is not supported"));
        }
        if c == '\\' {
            match chars.next() {
                Some((_, e)) if SYMBOLS.contains(e) || OPERATORS.contains(e) => {}
                _ => return Err(format!("\\ at {at} escapes no symbol or operator")),
            }
        }
    }
    if body.is_empty() {
        return Err("empty regex".into());
    }
    regex::Regex::new(body).map_err(|e| e.to_string())
}

fn default_pattern() -> String {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let template: Value = serde_norway::from_str(&text).expect("template.yaml is YAML");
    template["Parameters"]["FilterPattern"]["Default"]
        .as_str()
        .expect("FilterPattern default")
        .to_string()
}

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
    assert_eq!(filter.terms.len(), 1);
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
