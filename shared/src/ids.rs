//! The AWS identifiers every function builds links, ARNs and SDK clients from: one region
//! grammar and one account check, applied once where the text enters (configuration or an
//! event), so nothing downstream handles an unchecked value.

use crate::console;
use serde::Serialize;
use std::fmt;

/// An AWS region name of the one grammar ([`console::is_region`]): `us-east-1`,
/// `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`, `eusc-de-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Region(String);

impl Region {
    /// `None` when `raw` is not region-shaped (untrusted text never becomes a host or an ARN).
    pub fn parse(raw: &str) -> Option<Self> {
        console::is_region(raw).then(|| Self(raw.to_string()))
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition a region belongs to, as ARNs spell it (`aws`, `aws-cn`, `aws-iso-b`...).
    pub fn partition(&self) -> &'static str {
        console::partition_of_region(&self.0)
    }

    /// The console serves the commercial, China and GovCloud partitions; the isolated and
    /// sovereign partitions have consoles whose address a function cannot know.
    pub fn has_known_console(&self) -> bool {
        matches!(self.partition(), "aws" | "aws-cn" | "aws-us-gov")
    }
}

/// Compared with plain text in tests and checks (`region == "us-east-1"`).
impl PartialEq<&str> for Region {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<str> for Region {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// `None` unless `raw` is exactly 12 ASCII digits.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit())).then(|| Self(raw.to_string()))
    }

    /// The account id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Compared with plain text in tests and checks (`region == "us-east-1"`).
impl PartialEq<&str> for AccountId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_accounts_are_checked_once_here() {
        for region in [
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "us-isob-east-1",
            "eusc-de-east-1",
        ] {
            assert_eq!(
                Region::parse(region).map(|r| r.to_string()),
                Some(region.to_string())
            );
        }
        for bad in [
            "hunter2",
            "",
            "US-EAST-1",
            "us-east-1.evil.com",
            "us-east-",
            "us-east-123",
        ] {
            assert_eq!(Region::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Region::parse("us-isob-east-1").map(|r| r.partition()),
            Some("aws-iso-b")
        );
        assert_eq!(
            Region::parse("cn-north-1").map(|r| r.has_known_console()),
            Some(true)
        );
        assert_eq!(
            Region::parse("us-iso-east-1").map(|r| r.has_known_console()),
            Some(false)
        );
        assert!(AccountId::parse("123456789012").is_some());
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "CloudwatchLogs",
            "",
        ] {
            assert_eq!(AccountId::parse(bad), None, "{bad}");
        }
    }
}
