//! A Kinesis batch: the records of an organisation's stream, each one subscription payload
//! from some account's log group. One alert per account and log group (and per
//! `MAX_DECOMPRESSED_BYTES` of its log data, the bound one direct delivery has), in the order
//! of their first records; the answer names the first record not delivered, so Lambda resumes
//! there (`batchItemFailures`).
//!
//! Exactly once across Lambda's retries: Lambda delivers again every record after the one
//! reported, delivered or not, so each record carries its own done mark in the state table
//! (keyed by stream and `eventID`, [`Outbox::claim_items`]): a record an earlier attempt
//! alerted is left out, and an alert whose records were all alerted is not sent. The records
//! of an alert that was not delivered are released with a note naming its last record, so the
//! retry puts the same records in one alert again, under the same idempotency key: it inherits
//! that alert's suppression decision, and a publish that may have been delivered is not
//! repeated.
//!
//! A record that can never be alerted (not a Kinesis record, not gzip, not a subscription
//! payload, over the bounds) is logged by position and sequence number (never its data, nor a
//! sequence number that is not one Kinesis writes: [`SequenceNumber`]), counted as
//! `RecordsRejected` and not reported: reporting it would hold up every record after it until
//! the retries run out, and then the on-failure destination would get only its position.
//!
//! Two passes, so that no more than `MAX_DECOMPRESSED_BYTES` of decoded log data is held at
//! once: the first decodes each record to find its account and log group (and checks it), and
//! drops it; the second decodes an alert's records again, just before delivering it. Up to
//! `GROUPS_IN_FLIGHT` groups go side by side within that bound, so the state table's and SNS's
//! round trips overlap.
//!
//! [`Outbox::claim_items`]: lookout_shared::outbox::Outbox::claim_items

use super::{LogAlert, Origin, SUPPRESSED, Summary};
use crate::decode::{self, DecodeError, LogsMessage, MessageType};
use crate::kinesis::{self, RecordSlot, SequenceNumber};
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use aws_lambda_events::event::streams::KinesisEventResponse;
use futures::stream::{FuturesUnordered, StreamExt};
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::metrics::Metric;
use lookout_shared::outbox::ItemClaim;
use lookout_shared::publish::Publisher;
use lookout_shared::state::{IdempotencyKey, StateStore};
use lookout_shared::time;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

const RECORDS_RECEIVED: Metric = Metric::count("RecordsReceived");
/// Records that can never be alerted: logged and skipped (alarm on it).
const RECORDS_REJECTED: Metric = Metric::count("RecordsRejected");
/// Records reported in `batchItemFailures` (the first of them is where Lambda resumes).
const RECORDS_FAILED: Metric = Metric::count("RecordsFailed");
/// Records an earlier attempt alerted, delivered again after an earlier failure: left out.
const RECORDS_ALREADY_ALERTED: Metric = Metric::count("RecordsAlreadyAlerted");
const CONTROL_MESSAGES: Metric = Metric::count("ControlMessages");
/// Rejected records listed in the summary log line (each has its own warning).
const MAX_LISTED: usize = 100;
/// Groups delivered side by side (each with up to 16 state calls, then one publish, in
/// flight), within the bound on decoded bytes.
const GROUPS_IN_FLIGHT: usize = 8;
/// After waiting out a crashed attempt's hold, at least this is left before an alert may no
/// longer start: time to claim again (a state budget, at most 3 s) and deliver the group.
const AFTER_HOLD: Duration = Duration::from_secs(3);
/// The store reads its clock in whole seconds: wait a little past a hold's end, so the claim
/// again finds it over.
const HOLD_SLACK: Duration = Duration::from_millis(100);

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum RecordOutcome {
    /// In an alert published now.
    Alerted,
    /// In an alert its suppression window held back (counted in the window).
    Suppressed,
    /// Settled by an earlier attempt: left out.
    AlreadyAlerted,
    /// A CONTROL_MESSAGE, no events, this function's own log group, or no line at
    /// `MIN_SEVERITY`.
    NothingToAlert,
    /// Can never be alerted: logged, counted, not reported.
    Rejected,
    /// Its alert was not delivered: reported.
    Failed,
    /// The deadline came first, or the state budget for its group's claims (the whole group
    /// is handed back then): reported.
    NotReached,
    /// Another attempt holds it (one that crashed, until its claim ends) past the time this
    /// attempt could wait for it: reported.
    Busy,
}

impl RecordOutcome {
    /// Whether Lambda must deliver the record again.
    fn reported(self) -> bool {
        matches!(self, Self::Failed | Self::NotReached | Self::Busy)
    }
}

/// A rejected record in the summary log line: where it stands and why, never its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rejected {
    /// `unreadable sequence number` for one that is not a sequence number.
    sequence_number: Option<String>,
    /// Its position in the batch (from 0), when its sequence number is unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    problem: &'static str,
}

impl Rejected {
    fn new(index: usize, sequence_number: &SequenceNumber, problem: &'static str) -> Self {
        let (sequence_number, index) = match sequence_number {
            SequenceNumber::Absent => (None, None),
            SequenceNumber::Readable(number) => (Some(number.clone()), None),
            SequenceNumber::Unreadable => (Some(sequence_number.for_log().to_string()), Some(index)),
        };
        Self {
            sequence_number,
            index,
            problem,
        }
    }
}

/// What a Kinesis batch came to. Lambda reads `batchItemFailures` (the response carries
/// nothing else); the summary log line has all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    /// `kinesisBatch`, beside a direct delivery's statuses in the log.
    status: &'static str,
    /// The first record not delivered, if any: Lambda checkpoints before it.
    #[serde(flatten)]
    pub(crate) response: KinesisEventResponse,
    /// Records by outcome.
    records: BTreeMap<RecordOutcome, u64>,
    /// Alerts published now.
    alerts_published: u64,
    /// The first rejected records (see `RecordsRejected` for all).
    rejected: Vec<Rejected>,
}

/// Left with the first record of an alert that was not delivered: its last record, so the
/// retry forms the same alert again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Membership {
    last: String,
}

/// A record the first pass placed: its position, the record and its key, and the size of its
/// decoded payload.
#[derive(Debug)]
struct Placed<'e> {
    index: usize,
    record: &'e KinesisEventRecord,
    key: IdempotencyKey,
    bytes: usize,
}

/// Every record's outcome (in the batch's order) and the rejected ones' details.
#[derive(Debug)]
struct Tally<'e> {
    records: &'e [RecordSlot],
    outcomes: Vec<RecordOutcome>,
    rejected: Vec<Rejected>,
    alerts_published: u64,
}

/// What one group's delivery came to, for the tally: its records' outcomes, the rejected ones
/// and the alerts published.
#[derive(Debug, Default)]
struct Results {
    outcomes: Vec<(usize, RecordOutcome)>,
    rejected: Vec<Rejected>,
    published: u64,
}

impl Results {
    fn set(&mut self, placed: &[&Placed<'_>], outcome: RecordOutcome) {
        self.outcomes.extend(placed.iter().map(|p| (p.index, outcome)));
    }
}

/// A group delivered: its results, its own counters, and the decoded bytes it was allowed to
/// hold.
#[derive(Debug)]
struct GroupDone {
    results: Results,
    ctx: Invocation,
    holding: usize,
}

/// Logs a record that can never be alerted, by position, sequence number and problem (never
/// its data).
fn warn_rejected(
    index: usize,
    sequence_number: &SequenceNumber,
    problem: &'static str,
    detail: &dyn std::fmt::Display,
) {
    tracing::warn!(
        index,
        sequence_number = sequence_number.for_log(),
        problem,
        detail = %detail,
        "Kinesis record rejected: it can never be alerted; counted as RecordsRejected, not retried"
    );
}

impl<'e> Tally<'e> {
    fn new(records: &'e [RecordSlot]) -> Self {
        Self {
            records,
            // Until a pass reaches them.
            outcomes: vec![RecordOutcome::NotReached; records.len()],
            rejected: Vec::new(),
            alerts_published: 0,
        }
    }

    /// A record the first pass found can never be alerted.
    fn reject(&mut self, index: usize, problem: &'static str, detail: &dyn std::fmt::Display) {
        let sequence_number = self.sequence_number(index);
        warn_rejected(index, &sequence_number, problem, detail);
        self.list(Rejected::new(index, &sequence_number, problem));
        self.outcomes[index] = RecordOutcome::Rejected;
    }

    fn list(&mut self, rejected: Rejected) {
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(rejected);
        }
    }

    fn apply(&mut self, done: GroupDone, ctx: &mut Invocation) {
        for (index, outcome) in done.results.outcomes {
            self.outcomes[index] = outcome;
        }
        for rejected in done.results.rejected {
            self.list(rejected);
        }
        self.alerts_published = self.alerts_published.saturating_add(done.results.published);
        ctx.metrics.absorb(&done.ctx.metrics);
    }

    fn sequence_number(&self, index: usize) -> SequenceNumber {
        match self.records.get(index).map(|slot| &slot.0) {
            Some(Ok(record)) => SequenceNumber::of(&record.kinesis.sequence_number),
            Some(Err(defect)) => defect.sequence_number.clone(),
            None => SequenceNumber::Absent,
        }
    }

    /// The response, metrics and summary: the lowest sequence number Lambda must deliver again
    /// (a record without a readable one, which Lambda never sends, would be reported as "":
    /// the whole batch again, every alerted record of it left out).
    fn finish(self, ctx: &mut Invocation) -> BatchSummary {
        let mut records: BTreeMap<RecordOutcome, u64> = BTreeMap::new();
        for outcome in &self.outcomes {
            let n = records.entry(*outcome).or_insert(0);
            *n = n.saturating_add(1);
        }
        let reported = self
            .outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| o.reported())
            .map(|(i, _)| match self.sequence_number(i) {
                SequenceNumber::Readable(number) => number,
                SequenceNumber::Absent | SequenceNumber::Unreadable => String::new(),
            });
        let mut response = KinesisEventResponse::default();
        if let Some(first) = reported.min_by(|a, b| kinesis::by_sequence(a, b)) {
            response.add_failure(first);
        }
        let count = |outcome| records.get(&outcome).copied().unwrap_or(0);
        let m = &mut ctx.metrics;
        m.add_len(RECORDS_RECEIVED, self.outcomes.len());
        m.add(RECORDS_REJECTED, count(RecordOutcome::Rejected));
        let reported = [
            RecordOutcome::Failed,
            RecordOutcome::NotReached,
            RecordOutcome::Busy,
        ];
        m.add(
            RECORDS_FAILED,
            reported.into_iter().map(count).fold(0, u64::saturating_add),
        );
        m.add(RECORDS_ALREADY_ALERTED, count(RecordOutcome::AlreadyAlerted));
        BatchSummary {
            status: "kinesisBatch",
            response,
            records,
            alerts_published: self.alerts_published,
            rejected: self.rejected,
        }
    }
}

impl<P: Publisher, S: StateStore> LogAlert<P, S> {
    /// The whole batch: place every record, then deliver the groups, several at a time, in the
    /// order of their first records. Side by side they hold at most `MAX_DECOMPRESSED_BYTES`
    /// of decoded log data together (a larger group runs alone), as one direct delivery may.
    pub(super) async fn batch(&self, records: &[RecordSlot], ctx: &mut Invocation) -> BatchSummary {
        let mut tally = Tally::new(records);
        let groups = self.place(records, &mut tally, ctx);
        let cap = self.config.max_decompressed_bytes;
        let mut running = FuturesUnordered::new();
        let mut holding = 0usize;
        let mut waiting = groups.iter().peekable();
        // Once set, the groups not started stay NotReached.
        let mut out_of_time = false;
        loop {
            while !out_of_time && let Some(group) = waiting.peek() {
                let need = group
                    .iter()
                    .map(|p| p.bytes)
                    .fold(0, usize::saturating_add)
                    .min(cap);
                let room = running.is_empty()
                    || (running.len() < GROUPS_IN_FLIGHT && holding.saturating_add(need) <= cap);
                if !room {
                    break;
                }
                if !self.may_start(ctx) {
                    out_of_time = true;
                    break;
                }
                holding = holding.saturating_add(need);
                let own = Invocation::new(ctx.deadline, ctx.request_id.clone());
                running.push(self.deliver_group(group, need, own));
                waiting.next();
            }
            let Some(done) = running.next().await else {
                break;
            };
            holding = holding.saturating_sub(done.holding);
            tally.apply(done, ctx);
        }
        tally.finish(ctx)
    }

    /// Whether a group (or an alert of one) may start: one margin of work time left before the
    /// margin, so an alert is not begun only to be cut off.
    fn may_start(&self, ctx: &Invocation) -> bool {
        let margin = self.config.deadline_margin;
        !ctx.deadline.remaining_before(margin.saturating_mul(2)).is_zero()
    }

    /// First pass: each record decoded (the same bounds as a direct delivery) and dropped,
    /// kept as its place in its (account, log group), in order of first appearance.
    fn place<'e>(
        &self,
        records: &'e [RecordSlot],
        tally: &mut Tally<'e>,
        ctx: &mut Invocation,
    ) -> Vec<Vec<Placed<'e>>> {
        let mut groups: Vec<Vec<Placed<'e>>> = Vec::new();
        let mut by_source: HashMap<(String, String), usize> = HashMap::new();
        let mut json = Vec::new();
        for (index, slot) in records.iter().enumerate() {
            // Records not reached stay NotReached.
            if !self.may_start(ctx) {
                break;
            }
            let record = match &slot.0 {
                Ok(record) => match SequenceNumber::of(&record.kinesis.sequence_number) {
                    SequenceNumber::Readable(_) => record,
                    SequenceNumber::Absent => {
                        tally.reject(index, "RecordWithoutSequenceNumber", &"no kinesis.sequenceNumber");
                        continue;
                    }
                    SequenceNumber::Unreadable => {
                        tally.reject(
                            index,
                            "SequenceNumberUnreadable",
                            &"kinesis.sequenceNumber is not decimal digits (at most 128)",
                        );
                        continue;
                    }
                },
                Err(defect) => {
                    tally.reject(index, "RecordMalformed", &defect.problem);
                    continue;
                }
            };
            let message = match self.read(record, &mut json) {
                Ok(message) => message,
                Err(e) => {
                    tally.reject(index, e.kind(), &e);
                    continue;
                }
            };
            if message.message_type == MessageType::Control {
                ctx.metrics.add(CONTROL_MESSAGES, 1);
                tally.outcomes[index] = RecordOutcome::NothingToAlert;
                continue;
            }
            let source = (message.owner.to_string(), message.log_group.to_string());
            let next = groups.len();
            let at = *by_source.entry(source).or_insert(next);
            if at == next {
                groups.push(Vec::new());
            }
            groups[at].push(Placed {
                index,
                record,
                key: kinesis::record_key(Self::NAME, record),
                bytes: json.len(),
            });
        }
        groups
    }

    /// One record's data → gzip → JSON, bounded as `awslogs.data` is, borrowing from `json`.
    fn read<'j>(
        &self,
        record: &KinesisEventRecord,
        json: &'j mut Vec<u8>,
    ) -> Result<LogsMessage<'j>, DecodeError> {
        decode::inflate(&record.kinesis.data, self.config.max_decompressed_bytes, json)?;
        decode::parse(json)
    }

    /// The records of one (account, log group), with counters of its own (`ctx`): claimed,
    /// those already alerted left out, the rest delivered in alerts of at most
    /// `MAX_DECOMPRESSED_BYTES` of log data each, one after the other.
    async fn deliver_group(&self, group: &[Placed<'_>], holding: usize, mut ctx: Invocation) -> GroupDone {
        let mut done = Results::default();
        let keys: Vec<IdempotencyKey> = group.iter().map(|p| p.key.clone()).collect();
        let mut claims = self.outbox.claim_items::<Membership>(&mut ctx, &keys).await;
        if let Some(wait) = self.hold_wait(&claims, &ctx) {
            // A crashed attempt's hold ends in time to deliver: wait it out and claim again,
            // once, rather than report the records while it lasts (each report is one of the
            // stream's retries, and a crash's retries come inside the hold).
            tokio::time::sleep(wait).await;
            let busy = |claim: &ItemClaim<Membership>| matches!(claim, ItemClaim::Busy { .. });
            let again: Vec<IdempotencyKey> = keys
                .iter()
                .zip(&claims)
                .filter(|(_, claim)| busy(claim))
                .map(|(key, _)| key.clone())
                .collect();
            let mut reclaimed = self
                .outbox
                .claim_items::<Membership>(&mut ctx, &again)
                .await
                .into_iter();
            for claim in claims.iter_mut().filter(|claim| busy(claim)) {
                if let Some(again) = reclaimed.next() {
                    *claim = again;
                }
            }
        }
        let mut held: Vec<(&Placed<'_>, Option<Membership>)> = Vec::with_capacity(group.len());
        let mut cut_off: Vec<&Placed<'_>> = Vec::new();
        for (placed, claim) in group.iter().zip(claims) {
            match claim {
                ItemClaim::Held { note } => held.push((placed, note)),
                ItemClaim::Done => done.set(&[placed], RecordOutcome::AlreadyAlerted),
                ItemClaim::Busy { .. } => done.set(&[placed], RecordOutcome::Busy),
                ItemClaim::Unclaimed => cut_off.push(placed),
            }
        }
        if !cut_off.is_empty() {
            // The state budget cut claims off: those records may have been alerted, and an
            // alert of part of the group might not be the one an earlier attempt noted, so
            // none of it goes now. All handed back for the retry, the cut-off ones too (their
            // claims may have been made; a settled record is left as it is).
            let back: Vec<&Placed<'_>> = held.iter().map(|(p, _)| *p).chain(cut_off).collect();
            let keys: Vec<IdempotencyKey> = back.iter().map(|p| p.key.clone()).collect();
            self.outbox
                .release_items::<Membership>(&mut ctx, &keys, None)
                .await;
            done.set(&back, RecordOutcome::NotReached);
            return GroupDone {
                results: done,
                ctx,
                holding,
            };
        }
        let alerts = split(&held, self.config.max_decompressed_bytes);
        for (i, alert) in alerts.iter().enumerate() {
            if !self.may_start(&ctx) {
                // Held and never tried: handed back at once, for the retry (NotReached).
                let rest: Vec<IdempotencyKey> = alerts[i..].iter().flatten().map(|p| p.key.clone()).collect();
                self.outbox
                    .release_items::<Membership>(&mut ctx, &rest, None)
                    .await;
                break;
            }
            self.deliver_records(alert, &mut done, &mut ctx).await;
        }
        GroupDone {
            results: done,
            ctx,
            holding,
        }
    }

    /// How long to wait for the holds on a group's busy records to end (an attempt that
    /// crashed holds them until its deadline), when they end early enough that the group can
    /// still be delivered: `AFTER_HOLD` left before an alert may no longer start. None when
    /// none is busy, a claim was cut off (the group is handed back anyway), or that is too late.
    fn hold_wait(&self, claims: &[ItemClaim<Membership>], ctx: &Invocation) -> Option<Duration> {
        if claims.iter().any(|c| matches!(c, ItemClaim::Unclaimed)) {
            return None;
        }
        let ends = claims
            .iter()
            .filter_map(|c| match c {
                ItemClaim::Busy { until } => Some(*until),
                _ => None,
            })
            .max()?;
        // Epoch seconds of this process's clock: the store compares holds with its own now.
        let ends_ms = i64::try_from(ends).ok()?.checked_mul(1_000)?;
        let left_ms = ends_ms.saturating_sub(time::now_epoch_ms()).max(0);
        let wait = Duration::from_millis(u64::try_from(left_ms).ok()?).saturating_add(HOLD_SLACK);
        let cut = self.config.deadline_margin.saturating_mul(2);
        (wait.saturating_add(AFTER_HOLD) <= ctx.deadline.remaining_before(cut)).then_some(wait)
    }

    /// One alert of a group's records: decoded again, merged, delivered; the records marked
    /// done, or released with the alert's membership when it was not delivered.
    async fn deliver_records(&self, alert: &[&Placed<'_>], done: &mut Results, ctx: &mut Invocation) {
        let mut buffers = Vec::with_capacity(alert.len());
        for placed in alert {
            let mut json = Vec::new();
            // The first pass decoded these same bytes; this only fails if that changed.
            match decode::inflate(
                &placed.record.kinesis.data,
                self.config.max_decompressed_bytes,
                &mut json,
            ) {
                Ok(()) => buffers.push(json),
                Err(e) => return self.reject_all(alert, &e, done, ctx).await,
            }
        }
        let mut messages = Vec::with_capacity(alert.len());
        for json in &buffers {
            match decode::parse(json) {
                Ok(message) => messages.push(message),
                Err(e) => return self.reject_all(alert, &e, done, ctx).await,
            }
        }
        let Some((message, streams)) = merge(messages) else {
            return;
        };
        let keys: Vec<IdempotencyKey> = alert.iter().map(|p| p.key.clone()).collect();
        let members: Vec<Cow<'_, str>> = alert.iter().map(|p| kinesis::event_id(p.record)).collect();
        let Some(first) = keys.first() else {
            return;
        };
        // The same records give the same key, whatever else the retry's batch holds.
        let key = first.item(&members.join("\n"));
        let summary = match self.alert(&message, Origin::Stream { streams }, key, ctx).await {
            Ok(summary) => summary,
            Err(e) => {
                tracing::error!(
                    error_type = e.kind(),
                    error = %e,
                    records = alert.len(),
                    "alert not delivered; its records are reported for Lambda to deliver again"
                );
                let last = members.last().map(|m| m.to_string()).unwrap_or_default();
                self.outbox
                    .release_items(ctx, &keys, Some(&Membership { last }))
                    .await;
                return done.set(alert, RecordOutcome::Failed);
            }
        };
        let (outcome, message_id) = match &summary {
            Summary::Published(a) => (RecordOutcome::Alerted, a.message_id.as_deref()),
            Summary::Skipped { reason, .. } if *reason == SUPPRESSED => (RecordOutcome::Suppressed, None),
            Summary::Skipped { .. } => (RecordOutcome::AlreadyAlerted, None),
            Summary::Acknowledged { .. } | Summary::Ignored { .. } | Summary::BelowMinSeverity { .. } => {
                (RecordOutcome::NothingToAlert, None)
            }
        };
        if outcome == RecordOutcome::Alerted {
            done.published = done.published.saturating_add(1);
        }
        self.outbox.items_done(ctx, &keys, message_id).await;
        done.set(alert, outcome);
    }

    /// Records whose data no longer decodes: settled as rejected, never retried.
    async fn reject_all(
        &self,
        alert: &[&Placed<'_>],
        e: &DecodeError,
        done: &mut Results,
        ctx: &mut Invocation,
    ) {
        for placed in alert {
            // The first pass placed only records whose sequence number reads as one.
            let sequence_number = SequenceNumber::of(&placed.record.kinesis.sequence_number);
            warn_rejected(placed.index, &sequence_number, e.kind(), e);
            done.rejected
                .push(Rejected::new(placed.index, &sequence_number, e.kind()));
        }
        done.set(alert, RecordOutcome::Rejected);
        let keys: Vec<IdempotencyKey> = alert.iter().map(|p| p.key.clone()).collect();
        self.outbox.items_done(ctx, &keys, None).await;
    }
}

/// A group's held records as alerts: the records an earlier attempt put in one alert
/// (`Membership`) together again, the others in order, each alert at most `cap` bytes of
/// decoded payload (one record at least).
fn split<'p, 'e>(held: &[(&'p Placed<'e>, Option<Membership>)], cap: usize) -> Vec<Vec<&'p Placed<'e>>> {
    let mut alerts = Vec::new();
    let mut i = 0;
    while i < held.len() {
        let pinned = held[i].1.as_ref().and_then(|note| {
            held[i..]
                .iter()
                .position(|(p, _)| kinesis::event_id(p.record) == note.last.as_str())
        });
        let end = match pinned {
            Some(last) => i + last + 1,
            None => {
                let mut end = i + 1;
                let mut bytes = held[i].0.bytes;
                while let Some((next, note)) = held.get(end) {
                    bytes = bytes.saturating_add(next.bytes);
                    if bytes > cap || note.is_some() {
                        break;
                    }
                    end += 1;
                }
                end
            }
        };
        alerts.push(held[i..end].iter().map(|(p, _)| *p).collect());
        i = end;
    }
    alerts
}

/// One alert's payloads as one message: the first's account, log group, stream and policy,
/// every filter once, every event in the records' order; and how many log streams they span.
fn merge<'a>(messages: Vec<LogsMessage<'a>>) -> Option<(LogsMessage<'a>, usize)> {
    let mut messages = messages.into_iter();
    let mut merged = messages.next()?;
    let mut streams: HashSet<Cow<'a, str>> = HashSet::from([merged.log_stream.clone()]);
    for message in messages {
        streams.insert(message.log_stream);
        for filter in message.subscription_filters {
            if !merged.subscription_filters.contains(&filter) {
                merged.subscription_filters.push(filter);
            }
        }
        merged.log_events.extend(message.log_events);
    }
    Some((merged, streams.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogAlertConfig;
    use crate::decode::tests::gzip;
    use crate::handler::Response;
    use crate::kinesis::LogAlertEvent;
    use crate::kinesis::tests::record;
    use lookout_shared::config::Env;
    use lookout_shared::deadline::Deadline;
    use lookout_shared::envelope::Incoming;
    use lookout_shared::metrics::MetricsConfig;
    use lookout_shared::notification::SnsMessage;
    use lookout_shared::publish::{MemoryPublisher, PublishError};
    use lookout_shared::state::{Claim, Clock, Faults, MemoryStore, SystemClock};
    use serde_json::{Value, json};
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::time::Instant;

    const PAYMENTS: &str = "111122223333";
    const SEARCH: &str = "444455556666";

    /// One subscription payload (gzip, as a destination writes it) of `lines` from `owner`'s
    /// `group`, event ids from `first_id`.
    fn payload(owner: &str, group: &str, stream: &str, first_id: u64, lines: &[&str]) -> Vec<u8> {
        let events: Vec<Value> = lines
            .iter()
            .zip(first_id..)
            .map(|(line, id)| json!({"id": id.to_string(), "timestamp": 1_764_093_600_000_i64 + id as i64, "message": line}))
            .collect();
        let message = json!({"messageType": "DATA_MESSAGE", "owner": owner, "logGroup": group, "logStream": stream,
            "subscriptionFilters": ["lookout-errors"], "logEvents": events});
        gzip(message.to_string().as_bytes())
    }

    /// As `payload`, `padding` bytes larger (a field the decoder skips): its decoded size.
    fn padded(owner: &str, group: &str, padding: usize) -> Vec<u8> {
        let message = json!({"messageType": "DATA_MESSAGE", "owner": owner, "logGroup": group, "logStream": "s",
            "padding": "p".repeat(padding),
            "logEvents": [{"id": "1", "timestamp": 1_764_093_600_000_i64, "message": "ERROR db down"}]});
        gzip(message.to_string().as_bytes())
    }

    fn batch(records: &[(u64, Vec<u8>)]) -> Incoming<LogAlertEvent> {
        let records: Vec<Value> = records.iter().map(|(seq, data)| record(*seq, data)).collect();
        Incoming::from_document(json!({"Records": records}))
    }

    /// Fails every publish while `down`, for the alerts whose subject has `failing` in it.
    struct Sns {
        sent: MemoryPublisher,
        failing: &'static str,
        down: AtomicBool,
        /// How long each publish takes.
        takes: Duration,
    }

    impl Sns {
        fn new(failing: &'static str, takes: Duration) -> Self {
            Self {
                sent: MemoryPublisher::default(),
                failing,
                down: AtomicBool::new(!failing.is_empty()),
                takes,
            }
        }

        /// The subjects sent, sorted (groups are delivered side by side).
        fn subjects(&self) -> Vec<String> {
            let mut subjects: Vec<String> = self.sent.messages().into_iter().map(|m| m.subject).collect();
            subjects.sort();
            subjects
        }
    }

    impl Publisher for Sns {
        async fn publish(&self, m: &SnsMessage) -> Result<String, PublishError> {
            tokio::time::sleep(self.takes).await;
            if self.down.load(Ordering::SeqCst) && m.subject.contains(self.failing) {
                return Err(PublishError::Failed {
                    topic: "t".into(),
                    code: Some("InternalError".into()),
                    detail: "HTTP 500".into(),
                });
            }
            self.sent.publish(m).await
        }
    }

    fn log_alert(sns: &Sns, window_minutes: u64) -> LogAlert<&Sns, MemoryStore<SystemClock>> {
        let store = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
        on_store(sns, window_minutes, store)
    }

    fn on_store<S: StateStore>(sns: &Sns, window_minutes: u64, store: S) -> LogAlert<&Sns, S> {
        let names = format!(r#"{{"{PAYMENTS}": "payments-prod", "{SEARCH}": "search-prod"}}"#);
        let config = LogAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", "text"),
            ("ACCOUNT_NAMES", names.as_str()),
            ("MAX_DECOMPRESSED_BYTES", "65536"),
        ]))
        .unwrap();
        LogAlert::new(config, sns)
            .unwrap()
            .with_state(Some(store), Duration::from_secs(window_minutes * 60))
    }

    /// Handles `event` with `secs` to the deadline: the summary log line, the response Lambda
    /// reads, and the EMF metrics.
    async fn run<P: Publisher, S: StateStore>(
        alert: &LogAlert<P, S>,
        event: Incoming<LogAlertEvent>,
        secs: f64,
    ) -> (Value, Value, Value) {
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs_f64(secs)), "r");
        let response = alert.handle(event, &mut ctx).await.unwrap();
        let Response::Batch(summary) = &response else {
            panic!("a Kinesis batch is answered per record: {response:?}");
        };
        let config = MetricsConfig::from_env(&Env::default(), "log-alert").unwrap();
        (
            serde_json::to_value(summary).unwrap(),
            serde_json::to_value(&response).unwrap(),
            ctx.metrics.to_emf(&config, 0).unwrap(),
        )
    }

    /// Six records: payments' /ecs/web in two records from two streams around a CONTROL_MESSAGE,
    /// search's /ecs/web, payments' /ecs/api, then payments' /ecs/web again.
    fn six() -> Vec<(u64, Vec<u8>)> {
        let control = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[]}"#;
        vec![
            (
                1,
                payload(
                    PAYMENTS,
                    "/ecs/web",
                    "web/a",
                    1,
                    &["ERROR db down", "ERROR db down"],
                ),
            ),
            (2, gzip(control)),
            (3, payload(SEARCH, "/ecs/web", "web/c", 3, &["ERROR db down"])),
            (
                4,
                payload(PAYMENTS, "/ecs/api", "api/a", 4, &["ERROR token expired"]),
            ),
            (
                5,
                payload(PAYMENTS, "/ecs/web", "web/b", 5, &["ERROR cache gone"]),
            ),
            (
                6,
                payload(SEARCH, "/ecs/search", "search/a", 6, &["FATAL index corrupt"]),
            ),
        ]
    }

    #[tokio::test]
    async fn one_alert_per_account_and_log_group_of_the_batch() {
        let sns = Sns::new("", Duration::ZERO);
        let alert = log_alert(&sns, 15);
        let (summary, response, metrics) = run(&alert, batch(&six()), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        assert_eq!(sns.subjects(), ALL_FOUR);
        // The same line in two accounts is two alerts: its suppression windows are apart.
        let messages = sns.sent.messages();
        let first = messages
            .iter()
            .find(|m| m.subject.ends_with("3 events in /ecs/web"))
            .unwrap();
        assert!(
            first
                .message
                .contains("Log stream:    web/a (and 1 more stream; the stream link opens this one)"),
            "{}",
            first.message
        );
        assert!(
            first
                .message
                .contains("Account:       payments-prod (111122223333)"),
            "{}",
            first.message
        );
        assert_eq!(
            summary,
            json!({"status": "kinesisBatch", "batchItemFailures": [], "records": {"alerted": 5, "nothingToAlert": 1},
                   "alertsPublished": 4, "rejected": []})
        );
        assert_eq!(
            (
                &metrics["RecordsReceived"],
                &metrics["AlertsPublished"],
                &metrics["ControlMessages"]
            ),
            (&json!(6), &json!(4), &json!(1))
        );
        assert_eq!(metrics.get("RecordsRejected"), Some(&json!(0)));
        // The same batch again (a retry after a crash): every record was alerted.
        let (again, _, metrics) = run(&alert, batch(&six()), 30.0).await;
        assert_eq!(
            again["records"],
            json!({"alreadyAlerted": 5, "nothingToAlert": 1})
        );
        assert_eq!(metrics["RecordsAlreadyAlerted"], 5);
        assert_eq!(sns.sent.messages().len(), 4);
    }

    #[tokio::test]
    async fn records_that_can_never_be_alerted_are_logged_counted_and_not_reported() {
        let sns = Sns::new("", Duration::ZERO);
        let alert = log_alert(&sns, 15);
        let mut records = six();
        let big = "ERROR x".repeat(20_000);
        records.insert(1, (10, b"plain text password=hunter2".to_vec()));
        records.insert(2, (11, gzip(br#"{"messageType":"SOMETHING"}"#)));
        records.insert(3, (12, payload(PAYMENTS, "/ecs/web", "web/a", 9, &[&big])));
        let mut event = batch(&records).into_parts().0;
        event["Records"][5]["kinesis"]["data"] = json!("not base64!");
        let (summary, response, metrics) = run(&alert, Incoming::from_document(event), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        assert_eq!(
            summary["records"],
            json!({"alerted": 4, "nothingToAlert": 1, "rejected": 4})
        );
        assert_eq!(
            summary["rejected"],
            json!([
                {"sequenceNumber": "10", "problem": "PayloadNotGzip"},
                {"sequenceNumber": "11", "problem": "PayloadNotLogsMessage"},
                {"sequenceNumber": "12", "problem": "PayloadTooLarge"},
                {"sequenceNumber": "3", "problem": "RecordMalformed"},
            ])
        );
        assert!(!summary.to_string().contains("hunter2"));
        assert_eq!(metrics["RecordsRejected"], 4);
        // Every valid record, alerted: search's /ecs/web lost its record to the bad base64.
        assert_eq!(sns.sent.messages().len(), 3);
    }

    #[tokio::test]
    async fn a_failed_alert_reports_its_first_record_and_the_retry_alerts_each_record_once() {
        let sns = Sns::new("search-prod", Duration::ZERO);
        let alert = log_alert(&sns, 15);
        let (summary, response, metrics) = run(&alert, batch(&six()), 30.0).await;
        // search's first record is 3: Lambda resumes there.
        assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": "3"}]}));
        assert_eq!(
            summary["records"],
            json!({"alerted": 3, "failed": 2, "nothingToAlert": 1})
        );
        assert_eq!(
            (&metrics["RecordsFailed"], &metrics["PublishFailures"]),
            (&json!(2), &json!(2))
        );
        assert_eq!(sns.sent.messages().len(), 2);
        // SNS is back; Lambda delivers 3 and everything after it.
        sns.down.store(false, Ordering::SeqCst);
        let retry: Vec<(u64, Vec<u8>)> = six().into_iter().filter(|(seq, _)| *seq >= 3).collect();
        let (summary, response, _) = run(&alert, batch(&retry), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        assert_eq!(summary["records"], json!({"alerted": 2, "alreadyAlerted": 2}));
        assert_eq!(sns.subjects(), ALL_FOUR);
    }

    /// The alerts of `six()`, sorted.
    const ALL_FOUR: [&str; 4] = [
        "[CRITICAL] search-prod: 1 event in /ecs/search",
        "[ERROR] payments-prod: 1 event in /ecs/api",
        "[ERROR] payments-prod: 3 events in /ecs/web",
        "[ERROR] search-prod: 1 event in /ecs/web",
    ];

    /// Thirteen records: one per account for twelve accounts, then the first account's again.
    fn thirteen() -> Vec<(u64, Vec<u8>)> {
        let mut records: Vec<(u64, Vec<u8>)> = (1..=12)
            .map(|seq| {
                (
                    seq,
                    payload(
                        &format!("{:012}", seq),
                        "/ecs/web",
                        "web/a",
                        seq,
                        &["ERROR db down"],
                    ),
                )
            })
            .collect();
        records.push((
            13,
            payload(&format!("{:012}", 1), "/ecs/web", "web/b", 13, &["ERROR db down"]),
        ));
        records
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_cuts_the_batch_between_alerts_and_the_rest_is_reported() {
        // Each publish takes a second; the margin is 0.5 s and an alert starts only with 1 s to
        // spare: the first eight groups go out side by side in 1.8 s, the other four do not start.
        let sns = Sns::new("", Duration::from_secs(1));
        let alert = log_alert(&sns, 15);
        let (summary, response, metrics) = run(&alert, batch(&thirteen()), 1.8).await;
        assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": "9"}]}));
        assert_eq!(summary["records"], json!({"alerted": 9, "notReached": 4}));
        assert_eq!(metrics["RecordsFailed"], 4);
        assert_eq!(sns.sent.messages().len(), 8);
        // Lambda delivers 9 and after: 13 was alerted with the first account's group.
        let retry: Vec<(u64, Vec<u8>)> = thirteen().into_iter().filter(|(seq, _)| *seq >= 9).collect();
        let (summary, _, _) = run(&alert, batch(&retry), 30.0).await;
        assert_eq!(summary["records"], json!({"alerted": 4, "alreadyAlerted": 1}));
        assert_eq!(sns.sent.messages().len(), 12);
    }

    /// Side by side, groups hold at most MAX_DECOMPRESSED_BYTES (64 KiB here) of decoded log
    /// data together: groups of 40 KiB go one at a time, small ones together.
    #[tokio::test(start_paused = true)]
    async fn groups_side_by_side_hold_at_most_the_decoded_byte_cap_together() {
        let sns = Sns::new("", Duration::from_secs(1));
        let alert = log_alert(&sns, 15);
        let timed = |padding: usize| {
            // Other sequence numbers (and accounts) each time: other records.
            let records: Vec<(u64, Vec<u8>)> = (1..=4)
                .map(|n| n + padding as u64)
                .map(|seq| (seq, padded(&format!("{seq:012}"), "/ecs/web", padding)))
                .collect();
            let alert = &alert;
            async move {
                let started = tokio::time::Instant::now();
                let (summary, _, _) = run(alert, batch(&records), 60.0).await;
                assert_eq!(summary["records"], json!({"alerted": 4}));
                started.elapsed()
            }
        };
        assert!(timed(40 << 10).await >= Duration::from_secs(4));
        assert!(timed(100).await < Duration::from_secs(2));
    }

    /// The records of an alert that failed come back with more of their log group behind them:
    /// they form the same alert again, which inherits its decision, so the suppression window
    /// its own first attempt opened does not swallow it.
    #[tokio::test]
    async fn a_retried_alert_is_the_same_alert_even_when_its_log_group_has_more_records() {
        let sns = Sns::new("search-prod", Duration::ZERO);
        let alert = log_alert(&sns, 15);
        let (_, response, _) = run(&alert, batch(&six()), 30.0).await;
        assert_eq!(response["batchItemFailures"][0]["itemIdentifier"], "3");
        sns.down.store(false, Ordering::SeqCst);
        let mut retry: Vec<(u64, Vec<u8>)> = six().into_iter().filter(|(seq, _)| *seq >= 3).collect();
        retry.push((7, payload(SEARCH, "/ecs/web", "web/c", 7, &["ERROR db down"])));
        let (summary, _, _) = run(&alert, batch(&retry), 30.0).await;
        assert_eq!(
            summary["records"],
            json!({"alerted": 2, "alreadyAlerted": 2, "suppressed": 1})
        );
        let subjects = sns.subjects();
        assert!(
            subjects.contains(&"[ERROR] search-prod: 1 event in /ecs/web".to_string()),
            "{subjects:?}"
        );
    }

    #[test]
    fn alerts_keep_an_earlier_attempts_records_together_and_the_others_within_the_cap() {
        let records: Vec<(u64, Vec<u8>)> = (1..=5).map(|seq| (seq, vec![])).collect();
        let LogAlertEvent::Kinesis(slots) = batch(&records).into_parts().1.unwrap() else {
            panic!("a Kinesis batch");
        };
        let placed: Vec<Placed<'_>> = slots
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                let record = slot.0.as_ref().unwrap();
                Placed {
                    index,
                    record,
                    key: kinesis::record_key("t", record),
                    bytes: 40,
                }
            })
            .collect();
        let note = |last: &str| Some(Membership { last: last.into() });
        let held: Vec<(&Placed<'_>, Option<Membership>)> = placed
            .iter()
            .zip([None, note("shardId-000000000000:3"), None, None, None])
            .collect();
        let sizes = |alerts: Vec<Vec<&Placed<'_>>>| alerts.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(split(&held, 100)), [1, 2, 2]);
        assert_eq!(sizes(split(&held, 10)), [1, 2, 1, 1]);
        // A note whose last record is not in this batch: the cap alone decides.
        let held: Vec<_> = placed
            .iter()
            .map(|p| (p, note("shardId-000000000000:99")))
            .take(1)
            .collect();
        assert_eq!(sizes(split(&held, 100)), [1]);
    }

    /// The system's clock moved on by as much as tokio's paused clock has skipped: the store
    /// and the handler (`time::now_epoch_ms`) agree on the time until a hold ends, and a test
    /// waits out a 20 s hold at once.
    #[derive(Debug)]
    struct Skipping(Instant);

    impl Clock for Skipping {
        fn now(&self) -> u64 {
            let skipped = u64::try_from(self.0.elapsed().as_millis()).unwrap();
            (u64::try_from(time::now_epoch_ms()).unwrap() + skipped) / 1_000
        }
    }

    /// An attempt that crashed (out of memory, say) holds its records' claims until its
    /// deadline, and Lambda's retries come inside that hold. A retry with the time to wait it
    /// out and still deliver does, once; one without reports the records at once.
    #[tokio::test(start_paused = true)]
    async fn records_a_crashed_attempt_holds_are_waited_for_when_its_hold_ends_in_time() {
        let sns = Sns::new("", Duration::ZERO);
        let store = MemoryStore::new(Duration::from_secs(86_400), Skipping(Instant::now()));
        // It held search's /ecs/web (record 3) and payments' /ecs/api (4), for 20 s more.
        let LogAlertEvent::Kinesis(slots) = batch(&six()).into_parts().1.unwrap() else {
            panic!("a Kinesis batch");
        };
        for slot in &slots[2..4] {
            let name = <LogAlert<&Sns, MemoryStore<Skipping>> as Function>::NAME;
            let key = kinesis::record_key(name, slot.0.as_ref().unwrap());
            let claim = store
                .claim::<Membership>(&key, Duration::from_secs(20), Duration::from_secs(1))
                .await;
            assert!(matches!(claim, Ok(Claim::Acquired { .. })), "{claim:?}");
        }
        let alert = on_store(&sns, 15, store);
        // 21 s to the deadline: the hold ends too late to deliver after it.
        let started = Instant::now();
        let (summary, response, _) = run(&alert, batch(&six()), 21.0).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": "3"}]}));
        assert_eq!(
            summary["records"],
            json!({"alerted": 3, "busy": 2, "nothingToAlert": 1})
        );
        // Lambda's retry from 3, with 60 s: it waits for the hold to end, then delivers them.
        let retry: Vec<(u64, Vec<u8>)> = six().into_iter().filter(|(seq, _)| *seq >= 3).collect();
        let started = Instant::now();
        let (summary, response, _) = run(&alert, batch(&retry), 60.0).await;
        let waited = started.elapsed();
        assert!(
            (Duration::from_secs(19)..=Duration::from_secs(21)).contains(&waited),
            "{waited:?}"
        );
        assert_eq!(response, json!({"batchItemFailures": []}));
        assert_eq!(summary["records"], json!({"alerted": 2, "alreadyAlerted": 2}));
        assert_eq!(sns.subjects(), ALL_FOUR);
    }

    /// Records 1..=n of payments' /ecs/web, one line each.
    fn web(records: std::ops::RangeInclusive<u64>) -> Vec<(u64, Vec<u8>)> {
        records
            .map(|seq| {
                (
                    seq,
                    payload(PAYMENTS, "/ecs/web", "web/a", seq, &["ERROR db down"]),
                )
            })
            .collect()
    }

    /// Claims of 2 s against the 3 s state budget: the first 16 records of the group are
    /// claimed (and found alerted), the next 16 cut off, the rest never claimed. Those may
    /// have been alerted too (17 to 20 were): reported, not alerted again.
    #[tokio::test(start_paused = true)]
    async fn records_whose_claims_the_budget_cut_off_are_reported_not_alerted() {
        let sns = Sns::new("", Duration::ZERO);
        let store = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
        // No suppression window: the same line twice is two alerts.
        let alert = on_store(&sns, 0, store);
        let (_, response, _) = run(&alert, batch(&web(1..=20)), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        let table = || alert.outbox.store().unwrap();
        table().set_faults(Faults {
            claim_delay: Duration::from_secs(2),
            ..Faults::default()
        });
        let (summary, response, metrics) = run(&alert, batch(&web(1..=40)), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": "17"}]}));
        assert_eq!(
            summary["records"],
            json!({"alreadyAlerted": 16, "notReached": 24})
        );
        assert_eq!(
            (&metrics["RecordsFailed"], &metrics["StateStoreProblems"]),
            (&json!(24), &json!(16))
        );
        assert_eq!(sns.sent.messages().len(), 1);
        // The table is quick again; Lambda delivers 17 and after: 21 to 40 in one alert.
        table().set_faults(Faults::default());
        let (summary, response, _) = run(&alert, batch(&web(17..=40)), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        assert_eq!(summary["records"], json!({"alerted": 20, "alreadyAlerted": 4}));
        assert_eq!(
            sns.subjects(),
            ["[ERROR] payments-prod: 20 events in /ecs/web"; 2]
        );
    }

    /// A sequence number that is not one Kinesis writes (digits, at most 128) is never logged
    /// nor listed: the record is named by its position instead.
    #[tokio::test]
    async fn an_unreadable_sequence_number_is_reported_by_position_never_as_text() {
        let sns = Sns::new("", Duration::ZERO);
        let alert = log_alert(&sns, 15);
        let forged = "1\n{\"level\":\"ERROR\",\"msg\":\"forged\"}";
        let mut event = batch(&six()).into_parts().0;
        // Not a Kinesis record; and a Kinesis record, but with no sequence number Kinesis writes.
        event["Records"][1]["kinesis"]["data"] = json!(1);
        event["Records"][1]["kinesis"]["sequenceNumber"] = json!(forged);
        event["Records"][3]["kinesis"]["sequenceNumber"] = json!("9".repeat(129));
        let (summary, response, metrics) = run(&alert, Incoming::from_document(event), 30.0).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        assert_eq!(
            summary["rejected"],
            json!([
                {"sequenceNumber": "unreadable sequence number", "index": 1, "problem": "RecordMalformed"},
                {"sequenceNumber": "unreadable sequence number", "index": 3, "problem": "SequenceNumberUnreadable"},
            ])
        );
        let text = summary.to_string();
        assert!(
            !text.contains("forged") && !text.contains(&"9".repeat(129)),
            "{text}"
        );
        assert_eq!(metrics["RecordsRejected"], 2);
    }
}
