//! An evaluator of CloudWatch Logs filter patterns, for the tests that check the template's
//! default `FilterPattern` (tests/tests/filter_pattern.rs, tests/tests/severity_corpus.rs).
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
//!   the event (`%AUTHORIZED%` matches "UNAUTHORIZED REQUEST"), `^` anchors it to the start;
//! - at most 2 regex per filter pattern (when combined with other terms) and at most 5 filter
//!   patterns with regex per log group; a filter pattern is at most 1,024 characters
//!   (PutSubscriptionFilter / MetricFilter `filterPattern` length constraint).
//!
//! JSON (`{ $.x = … }`), space-delimited (`[a, b]`) and exclusion (`-term`) patterns are not
//! implemented: the evaluator refuses them rather than guess. Within a regex we also refuse
//! `\` before a letter or digit (`\d`, `\s`): the page documents `\` as the escape operator,
//! so the default relies only on escaping symbols (`\.`, `\[`, `\]`).

use crate::workspace::root;
use serde_norway::Value;

pub const MAX_PATTERN_CHARS: usize = 1024;
pub const MAX_REGEX_PER_PATTERN: usize = 2;
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
pub struct Filter {
    /// `?A ?B`: any term; `A B`: every term.
    any: bool,
    terms: Vec<Term>,
}

impl Filter {
    /// Parses a pattern, refusing what CloudWatch Logs would refuse (length, characters,
    /// parentheses, more than 2 regex) and the forms this evaluator does not implement.
    pub fn parse(pattern: &str) -> Result<Filter, String> {
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

    pub fn matches(&self, line: &str) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        if self.any {
            self.terms.iter().any(|t| t.matches(line))
        } else {
            self.terms.iter().all(|t| t.matches(line))
        }
    }

    pub fn regex_count(&self) -> usize {
        self.terms.iter().filter(|t| matches!(t, Term::Regex(_))).count()
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
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

/// The template's default `FilterPattern` (template.yaml, `Parameters.FilterPattern.Default`).
pub fn default_pattern() -> String {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let template: Value = serde_norway::from_str(&text).expect("template.yaml is YAML");
    template["Parameters"]["FilterPattern"]["Default"]
        .as_str()
        .expect("FilterPattern default")
        .to_string()
}
