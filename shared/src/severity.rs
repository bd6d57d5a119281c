//! Severity of a log line. A level the line states for itself wins over words in its text
//! (an INFO line that quotes "fatal panic" from user input is INFO): a JSON level field
//! (`level`, `severity`, `@l`, journald's `PRIORITY`, ...), a logfmt `level=` pair, a glog/klog
//! letter prefix (`E1124 16:00:00.000000 …`), or a level token in the header of the line (first
//! after timestamps, `[error]`, `[proxy:error]`, `|ERROR|`, `[16:00:00 ERR]`, Envoy's
//! `[…][15][error][upstream]`). Only a line that states no level is rated by the words and
//! crash shapes in it (`panic:`, `Traceback`, `Killed process 4242 (java)`, `Essential container
//! in task exited`, ...). ANSI colour codes are removed before rating, and only for rating.
//!
//! One file on purpose (over 600 lines): the formats are a reviewed table of byte scans, and
//! their order of precedence reads top to bottom. The corpus that holds them to account is
//! `tests/corpus/severity/` (`tests/tests/severity_corpus.rs`).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Ordered so that `max()` picks the one to page on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Matched by the subscription filter, but nothing in the line says how bad it is.
    #[default]
    Notice,
    /// A warning: worth a look, not a page.
    Warning,
    /// An error: something failed.
    Error,
    /// Fatal, critical, emergency, panic: the worst.
    Critical,
}

impl Severity {
    /// Every severity, worst first: the order reports and settings list them in.
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Notice,
    ];

    /// The name in alerts and settings (`ERROR`).
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
    Name(#[serde(borrow)] Cow<'a, str>),
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
        alias = "lvl",
        alias = "@l",
        alias = "LogLevel"
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
    /// Serilog's compact JSON leaves `@l` out at Information.
    #[serde(rename = "@mt", alias = "@m")]
    clef_message: Option<serde::de::IgnoredAny>,
    /// journald (`journalctl -o json`): a syslog priority, as a string.
    #[serde(borrow, rename = "PRIORITY")]
    priority: Option<LevelValue<'a>>,
    #[serde(borrow, rename = "MESSAGE")]
    journal_message: Option<Cow<'a, str>>,
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
    status: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "errorType")]
    error_type: Option<Cow<'a, str>>,
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

fn level_of(value: Option<&LevelValue<'_>>) -> Option<Severity> {
    match value? {
        LevelValue::Name(n) => Severity::from_level_name(n)
            .or_else(|| n.trim().parse().ok().and_then(Severity::from_level_number)),
        LevelValue::Number(n) => Severity::from_level_number(*n),
        LevelValue::Other(_) => None,
    }
}

/// Detects the severity of one log event's message.
pub fn detect(message: &str) -> Severity {
    // Colour codes split level names from their brackets and keys; only rating sees them gone.
    if message.contains('\x1b') {
        return detect_plain(&strip_ansi(message));
    }
    detect_plain(message)
}

fn detect_plain(message: &str) -> Severity {
    let line = message.trim_start();
    if let Some((priority, rest)) = syslog_priority(line) {
        return relayed(priority, rest);
    }
    stated(line).unwrap_or_else(|| detect_words(line))
}

/// The level a line states for itself, if it states one.
fn stated(line: &str) -> Option<Severity> {
    if line.starts_with('{') {
        if let Ok(fields) = serde_json::from_str::<LevelFields>(line.trim_end()) {
            return json_level(&fields);
        }
    } else if let Some(s) = klog_level(line) {
        return Some(s);
    }
    logfmt_level(line).or_else(|| header_level(line))
}

fn json_level(fields: &LevelFields<'_>) -> Option<Severity> {
    let failed = platform_failure(fields).then_some(Severity::Error);
    if let Some(s) = level_of(fields.level.as_ref()).or_else(|| level_of(fields.severity.as_ref())) {
        return Some(s.max(failed.unwrap_or_default()));
    }
    if failed.is_some() {
        return failed;
    }
    if fields.clef_message.is_some() {
        return Some(Severity::Notice);
    }
    let priority = level_of(fields.priority.as_ref())?;
    Some(relayed(priority, fields.journal_message.as_deref().unwrap_or("")))
}

/// A priority stamped by whatever relayed the line (syslog PRI, journald `PRIORITY`). Relays
/// stamp one priority on a whole stream (Docker: info for stdout, err for stderr; systemd:
/// info for both), so the message's own level wins, and a priority below ERROR does not hide
/// failure words.
fn relayed(priority: Severity, message: &str) -> Severity {
    let message = message.trim_start();
    match stated(message) {
        Some(s) => s,
        None if priority >= Severity::Error => priority,
        None => priority.max(detect_words(message)),
    }
}

/// A syslog PRI at the start of the line (`<3>`, `<131>1 2024-…`): facility × 8 + severity.
fn syslog_priority(line: &str) -> Option<(Severity, &str)> {
    let rest = line.strip_prefix('<')?;
    let end = rest.bytes().take(4).position(|b| b == b'>')?;
    let digits = &rest[..end];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pri: u16 = digits.parse().ok()?;
    if pri > 191 {
        return None;
    }
    let severity = match pri % 8 {
        0..=2 => Severity::Critical,
        3 => Severity::Error,
        4 => Severity::Warning,
        _ => Severity::Notice,
    };
    Some((severity, &rest[end + 1..]))
}

/// glog/klog: `E1124 16:00:00.000000 1 reflector.go:138] …`, a level letter, the month and day,
/// then the time.
fn klog_level(line: &str) -> Option<Severity> {
    let b = line.as_bytes();
    let shaped = b.len() > 9
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' '
        && b[6].is_ascii_digit()
        && b[7].is_ascii_digit()
        && b[8] == b':';
    if !shaped {
        return None;
    }
    Some(match b[0] {
        b'I' => Severity::Notice,
        b'W' => Severity::Warning,
        b'E' => Severity::Error,
        b'F' => Severity::Critical,
        _ => return None,
    })
}

/// Level names a line states for itself, in any case. Narrower than
/// [`Severity::from_level_name`]: a first word such as `Alert` or `Fine` is more often prose.
fn core_level(name: &str) -> Option<Severity> {
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

/// Abbreviations loggers print in capitals only: Serilog and zerolog (`INF`, `WRN`, `ERR`,
/// `FTL`), logrus on a terminal (`ERRO`, `FATA`), NestJS and PostgreSQL (`LOG`).
fn capital_level(name: &str) -> Option<Severity> {
    Some(match name {
        "FTL" | "FATA" | "PANI" | "PNC" => Severity::Critical,
        "ERRO" => Severity::Error,
        "WRN" => Severity::Warning,
        "INF" | "DBG" | "VRB" | "TRC" | "DEBU" | "TRAC" | "LOG" => Severity::Notice,
        _ => return None,
    })
}

/// Names seen only inside brackets: nginx/Apache `[alert]`, MySQL `[Note]`/`[System]`.
fn bracketed_level(name: &str) -> Option<Severity> {
    if name.eq_ignore_ascii_case("alert") {
        Some(Severity::Critical)
    } else if name.eq_ignore_ascii_case("note") || name.eq_ignore_ascii_case("system") {
        Some(Severity::Notice)
    } else {
        None
    }
}

/// Words in a line's header that carry no level: fillers between timestamp parts and fields.
fn is_filler(token: &str) -> bool {
    if token.len() > 3 {
        return false;
    }
    const FILLERS: &[&str] = &[
        "-", "--", "---", "AM", "PM", "UTC", "GMT", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan",
        "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    FILLERS.contains(&token)
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
        let value = value.trim_matches('"');
        // log15 and older Grafana write `lvl=eror`, `lvl=dbug`.
        let log15 = match value {
            "eror" => Some(Severity::Error),
            "dbug" => Some(Severity::Notice),
            _ => None,
        };
        is_level.then(|| core_level(value).or(log15)).flatten()
    })
}

/// A level token in the header of a line: after timestamps, request ids, bracketed fields
/// (`[main]`, `[pid 42:tid 7]`) and at most one other word (a host or logger name; after it,
/// only a capitalised or bracketed level counts), or a syslog tag after a timestamp.
/// Recognises `ERROR`, `ERROR:root:msg`, `[error]`, `<ERROR>`, `[proxy_fcgi:error]`,
/// `|ERROR|`, `ERROR/ForkPoolWorker-1`, `fail:` (.NET), `LOG:`/`DETAIL:` (PostgreSQL).
fn header_level(message: &str) -> Option<Severity> {
    let mut words_skipped = 0;
    let mut saw_time = false;
    let mut tag_skipped = false;
    for token in message.split_ascii_whitespace().take(12) {
        let is_delimiter = |b: u8| matches!(b, b'[' | b']' | b'<' | b'>' | b'|');
        let delimited = token.bytes().any(is_delimiter);
        let mut pieces = token
            .split(|c: char| c.is_ascii() && is_delimiter(c as u8))
            .filter(|p| !p.is_empty());
        let mut whole = Some(token);
        // Most tokens hold no delimiter: one piece, without running the splitter.
        while let Some(piece) = if delimited { pieces.next() } else { whole.take() } {
            let core = piece.trim_end_matches([':', ',']);
            let time = is_timestamp(core);
            if core.is_empty() || time || is_request_id(core) || is_filler(core) {
                saw_time |= time;
                continue;
            }
            let first = words_skipped == 0 && !tag_skipped;
            if let Some(s) = piece_level(piece, core, first, delimited) {
                return Some(s);
            }
            if delimited {
                // Thread names, pids, modules: `[main]`, `[pid 42:tid 7]`, `app[4242]:`.
                continue;
            }
            if piece.ends_with(':') {
                // A syslog tag (`kernel:`, `orders:`) follows a timestamp; otherwise `word:`
                // starts the message (`TypeError:`, `psql:`).
                if saw_time && !tag_skipped {
                    tag_skipped = true;
                    continue;
                }
                return None;
            }
            if core.contains('=') {
                // logfmt after a syslog header: `Nov 24 16:00:03 host app[42]: level=info …`.
                let at = token.as_ptr() as usize - message.as_ptr() as usize;
                return logfmt_level(&message[at..]);
            }
            if words_skipped == 0 {
                words_skipped = 1;
                continue;
            }
            return None;
        }
    }
    None
}

fn piece_level(piece: &str, core: &str, first: bool, delimited: bool) -> Option<Severity> {
    // `ERROR:root:msg`, `ERROR/ForkPoolWorker-1`; Apache's `[proxy_fcgi:error]` and RDS
    // PostgreSQL's `UTC:10.0.1.5(51234):app@db:[4242]:ERROR:` name the level last.
    let name = &core[..core
        .bytes()
        .position(|b| b == b':' || b == b'/')
        .unwrap_or(core.len())];
    let last = core.rsplit_once(':').map(|(_, last)| last).filter(|_| delimited);
    for name in [Some(name), last].into_iter().flatten() {
        if let Some(s) = name_level(name, first || delimited) {
            return Some(s);
        }
    }
    if delimited && let Some(s) = bracketed_level(last.unwrap_or(core)) {
        return Some(s);
    }
    if piece.ends_with(':') {
        if first {
            // .NET's console logger: `fail: Category[EventId]`, `dbug:`, `trce:`.
            match name {
                "fail" => return Some(Severity::Error),
                "dbug" | "trce" => return Some(Severity::Notice),
                _ => {}
            }
        }
        // PostgreSQL's lines that accompany another: `DETAIL:`, `HINT:`, `STATEMENT:`.
        if ["DETAIL", "HINT", "STATEMENT", "CONTEXT", "QUERY", "LOCATION"].contains(&name) {
            return Some(Severity::Notice);
        }
    }
    None
}

/// A level name: core names in any case where a level is expected (first, or bracketed),
/// otherwise in capitals only; abbreviations in capitals.
fn name_level(name: &str, any_case: bool) -> Option<Severity> {
    let capitals = !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase());
    (any_case || capitals)
        .then(|| core_level(name))
        .flatten()
        .or_else(|| capital_level(name))
}

/// A UUID, as Lambda's text log format puts the request id between the time and the level.
fn is_request_id(token: &str) -> bool {
    token.len() == 36 && token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Digits with date and time punctuation (`2024-05-01`, `10:00:00.123Z`, `+0000`, `4:00PM`).
fn is_timestamp(token: &str) -> bool {
    let token = token
        .strip_suffix("AM")
        .or_else(|| token.strip_suffix("PM"))
        .unwrap_or(token);
    token.bytes().any(|b| b.is_ascii_digit())
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-:.,/TZ+".contains(&b))
}

/// Removes ANSI escape sequences (SGR colours and any other CSI sequence).
fn strip_ansi(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        rest = match after.strip_prefix('[') {
            Some(csi) => {
                // Parameter bytes, intermediate bytes, one final byte (ECMA-48): all ASCII, so
                // every index here is a character boundary.
                let b = csi.as_bytes();
                let mut end = 0;
                while end < b.len() && (0x30..=0x3f).contains(&b[end]) {
                    end += 1;
                }
                while end < b.len() && (0x20..=0x2f).contains(&b[end]) {
                    end += 1;
                }
                if end < b.len() && (0x40..=0x7e).contains(&b[end]) {
                    end += 1;
                }
                &csi[end..]
            }
            None => after,
        };
    }
    out.push_str(rest);
    out
}

/// Plain text: the strongest failure word or crash shape present wins. Words are runs of ASCII
/// letters, digits, `.` and `_`, read byte by byte without allocating: this runs on every line.
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
        let rest = &message[i..];
        let mut found = word_severity(word);
        if found >= Severity::Error {
            let before = start.checked_sub(1).map(|p| bytes[p]);
            let after = bytes.get(i).copied();
            if [before, after].iter().any(|b| matches!(b, Some(b'/' | b'-'))) {
                // A path segment or a compound: `/errors/404.html`, `error-prone`, `non-fatal`.
                found = Severity::Notice;
            } else if is_count_word(word) && (is_zero_count(previous) || states_none(word, rest)) {
                // `0 errors`, `No errors found`, `errors=0`, `err=<nil>`: a count of none.
                found = Severity::Notice;
            }
        } else if PHRASE_LETTERS[usize::from(bytes[start])]
            && word.len() < 64
            && PHRASE_LENGTHS & (1 << word.len()) != 0
        {
            found = found.max(phrase_severity(word, rest));
        }
        previous = word;
        if found > best {
            best = found;
            if best == Severity::Critical {
                break;
            }
        }
    }
    if best < Severity::Error && (is_out_of_memory_report(message) || is_failed_lambda_report(message)) {
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
    // Go's and the kernel's names for a crash signal: `[signal SIGSEGV: segmentation violation`.
    "sigsegv",
    "sigabrt",
    "sigbus",
];
const WARNING_WORDS: &[&str] = &["warn", "warning"];
/// `NullPointerException`, `java.io.IOException`; `ValueError` (capitalised only).
const ERROR_SUFFIXES: &[&str] = &["exception", "error"];

/// Failure shapes with no failure word in them: a word, and the text that must follow it.
const PHRASES: &[(&str, &str)] = &[
    // The kernel's OOM killer: `Out of memory: Killed process 4242 (java) total-vm:…`.
    ("Killed", " process "),
    ("invoked", " oom-killer:"),
    ("segfault", " at "),
    ("Segmentation", " fault"),
    // Stopped reasons of ECS and Fargate tasks, and ECS service events.
    ("Essential", " container in task exited"),
    ("Task", " failed ELB health checks"),
    ("Task", " failed container health checks"),
    ("Task", " failed to start"),
    ("failed", " container health checks"),
    ("deployment", " failed:"),
    ("unhealthy", " in (target-group"),
    ("Timeout", " waiting for network interface provisioning"),
    // Lambda's own line; Java's and Node's crash lines that may name no exception.
    ("Task", " timed out after"),
    ("Caused", " by: "),
    ("Unhandled", " rejection"),
    ("UnhandledPromiseRejection", ""),
    ("UnhandledPromiseRejectionWarning", ""),
];
/// The first letters and the lengths of the phrase words: most words have neither.
const PHRASE_LETTERS: [bool; 256] = {
    let mut set = [false; 256];
    let mut p = 0;
    while p < PHRASES.len() {
        set[PHRASES[p].0.as_bytes()[0] as usize] = true;
        p += 1;
    }
    set
};
const PHRASE_LENGTHS: u64 = {
    let mut mask = 0;
    let mut p = 0;
    while p < PHRASES.len() {
        mask |= 1 << PHRASES[p].0.len();
        p += 1;
    }
    mask
};

fn phrase_severity(word: &str, rest: &str) -> Severity {
    let matched = PHRASES.iter().any(|(w, after)| {
        *w == word
            && rest.starts_with(after)
            // `Killed process 4242`: a pid follows, not prose.
            && (*w != "Killed" || rest[after.len()..].starts_with(|c: char| c.is_ascii_digit()))
    });
    if matched {
        Severity::Error
    } else {
        Severity::Notice
    }
}

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

/// Words that name a count of failures (`0 errors`, `0 fatal`).
fn is_count_word(word: &str) -> bool {
    ["error", "errors", "err", "failures", "exceptions", "fatal"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// A count word given the value none: `errors=0`, `"errors": 0`, `errors: 0.00`, and for any
/// of them `err=<nil>`, `"error":null`, `error=""`, `error: none`. `error: 0 bytes written`
/// stays an error: a singular word with a number is not a count.
fn states_none(word: &str, rest: &str) -> bool {
    let rest = rest.strip_prefix('"').unwrap_or(rest).trim_start();
    let Some(value) = rest.strip_prefix([':', '=']) else {
        return false;
    };
    let value = value.trim_start();
    let unquoted = value.strip_prefix(['"', '\'']);
    if unquoted.is_some_and(|v| v.starts_with(['"', '\''])) {
        return true;
    }
    let value = unquoted.unwrap_or(value);
    let none = ["<nil>", "nil", "null", "none", "false"].iter().any(|n| {
        value.len() >= n.len()
            && value.as_bytes()[..n.len()].eq_ignore_ascii_case(n.as_bytes())
            && !value[n.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
    });
    let plural = word.len() > 3 && word.ends_with(['s', 'S']);
    let number = &value[..value
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count()];
    let zero = number.starts_with('0') && number.bytes().all(|b| b == b'0' || b == b'.');
    none || (plural && zero)
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

/// A text-format REPORT or INIT_REPORT line with a failed status (`Status: timeout`, `error`).
fn is_failed_lambda_report(message: &str) -> bool {
    let is_report = ["REPORT ", "INIT_REPORT ", "RESTORE_REPORT "]
        .iter()
        .any(|p| message.starts_with(p));
    is_report
        && message.find("Status: ").is_some_and(|at| {
            let status = &message[at + "Status: ".len()..];
            !status.starts_with("success")
        })
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

    #[test]
    fn colour_codes_are_removed_before_rating() {
        assert_eq!(strip_ansi("\x1b[1;31mERROR:\x1b[0m x"), "ERROR: x");
        assert_eq!(strip_ansi("a\x1b[2Kb\x1b"), "ab");
        for failure in [
            "\x1b[31mERROR\x1b[0m payment capture failed",
            "\x1b[1;31mERROR:\x1b[0m could not open queue.db",
            "level=\x1b[31merror\x1b[0m msg=\"flush failed\"",
            "\x1b[31mERRO\x1b[0m[0042] failed to sync pod status",
        ] {
            assert_eq!(detect(failure), Severity::Error, "{failure:?}");
        }
        // The stated level still wins once the colour is gone.
        assert_eq!(
            detect("\x1b[32mINFO\x1b[0m retrying after error"),
            Severity::Notice
        );
        assert_eq!(
            detect("\x1b[33mWARN\x1b[0m retrying after error (attempt 1/5)"),
            Severity::Warning
        );
    }

    #[test]
    fn klog_letter_prefixes() {
        let line = |letter: char| format!("{letter}1124 16:00:00.000000       1 reflector.go:138] x");
        assert_eq!(detect(&line('E')), Severity::Error);
        assert_eq!(detect(&line('F')), Severity::Critical);
        assert_eq!(detect(&line('W')), Severity::Warning);
        assert_eq!(detect(&line('I')), Severity::Notice);
        // The letter wins over words: an I line quoting an error is INFO.
        assert_eq!(
            detect("I1124 16:00:03.118273 1 panics.go:44] \"Observed a panic\" err=x"),
            Severity::Notice
        );
        // Not the shape: an ordinary word that starts with E and digits.
        assert_eq!(detect("E1124 is the part number"), Severity::Notice);
    }

    #[test]
    fn syslog_and_journald_priorities() {
        assert_eq!(
            detect("<3>systemd[1]: Failed to start docker.service"),
            Severity::Error
        );
        assert_eq!(
            detect("<0>kernel: Kernel panic - not syncing"),
            Severity::Critical
        );
        assert_eq!(detect("<2>containerd[812]: shim exited"), Severity::Critical);
        assert_eq!(detect("<4>nvme nvme0: I/O 12 QID 3 timeout"), Severity::Warning);
        assert_eq!(detect("<6>systemd[1]: Started docker.service."), Severity::Notice);
        // facility × 8 + severity: local0.err, daemon.err, local0.info.
        assert_eq!(
            detect("<131>1 2024-11-24T16:00:03Z host app 42 - - charge failed"),
            Severity::Error
        );
        assert_eq!(
            detect("<27>Nov 24 16:00:03 host web[812]: charge failed"),
            Severity::Error
        );
        assert_eq!(
            detect("<134>1 2024-11-24T16:00:03Z host app 42 - - charged"),
            Severity::Notice
        );
        // The message's own level wins over the relay's priority, both ways.
        assert_eq!(
            detect(
                "<27>Nov 24 16:00:03 host web[812]: 2024-11-24 16:00:03,118 INFO [main] retried after error"
            ),
            Severity::Notice
        );
        assert_eq!(
            detect("<30>Nov 24 16:00:03 host web[812]: 2024-11-24 16:00:03,118 ERROR [main] charge failed"),
            Severity::Error
        );
        // A priority below ERROR does not hide failure words.
        assert_eq!(detect("<6>kernel: traceback follows"), Severity::Error);
        assert_eq!(detect("<ERROR> not a priority"), Severity::Error);
        assert_eq!(detect("<200>x"), Severity::Notice);

        assert_eq!(
            detect(r#"{"PRIORITY":"3","MESSAGE":"agent exited with code 5"}"#),
            Severity::Error
        );
        assert_eq!(
            detect(r#"{"PRIORITY":2,"MESSAGE":"Out of memory"}"#),
            Severity::Critical
        );
        assert_eq!(
            detect(r#"{"PRIORITY":"6","MESSAGE":"API listen on /run/docker.sock"}"#),
            Severity::Notice
        );
        assert_eq!(
            detect(
                r#"{"PRIORITY":"6","MESSAGE":"E1124 16:00:03.118273 1422 pod_workers.go:1298] sync failed"}"#
            ),
            Severity::Error
        );
        assert_eq!(
            detect(r#"{"PRIORITY":"6","MESSAGE":"level=info msg=\"last error cleared\""}"#),
            Severity::Notice
        );
    }

    #[test]
    fn more_json_level_fields() {
        assert_eq!(
            detect(r#"{"@t":"2024-11-24T16:00:03Z","@mt":"Failed {Id}","@l":"Error"}"#),
            Severity::Error
        );
        assert_eq!(
            detect(r#"{"@t":"2024-11-24T16:00:03Z","@mt":"Host terminated","@l":"Fatal"}"#),
            Severity::Critical
        );
        // Serilog's compact JSON leaves `@l` out at Information.
        assert_eq!(
            detect(r#"{"@t":"2024-11-24T16:00:03Z","@mt":"Retrying after error"}"#),
            Severity::Notice
        );
        assert_eq!(
            detect(r#"{"EventId":13,"LogLevel":"Error","Message":"x"}"#),
            Severity::Error
        );
        assert_eq!(
            detect(r#"{"EventId":14,"LogLevel":"Information","Message":"errors: 1"}"#),
            Severity::Notice
        );
        assert_eq!(detect(r#"{"level":"50","msg":"x"}"#), Severity::Error);
    }

    #[test]
    fn levels_in_server_and_framework_headers() {
        for (line, expected) in [
            (
                "[Sun Nov 24 16:00:03.118273 2024] [proxy_fcgi:error] [pid 42:tid 7] AH01071: x",
                Severity::Error,
            ),
            (
                "[Sun Nov 24 16:00:03.118273 2024] [core:alert] [pid 42:tid 7] x",
                Severity::Critical,
            ),
            (
                "[Sun Nov 24 16:00:03.118273 2024] [core:notice] [pid 1:tid 7] exit signal Segmentation fault (11)",
                Severity::Notice,
            ),
            (
                "2024/11/24 16:00:03 [alert] 1#1: worker process 30 exited on signal 11",
                Severity::Critical,
            ),
            (
                "[2024-11-24 16:00:03.118][15][error][upstream] [source/x.cc:35] cds failed",
                Severity::Error,
            ),
            (
                "[2024-11-24 16:00:03.118][1][critical][main] [source/server/server.cc:131] x",
                Severity::Critical,
            ),
            (
                "[2024-11-24 16:00:03.118][15][debug][router] cluster 'errors-svc' match",
                Severity::Notice,
            ),
            (
                "2024-11-24T16:00:03.118273Z 0 [System] [MY-010931] [Server] ready; 0 errors",
                Severity::Notice,
            ),
            (
                "2024-11-24 16:00:03 0 [Note] InnoDB: error log rotated",
                Severity::Notice,
            ),
            (
                "2024-11-24T16:00:03.118273Z 0 [ERROR] [MY-010119] [Server] Aborting",
                Severity::Error,
            ),
            (
                "2024-11-24 16:00:03.118 UTC [4242] LOG:  statement: SELECT * FROM errors",
                Severity::Notice,
            ),
            (
                "2024-11-24 16:00:03.118 UTC [4242] DETAIL:  Key (ref)=(A-1) already exists.",
                Severity::Notice,
            ),
            (
                "2024-11-24 16:00:03.118 UTC [4242] app@shop ERROR:  deadlock detected",
                Severity::Error,
            ),
            (
                "2024-11-24 16:00:03 UTC:10.0.1.5(51234):app@shop:[4242]:FATAL:  too many connections",
                Severity::Critical,
            ),
            (
                "2024-11-24 16:00:03 UTC:10.0.1.5(51234):app@shop:[4242]:LOG:  errors table vacuumed",
                Severity::Notice,
            ),
            ("fail: Microsoft.AspNetCore.Server.Kestrel[13]", Severity::Error),
            (
                "dbug: Microsoft.EntityFrameworkCore.Infrastructure[10403] error",
                Severity::Notice,
            ),
            ("[16:00:03 FTL] Host terminated unexpectedly", Severity::Critical),
            (
                "[16:00:03 INF] Processed message, last error none",
                Severity::Notice,
            ),
            (
                "2024-11-24 16:00:03.1182|ERROR|Orders.Worker|timeout",
                Severity::Error,
            ),
            ("4:00PM WRN retrying after error", Severity::Warning),
            (
                "16:00:03.118 [main] INFO  c.e.App - error page registered at /error",
                Severity::Notice,
            ),
            (
                "2024-11-24 16:00:03,118 - orders.worker - ERROR - charge failed",
                Severity::Error,
            ),
            (
                "2024-11-24 16:00:03,118 - orders.worker - INFO - retried after error",
                Severity::Notice,
            ),
            (
                "[2024-11-24 16:00:03,118: WARNING/ForkPoolWorker-3] Retrying after error",
                Severity::Warning,
            ),
            (
                "[Nest] 1  - 11/24/2024, 4:00:03 PM     LOG [RoutesResolver] ErrorsController",
                Severity::Notice,
            ),
            (
                "Nov 24 16:00:03 host web[812]: level=info msg=\"errors from the previous run: 3\"",
                Severity::Notice,
            ),
            (
                "t=2024-11-24T16:00:03+0000 lvl=eror msg=\"send failed\"",
                Severity::Error,
            ),
            // A word ending in a colon starts the message: words decide.
            ("psql: error: connection to server failed", Severity::Error),
            ("TypeError: INFO is not a function", Severity::Error),
        ] {
            assert_eq!(detect(line), expected, "{line}");
        }
    }

    #[test]
    fn crash_and_stop_shapes_without_a_failure_word() {
        for line in [
            "[123456.789012] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:4023412kB",
            "Nov 24 16:00:03 ip-10-0-1-23 kernel: Memory cgroup out of memory: Killed process 12 (ruby)",
            "[123456.789012] java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0",
            "Segmentation fault (core dumped)",
            "[123456.789012] node[4242]: segfault at 0 ip 00007f8a2c3b4d5e sp 00007ffd1a2b3c40",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a5b6c]",
            "Essential container in task exited",
            "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1)",
            "Task failed container health checks",
            "(service web) (task 4f2a9c1e) failed container health checks.",
            "(service web) (deployment ecs-svc/123) deployment failed: tasks failed to start.",
            "(service web) (port 8080) is unhealthy in (target-group arn:x) due to (reason Health checks failed).",
            "Timeout waiting for network interface provisioning to complete.",
            "Caused by: com.example.Gone: upstream closed",
            "(node:1) UnhandledPromiseRejectionWarning: connect ECONNREFUSED 10.0.3.7:6379",
            "REPORT RequestId: 1\tDuration: 3000.00 ms\tMemory Size: 128 MB\tMax Memory Used: 61 MB\tStatus: timeout",
            "INIT_REPORT Init Duration: 9999.85 ms\tPhase: init\tStatus: timeout",
        ] {
            assert_eq!(detect(line), Severity::Error, "{line}");
        }
        for line in [
            "[123456.789012] oom_reaper: reaped process 4242 (java), now anon-rss:0kB",
            "Killed process group after shutdown",
            "Task stopped by user",
            "(service web) has reached a steady state.",
            "REPORT RequestId: 1\tDuration: 412.30 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\tStatus: success",
        ] {
            assert_eq!(detect(line), Severity::Notice, "{line}");
        }
    }

    #[test]
    fn counts_of_none_paths_and_compounds_are_not_failures() {
        for benign in [
            "metrics: requests=1532 errors=0 error_rate=0.00",
            "sent=500 failures=0 retried=3",
            "errors: 0, warnings: 3",
            r#"{"msg":"done","errors": 0.00}"#,
            "request done err=<nil>",
            r#"{"msg":"done","error":null}"#,
            "webhook delivered error=\"\"",
            "lease renewed; last error: none",
            "Uploaded crash report: 99.98% (0 fatal)",
            "GET /api/v1/errors?since=1h 200",
            "rendering template errors/404.html.j2",
            "Downloaded error-prone-2.36.0.jar",
            "skipped a non-fatal warning",
        ] {
            assert!(detect(benign) < Severity::Error, "{benign}");
        }
        for failure in [
            "metrics: requests=1532 errors=3",
            "summary: error_count=2 errors=0.5%",
            "request done err=timeout",
            "write error: 0 bytes written",
            r#"{"msg":"done","errors":10}"#,
            "upload failed: error=\"AccessDenied\"",
        ] {
            assert!(detect(failure) >= Severity::Error, "{failure}");
        }
    }
}
