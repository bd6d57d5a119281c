#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use super::gate::{AnyLiteral, card_candidate, longest_mixed_run};
use super::*;

#[derive(serde::Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    input: String,
    /// The rules (comma-separated ids) that must catch a positive.
    rule: Option<String>,
}

fn corpus() -> Vec<Case> {
    let corpus: Corpus = serde_json::from_str(include_str!("../../tests/secrets-corpus.json")).unwrap();
    assert!(corpus.cases.len() >= 60);
    corpus.cases
}

fn corpus_inputs() -> Vec<String> {
    corpus().into_iter().map(|c| c.input).collect()
}

#[test]
fn each_positive_is_caught_by_the_rule_it_names() {
    let specs = rules::specs();
    let redactor = ungated();
    for case in corpus() {
        let Some(ids) = case.rule else { continue };
        for id in ids.split(", ") {
            let i = specs
                .iter()
                .position(|s| s.id == id)
                .unwrap_or_else(|| panic!("{}: no rule {id}", case.name));
            let rule = &redactor.rules[i];
            let mut n = 0;
            assert!(
                apply(rule, rule.regex().unwrap(), &case.input, &mut n).is_some(),
                "{}: rule {id} alone redacts nothing in {:?}",
                case.name,
                case.input
            );
        }
    }
}

/// The same rules with no gate: every rule runs on every line.
fn ungated() -> Redactor {
    Redactor {
        gate: None,
        ..Redactor::built_in()
    }
}

/// What the gate must never change: the gated and ungated outputs agree.
fn assert_gate_keeps(line: &str, gated: &Redactor, ungated: &Redactor) {
    assert_eq!(gated.redact(line), ungated.redact(line), "{line:?}");
}

#[test]
fn the_gate_never_drops_a_line_a_rule_redacts_on_the_corpus() {
    let (gated, ungated) = (Redactor::built_in(), ungated());
    assert!(gated.gate.is_some());
    for input in corpus_inputs() {
        assert_gate_keeps(&input, &gated, &ungated);
        // Upper-cased and lower-cased too: the gate lowercases, some rules are case-sensitive.
        assert_gate_keeps(&input.to_uppercase(), &gated, &ungated);
        assert_gate_keeps(&input.to_lowercase(), &gated, &ungated);
    }
}

#[test]
fn every_rule_match_contains_one_of_its_gate_words() {
    // Stronger than the outcome check above: per rule, on the corpus, so a rule whose literal
    // list is wrong fails here even when another rule happens to redact the same line.
    let specs = rules::specs();
    let redactor = ungated();
    let mut exercised = vec![false; specs.len()];
    for input in corpus_inputs() {
        let lower = input.to_ascii_lowercase();
        for (i, (spec, rule)) in specs.iter().zip(&redactor.rules).enumerate() {
            let regex = rule.regex().unwrap();
            let mut n = 0;
            if apply(rule, regex, &input, &mut n).is_none() {
                continue;
            }
            exercised[i] = true;
            match spec.gate {
                rules::Gate::Words(words) => assert!(
                    words.iter().any(|w| lower.contains(w)),
                    "{} redacts {input:?} without any of {words:?}",
                    spec.id
                ),
                rules::Gate::WordsAndLineBreak(words) => assert!(
                    words.iter().any(|w| lower.contains(w)) && input.contains('\n'),
                    "{} redacts {input:?} without a line break and one of {words:?}",
                    spec.id
                ),
                rules::Gate::Run(min) => assert!(
                    longest_mixed_run(input.as_bytes(), min) >= min,
                    "{} redacts {input:?} without a run of {min}",
                    spec.id
                ),
                rules::Gate::CardNumber => assert!(
                    card_candidate(input.as_bytes()),
                    "{} redacts {input:?} without a card-like digit run",
                    spec.id
                ),
            }
        }
    }
    let idle: Vec<_> = specs
        .iter()
        .zip(exercised)
        .filter(|(_, hit)| !hit)
        .map(|(s, _)| s.id)
        .collect();
    assert!(idle.is_empty(), "rules with no corpus case: {idle:?}");
}

#[test]
fn gate_literals_are_lowercase_and_fit_the_simd_searcher() {
    for spec in rules::specs() {
        if let rules::Gate::Words(words) | rules::Gate::WordsAndLineBreak(words) = spec.gate {
            for w in words {
                assert_eq!(*w, w.to_ascii_lowercase(), "{}", spec.id);
                assert!(!w.is_empty());
            }
        }
    }
    let gate = Redactor::built_in().gate.unwrap();
    // Teddy, the packed searcher, takes at most 64 literals; beyond, the gate would fall back to
    // an automaton on every CPU.
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("ssse3") {
        assert!(matches!(gate.any, AnyLiteral::Packed(_)));
    }
    assert!(rules::specs().len() <= 64);
    // The mark itself never wakes a rule up.
    assert_eq!(gate.candidates(MARK), 0);
}

/// The automaton the gate falls back to where the CPU has no packed searcher answers as the
/// packed one does: on the corpus, on each literal, on each literal with a byte cut, and on
/// texts shorter than Teddy's minimum (the packed searcher's Rabin-Karp path).
#[test]
fn the_fallback_literal_search_agrees_with_the_packed_one() {
    let gate = Redactor::built_in().gate.unwrap();
    let fallback = AnyLiteral::automaton(&gate.literals).unwrap();
    assert!(matches!(fallback, AnyLiteral::Automaton(_)));
    let mut texts: Vec<String> = corpus_inputs().iter().map(|t| t.to_ascii_lowercase()).collect();
    for literal in &gate.literals {
        texts.push((*literal).to_string());
        texts.push(format!("x {literal} y"));
        texts.push(literal[1..].to_string());
        texts.push(literal[..literal.len() - 1].to_string());
    }
    texts.extend(["", "a", "pw", "key", "ERROR request 3 failed"].map(String::from));
    let mut matched = 0;
    for text in &texts {
        let packed = gate.any.is_match(text.as_bytes());
        assert_eq!(packed, fallback.is_match(text.as_bytes()), "{text:?}");
        matched += usize::from(packed);
    }
    // Both answers occur.
    assert!(matched > gate.literals.len() && matched < texts.len());
}

#[test]
fn every_built_in_rule_compiles() {
    let errors: Vec<String> = rules::specs()
        .iter()
        .filter_map(|spec| {
            Regex::new(&spec.pattern)
                .err()
                .map(|e| format!("{}: {e}", spec.id))
        })
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn rules_compile_only_when_a_line_needs_them() {
    let r = Redactor::built_in();
    let compiled = |r: &Redactor| r.rules.iter().filter(|rule| rule.regex.get().is_some()).count();
    assert_eq!(compiled(&r), 0);
    r.redact("ERROR payment provider timed out after 3000 ms");
    assert_eq!(compiled(&r), 0, "the gate clears a line without secret shapes");
    r.redact("using key AKIAIOSFODNN7EXAMPLE");
    // The access key id rule and the key/value rules (the word "key").
    let after_one = compiled(&r);
    assert!((1..=8).contains(&after_one), "{after_one}");
    r.redact("using key AKIAIOSFODNN7EXAMPLE");
    assert_eq!(compiled(&r), after_one);
}

#[test]
fn the_next_line_rule_runs_only_on_text_with_a_line_break() {
    let r = Redactor::built_in();
    let yaml = rules::specs()
        .iter()
        .position(|s| s.id == "yaml-next-line")
        .unwrap();
    // Most log events are one line: the key word wakes the key/value rules, not this one.
    r.redact("token=abc123 password: hunter2");
    assert!(r.rules[yaml].regex.get().is_none());
    assert_eq!(r.redact("password:\n  hunter2").0, "password:\n  [REDACTED]");
    assert!(r.rules[yaml].regex.get().is_some());
}

#[test]
fn rules_that_cannot_compile_withhold_the_whole_line() {
    let broken = || Rule {
        pattern: Cow::Borrowed("(secret"),
        regex: OnceLock::new(),
        group: None,
        check: None,
    };
    // Behind a gate that selects it.
    let mut r = Redactor::built_in();
    let kv = rules::specs().iter().position(|s| s.id == "key-value").unwrap();
    r.rules[kv] = broken();
    assert_eq!(r.redact("the secret: 42"), (Cow::Borrowed(MARK), 1));
    assert_eq!(r.redact("nothing here").1, 0, "the gate did not select it");
    // Without a gate.
    let r = Redactor {
        rules: vec![broken()],
        gate: None,
        builtin: 1,
    };
    assert_eq!(r.redact("nothing here"), (Cow::Borrowed(MARK), 1));
}

#[test]
fn extra_patterns() {
    let r = Redactor::new(&[
        r"card=(?P<secret>\d{12,19})".into(),
        r"SSN \d{3}-\d{2}-\d{4}".into(),
    ])
    .unwrap();
    assert_eq!(
        r.redact("card=4111111111111111 declined").0,
        "card=[REDACTED] declined"
    );
    assert_eq!(r.redact("SSN 123-45-6789 on file").0, "[REDACTED] on file");
    // Built-in rules still apply, behind their gate.
    assert_eq!(r.redact("password=hunter2").0, "password=[REDACTED]");
    let e = Redactor::new(&["(unclosed".into()]).err().unwrap();
    assert!(e.to_string().contains("(unclosed"), "{e}");
}

#[test]
fn an_extra_pattern_matching_the_empty_string_is_refused() {
    for pattern in ["", "x*", "^"] {
        let e = Redactor::new(&[pattern.into()]).err().unwrap();
        assert!(matches!(e, PatternError::MatchesEmpty { .. }), "{pattern:?}: {e}");
    }
}

#[test]
fn leaves_ordinary_lines_alone_and_borrows() {
    let r = Redactor::built_in();
    let line = "ERROR connection to 10.0.0.1:5432 refused after 3 attempts — réessayer";
    let (out, n) = r.redact(line);
    assert!(matches!(out, Cow::Borrowed(_)));
    assert_eq!(n, 0);
}

#[test]
fn disabled_redacts_nothing() {
    assert_eq!(Redactor::disabled().redact("password=x").1, 0);
}

#[test]
fn mixed_runs() {
    assert_eq!(longest_mixed_run(b"abc ABC123def xyz", 5), 9);
    assert_eq!(longest_mixed_run(b"ABC123def", 10), 0);
    assert_eq!(
        longest_mixed_run(b"abcdef0123456789abcdef", 5),
        0,
        "no upper case"
    );
    assert_eq!(longest_mixed_run(b"ABCDEFGHIJ", 5), 0, "no digit");
    assert_eq!(longest_mixed_run(b"A1", 0), 2);
    assert_eq!(longest_mixed_run(b"A1 B2C3", 1), 4);
    assert_eq!(longest_mixed_run(b"A1", usize::MAX), 0);
    assert_eq!(longest_mixed_run(b"", 3), 0);
    // The run the probe lands in starts before the last byte outside the set seen so far.
    assert_eq!(longest_mixed_run(b"x a bcdefgh1J", 8), 9);
}

#[test]
fn card_gate_wakes_on_card_shaped_digit_runs_only() {
    for yes in [
        "4111111111111111",
        "pan=4111 1111 1111 1111.",
        "3782-822463-10005",
        // The card starts a group inside a longer run.
        "1234 4111111111111111",
        "4222222222222",
    ] {
        assert!(card_candidate(yes.as_bytes()), "{yes:?}");
    }
    for no in [
        // Epoch milliseconds, microseconds and nanoseconds start with 1.
        "ts=1714557600124 us=1714557600124000 ns=1714557600123456781",
        "411111111111",
        "2024-05-01 10:00:00.123 order 98765432",
        "4111_1111_1111_1111",
        "",
        // 13 digits, but the only group starting 2-6 has 12 after it.
        "1 411111111111",
        // Two spaces: not one number.
        "4111  1111 1111 1111",
    ] {
        assert!(!card_candidate(no.as_bytes()), "{no:?}");
    }
}

/// The plain definition of `card_candidate`, position by position: a byte is in a run if it is
/// a digit, or a space or dash between two digits.
fn card_candidate_reference(bytes: &[u8]) -> bool {
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let in_run = |i: usize| {
        digit(i) || (i > 0 && (bytes[i] == b' ' || bytes[i] == b'-') && digit(i - 1) && digit(i + 1))
    };
    (0..bytes.len()).any(|i| {
        matches!(bytes[i], b'2'..=b'6')
            && (i == 0 || !digit(i - 1))
            && (i..bytes.len())
                .take_while(|&j| in_run(j))
                .filter(|&j| digit(j))
                .count()
                >= 13
    })
}

/// The plain definition, byte by byte: split at bytes outside the set, keep runs holding an
/// upper-case letter and a digit, take the longest if it reaches `min`.
fn longest_mixed_run_reference(bytes: &[u8], min: usize) -> usize {
    let in_set = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    bytes
        .split(|b| !in_set(b))
        .filter(|run| run.iter().any(u8::is_ascii_uppercase) && run.iter().any(u8::is_ascii_digit))
        .map(<[u8]>::len)
        .filter(|&len| len >= min)
        .max()
        .unwrap_or(0)
}

#[test]
fn requote_keeps_the_values_own_quotes() {
    let q = |v: &str| {
        let mut s = String::new();
        requote(&mut s, v);
        s
    };
    assert_eq!(q(r#""a b""#), r#""[REDACTED]""#);
    assert_eq!(q(r#"\"a\""#), r#"\"[REDACTED]\""#);
    assert_eq!(q(r#"\\\"a\\\""#), r#"\\\"[REDACTED]\\\""#);
    assert_eq!(q("'a'"), "'[REDACTED]'");
    assert_eq!(q(r#""cut"#), r#""[REDACTED]"#);
    assert_eq!(q(r#"""#), r#""[REDACTED]"#);
    assert_eq!(q("plain"), "[REDACTED]");
    assert_eq!(q(r#"["a"]"#), "[REDACTED]");
}

proptest::proptest! {
    /// The skipping scan finds what the plain definition finds, on text dense in runs and
    /// separators of every length.
    #[test]
    fn mixed_run_scan_matches_the_definition(
        text in "[a-cA-C0-2+/ =.\\-]{0,80}",
        min in 0usize..30,
    ) {
        proptest::prop_assert_eq!(
            longest_mixed_run(text.as_bytes(), min),
            longest_mixed_run_reference(text.as_bytes(), min)
        );
    }

    /// The skipping card scan finds what the plain definition finds.
    #[test]
    fn card_scan_matches_the_definition(text in "[0-9 \\-x]{0,60}") {
        proptest::prop_assert_eq!(
            card_candidate(text.as_bytes()),
            card_candidate_reference(text.as_bytes())
        );
    }

    /// The gate never changes what is redacted, on lines built from the corpus's secret
    /// shapes cut, joined, re-cased and surrounded by arbitrary text.
    #[test]
    fn the_gate_never_drops_a_line_a_rule_redacts(
        picks in proptest::collection::vec((0usize..10_000, 0usize..200, 0usize..200, 0u8..3), 1..4),
        noise in "(?s)[ -~\t\n\"'\\\\=:@/+é]{0,12}",
    ) {
        thread_local! {
            static REDACTORS: (Redactor, Redactor, Vec<String>) = (Redactor::built_in(), ungated(), corpus_inputs());
        }
        REDACTORS.with(|(gated, ungated, inputs)| {
            let mut line = String::new();
            for (pick, from, len, case) in &picks {
                let input = &inputs[pick % inputs.len()];
                let chars: Vec<char> = input.chars().collect();
                let from = from % (chars.len() + 1);
                let piece: String = chars[from..(from + len).min(chars.len())].iter().collect();
                line.push_str(&match case {
                    0 => piece,
                    1 => piece.to_uppercase(),
                    _ => piece.to_lowercase(),
                });
                line.push_str(&noise);
            }
            proptest::prop_assert_eq!(gated.redact(&line), ungated.redact(&line), "{:?}", line);
            Ok(())
        })?;
    }
}
