//! The order an organisation run takes its accounts in. A run that the deadline cuts short
//! leaves accounts not reached (and accounts cut mid-way); the next run starts with them, so no
//! account waits behind the others for ever.
//!
//! - With the state table: the run remembers those accounts in a note ([`Rotation`]); the next
//!   run takes them first (not reached, then cut short, each in the order the run had them),
//!   then the rest in `ACCOUNTS` order.
//! - Without it (or when the note cannot be read): `ACCOUNTS` rotated by an offset drawn from
//!   the hour the run was scheduled for (its event's `time`, else the hour it started), so
//!   every account leads some runs and a retry within the hour keeps the order.

use lookout_shared::ids::{AccountId, Region};
use lookout_shared::state::NoteKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long the note is kept: a schedule slower than this starts over in `ACCOUNTS` order.
pub(crate) const KEEP: Duration = Duration::from_secs(30 * 86_400);

/// What the next run starts with; the state table keeps it as a note.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rotation {
    /// Account ids, in the order the next run takes them first.
    pub(crate) first: Vec<String>,
}

/// Where an account got to, as far as the rotation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reached {
    /// Its turn never came before the deadline (or came too late to read its registry).
    No,
    /// Reached, but the deadline cut its run.
    CutShort,
    /// Done, or failed for a reason other than the deadline.
    Yes,
}

impl Rotation {
    /// The next run's start, from this run's accounts in the order they were taken.
    pub(crate) fn after_run<'a>(accounts: impl IntoIterator<Item = (&'a AccountId, Reached)>) -> Self {
        let (mut not_reached, mut cut_short) = (Vec::new(), Vec::new());
        for (account, reached) in accounts {
            match reached {
                Reached::No => not_reached.push(account.as_str().to_owned()),
                Reached::CutShort => cut_short.push(account.as_str().to_owned()),
                Reached::Yes => {}
            }
        }
        not_reached.extend(cut_short);
        Self { first: not_reached }
    }
}

/// The note's key: one rotation per function and region.
pub(crate) fn key(region: &Region) -> NoteKey {
    NoteKey::new("ecr-rescan", &["rotation", region.as_str()])
}

/// `accounts` with `first` in front, in its order; ids in `first` that `ACCOUNTS` no longer
/// lists are dropped, and each account is taken once.
pub(crate) fn first_then_rest(accounts: &[AccountId], first: &[String]) -> Vec<AccountId> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::with_capacity(accounts.len());
    for id in first {
        if let Some(account) = accounts.iter().find(|a| a.as_str() == id.as_str())
            && taken.insert(account.as_str())
        {
            out.push(account.clone());
        }
    }
    out.extend(accounts.iter().filter(|a| !taken.contains(a.as_str())).cloned());
    out
}

/// `accounts` rotated by an offset drawn from the hour of `scheduled_ms` (epoch ms).
pub(crate) fn by_hour(accounts: &[AccountId], scheduled_ms: i64) -> Vec<AccountId> {
    let Some(len) = u64::try_from(accounts.len()).ok().filter(|n| *n > 0) else {
        return Vec::new();
    };
    let hour = u64::try_from(scheduled_ms.div_euclid(3_600_000)).unwrap_or(0);
    // A mixed hour, not the hour itself: with a schedule every k hours, `hour % len` would
    // repeat whenever k and len share a factor (every 4 h over 4 accounts: always the first).
    let offset = usize::try_from(mix(hour) % len).unwrap_or(0);
    let mut out = accounts.to_vec();
    out.rotate_left(offset);
    out
}

/// SplitMix64's finaliser: spreads consecutive hours over the whole range.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> Vec<AccountId> {
        (1..=n)
            .filter_map(|i| AccountId::parse(&format!("{:012}", i * 111_111_111_111 % 1_000_000_000_000)))
            .collect()
    }

    fn text(accounts: &[AccountId]) -> Vec<&str> {
        accounts.iter().map(AccountId::as_str).collect()
    }

    #[test]
    fn not_reached_then_cut_short_go_first_next_time() {
        let a = ids(5);
        let run = [
            (&a[2], Reached::Yes),
            (&a[3], Reached::CutShort),
            (&a[0], Reached::Yes),
            (&a[4], Reached::No),
            (&a[1], Reached::No),
        ];
        let next = Rotation::after_run(run);
        assert_eq!(
            next.first,
            [a[4].as_str(), a[1].as_str(), a[3].as_str()],
            "not reached first, in the run's order, then the one cut short"
        );
        let order = first_then_rest(&a, &next.first);
        assert_eq!(
            text(&order),
            [
                a[4].as_str(),
                a[1].as_str(),
                a[3].as_str(),
                a[0].as_str(),
                a[2].as_str()
            ]
        );
    }

    #[test]
    fn accounts_no_longer_listed_are_dropped_and_none_is_taken_twice() {
        let a = ids(3);
        let first = vec![
            "999999999999".to_string(),
            a[2].as_str().to_string(),
            a[2].as_str().to_string(),
        ];
        assert_eq!(
            text(&first_then_rest(&a, &first)),
            [a[2].as_str(), a[0].as_str(), a[1].as_str()]
        );
        assert_eq!(first_then_rest(&a, &[]), a);
    }

    #[test]
    fn without_a_table_every_account_leads_some_hours_and_an_hour_keeps_its_order() {
        let a = ids(4);
        let hour = 3_600_000i64;
        let base = 1_764_000_000_000i64 / hour * hour;
        // A run and Lambda's retries a minute or two later: the same order.
        assert_eq!(by_hour(&a, base), by_hour(&a, base + 120_000));
        // A schedule every 4 hours over 4 accounts still rotates through all of them.
        let leaders: BTreeSet<String> = (0..40)
            .map(|run| by_hour(&a, base + run * 4 * hour)[0].as_str().to_owned())
            .collect();
        assert_eq!(leaders.len(), 4, "{leaders:?}");
        // A rotation: the same accounts, each once.
        let mut sorted = by_hour(&a, base + hour);
        sorted.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        let mut all = a.clone();
        all.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(sorted, all);
        assert!(by_hour(&[], base).is_empty());
    }

    #[test]
    fn the_note_round_trips_and_its_key_hides_nothing_secret() {
        let note = Rotation {
            first: vec!["111111111111".into()],
        };
        let json = serde_json::to_string(&note).unwrap();
        assert_eq!(json, r#"{"first":["111111111111"]}"#);
        assert_eq!(serde_json::from_str::<Rotation>(&json).unwrap(), note);
        let region = Region::parse("us-east-1").unwrap();
        assert!(key(&region).as_str().starts_with("note#ecr-rescan#"));
        assert_ne!(key(&region), key(&Region::parse("eu-west-1").unwrap()));
    }
}
