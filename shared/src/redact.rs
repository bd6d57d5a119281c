//! Secret redaction, applied to every log line (and finding title) before it leaves the function.
//!
//! The rules live in `redact/rules.rs`, one reviewed table; `shared/tests/secrets-corpus.json`
//! holds the shapes they must and must not redact, and SECURITY.md lists what is covered.
//! `redact/gate.rs` picks the rules a line needs without running them, so most lines run none.
//! The `regex` crate matches in linear time, so hostile log lines cannot make redaction slow.
//!
//! Callers redact a whole text, then cut it: a cut first leaves the part of a secret before it,
//! which no rule recognises (30 of a token's 40 characters).

mod gate;
mod rules;

use gate::Gate;
use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

/// What replaces a secret: visible, so a reader knows something was there.
pub const MARK: &str = "[REDACTED]";

/// An operator's pattern (`REDACT_EXTRA_PATTERNS`) that cannot be used; refused at init.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// It does not compile.
    #[error("redaction pattern {pattern:?} is not a valid regular expression: {source}")]
    Invalid {
        /// The pattern, as configured (configuration, not log text).
        pattern: String,
        /// The compiler's reason.
        source: Box<regex::Error>,
    },
    /// It matches the empty string.
    #[error("redaction pattern {pattern:?} matches the empty string: it would mark every line")]
    MatchesEmpty {
        /// The pattern, as configured.
        pattern: String,
    },
}

struct Rule {
    pattern: Cow<'static, str>,
    /// Compiled on the first line the gate sends to this rule: most batches hold no secret,
    /// and compiling every rule at init would cost milliseconds of cold start.
    /// `None` if it failed to compile: then lines it is asked about are withheld.
    regex: OnceLock<Option<Regex>>,
    /// Replace only this named group (the secret), keeping the context around it.
    group: Option<&'static str>,
    check: Option<rules::Check>,
}

impl Rule {
    fn regex(&self) -> Option<&Regex> {
        self.regex.get_or_init(|| Regex::new(&self.pattern).ok()).as_ref()
    }
}

/// The built-in rules and the operator's, compiled once per process and applied to every
/// untrusted text before it leaves the function.
pub struct Redactor {
    /// The built-in rules (at most 64, see `Gate`), then the operator's.
    rules: Vec<Rule>,
    /// Chooses the built-in rules a line needs, and clears most lines without running any.
    /// `None`: every built-in rule runs on every line.
    gate: Option<Gate>,
    builtin: usize,
}

/// Field-free: the compiled rules say nothing useful in a debug print.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

impl Redactor {
    /// The built-in rules plus `extra` patterns. An extra pattern with a group named `secret`
    /// redacts only that group; otherwise the whole match. Extra patterns run on every line.
    pub fn new(extra: &[String]) -> Result<Self, PatternError> {
        let mut redactor = Self::built_in();
        // An operator's patterns are compiled now, so a bad one fails the deployment at init.
        for pattern in extra {
            let regex = Regex::new(pattern).map_err(|source| PatternError::Invalid {
                pattern: pattern.clone(),
                source: Box::new(source),
            })?;
            if regex.is_match("") {
                return Err(PatternError::MatchesEmpty {
                    pattern: pattern.clone(),
                });
            }
            let group = regex
                .capture_names()
                .flatten()
                .any(|n| n == "secret")
                .then_some("secret");
            redactor.rules.push(Rule {
                pattern: Cow::Owned(pattern.clone()),
                regex: OnceLock::from(Some(regex)),
                group,
                check: None,
            });
        }
        Ok(redactor)
    }

    /// The built-in rules only. No regex is compiled here: see `Rule::regex`.
    pub fn built_in() -> Self {
        let specs = rules::specs();
        let gate = Gate::new(&specs);
        Self {
            builtin: specs.len(),
            rules: specs
                .into_iter()
                .map(|s| Rule {
                    pattern: Cow::Owned(s.pattern),
                    regex: OnceLock::new(),
                    group: s.group,
                    check: s.check,
                })
                .collect(),
            gate,
        }
    }

    /// Redaction turned off (no rules): lines pass unchanged.
    pub fn disabled() -> Self {
        Self {
            rules: Vec::new(),
            gate: None,
            builtin: 0,
        }
    }

    /// The text with secrets replaced, and how many were replaced.
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        let mut out = Cow::Borrowed(text);
        let mut replaced = 0;
        let candidates = self.gate.as_ref().map(|gate| gate.candidates(text));
        for (i, rule) in self.rules.iter().enumerate() {
            // `Gate::new` refuses more than 64 rules, so the shift cannot overflow.
            if i < self.builtin && candidates.is_some_and(|c| c & (1 << i) == 0) {
                continue;
            }
            let Some(regex) = rule.regex() else {
                // Fail closed: a rule that cannot run must not let its secret through.
                return (Cow::Borrowed(MARK), replaced + 1);
            };
            if let Some(next) = apply(rule, regex, &out, &mut replaced) {
                out = Cow::Owned(next);
            }
        }
        (out, replaced)
    }
}

/// One rule over the text: `None` when it replaced nothing.
fn apply(rule: &Rule, regex: &Regex, text: &str, replaced: &mut usize) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while at <= text.len() {
        let Some(caps) = regex.captures_at(text, at) else {
            break;
        };
        let Some(whole) = caps.get(0) else {
            break;
        };
        let target = rule.group.and_then(|g| caps.name(g)).unwrap_or(whole);
        let secret = target.as_str();
        // Empty matches hide nothing; a value already marked (by an earlier rule, or upstream)
        // is not counted twice.
        if !secret.is_empty() && !is_marked(secret) && rule.check.is_none_or(|check| check(&caps)) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..target.start()]);
            requote(o, secret);
            copied = target.end();
            *replaced += 1;
        }
        // Resume after the secret, not after the match: a rule may consume the delimiter
        // that begins the next secret (two bare keys separated by one space).
        let next = if target.end() > at {
            target.end()
        } else {
            whole.end()
        };
        at = if next > at { next } else { next_boundary(text, at) };
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

fn next_boundary(text: &str, at: usize) -> usize {
    let mut next = at + 1;
    while next < text.len() && !text.is_char_boundary(next) {
        next += 1;
    }
    next
}

/// The opening quote of a value, with the backslashes that escape it (`"`, `\"`, `\\\"`, `'`).
fn opener(value: &str) -> &str {
    let slashes = value.bytes().take_while(|&b| b == b'\\').count();
    match value.as_bytes().get(slashes) {
        Some(b'"' | b'\'') => &value[..=slashes],
        _ => "",
    }
}

/// The value without the quotes `requote` keeps.
fn unquote(value: &str) -> &str {
    let open = opener(value);
    let rest = &value[open.len()..];
    rest.strip_suffix(open).unwrap_or(rest)
}

/// Already redacted: the mark alone, in quotes, or followed by what closes its object or list
/// (`{"Authorization":[REDACTED]}` seen again by a rule that runs to the end of the line).
fn is_marked(value: &str) -> bool {
    unquote(value)
        .strip_prefix(MARK)
        .is_some_and(|rest| rest.chars().all(|c| "\"'\\}]),;".contains(c)))
}

/// The mark, inside the value's own quotes so the surrounding syntax stays intact.
fn requote(out: &mut String, value: &str) {
    let open = opener(value);
    let closed = !open.is_empty() && value.len() >= 2 * open.len() && value.ends_with(open);
    out.push_str(open);
    out.push_str(MARK);
    if closed {
        out.push_str(open);
    }
}

#[cfg(test)]
mod tests;
