//! The secret corpus (`secrets-corpus.json`) through the public redaction API: every positive
//! comes out exactly as written by hand with no secret left, every negative unchanged.
//! Other crates' tests read the same file to check each output format.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use lookout_shared::redact::Redactor;
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    positives: usize,
    negatives: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: String,
    expected: String,
    secrets: Vec<String>,
    redactions: usize,
}

fn corpus() -> Corpus {
    serde_json::from_str(include_str!("secrets-corpus.json")).unwrap()
}

#[test]
fn the_corpus_has_sixty_shapes_or_more() {
    let corpus = corpus();
    let positives = corpus.cases.iter().filter(|c| c.redactions > 0).count();
    assert_eq!(positives, corpus.positives);
    assert_eq!(corpus.cases.len() - positives, corpus.negatives);
    assert!(corpus.cases.len() >= 60 && corpus.positives >= 40 && corpus.negatives >= 20);
    for case in &corpus.cases {
        // A positive names what must disappear; a negative is its own expected output.
        assert_eq!(case.redactions > 0, !case.secrets.is_empty(), "{}", case.name);
        assert_eq!(case.redactions == 0, case.input == case.expected, "{}", case.name);
    }
}

fn check(redactor: &Redactor, which: &str) {
    let mut failures = Vec::new();
    for case in corpus().cases {
        let (out, n) = redactor.redact(&case.input);
        if out != case.expected || n != case.redactions {
            failures.push(format!(
                "{}: {:?}\n  got      {:?} ({n})\n  expected {:?} ({})",
                case.name, case.input, out, case.expected, case.redactions
            ));
        }
        for secret in &case.secrets {
            if out.contains(secret.as_str()) {
                failures.push(format!("{}: {secret:?} survived in {out:?}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{which}:\n{}", failures.join("\n"));
}

#[test]
fn every_secret_shape_is_redacted_exactly_and_every_negative_left_alone() {
    check(&Redactor::built_in(), "built_in");
}

#[test]
fn operator_patterns_do_not_change_the_built_in_results() {
    check(
        &Redactor::new(&[r"card=(?P<secret>\d{12,19})".into()]).unwrap(),
        "with an extra pattern",
    );
}

#[test]
fn redaction_is_idempotent_on_the_corpus() {
    // A line redacted twice (log-alert re-reading its own output, a retry) stays the same,
    // and the second pass counts nothing.
    let redactor = Redactor::built_in();
    for case in corpus().cases {
        let (out, n) = redactor.redact(&case.expected);
        assert_eq!((out.as_ref(), n), (case.expected.as_str(), 0), "{}", case.name);
    }
}
