//! The secret corpus (`secrets-corpus.json`) through the public redaction API: every case comes
//! out exactly as written by hand; no positive's secret is left; every negative is unchanged;
//! every known gap still leaks what SECURITY.md says it leaks.
//! Other crates' tests read the same file to check each output format (use `secrets`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use lookout_shared::redact::Redactor;
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    positives: usize,
    negatives: usize,
    false_positives: usize,
    gaps: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: String,
    expected: String,
    secrets: Vec<String>,
    redactions: usize,
    /// Accepted over-redaction: why it is redacted although not a secret.
    false_positive: Option<String>,
    /// A known leak: why it is not covered, and what survives.
    gap: Option<String>,
    #[serde(default)]
    leaks: Vec<String>,
}

fn corpus() -> Corpus {
    serde_json::from_str(include_str!("secrets-corpus.json")).unwrap()
}

#[test]
fn the_corpus_has_sixty_shapes_or_more() {
    let corpus = corpus();
    let count = |f: fn(&Case) -> bool| corpus.cases.iter().filter(|c| f(c)).count();
    assert_eq!(count(|c| !c.secrets.is_empty()), corpus.positives);
    assert_eq!(count(|c| c.false_positive.is_some()), corpus.false_positives);
    assert_eq!(count(|c| c.gap.is_some()), corpus.gaps);
    let negatives = count(|c| c.secrets.is_empty() && c.false_positive.is_none() && c.gap.is_none());
    assert_eq!(negatives, corpus.negatives);
    assert!(corpus.positives + corpus.negatives >= 60 && corpus.positives >= 40 && corpus.negatives >= 20);
    for case in &corpus.cases {
        let kinds = [
            !case.secrets.is_empty(),
            case.false_positive.is_some(),
            case.gap.is_some(),
        ];
        assert!(
            kinds.iter().filter(|k| **k).count() <= 1,
            "{}: one kind per case",
            case.name
        );
        if !case.secrets.is_empty() || case.false_positive.is_some() {
            assert!(case.redactions > 0, "{}", case.name);
        }
        if kinds == [false; 3] {
            assert_eq!(
                (case.expected.as_str(), case.redactions),
                (case.input.as_str(), 0),
                "{}",
                case.name
            );
        }
        assert_eq!(case.gap.is_some(), !case.leaks.is_empty(), "{}", case.name);
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
        // A gap that no longer leaks is good news: move the case to the positives and take
        // the line out of SECURITY.md's "Not covered".
        for leak in &case.leaks {
            if !out.contains(leak.as_str()) {
                failures.push(format!("{}: the known gap {leak:?} is now covered", case.name));
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

proptest::proptest! {
    /// A positive keeps losing its secrets when other lines of arbitrary text surround it in the
    /// same message (a multi-line event, or text the logger put before and after).
    #[test]
    fn a_positive_between_arbitrary_lines_still_loses_its_secrets(
        pick in 0usize..10_000,
        before in "[ -~\t]{0,40}",
        after in "[ -~\t]{0,40}",
    ) {
        thread_local! {
            static SETUP: (Redactor, Vec<Case>) = (
                Redactor::built_in(),
                corpus().cases.into_iter().filter(|c| !c.secrets.is_empty()).collect(),
            );
        }
        SETUP.with(|(redactor, positives)| {
            let case = &positives[pick % positives.len()];
            let text = format!("{before}\n{}\n{after}", case.input);
            let (out, _) = redactor.redact(&text);
            for secret in &case.secrets {
                proptest::prop_assert!(!out.contains(secret.as_str()), "{}: {secret:?} in {out:?}", case.name);
            }
            Ok(())
        })?;
    }
}
