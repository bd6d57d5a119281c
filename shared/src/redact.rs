//! Secret redaction, applied to every log line before it leaves the function.
//!
//! The `regex` crate matches in linear time, so hostile log lines cannot make redaction slow.

use regex::{Captures, Regex, RegexSet};
use std::borrow::Cow;

pub const MARK: &str = "[REDACTED]";

#[derive(Debug, thiserror::Error)]
#[error("redaction pattern {pattern:?} is not a valid regular expression: {source}")]
pub struct PatternError {
    pattern: String,
    source: regex::Error,
}

struct Rule {
    regex: Regex,
    /// Replace only this named group (the secret), keeping the context around it.
    group: Option<&'static str>,
}

pub struct Redactor {
    rules: Vec<Rule>,
    /// Every rule in one automaton: most lines hold no secret, and one pass tells.
    any: Option<RegexSet>,
}

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
        let mut rules = Vec::with_capacity(BUILT_IN.len() + extra.len());
        for (pattern, group) in BUILT_IN {
            rules.push(Rule {
                regex: compile(pattern)?,
                group: *group,
            });
        }
        for pattern in extra {
            let regex = compile(pattern)?;
            let group = regex
                .capture_names()
                .flatten()
                .any(|n| n == "secret")
                .then_some("secret");
            rules.push(Rule { regex, group });
        }
        let any = RegexSet::new(rules.iter().map(|r| r.regex.as_str())).map_err(|source| PatternError {
            pattern: "(all patterns together)".into(),
            source,
        })?;
        Ok(Self {
            rules,
            any: Some(any),
        })
    }

    /// The built-in rules only.
    pub fn built_in() -> Self {
        // The built-in patterns are constants covered by tests; they always compile.
        Self::new(&[]).unwrap_or_else(|_| Self::disabled())
    }

    /// Redaction turned off: lines pass unchanged.
    pub fn disabled() -> Self {
        Self {
            rules: Vec::new(),
            any: None,
        }
    }

    /// The text with secrets replaced, and how many were replaced.
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        let mut out = Cow::Borrowed(text);
        let mut replaced = 0;
        let Some(any) = &self.any else { return (out, 0) };
        // One early-exit pass for the common case; the set's full match list only when needed.
        if !any.is_match(text) {
            return (out, 0);
        }
        let matched = any.matches(text);
        for (i, rule) in self.rules.iter().enumerate() {
            // A rule that did not match the original cannot match after redactions: they
            // only insert `[REDACTED]`.
            if !matched.matched(i) || !rule.regex.is_match(&out) {
                continue;
            }
            let next = rule.regex.replace_all(&out, |caps: &Captures| {
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

fn compile(pattern: &str) -> Result<Regex, PatternError> {
    Regex::new(pattern).map_err(|source| PatternError {
        pattern: pattern.to_string(),
        source,
    })
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
    fn disabled_redacts_nothing() {
        assert_eq!(Redactor::disabled().redact("password=x").1, 0);
    }
}
