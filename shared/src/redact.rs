//! Secret redaction, applied to every log line before it leaves the function.
//!
//! The `regex` crate matches in linear time, so hostile log lines cannot make redaction slow.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Captures, Regex, RegexSet};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

pub const MARK: &str = "[REDACTED]";

#[derive(Debug, thiserror::Error)]
#[error("redaction pattern {pattern:?} is not a valid regular expression: {source}")]
pub struct PatternError {
    pattern: String,
    source: regex::Error,
}

struct Rule {
    pattern: Cow<'static, str>,
    /// Compiled on the first line the set says this rule matches: most batches hold no
    /// secret, and compiling every rule at init would cost milliseconds of cold start.
    /// `None` if it failed to compile, which the set compiling the same pattern rules out.
    regex: OnceLock<Option<Regex>>,
    /// Replace only this named group (the secret), keeping the context around it.
    group: Option<&'static str>,
}

impl Rule {
    fn regex(&self) -> Option<&Regex> {
        self.regex.get_or_init(|| Regex::new(&self.pattern).ok()).as_ref()
    }
}

pub struct Redactor {
    rules: Vec<Rule>,
    /// Every rule in one automaton: most lines hold no secret, and one pass tells.
    /// Compiled at once when an operator adds patterns (a bad one fails init), otherwise on
    /// the first line the gate lets through. `None` inside: it failed to compile.
    set: OnceLock<Option<RegexSet>>,
    /// Built-in rules only: a line without any of the `GATE` words holds no secret, and a
    /// SIMD literal search over the lowercased line says so ~8× faster than the set's automaton.
    gate: Option<AhoCorasick>,
}

/// Every match of a built-in rule contains one of these once lowercased (ASCII):
/// pass(word|wd|phrase), secret, token, (api|private)key and PRIVATE KEY, authorization,
/// credential, bearer, a URL's `://`, the access key id prefixes and a JWT's `eyJ`.
/// A property test checks it against the rules.
const GATE: &[&str] = &[
    "pass",
    "secret",
    "token",
    "key",
    "authorization",
    "credential",
    "bearer",
    "://",
    "akia",
    "asia",
    "abia",
    "acca",
    "eyj",
];

/// Built-in rules: (pattern, group to replace or `None` for the whole match).
///
/// Case-insensitivity and word boundaries are ASCII-only (`(?i-u:…)`, `(?-u:\b)`) and
/// whitespace is spelled out: Unicode classes would make the automata, and the compile at
/// cold start, several times larger for no secret that matters.
const BUILT_IN: &[(&str, Option<&str>)] = &[
    // PEM private keys, possibly spanning lines.
    (
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.)*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
        None,
    ),
    // key=value, key: value and "key": "value" where the key looks secret.
    (
        r#"(?-u:\b)(?i-u:[a-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key|authorization|credential)[a-z0-9_.-]*)"?[ \t]*[:=][ \t]*(?P<secret>"[^"]*"|'[^']*'|(?:(?i-u:bearer|basic|token)[ \t]+)?[^\t\n\r "',;&)}\]]+)"#,
        Some("secret"),
    ),
    // Bearer tokens without a key in front.
    (
        r"(?-u:\b)(?i-u:bearer)[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)",
        Some("secret"),
    ),
    // Credentials in URLs: scheme://user:password@host
    (
        r"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]*://[^\t\n\r :/@]+:(?P<secret>[^\t\n\r /@]+)@",
        Some("secret"),
    ),
    // AWS access key ids.
    (r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)", None),
    // JSON Web Tokens.
    (
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        None,
    ),
];

impl Redactor {
    /// The built-in rules plus `extra` patterns. An extra pattern with a group named `secret`
    /// redacts only that group; otherwise the whole match.
    pub fn new(extra: &[String]) -> Result<Self, PatternError> {
        if extra.is_empty() {
            return Ok(Self::built_in());
        }
        let mut rules = built_in_rules();
        // An operator's patterns are compiled now, so a bad one fails the deployment at init.
        for pattern in extra {
            let regex = Regex::new(pattern).map_err(|source| PatternError {
                pattern: pattern.clone(),
                source,
            })?;
            let group = regex
                .capture_names()
                .flatten()
                .any(|n| n == "secret")
                .then_some("secret");
            rules.push(Rule {
                pattern: Cow::Owned(pattern.clone()),
                regex: OnceLock::from(Some(regex)),
                group,
            });
        }
        let set = compile_set(&rules).map_err(|source| PatternError {
            pattern: "(all patterns together)".into(),
            source,
        })?;
        // No gate: an operator's pattern may match lines without any `GATE` word.
        Ok(Self {
            rules,
            set: OnceLock::from(Some(set)),
            gate: None,
        })
    }

    /// The built-in rules only. Nothing is compiled here: see `Rule::regex` and `set`.
    pub fn built_in() -> Self {
        // Leftmost-first enables the packed (Teddy) SIMD searcher; a case-insensitive search
        // would not use it, hence the lowercased copy in `gate_passes`. A gate that fails to
        // build only costs speed: every line then goes to the set.
        let gate = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(GATE)
            .ok();
        Self {
            rules: built_in_rules(),
            set: OnceLock::new(),
            gate,
        }
    }

    /// Redaction turned off (no rules): lines pass unchanged.
    pub fn disabled() -> Self {
        Self {
            rules: Vec::new(),
            set: OnceLock::new(),
            gate: None,
        }
    }

    /// The text with secrets replaced, and how many were replaced.
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        let mut out = Cow::Borrowed(text);
        let mut replaced = 0;
        if self.rules.is_empty() || self.gate.as_ref().is_some_and(|gate| !gate_passes(gate, text)) {
            return (out, 0);
        }
        let Some(any) = self.set.get_or_init(|| compile_set(&self.rules).ok()) else {
            // Fail closed: rules that cannot run must not let a secret through.
            return (Cow::Borrowed(MARK), 1);
        };
        // One early-exit pass for the common case; the set's full match list only when needed.
        if !any.is_match(text) {
            return (out, 0);
        }
        let matched = any.matches(text);
        for (i, rule) in self.rules.iter().enumerate() {
            // A rule that did not match the original cannot match after redactions: they
            // only insert `[REDACTED]`.
            if !matched.matched(i) {
                continue;
            }
            let Some(regex) = rule.regex() else {
                // Fail closed: a rule that cannot run must not let its secret through.
                return (Cow::Borrowed(MARK), replaced + 1);
            };
            // Borrowed back when an earlier rule already redacted this one's match.
            let next = regex.replace_all(&out, |caps: &Captures| {
                replaced += 1;
                redact_match(caps, rule.group)
            });
            if let Cow::Owned(s) = next {
                out = Cow::Owned(s);
            }
        }
        (out, replaced)
    }
}

fn gate_passes(gate: &AhoCorasick, text: &str) -> bool {
    thread_local! {
        static LOWERCASE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    LOWERCASE.with_borrow_mut(|lower| {
        lower.clear();
        lower.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        gate.is_match(lower.as_slice())
    })
}

fn built_in_rules() -> Vec<Rule> {
    BUILT_IN
        .iter()
        .map(|(pattern, group)| Rule {
            pattern: Cow::Borrowed(pattern),
            regex: OnceLock::new(),
            group: *group,
        })
        .collect()
}

fn compile_set(rules: &[Rule]) -> Result<RegexSet, regex::Error> {
    RegexSet::new(rules.iter().map(|r| &r.pattern))
}

fn redact_match(caps: &Captures, group: Option<&str>) -> String {
    let whole = &caps[0];
    let Some(secret) = group.and_then(|g| caps.name(g)) else {
        return MARK.to_string();
    };
    let start = secret.start() - caps.get(0).map_or(0, |m| m.start());
    let quoted = secret.as_str();
    let mark = match quoted.as_bytes().first() {
        Some(b'"') => "\"[REDACTED]\"",
        Some(b'\'') => "'[REDACTED]'",
        _ => MARK,
    };
    format!("{}{}{}", &whole[..start], mark, &whole[start + secret.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(s: &str) -> (String, usize) {
        let r = Redactor::new(&[]).unwrap();
        let (out, n) = r.redact(s);
        (out.into_owned(), n)
    }

    #[test]
    fn access_key_ids() {
        let (out, n) = redact("using key AKIAIOSFODNN7EXAMPLE for upload");
        assert_eq!(out, "using key [REDACTED] for upload");
        assert_eq!(n, 1);
        // Not a key id: too short, or part of a longer word.
        assert_eq!(redact("AKIA123").1, 0);
        assert_eq!(redact("XAKIAIOSFODNN7EXAMPLE").1, 0);
    }

    #[test]
    fn key_value_pairs() {
        assert_eq!(
            redact("login failed password=hunter2 user=bob").0,
            "login failed password=[REDACTED] user=bob"
        );
        assert_eq!(
            redact(r#"{"db_password": "s3cr3t pass", "user": "bob"}"#).0,
            r#"{"db_password": "[REDACTED]", "user": "bob"}"#
        );
        assert_eq!(
            redact("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG").0,
            "aws_secret_access_key = [REDACTED]"
        );
        assert_eq!(redact("X-Api-Key: abc123def").0, "X-Api-Key: [REDACTED]");
        assert_eq!(
            redact("authorization: Bearer abc.def.ghi").0,
            "authorization: [REDACTED]"
        );
        assert_eq!(redact("token='tok-1'").0, "token='[REDACTED]'");
    }

    #[test]
    fn bearer_tokens_and_url_credentials() {
        assert_eq!(
            redact("sent Bearer abcdefghijklmnop to upstream").0,
            "sent Bearer [REDACTED] to upstream"
        );
        assert_eq!(
            redact("connect postgres://app:pa55w0rd@db.internal:5432/app failed").0,
            "connect postgres://app:[REDACTED]@db.internal:5432/app failed"
        );
    }

    #[test]
    fn jwts_and_private_keys() {
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(
            redact(&format!("cookie {jwt} rejected")).0,
            "cookie [REDACTED] rejected"
        );
        let pem = "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY----- loaded";
        assert_eq!(redact(pem).0, "key: [REDACTED] loaded");
    }

    #[test]
    fn leaves_ordinary_lines_alone_and_borrows() {
        let r = Redactor::new(&[]).unwrap();
        let line = "ERROR connection to 10.0.0.1:5432 refused after 3 attempts — réessayer";
        let (out, n) = r.redact(line);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(n, 0);
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
        let e = Redactor::new(&["(unclosed".into()]).err().unwrap();
        assert!(e.to_string().contains("(unclosed"), "{e}");
    }

    #[test]
    fn rules_compile_only_when_a_line_needs_them() {
        let r = Redactor::new(&[]).unwrap();
        let compiled = |r: &Redactor| r.rules.iter().filter(|rule| rule.regex.get().is_some()).count();
        assert!(r.set.get().is_none());
        r.redact("ERROR payment provider timed out after 3000 ms");
        assert!(
            r.set.get().is_none(),
            "the gate clears a line without secret words"
        );
        assert_eq!(compiled(&r), 0);
        r.redact("using key AKIAIOSFODNN7EXAMPLE");
        assert!(r.set.get().is_some_and(|s| s.is_some()));
        assert_eq!(compiled(&r), 1);
    }

    #[test]
    fn rules_that_cannot_compile_withhold_the_whole_line() {
        let broken = || Rule {
            pattern: Cow::Borrowed("(secret"),
            regex: OnceLock::new(),
            group: None,
        };
        // The rule alone, behind a set that matches.
        let r = Redactor {
            rules: vec![broken()],
            set: OnceLock::from(Some(RegexSet::new(["secret"]).unwrap())),
            gate: None,
        };
        assert_eq!(r.redact("the secret is 42"), (Cow::Borrowed(MARK), 1));
        assert_eq!(r.redact("nothing here").1, 0);
        // The set itself.
        let r = Redactor {
            rules: vec![broken()],
            set: OnceLock::new(),
            gate: None,
        };
        assert_eq!(r.redact("nothing here"), (Cow::Borrowed(MARK), 1));
    }

    proptest::proptest! {
        /// The gate never clears a line that a built-in rule matches.
        #[test]
        fn the_gate_passes_every_line_a_rule_matches(
            line in "(?s)([ -~]{0,12}(PASSWORD|passwd=|Secret: |token |api_key=|X-Api-Key:|private-key |Authorization: |credential=|Bearer |https://u:p@h|AKIA[A-Z0-9]{16}|ASIA[A-Z0-9]{16}|ABIA|ACCA|eyJ[a-zA-Z0-9]{8}\\.[a-zA-Z0-9]{8}\\.[a-z]{8}|-----BEGIN RSA PRIVATE KEY-----|é|\n)?){1,6}",
        ) {
            let r = Redactor::new(&[]).unwrap();
            let set = compile_set(&r.rules).unwrap();
            let gate = r.gate.as_ref().unwrap();
            proptest::prop_assert!(!set.is_match(&line) || gate_passes(gate, &line), "{:?}", line);
        }
    }

    #[test]
    fn disabled_redacts_nothing() {
        assert_eq!(Redactor::disabled().redact("password=x").1, 0);
    }
}
