//! What a scan says that scan-alert has not alerted yet (issue 22 §3), from the notes it keeps in
//! the state table (`STATE_TABLE`, see `lookout_shared::state::note`). Without a table nothing
//! here runs and every scan alerts as before.
//!
//! - **Basic scans.** A note per image (account, region, repository, digest) holds the findings
//!   alerted on it, at the severities whose threshold was reached; a note per tag (account,
//!   region, repository, tag) the digest last scanned under it. A rescan alerts only when it
//!   finds one the image's note does not hold at that severity, and leads with it; when only
//!   the first `MAX_FINDINGS` were read, also when it counts more at a severity than the note
//!   does (the new ones are then past the read: counted, not named). A first scan of a digest
//!   is compared with the previous digest of one of its tags: what this build added and what
//!   it fixed. With neither note, it alerts as before.
//! - **Inspector2 Finding events.** A note per finding ARN holds its last status and severity.
//!   An ACTIVE finding is news when it has no note, its severity changed, or it was closed or
//!   suppressed since; an `UPDATED` event of an ACTIVE finding at the same severity is not.
//! - FAILED scans, `Inspector2 Scan` events (counts only) and basic scans whose findings could
//!   not be read alert as before and leave no note.
//!
//! Notes are written once the alert was delivered, or at once when there was nothing new:
//! a publish that failed leaves them as they were, so its retry finds the same news. A note
//! that cannot be read counts as absent (the alert goes out as before) and as a
//! `StateStoreProblems`, as the outbox counts its own.

use crate::events::{EventKind, FindingStatus, ImageEvent, valid_digest};
use crate::render::ImageAlert;
use futures::future::join_all;
use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use lookout_shared::invocation::Invocation;
use lookout_shared::metrics::Metric;
use lookout_shared::notification::deduplication_id;
use lookout_shared::state::{self, NoteKey, Notes, StateError};
use lookout_shared::text::truncate_utf8;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

const FUNCTION: &str = "scan-alert";

/// Findings one image's note names at most. An entry is at most [`MAX_ID_BYTES`] of id and a
/// severity name, so the note's JSON stays under 31 KB, less than half of `MAX_NOTE_BYTES`
/// (64 KiB).
/// Past the cap the note keeps the worst ones and counts the rest per severity.
pub(crate) const MAX_REMEMBERED: usize = 400;

/// A finding id longer than this, or with characters JSON escapes, is remembered as a readable
/// prefix and a hash of the whole: every entry has a bounded size.
const MAX_ID_BYTES: usize = 56;

/// How long a note lives after it was last written (every settled scan writes it again), so an
/// image rescanned weekly or monthly keeps its history and a deleted one is forgotten.
const KEEP: Duration = Duration::from_secs(90 * 24 * 3_600);

/// Tags of one image whose previous digest is looked up and whose note is written.
const MAX_TAGS: usize = 3;

/// Inspector findings of one image looked up per invocation (the calls run at once); the
/// rest alert as new.
const MAX_FINDING_NOTES: usize = 100;

/// The note calls of one step take at most this (and half the time left), as the outbox's.
const STATE_BUDGET: Duration = Duration::from_secs(3);

const STATE_STORE_PROBLEMS: Metric = Metric::count("StateStoreProblems");

/// How much of an image's findings an alert holds: what can be told new from known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// Every finding (a basic scan's, read to the end).
    Complete,
    /// The first `MAX_FINDINGS`: new ones can be told, fixed ones cannot.
    Partial,
    /// No basic-scan findings were read: a FAILED scan, findings that could not be read, or an
    /// Inspector event (finding events are judged one by one instead).
    CountsOnly,
}

/// What an alert adds to what was alerted before; the renderer leads with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct News {
    pub(crate) since: Since,
    /// Findings not alerted before at their severity, worst first.
    pub(crate) new: Vec<Finding>,
    /// Findings alerted before, at the severities whose threshold was reached: counted only.
    pub(crate) known: SeverityCounts,
    /// A new build only: the previous image's alerted findings this one does not have, worst
    /// first (empty when not every finding was read).
    pub(crate) fixed: Vec<(String, VulnSeverity)>,
    /// A partly read scan (`MAX_FINDINGS`): per severity, the findings it counts beyond what
    /// was alerted before and the new ones read, so new though not read (at least this many).
    pub(crate) unread: SeverityCounts,
}

impl News {
    /// `2 new since the last scan`, `1 new in this build`: the new findings read and the
    /// unread ones counted.
    pub(crate) fn headline(&self) -> String {
        let since = match self.since {
            Since::LastScan => "since the last scan",
            Since::PreviousImage { .. } => "in this build",
        };
        format!("{} new {since}", lookout_shared::text::thousands(self.total()))
    }

    /// The new findings, read or counted.
    pub(crate) fn total(&self) -> u64 {
        (self.new.len() as u64).saturating_add(self.unread.total_at_or_above(VulnSeverity::Untriaged))
    }

    /// The worst new severity, read or counted.
    pub(crate) fn worst(&self) -> Option<VulnSeverity> {
        let unread = self.unread.0.iter().filter(|(_, n)| **n > 0).map(|(s, _)| *s);
        self.new.iter().map(|f| f.severity).chain(unread).max()
    }
}

/// What the new findings are new against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Since {
    /// The image's own earlier alerts.
    LastScan,
    /// The digest its tag named before this one (a new build).
    PreviousImage { tag: String, digest: String },
}

/// What the notes say about one alert.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// No history (or none could be read): the alert goes out as without a table.
    NoHistory,
    /// New findings beside known ones: the alert leads with the new.
    News(News),
    /// Every finding above the threshold was alerted before: nothing is sent.
    NothingNew,
}

/// The verdict on one alert and the notes to write once it is settled.
#[derive(Debug)]
pub(crate) struct Assessment {
    pub(crate) verdict: Verdict,
    pub(crate) settle: Settle,
}

impl Assessment {
    fn no_history() -> Self {
        Self {
            verdict: Verdict::NoHistory,
            settle: Settle::default(),
        }
    }
}

/// Notes to write once an alert was delivered (or at once, when there was nothing to send).
#[derive(Debug, Default)]
pub(crate) struct Settle(Vec<(NoteKey, Note)>);

/// One image's note: the findings alerted on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ImageNote {
    /// Remembered id ([`remembered`]) → its severity when alerted; the worst
    /// [`MAX_REMEMBERED`] when there were more.
    alerted: BTreeMap<String, VulnSeverity>,
    /// Findings alerted that the cap left out, per severity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    beyond: BTreeMap<VulnSeverity, u64>,
    /// Partly read scans (`MAX_FINDINGS`): the most findings a scan of this image counted per
    /// severity (the event's counts), where that is more than the note names and counts in
    /// `beyond`: the findings past the read were alerted as counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    counted: BTreeMap<VulnSeverity, u64>,
}

impl ImageNote {
    /// The findings alerted at `s`: named, counted past the cap, or counted by a partly read
    /// scan (whichever is more).
    fn count(&self, s: VulnSeverity) -> u64 {
        let named = self.alerted.values().filter(|v| **v == s).count() as u64;
        let listed = named.saturating_add(self.beyond.get(&s).copied().unwrap_or(0));
        listed.max(self.counted.get(&s).copied().unwrap_or(0))
    }
}

/// One tag's note: the digest last scanned under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TagNote {
    digest: String,
}

/// One Inspector finding's note: its status and severity when last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FindingNote {
    status: FindingStatus,
    severity: VulnSeverity,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Note {
    Image(ImageNote),
    Tag(TagNote),
    Finding(FindingNote),
}

/// The end of a step's time for note calls: each call gets what is left of it.
#[derive(Debug, Clone, Copy)]
struct Budget(Instant);

impl Budget {
    fn of(d: Duration) -> Self {
        let now = Instant::now();
        Self(now.checked_add(d).unwrap_or(now))
    }

    fn left(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// Reads what was alerted before on this alert's image and decides what is new. `first` is
/// the kind of the image's first event (the group's kind).
pub(crate) async fn assess<St: Notes>(
    store: &St,
    first: &EventKind,
    alert: &ImageAlert,
    margin: Duration,
    ctx: &mut Invocation,
) -> Assessment {
    let budget = Budget::of((ctx.deadline.remaining_before(margin) / 2).min(STATE_BUDGET));
    let mut problems = Vec::new();
    let assessed = match first {
        _ if alert.failed => Assessment::no_history(),
        EventKind::BasicScan { .. } if alert.coverage != Coverage::CountsOnly => {
            basic(store, alert, budget, &mut problems).await
        }
        EventKind::InspectorFinding { .. } => inspector(store, alert, budget, &mut problems).await,
        EventKind::BasicScan { .. } | EventKind::InspectorScan { .. } => Assessment::no_history(),
    };
    for p in &problems {
        problem(ctx, p);
    }
    assessed
}

impl Settle {
    /// Writes the notes, within what is left of the deadline margin (as the outbox records a
    /// delivery); a note not written is counted and logged, the alert stands.
    pub(crate) async fn write<St: Notes>(self, store: &St, margin: Duration, ctx: &mut Invocation) {
        if self.0.is_empty() {
            return;
        }
        let budget = Budget::of(ctx.deadline.remaining_before(margin / 4).min(STATE_BUDGET));
        let writes: Vec<_> = self
            .0
            .iter()
            .map(|(key, note)| store.remember(key, note, KEEP, budget.left()))
            .collect();
        for e in join_all(writes).await.iter().filter_map(|w| w.as_ref().err()) {
            problem(ctx, e);
        }
    }
}

/// Inspector findings now CLOSED or SUPPRESSED: a finding with a note gets its new status, so
/// a reopening is news again. Findings never alerted have no note and get none.
pub(crate) async fn record_closures<St: Notes>(
    store: &St,
    group: &[ImageEvent],
    margin: Duration,
    ctx: &mut Invocation,
) {
    let closed: Vec<(NoteKey, FindingNote)> = group
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::InspectorFinding {
                status,
                finding,
                arn: Some(arn),
            } if *status != FindingStatus::Active && !arn.is_empty() => Some((
                finding_key(&Image::of_event(e), arn),
                FindingNote {
                    status: *status,
                    severity: finding.severity,
                },
            )),
            _ => None,
        })
        .take(MAX_FINDING_NOTES)
        .collect();
    if closed.is_empty() {
        return;
    }
    let budget = Budget::of((ctx.deadline.remaining_before(margin) / 2).min(STATE_BUDGET));
    let reads: Vec<_> = closed
        .iter()
        .map(|(key, _)| store.recall::<FindingNote>(key, budget.left()))
        .collect();
    let mut problems = Vec::new();
    let mut changed = Vec::new();
    for ((key, now), read) in closed.iter().zip(join_all(reads).await) {
        match read {
            Ok(Some(before)) if before.note != *now => changed.push((key, now)),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    let writes: Vec<_> = changed
        .into_iter()
        .map(|(key, now)| store.remember(key, now, KEEP, budget.left()))
        .collect();
    problems.extend(join_all(writes).await.into_iter().filter_map(Result::err));
    for p in &problems {
        problem(ctx, p);
    }
}

/// A basic scan: against the image's own note, else against the previous digest of its tag.
async fn basic<St: Notes>(
    store: &St,
    alert: &ImageAlert,
    budget: Budget,
    problems: &mut Vec<StateError>,
) -> Assessment {
    let own_key = image_key(alert, &alert.digest);
    let own = match store.recall::<ImageNote>(&own_key, budget.left()).await {
        Ok(recalled) => recalled.map(|r| r.note),
        Err(e) => {
            // Unread is absent: alert as before, and write nothing over what may be there.
            problems.push(e);
            return Assessment::no_history();
        }
    };
    let (since, against) = match own {
        Some(note) => (Since::LastScan, Some(note)),
        None => match previous(store, alert, budget, problems).await {
            Some((tag, digest, note)) => (Since::PreviousImage { tag, digest }, Some(note)),
            None => (Since::LastScan, None),
        },
    };
    let mut settle = Settle::default();
    for tag in alert.tags.iter().take(MAX_TAGS) {
        settle.0.push((
            tag_key(alert, tag),
            Note::Tag(TagNote {
                digest: alert.digest.clone(),
            }),
        ));
    }
    // The image's own history carries over; a previous build's does not (it is that image's).
    let carried = match &since {
        Since::LastScan => against.clone(),
        Since::PreviousImage { .. } => None,
    };
    settle.0.push((own_key, Note::Image(merge(carried, alert))));
    let Some(against) = against else {
        return Assessment {
            verdict: Verdict::NoHistory,
            settle,
        };
    };
    let (new, known) = split(alert, &against);
    let fixed = match since {
        Since::PreviousImage { .. } if alert.coverage == Coverage::Complete => fixed(alert, &against),
        _ => Vec::new(),
    };
    let unread = unread(alert, &against, &new);
    let verdict = if new.is_empty() && unread.0.is_empty() {
        Verdict::NothingNew
    } else {
        Verdict::News(News {
            since,
            new,
            known,
            fixed,
            unread,
        })
    };
    Assessment { verdict, settle }
}

/// The first of the image's tags whose note names another digest that has a note: the
/// previous build under that tag.
async fn previous<St: Notes>(
    store: &St,
    alert: &ImageAlert,
    budget: Budget,
    problems: &mut Vec<StateError>,
) -> Option<(String, String, ImageNote)> {
    let tags: Vec<&String> = alert.tags.iter().take(MAX_TAGS).collect();
    let keys: Vec<NoteKey> = tags.iter().map(|t| tag_key(alert, t)).collect();
    let read =
        futures::future::join_all(keys.iter().map(|k| store.recall::<TagNote>(k, budget.left()))).await;
    for (tag, recalled) in tags.into_iter().zip(read) {
        let digest = match recalled {
            // A digest read back is checked before it names a key or is shown.
            Ok(Some(r)) if r.note.digest != alert.digest && valid_digest(&r.note.digest) => r.note.digest,
            Ok(_) => continue,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        match store
            .recall::<ImageNote>(&image_key(alert, &digest), budget.left())
            .await
        {
            Ok(Some(r)) => return Some((tag.clone(), digest, r.note)),
            // That image was never alerted: nothing to compare with under this tag.
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    None
}

/// Inspector finding events: each finding against its own note.
async fn inspector<St: Notes>(
    store: &St,
    alert: &ImageAlert,
    budget: Budget,
    problems: &mut Vec<StateError>,
) -> Assessment {
    let relevant: Vec<(&Finding, Option<NoteKey>)> = alert
        .findings
        .iter()
        .zip(alert.arns.iter().map(Option::as_deref))
        .filter(|(f, _)| alert.reached.contains(&f.severity))
        .map(|(f, arn)| {
            let key = arn
                .filter(|a| !a.is_empty())
                .map(|a| finding_key(&Image::of_alert(alert), a));
            (f, key)
        })
        .collect();
    let mut looked_up = 0;
    let keys: Vec<Option<&NoteKey>> = relevant
        .iter()
        .map(|(_, key)| {
            let key = key.as_ref().filter(|_| looked_up < MAX_FINDING_NOTES);
            looked_up += usize::from(key.is_some());
            key
        })
        .collect();
    let reads: Vec<_> = keys
        .iter()
        .flatten()
        .map(|k| store.recall::<FindingNote>(k, budget.left()))
        .collect();
    let mut read = join_all(reads).await.into_iter();
    // Back in the order of `relevant`: a finding not looked up has no note.
    let notes: Vec<Option<FindingNote>> = keys
        .iter()
        .map(|key| match key.and_then(|_| read.next()) {
            Some(Ok(recalled)) => recalled.map(|r| r.note),
            Some(Err(e)) => {
                problems.push(e);
                None
            }
            None => None,
        })
        .collect();
    let mut new = Vec::new();
    let mut known = SeverityCounts::default();
    let mut settle = Settle::default();
    for (((finding, _), key), note) in relevant.iter().zip(&keys).zip(&notes) {
        let now = FindingNote {
            status: FindingStatus::Active,
            severity: finding.severity,
        };
        if *note == Some(now) {
            known.add(finding.severity, 1);
        } else {
            new.push((*finding).clone());
        }
        if let Some(key) = key {
            settle.0.push(((*key).clone(), Note::Finding(now)));
        }
    }
    let verdict = if new.is_empty() {
        Verdict::NothingNew
    } else if known.0.is_empty() {
        // Nothing known to count beside them: the alert reads as before.
        Verdict::NoHistory
    } else {
        Verdict::News(News {
            since: Since::LastScan,
            new,
            known,
            fixed: Vec::new(),
            unread: SeverityCounts::default(),
        })
    };
    Assessment { verdict, settle }
}

/// The alert's findings at the severities whose threshold was reached: what it alerts on.
fn relevant(alert: &ImageAlert) -> impl Iterator<Item = &Finding> {
    alert
        .findings
        .iter()
        .filter(|f| alert.reached.contains(&f.severity))
}

/// The alert's relevant findings split by `note`: new (not named at their severity; worst
/// first) and known (counted). A finding the note does not name is known when its severity
/// has no more of them than the note counted past its cap.
fn split(alert: &ImageAlert, note: &ImageNote) -> (Vec<Finding>, SeverityCounts) {
    let unnamed: BTreeSet<(VulnSeverity, String)> = relevant(alert)
        .map(|f| (f.severity, remembered(&f.vulnerability_id)))
        .filter(|(_, id)| !note.alerted.contains_key(id))
        .collect();
    let mut per_severity: BTreeMap<VulnSeverity, u64> = BTreeMap::new();
    for (s, _) in &unnamed {
        let n = per_severity.entry(*s).or_default();
        *n = n.saturating_add(1);
    }
    let covered = |s: VulnSeverity| per_severity.get(&s) <= note.beyond.get(&s);
    let mut new = Vec::new();
    let mut known = SeverityCounts::default();
    for f in relevant(alert) {
        let is_known = match note.alerted.get(&remembered(&f.vulnerability_id)) {
            Some(s) => *s == f.severity,
            None => covered(f.severity),
        };
        if is_known {
            known.add(f.severity, 1);
        } else {
            new.push(f.clone());
        }
    }
    (new, known)
}

/// A partly read scan: per severity reached, how many of the findings the event counts are
/// new though not read. Every finding read is either new or known, and no more are known at a
/// severity than the note counts there, so past those the unread ones are new: the event's
/// count less the note's and the new ones read (at least that many; 0 when the counts did not
/// grow). A complete read names every finding: nothing is unread.
fn unread(alert: &ImageAlert, note: &ImageNote, new: &[Finding]) -> SeverityCounts {
    let mut unread = SeverityCounts::default();
    if alert.coverage != Coverage::Partial {
        return unread;
    }
    for s in &alert.reached {
        let read_new = new.iter().filter(|f| f.severity == *s).count() as u64;
        let more = alert
            .counts
            .get(*s)
            .saturating_sub(note.count(*s).saturating_add(read_new));
        if more > 0 {
            unread.add(*s, more);
        }
    }
    unread
}

/// The previous image's alerted findings that this one no longer has (nor ignores), worst first.
fn fixed(alert: &ImageAlert, previous: &ImageNote) -> Vec<(String, VulnSeverity)> {
    let present: BTreeSet<String> = alert
        .findings
        .iter()
        .map(|f| remembered(&f.vulnerability_id))
        .chain(alert.ignored.iter().map(|id| remembered(id)))
        .collect();
    let mut fixed: Vec<(String, VulnSeverity)> = previous
        .alerted
        .iter()
        .filter(|(id, _)| !present.contains(*id))
        .map(|(id, s)| (id.clone(), *s))
        .collect();
    fixed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    fixed
}

/// `carried`'s findings and the alert's relevant ones: the worst [`MAX_REMEMBERED`] named,
/// the rest counted per severity; and, for a partly read scan, the event's counts at the
/// severities reached where they exceed what the note names and counts.
fn merge(carried: Option<ImageNote>, alert: &ImageAlert) -> ImageNote {
    let (mut all, mut counted) = carried.map(|n| (n.alerted, n.counted)).unwrap_or_default();
    for f in relevant(alert) {
        all.insert(remembered(&f.vulnerability_id), f.severity);
    }
    if alert.coverage == Coverage::Partial {
        for s in &alert.reached {
            let n = counted.entry(*s).or_default();
            *n = (*n).max(alert.counts.get(*s));
        }
    }
    let mut note = if all.len() <= MAX_REMEMBERED {
        ImageNote {
            alerted: all,
            ..ImageNote::default()
        }
    } else {
        let mut ranked: Vec<(String, VulnSeverity)> = all.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut beyond: BTreeMap<VulnSeverity, u64> = BTreeMap::new();
        for (_, s) in ranked.split_off(MAX_REMEMBERED) {
            let n = beyond.entry(s).or_default();
            *n = n.saturating_add(1);
        }
        ImageNote {
            alerted: ranked.into_iter().collect(),
            beyond,
            counted: BTreeMap::new(),
        }
    };
    // Kept only where it says more than the names and `beyond`: the note stays as compact.
    counted.retain(|s, n| *n > note.count(*s));
    note.counted = counted;
    note
}

/// How a finding is named in a note: its id when short and plain; else a readable prefix and a
/// hash of the whole (`<prefix>~<16 hex>`), so no entry's JSON exceeds [`MAX_ID_BYTES`].
fn remembered(id: &str) -> String {
    // Nothing JSON would escape (a control character takes six bytes escaped).
    let plain = |c: char| c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\');
    if id.len() <= MAX_ID_BYTES && id.chars().all(plain) {
        return id.to_string();
    }
    let prefix: String = id
        .chars()
        .take(32)
        .map(|c| if plain(c) { c } else { '?' })
        .collect();
    format!("{prefix}~{}", truncate_utf8(&deduplication_id(id), 16))
}

fn image_key(alert: &ImageAlert, digest: &str) -> NoteKey {
    NoteKey::new(
        FUNCTION,
        &[
            "image",
            alert.account.as_str(),
            alert.region.as_str(),
            &alert.repository,
            digest,
        ],
    )
}

/// The image a finding is on: what its note is kept under, with its ARN.
struct Image<'a> {
    account: &'a str,
    region: &'a str,
    repository: &'a str,
    digest: &'a str,
}

impl<'a> Image<'a> {
    fn of_alert(a: &'a ImageAlert) -> Self {
        Self {
            account: a.account.as_str(),
            region: a.region.as_str(),
            repository: &a.repository,
            digest: &a.digest,
        }
    }

    fn of_event(e: &'a ImageEvent) -> Self {
        Self {
            account: e.account.as_str(),
            region: e.region.as_str(),
            repository: &e.repository,
            digest: &e.digest,
        }
    }
}

fn tag_key(alert: &ImageAlert, tag: &str) -> NoteKey {
    NoteKey::new(
        FUNCTION,
        &[
            "tag",
            alert.account.as_str(),
            alert.region.as_str(),
            &alert.repository,
            tag,
        ],
    )
}

/// Per image and finding ARN: an ARN copied onto another image's event cannot speak for it.
fn finding_key(image: &Image<'_>, arn: &str) -> NoteKey {
    NoteKey::new(
        FUNCTION,
        &[
            "finding",
            image.account,
            image.region,
            image.repository,
            image.digest,
            arn,
        ],
    )
}

/// Fail open, loudly: logged (the first of a process as an ERROR) and counted.
fn problem(ctx: &mut Invocation, e: &StateError) {
    state::report_problem(e);
    ctx.metrics.add(STATE_STORE_PROBLEMS, 1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lookout_shared::ids::{AccountId, Region};
    use lookout_shared::state::MAX_NOTE_BYTES;

    fn finding(id: &str, severity: VulnSeverity) -> Finding {
        Finding {
            vulnerability_id: id.into(),
            severity,
            title: String::new(),
            package: None,
            installed_version: None,
            fixed_in_version: None,
            fix_available: None,
            exploit_available: None,
            score: None,
            repository: "web".into(),
            digest: "sha256:x".into(),
            tags: vec![],
        }
    }

    fn alert(findings: Vec<Finding>) -> ImageAlert {
        ImageAlert {
            event: "ECR Image Scan",
            event_ids: vec!["e".into()],
            account: AccountId::parse("123456789012").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            repository: "web".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            tags: vec!["v1".into()],
            status: "COMPLETE".into(),
            failed: false,
            counts: SeverityCounts::default(),
            findings,
            arns: Vec::new(),
            coverage: Coverage::Complete,
            news: None,
            notes: vec![],
            thresholds: String::new(),
            reached: vec![VulnSeverity::Critical, VulnSeverity::High],
            ignored: vec![],
            enhanced: false,
            naming: Default::default(),
        }
    }

    fn high(n: usize) -> Vec<Finding> {
        (0..n)
            .map(|i| finding(&format!("CVE-2025-{i:05}"), VulnSeverity::High))
            .collect()
    }

    #[test]
    fn a_full_note_stays_under_half_the_note_limit() {
        // The worst case: every id at the longest plain length, the longest severity name.
        let long: Vec<Finding> = (0..2 * MAX_REMEMBERED)
            .map(|i| finding(&format!("{i:0>56}"), VulnSeverity::Informational))
            .collect();
        let mut a = alert(long);
        a.reached = vec![VulnSeverity::Informational];
        let note = merge(None, &a);
        assert_eq!(note.alerted.len(), MAX_REMEMBERED);
        assert_eq!(note.beyond, BTreeMap::from([(VulnSeverity::Informational, 400)]));
        let json = serde_json::to_string(&Note::Image(note)).unwrap();
        assert!(json.len() < MAX_NOTE_BYTES / 2, "{} bytes", json.len());
    }

    #[test]
    fn long_or_escaped_ids_are_remembered_bounded_and_distinct() {
        assert_eq!(remembered("CVE-2024-0727"), "CVE-2024-0727");
        let long = "x".repeat(500);
        let r = remembered(&long);
        assert!(r.len() <= MAX_ID_BYTES && r.starts_with(&"x".repeat(32)), "{r}");
        assert_ne!(r, remembered(&format!("{long}y")));
        let escaped = remembered("a\u{1}\"b\\");
        assert!(escaped.starts_with("a??b?~"), "{escaped}");
        assert_eq!(serde_json::to_string(&escaped).unwrap().len(), escaped.len() + 2);
    }

    #[test]
    fn past_the_cap_the_worst_are_named_and_the_rest_counted_as_known() {
        let mut findings = high(450);
        findings.push(finding("CVE-2025-99999", VulnSeverity::Critical));
        let a = alert(findings.clone());
        let note = merge(None, &a);
        assert!(note.alerted.contains_key("CVE-2025-99999"), "the worst are kept");
        assert_eq!(note.beyond, BTreeMap::from([(VulnSeverity::High, 51)]));
        // The same scan again: nothing new, though 51 ids are not named.
        let (new, known) = split(&a, &note);
        assert!(new.is_empty());
        assert_eq!(known.get(VulnSeverity::High), 450);
        // One more HIGH than the note counted: the unnamed ones are news (they may repeat).
        findings.push(finding("CVE-2026-00001", VulnSeverity::High));
        let (new, _) = split(&alert(findings), &note);
        assert_eq!(new.len(), 52);
    }

    #[test]
    fn a_finding_rerated_is_new_and_a_build_reports_what_it_fixed() {
        let before = merge(None, &alert(high(3)));
        let now = vec![
            finding("CVE-2025-00001", VulnSeverity::Critical),
            finding("CVE-2025-00000", VulnSeverity::High),
            finding("CVE-2026-7", VulnSeverity::High),
        ];
        let a = alert(now);
        let (new, known) = split(&a, &before);
        let ids: Vec<&str> = new.iter().map(|f| f.vulnerability_id.as_str()).collect();
        assert_eq!(ids, ["CVE-2025-00001", "CVE-2026-7"]);
        assert_eq!(known.get(VulnSeverity::High), 1);
        assert_eq!(
            fixed(&a, &before),
            [("CVE-2025-00002".to_string(), VulnSeverity::High)]
        );
    }

    /// The count a partly read rescan is weighed against: the findings the note names and
    /// counts past its cap, or the most a partly read scan counted, whichever is more.
    #[test]
    fn a_partly_read_scan_is_news_only_past_the_counts_alerted() {
        let partly = |findings: Vec<Finding>, high: u64| {
            let mut a = alert(findings);
            a.coverage = Coverage::Partial;
            a.counts.add(VulnSeverity::High, high);
            a
        };
        // 3 HIGH read of 5 counted: the note keeps the 5.
        let note = merge(None, &partly(high(3), 5));
        assert_eq!(note.counted, BTreeMap::from([(VulnSeverity::High, 5)]));
        assert_eq!(note.count(VulnSeverity::High), 5);
        assert!(unread(&partly(high(3), 5), &note, &[]).0.is_empty());
        assert_eq!(
            unread(&partly(high(3), 6), &note, &[]).0,
            BTreeMap::from([(VulnSeverity::High, 1)])
        );
        // The new one is read: it is named, not counted again.
        let grown = partly(high(4), 6);
        let (new, _) = split(&grown, &note);
        assert_eq!(new.len(), 1);
        assert!(unread(&grown, &note, &new).0.is_empty());
        // A complete read names every finding: its counts add nothing.
        let mut complete = partly(high(3), 9);
        complete.coverage = Coverage::Complete;
        assert!(unread(&complete, &note, &[]).0.is_empty());
        // Past the id cap: the names and `beyond` make the count, nothing more is kept.
        let capped = merge(None, &partly(high(450), 450));
        assert_eq!(capped.beyond, BTreeMap::from([(VulnSeverity::High, 50)]));
        assert!(capped.counted.is_empty());
        assert!(unread(&partly(high(450), 450), &capped, &[]).0.is_empty());
        assert_eq!(
            unread(&partly(high(450), 451), &capped, &[]).0,
            BTreeMap::from([(VulnSeverity::High, 1)])
        );
        // Kept as the most counted; a lower count later does not lower it.
        let later = merge(Some(note.clone()), &partly(high(3), 4));
        assert_eq!(later.count(VulnSeverity::High), 5);
        assert_eq!(
            serde_json::to_string(&Note::Image(later)).unwrap(),
            r#"{"alerted":{"CVE-2025-00000":"HIGH","CVE-2025-00001":"HIGH","CVE-2025-00002":"HIGH"},"counted":{"HIGH":5}}"#
        );
    }

    #[test]
    fn notes_are_stored_as_compact_json() {
        let note = merge(None, &alert(high(1)));
        assert_eq!(
            serde_json::to_string(&Note::Image(note)).unwrap(),
            r#"{"alerted":{"CVE-2025-00000":"HIGH"}}"#
        );
        let f = FindingNote {
            status: FindingStatus::Closed,
            severity: VulnSeverity::High,
        };
        assert_eq!(
            serde_json::to_string(&Note::Finding(f)).unwrap(),
            r#"{"status":"CLOSED","severity":"HIGH"}"#
        );
        let back: ImageNote =
            serde_json::from_str(r#"{"alerted":{"X":"CRITICAL"},"beyond":{"HIGH":3}}"#).unwrap();
        assert_eq!(back.beyond.get(&VulnSeverity::High), Some(&3));
    }
}
