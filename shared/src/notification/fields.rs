//! The values of SNS request fields: a safe Subject, FIFO group and deduplication ids. Both the
//! SNS encoding and the chat payload (whose id and thread are the same values) use them; kept
//! apart so that `sns` depends on `chat` and neither depends back.

use super::SUBJECT_MAX_CHARS;
use sha2::{Digest, Sha256};

/// FIFO group and deduplication ids.
const FIFO_ID_MAX_CHARS: usize = 128;

/// An SNS-safe Subject: printable ASCII, one line, starting with a visible character,
/// at most [`SUBJECT_MAX_CHARS`].
pub fn subject(raw: &str) -> String {
    let line = crate::text::ascii_line(raw.trim(), SUBJECT_MAX_CHARS);
    let line = line.trim();
    if line.is_empty() {
        "Lookout notification".to_string()
    } else {
        line.to_string()
    }
}

/// FIFO ids allow `A-Za-z0-9` and ASCII punctuation, up to 128 characters.
pub(super) fn fifo_id(raw: &str) -> String {
    let id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c.is_ascii_punctuation() {
                c
            } else {
                '_'
            }
        })
        .take(FIFO_ID_MAX_CHARS)
        .collect();
    if id.is_empty() { "lookout".to_string() } else { id }
}

/// SHA-256 of the identity, hex: 64 characters, deterministic across redeliveries.
pub fn deduplication_id(identity: &str) -> String {
    let digest = Sha256::digest(identity.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
