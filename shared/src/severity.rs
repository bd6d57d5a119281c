//! Severity of a log line. A level the line states for itself wins over words in its text
//! (an INFO line that quotes "fatal panic" from user input is INFO): a JSON `level`/`severity`
//! field, a logfmt `level=` pair, or a level token in the standard position (first, after a
//! timestamp, bracketed or not). Only a line that states no level is rated by the words in it.

use serde::{Deserialize, Serialize};

/// Ordered so that `max()` picks the one to page on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Matched by the subscription filter, but nothing in the line says how bad it is.
    #[default]
    Notice,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Notice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }

    /// A level name as loggers write it (`error`, `ERR`, `fatal`, `Warning`, ...).
    pub fn from_level_name(name: &str) -> Option<Severity> {
        let lower = name.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "fatal" | "critical" | "crit" | "emerg" | "emergency" | "alert" | "panic" => Severity::Critical,
            "error" | "err" | "severe" => Severity::Error,
            "warn" | "warning" => Severity::Warning,
            "info" | "information" | "notice" | "debug" | "trace" | "verbose" | "fine" => Severity::Notice,
            _ => return None,
        })
    }

    /// Numeric levels: pino/bunyan (10..60) and syslog (0..7) are told apart by range.
    fn from_level_number(n: f64) -> Option<Severity> {
        if !(0.0..1e6).contains(&n) {
            return None;
        }
        Some(match n as u32 {
            60.. => Severity::Critical,
            50.. => Severity::Error,
            40.. => Severity::Warning,
            10.. => Severity::Notice,
            0..=2 => Severity::Critical,
            3 => Severity::Error,
            4 => Severity::Warning,
            5..=7 => Severity::Notice,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LevelValue<'a> {
    Name(#[serde(borrow)] std::borrow::Cow<'a, str>),
    Number(f64),
    Other(serde::de::IgnoredAny),
}

/// The level fields of a structured log line; every other field is skipped unparsed.
#[derive(Deserialize)]
struct LevelFields<'a> {
    #[serde(
        borrow,
        alias = "level",
        alias = "Level",
        alias = "LEVEL",
        alias = "log.level",
        alias = "lvl"
    )]
    level: Option<LevelValue<'a>>,
    #[serde(
        borrow,
        alias = "severity",
        alias = "Severity",
        alias = "levelname",
        alias = "severityText"
    )]
    severity: Option<LevelValue<'a>>,
    /// Lambda's JSON-format system records: `platform.report`, `platform.runtimeDone`, ...
    #[serde(borrow, rename = "type")]
    kind: Option<LevelValue<'a>>,
    #[serde(borrow)]
    record: Option<RecordValue<'a>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RecordValue<'a> {
    Platform(#[serde(borrow)] PlatformRecord<'a>),
    Other(serde::de::IgnoredAny),
}

/// The outcome fields of a Lambda platform record (`status`: success, failure, error, timeout).
#[derive(Deserialize)]
struct PlatformRecord<'a> {
    #[serde(borrow)]
    status: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "errorType")]
    error_type: Option<std::borrow::Cow<'a, str>>,
}

/// A Lambda JSON-format platform record (`"type":"platform.report"`, ...) that reports a failed
/// invocation: a `status` other than success (timeout, error, failure), or an `errorType`.
fn platform_failure(fields: &LevelFields<'_>) -> bool {
    let is_platform = matches!(&fields.kind, Some(LevelValue::Name(k)) if k.starts_with("platform."));
    let Some(RecordValue::Platform(record)) = &fields.record else {
        return false;
    };
    is_platform
        && (record
            .status
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case("success"))
            || record.error_type.is_some())
}

fn level_of(value: Option<LevelValue<'_>>) -> Option<Severity> {
    match value? {
        LevelValue::Name(n) => Severity::from_level_name(&n),
        LevelValue::Number(n) => Severity::from_level_number(n),
        LevelValue::Other(_) => None,
    }
}

/// Detects the severity of one log event's message.
pub fn detect(message: &str) -> Severity {
    let trimmed = message.trim_start();
    if trimmed.starts_with('{')
        && let Ok(fields) = serde_json::from_str::<LevelFields>(trimmed.trim_end())
    {
        let failed = platform_failure(&fields).then_some(Severity::Error);
        if let Some(s) = level_of(fields.level).or_else(|| level_of(fields.severity)) {
            return s.max(failed.unwrap_or_default());
        }
        if let Some(s) = failed {
            return s;
        }
    }
    if let Some(s) = logfmt_level(message).or_else(|| leading_level(message)) {
        return s;
    }
    detect_words(message)
}

/// Level names a line states for itself. Narrower than [`Severity::from_level_name`]: a first
/// word such as `Alert` or `Fine` is more often prose than a level.
fn stated_level(name: &str) -> Option<Severity> {
    const NAMES: &[&str] = &[
        "trace", "debug", "info", "notice", "warn", "warning", "error", "err", "fatal", "critical", "crit",
        "panic", "severe", "emerg",
    ];
    NAMES
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
        .then(|| Severity::from_level_name(name))
        .flatten()
}

/// logfmt (`time=… level=info msg="…"`): a line whose first token is a `key=value` pair, with a
/// `level`, `lvl` or `severity` key among its pairs.
fn logfmt_level(message: &str) -> Option<Severity> {
    let line = message.trim_start();
    let first = line.split_ascii_whitespace().next()?;
    let (key, _) = first.split_once('=')?;
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        return None;
    }
    // Pairs before the message: the level key comes first in every logfmt logger's output.
    line.split_ascii_whitespace().take(8).find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        let is_level = ["level", "lvl", "severity", "log.level"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k));
        is_level.then(|| stated_level(value.trim_matches('"'))).flatten()
    })
}

/// A level token in the standard position: the first token after up to three timestamp
/// tokens (`2024-05-01T10:00:00Z`, `10:00:00,123`, `[2024-05-01`), bare or in brackets
/// (`[INFO]`, `<ERROR>`), optionally with a colon (`ERROR:`, Python's `ERROR:root:msg`).
fn leading_level(message: &str) -> Option<Severity> {
    let mut tokens = message.split_ascii_whitespace();
    for _ in 0..4 {
        let token = tokens.next()?;
        let bare = token.trim_matches(|c: char| "[]()<>|".contains(c));
        if is_timestamp(bare) || is_request_id(bare) {
            continue;
        }
        let word = bare.split(':').next().unwrap_or(bare);
        return stated_level(word);
    }
    None
}

/// A UUID, as Lambda's text log format puts the request id between the time and the level.
fn is_request_id(token: &str) -> bool {
    token.len() == 36 && token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Digits with date and time punctuation (`2024-05-01`, `10:00:00.123Z`, `+0000`).
fn is_timestamp(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-:.,/TZ+".contains(&b))
}

/// Plain text: the strongest failure word present wins. Words are runs of ASCII letters,
/// digits, `.` and `_`, read byte by byte without allocating: this runs on every line.
fn detect_words(message: &str) -> Severity {
    let bytes = message.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'_';
    let mut best = Severity::Notice;
    let mut previous = "";
    let mut i = 0;
    while i < bytes.len() {
        if !is_word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        // ASCII bytes bound the run, so these are character boundaries.
        let word = &message[start..i];
        let found = if is_zero_count(previous) && is_error_word(word) {
            // `0 errors`, `No errors found`: a count of none is not a failure.
            Severity::Notice
        } else {
            word_severity(word)
        };
        previous = word;
        if found > best {
            best = found;
            if best == Severity::Critical {
                break;
            }
        }
    }
    if best < Severity::Error && is_lambda_platform_failure(message) {
        best = Severity::Error;
    }
    best
}

const CRITICAL_WORDS: &[&str] = &[
    "fatal",
    "critical",
    "crit",
    "emerg",
    "emergency",
    "panic",
    "panicked",
];
const ERROR_WORDS: &[&str] = &[
    "error",
    "err",
    "errors",
    "severe",
    "traceback",
    "exception",
    "runtime.exiterror",
];
const WARNING_WORDS: &[&str] = &["warn", "warning"];
/// `NullPointerException`, `java.io.IOException`; `ValueError` (capitalised only).
const ERROR_SUFFIXES: &[&str] = &["exception", "error"];

/// The first letters of every listed word and the last letters of every suffix, lowercased,
/// derived from the lists above: a word with neither cannot match, which rejects most words
/// after two lookups.
const FIRST_LETTERS: [bool; 256] = letters(&[CRITICAL_WORDS, ERROR_WORDS, WARNING_WORDS], false);
const LAST_LETTERS: [bool; 256] = letters(&[ERROR_SUFFIXES], true);

const fn letters(lists: &[&[&str]], last: bool) -> [bool; 256] {
    let mut set = [false; 256];
    let mut l = 0;
    while l < lists.len() {
        let mut w = 0;
        while w < lists[l].len() {
            let bytes = lists[l][w].as_bytes();
            let b = if last { bytes[bytes.len() - 1] } else { bytes[0] };
            set[b.to_ascii_lowercase() as usize] = true;
            w += 1;
        }
        l += 1;
    }
    set
}

fn is_zero_count(word: &str) -> bool {
    ["0", "no", "zero", "without"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

fn is_error_word(word: &str) -> bool {
    ["error", "errors", "err", "failures", "exceptions"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

fn word_severity(word: &str) -> Severity {
    let word = word.trim_matches('.');
    if word.len() < 3 {
        return Severity::Notice;
    }
    let (first, last) = (word.as_bytes()[0], word.as_bytes()[word.len() - 1]);
    if !FIRST_LETTERS[usize::from(first.to_ascii_lowercase())]
        && !LAST_LETTERS[usize::from(last.to_ascii_lowercase())]
    {
        return Severity::Notice;
    }
    listed_severity(word)
}

/// The word lists and suffix rules themselves, without the letter shortcut.
fn listed_severity(word: &str) -> Severity {
    let is = |names: &[&str]| names.iter().any(|n| word.eq_ignore_ascii_case(n));
    let ends_with = |suffix: &str| {
        word.len() > suffix.len()
            && word.as_bytes()[word.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    if is(CRITICAL_WORDS) {
        Severity::Critical
    } else if is(ERROR_WORDS) {
        Severity::Error
    } else if is(WARNING_WORDS) {
        Severity::Warning
    } else if ends_with(ERROR_SUFFIXES[0]) || (ends_with(ERROR_SUFFIXES[1]) && starts_upper(word)) {
        Severity::Error
    } else {
        Severity::Notice
    }
}

fn starts_upper(word: &str) -> bool {
    let last = word.rsplit('.').next().unwrap_or(word);
    last.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// Lambda's own failure lines, which contain no ERROR word.
fn is_lambda_platform_failure(message: &str) -> bool {
    message.contains("Task timed out after") || is_out_of_memory_report(message)
}

/// A REPORT line whose Max Memory Used reached the Memory Size: the function ran out of memory.
pub fn is_out_of_memory_report(message: &str) -> bool {
    if !message.starts_with("REPORT ") {
        return false;
    }
    let mb_after = |label: &str| -> Option<u64> {
        let rest = &message[message.find(label)? + label.len()..];
        rest.trim_start().split(' ').next()?.parse().ok()
    };
    matches!((mb_after("Memory Size:"), mb_after("Max Memory Used:")), (Some(size), Some(used)) if used >= size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_shortcut_never_changes_a_result() {
        // Every listed word and suffix word in several casings, and every word of 3 and 4
        // letters over an alphabet that covers all first and last letters and more.
        let mut words: Vec<String> = Vec::new();
        for list in [CRITICAL_WORDS, ERROR_WORDS, WARNING_WORDS] {
            for w in list {
                words.extend([w.to_string(), w.to_ascii_uppercase(), format!("{w}.")]);
            }
        }
        for suffix in ERROR_SUFFIXES {
            words.extend([
                format!("Value{suffix}"),
                format!("io.IO{suffix}"),
                format!("x{suffix}"),
            ]);
        }
        let alphabet = b"abcdefgnoprstwxzACEFNPRSTW.";
        for &a in alphabet {
            for &b in alphabet {
                for &c in alphabet {
                    words.push(String::from_utf8(vec![a, b, c]).unwrap());
                    for &d in b"enrtx" {
                        words.push(String::from_utf8(vec![a, b, c, d]).unwrap());
                    }
                }
            }
        }
        for word in &words {
            let trimmed = word.trim_matches('.');
            let expected = if trimmed.len() < 3 {
                Severity::Notice
            } else {
                listed_severity(trimmed)
            };
            assert_eq!(word_severity(word), expected, "{word:?}");
        }
    }

    #[test]
    fn structured_levels() {
        assert_eq!(detect(r#"{"level":"error","msg":"db down"}"#), Severity::Error);
        assert_eq!(detect(r#"{"msg":"x","severity":"CRITICAL"}"#), Severity::Critical);
        assert_eq!(detect(r#"{"level":50,"msg":"pino"}"#), Severity::Error);
        assert_eq!(detect(r#"{"level":60}"#), Severity::Critical);
        assert_eq!(
            detect(r#"{"log.level":"warn","message":"slow"}"#),
            Severity::Warning
        );
        assert_eq!(detect(r#"{"levelname":"ERROR"}"#), Severity::Error);
        // The field wins over words in the message.
        assert_eq!(
            detect(r#"{"level":"info","msg":"retrying after error"}"#),
            Severity::Notice
        );
        // Not JSON after all: fall back to words.
        assert_eq!(detect("{broken ERROR"), Severity::Error);
    }

    #[test]
    fn a_stated_level_wins_over_words_in_the_text() {
        // User input logged at INFO cannot pass for a failure (issue 20).
        for info in [
            "INFO search query was: 'fatal panic' (user 77)",
            "[INFO] user bio: fatal error panic",
            "2024-05-01T10:00:00.000Z INFO invalid coupon code 'FATAL'",
            "2024-05-01 10:00:00,123 INFO [main] request text: panic",
            "INFO:app:search for 'database error'",
            "2024-05-01T10:00:00.000Z\t6f7f0961-1e8b-4c5e-9a31-1b2f3c4d5e6f\tINFO\tquery: fatal",
            "time=2024-05-01T10:00:00Z level=info msg=\"user wrote: fatal panic\"",
            "ts=1714557600 lvl=debug msg=\"error budget report\"",
            r#"{"level":"info","msg":"user bio: \"fatal\" error \"panic\""}"#,
        ] {
            assert_eq!(detect(info), Severity::Notice, "{info}");
        }
        assert_eq!(
            detect("WARN retrying after error (attempt 1/5)"),
            Severity::Warning
        );
        assert_eq!(
            detect("2024-05-01T10:00:00Z [ERROR] pool exhausted: fatal"),
            Severity::Error
        );
        assert_eq!(
            detect("level=error msg=\"database connection pool exhausted\""),
            Severity::Error
        );
        assert_eq!(
            detect("FATAL payments-db primary unreachable, failing over"),
            Severity::Critical
        );
        // No stated level: words decide, as before (crash shapes carry no level).
        assert_eq!(
            detect("panic: runtime error: index out of range"),
            Severity::Critical
        );
        assert_eq!(detect("Traceback (most recent call last):"), Severity::Error);
        assert_eq!(detect("Alert: fatal error in worker"), Severity::Critical);
        // `msg=` first, no level pair: words decide.
        assert_eq!(detect("msg=\"fatal: disk gone\""), Severity::Critical);
    }

    #[test]
    fn plain_text_words() {
        assert_eq!(detect("2024-05-01 ERROR something broke"), Severity::Error);
        assert_eq!(detect("FATAL: out of slots"), Severity::Critical);
        assert_eq!(
            detect("thread 'main' panicked at src/main.rs:2:5"),
            Severity::Critical
        );
        assert_eq!(detect("Traceback (most recent call last):"), Severity::Error);
        assert_eq!(detect("java.lang.NullPointerException: null"), Severity::Error);
        assert_eq!(detect("ValueError: bad input"), Severity::Error);
        assert_eq!(detect("WARN disk at 85%"), Severity::Warning);
        assert_eq!(detect("all good"), Severity::Notice);
        assert_eq!(detect("terrorism"), Severity::Notice);
    }

    #[test]
    fn word_lengths_at_the_edges() {
        // `err` is the shortest name; a shorter word is none of them.
        assert_eq!(detect("ERR connection refused"), Severity::Error);
        assert_eq!(detect("er connection refused"), Severity::Notice);
        // Fully qualified exception names run long.
        let long = "org.springframework.beans.factory.support.BeanDefinitionOverrideException";
        assert!(long.len() > 64);
        assert_eq!(
            detect(&format!("{long}: bean 'x' already defined")),
            Severity::Error
        );
    }

    #[test]
    fn lambda_platform_failures() {
        assert_eq!(
            detect("2024-05-01T10:00:00.000Z abc Task timed out after 3.00 seconds"),
            Severity::Error
        );
        assert_eq!(
            detect("RequestId: x Error: Runtime exited Runtime.ExitError"),
            Severity::Error
        );
        let oom = "REPORT RequestId: 1\tDuration: 5.00 ms\tBilled Duration: 6 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB";
        assert!(is_out_of_memory_report(oom));
        assert_eq!(detect(oom), Severity::Error);
        let fine = oom.replace("Max Memory Used: 128", "Max Memory Used: 60");
        assert!(!is_out_of_memory_report(&fine));
        assert_eq!(detect(&fine), Severity::Notice);
    }

    #[test]
    fn lambda_json_platform_records_that_failed_rate_error() {
        let timeout = r#"{"time":"2025-11-25T18:00:03.000Z","type":"platform.report","record":{"requestId":"6f7f0961","metrics":{"durationMs":3000.0,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":64},"status":"timeout"}}"#;
        assert_eq!(detect(timeout), Severity::Error);
        let oom = r#"{"time":"2025-11-25T18:00:03.000Z","type":"platform.report","record":{"requestId":"1","metrics":{"memorySizeMB":128,"maxMemoryUsedMB":128},"status":"error","errorType":"Runtime.OutOfMemory"}}"#;
        assert_eq!(detect(oom), Severity::Error);
        let done = r#"{"time":"t","type":"platform.runtimeDone","level":"INFO","record":{"requestId":"1","status":"failure"}}"#;
        assert_eq!(detect(done), Severity::Error);
        let fine = timeout.replace(r#""status":"timeout""#, r#""status":"success""#);
        assert_eq!(detect(&fine), Severity::Notice);
        // `record` of another shape, or no platform type: not a platform failure.
        assert_eq!(
            detect(r#"{"type":"app","record":{"status":"timeout"}}"#),
            Severity::Notice
        );
        assert_eq!(
            detect(r#"{"type":"platform.report","record":"x"}"#),
            Severity::Notice
        );
    }

    #[test]
    fn counts_of_no_errors_are_not_errors() {
        for benign in [
            "Build finished: 0 errors, 2 warnings",
            "No errors found in 120 files",
            "completed with zero errors",
            "finished without errors",
        ] {
            assert!(detect(benign) < Severity::Error, "{benign}");
        }
        for failure in [
            "Build failed: 3 errors, 0 warnings",
            "0 errors, 1 fatal",
            "ERROR: no such file",
            "error: 0 bytes written",
            "No route to host: connection error",
        ] {
            assert!(detect(failure) >= Severity::Error, "{failure}");
        }
    }
}
