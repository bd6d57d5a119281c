//! Which accounts a central function serves, and what alerts call them: `MEMBER_ACCOUNTS`
//! (organisation mode: the accounts whose events task-alert and scan-alert read besides their
//! own) and `ACCOUNT_NAMES` (every function's alerts name the account). Both parsed once at
//! init; errors name the variable and an entry's position, never its text.

use crate::config::{ConfigError, Env, TopicArn, shape};
use crate::ids::AccountId;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;

const MEMBER_ACCOUNTS: &str = "MEMBER_ACCOUNTS";

/// `MEMBER_ACCOUNTS`: the accounts whose events are read besides the function's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberAccounts {
    /// `*`: any account's. The central event bus's policy (the organisation, or its listed
    /// accounts) decides which accounts can put events there; so does who may invoke the
    /// function.
    Any,
    /// These, besides the own.
    Listed(HashSet<AccountId>),
}

impl MemberAccounts {
    /// Unset or blank: `None` (single-account mode). Errors name the item by position, never
    /// its text.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(raw) = env.get(MEMBER_ACCOUNTS) else {
            return Ok(None);
        };
        if raw == "*" {
            return Ok(Some(Self::Any));
        }
        let items = env.list(MEMBER_ACCOUNTS);
        if items.is_empty() {
            return Ok(None);
        }
        let mut accounts = HashSet::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let account = AccountId::parse(item).ok_or_else(|| {
                ConfigError::new(
                    MEMBER_ACCOUNTS,
                    format!(
                        "must be * (any account) or a comma-separated list of 12-digit account ids; item {} is not one",
                        i.saturating_add(1)
                    ),
                )
            })?;
            accounts.insert(account);
        }
        Ok(Some(Self::Listed(accounts)))
    }

    /// Whether `account`'s events are read (the own account's always are).
    pub fn accepts(&self, account: &AccountId) -> bool {
        match self {
            Self::Any => true,
            Self::Listed(accounts) => accounts.contains(account),
        }
    }
}

const ACCOUNT_NAMES: &str = "ACCOUNT_NAMES";
/// AWS Organizations' account names are at most 50 characters; some room for an alias.
const MAX_ACCOUNT_NAME_CHARS: usize = 64;

/// `ACCOUNT_NAMES`: a JSON object from 12-digit account id to the name alerts show, e.g.
/// `{"111122223333": "payments-prod"}`. Unset: alerts show account ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountNames(HashMap<AccountId, String>);

impl AccountNames {
    /// Parsed and checked; a problem names the entry by position, never its text.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let Some(raw) = env.get(ACCOUNT_NAMES) else {
            return Ok(Self::default());
        };
        let problem = |text: String| ConfigError::new(ACCOUNT_NAMES, text);
        // The position, not serde's message: it quotes what it could not read.
        let Entries(entries) = serde_json::from_str(raw).map_err(|e| {
            problem(format!(
                "must be a JSON object of 12-digit account ids to names; {} is not one (line {}, column {})",
                shape(raw),
                e.line(),
                e.column()
            ))
        })?;
        let mut names = HashMap::with_capacity(entries.len());
        for (i, (id, name)) in entries.into_iter().enumerate() {
            let entry = i.saturating_add(1);
            let Some(account) = AccountId::parse(&id) else {
                return Err(problem(format!(
                    "has a key that is not a 12-digit account id (entry {entry})"
                )));
            };
            if name.trim().is_empty()
                || name.chars().count() > MAX_ACCOUNT_NAME_CHARS
                || name.chars().any(char::is_control)
            {
                return Err(problem(format!(
                    "gives a name that is blank, longer than {MAX_ACCOUNT_NAME_CHARS} characters or holds control characters (entry {entry})"
                )));
            }
            if names.insert(account, name).is_some() {
                return Err(problem(format!(
                    "names an account more than once (entry {entry} repeats an earlier one)"
                )));
            }
        }
        Ok(Self(names))
    }

    /// The name alerts give `account`, if it has one.
    pub fn name(&self, account: &AccountId) -> Option<&str> {
        self.0.get(account).map(String::as_str)
    }

    /// Whether the operator named any account.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A JSON object's entries in order, repeated keys kept (a map would keep one silently).
struct Entries(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, String>()? {
            entries.push(entry);
        }
        Ok(Entries(entries))
    }
}

/// The function's own account: `ACCOUNT_ID`, else the alert topic's (Lambda tells a function
/// its account only per invocation; the template creates the topic in the stack's account, and
/// a stack with a topic in another sets `ACCOUNT_ID`). `None` with neither.
pub fn own_account(env: &Env, topic: Option<&TopicArn>) -> Result<Option<AccountId>, ConfigError> {
    match env.get("ACCOUNT_ID") {
        None => Ok(topic.map(|t| t.account().clone())),
        Some(id) => AccountId::parse(id).map(Some).ok_or_else(|| {
            ConfigError::new(
                "ACCOUNT_ID",
                format!("must be a 12-digit AWS account id, not {}", shape(id)),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        Env::from_pairs(extra.iter().copied())
    }

    #[test]
    fn account_names_are_a_checked_map_and_errors_never_quote_it() {
        let names = |raw: &str| AccountNames::from_env(&env(&[("ACCOUNT_NAMES", raw)]));
        let ok = names(r#"{"111122223333": "payments-prod", "444455556666": "Équipe données"}"#).unwrap();
        let id = |s: &str| AccountId::parse(s).unwrap();
        assert_eq!(ok.name(&id("111122223333")), Some("payments-prod"));
        assert_eq!(ok.name(&id("444455556666")), Some("Équipe données"));
        assert_eq!(ok.name(&id("999999999999")), None);
        assert!(names("  ").unwrap().is_empty(), "blank is unset");
        for (raw, said) in [
            (r#"["111122223333"]"#, "must be a JSON object"),
            (r#"{"111122223333": 5}"#, "must be a JSON object"),
            (r#"{"hunter2": "x"}"#, "not a 12-digit account id (entry 1)"),
            (
                r#"{"111122223333": "a", "111122223333": "b"}"#,
                "more than once (entry 2",
            ),
            (r#"{"111122223333": " "}"#, "blank"),
            (
                r#"{"111122223333": "line\nbreak"}"#,
                "control characters (entry 1)",
            ),
        ] {
            let e = names(raw).unwrap_err();
            assert_eq!(e.variable, "ACCOUNT_NAMES", "{raw}");
            assert!(e.problem.contains(said), "{raw}: {}", e.problem);
            assert!(
                !e.problem.contains("hunter2") && !e.problem.contains("1111"),
                "{e}"
            );
        }
        let edge = format!(r#"{{"111122223333": "{}"}}"#, "n".repeat(64));
        assert_eq!(
            names(&edge).unwrap().name(&id("111122223333")).map(str::len),
            Some(64)
        );
        let long = format!(r#"{{"111122223333": "{}"}}"#, "n".repeat(65));
        assert!(names(&long).unwrap_err().problem.contains("longer than 64"));
    }

    #[test]
    fn the_own_account_is_account_id_else_the_topics() {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts").unwrap();
        let own = |pairs: &[(&str, &str)], topic| own_account(&env(pairs), topic);
        assert_eq!(own(&[], Some(&topic)).unwrap().unwrap(), "123456789012");
        assert_eq!(own(&[], None).unwrap(), None);
        let set = own(&[("ACCOUNT_ID", "111122223333")], Some(&topic)).unwrap();
        assert_eq!(set.unwrap(), "111122223333");
        let e = own(&[("ACCOUNT_ID", "hunter2")], Some(&topic)).unwrap_err();
        assert_eq!(e.variable, "ACCOUNT_ID");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn member_accounts_are_any_or_a_checked_list() {
        let parse = |raw: &str| MemberAccounts::from_env(&env(&[("MEMBER_ACCOUNTS", raw)]));
        assert_eq!(MemberAccounts::from_env(&env(&[])).unwrap(), None);
        for blank in ["", " ", " , "] {
            assert_eq!(parse(blank).unwrap(), None, "{blank:?}");
        }
        let id = |s: &str| AccountId::parse(s).unwrap();
        assert!(parse(" * ").unwrap().unwrap().accepts(&id("999999999999")));
        let listed = parse("111111111111, 222222222222,111111111111").unwrap().unwrap();
        assert!(listed.accepts(&id("111111111111")) && listed.accepts(&id("222222222222")));
        assert!(!listed.accepts(&id("333333333333")));
        for raw in ["111111111111,hunter2", "*,111111111111"] {
            let e = parse(raw).unwrap_err();
            assert_eq!(e.variable, "MEMBER_ACCOUNTS");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        assert!(
            parse("111111111111,hunter2")
                .unwrap_err()
                .problem
                .contains("item 2 is not one")
        );
    }
}
