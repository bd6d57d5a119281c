//! Which images to rescan, and why each of the others is skipped: per repository
//! ([`select`]), and over every repository's listing ([`select_all`]).

use crate::config::ImageSelection;
use crate::model::{Image, ImageStatus};
use lookout_shared::aws::ApiError;
use lookout_shared::wildcard;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Why an image was not rescanned. Every one is counted in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) enum Skip {
    Archived,
    /// A signature, SBOM or other artifact attached to an image: not an image itself.
    Artifact,
    /// A multi-platform index: basic scanning scans the per-platform images.
    ImageIndex,
    /// ECR already reported UNSUPPORTED_IMAGE for it.
    UnsupportedImage,
    Untagged,
    TagNotMatched,
    NotPulledRecently,
    NotLatest,
    Duplicate,
    ScannedRecently,
    /// `imageScanStatus` IN_PROGRESS or PENDING: a scan was started (by this run's earlier
    /// attempt that Lambda is retrying, by a push, by someone else); starting another repeats it.
    ScanInProgress,
    /// StartImageScan said UnsupportedImageTypeException.
    UnsupportedType,
    /// Deleted or archived between listing and scanning.
    DeletedMidRun,
}

impl Skip {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Skip::Archived => "skippedArchived",
            Skip::Artifact => "skippedArtifact",
            Skip::ImageIndex => "skippedImageIndex",
            Skip::UnsupportedImage => "skippedUnsupportedImage",
            Skip::Untagged => "skippedUntagged",
            Skip::TagNotMatched => "skippedTagNotMatched",
            Skip::NotPulledRecently => "skippedNotPulledRecently",
            Skip::NotLatest => "skippedNotLatest",
            Skip::Duplicate => "skippedDuplicate",
            Skip::ScannedRecently => "skippedScannedRecently",
            Skip::ScanInProgress => "skippedScanInProgress",
            Skip::UnsupportedType => "skippedUnsupportedType",
            Skip::DeletedMidRun => "skippedDeletedMidRun",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Skip::Archived => "archived",
            Skip::Artifact => "not an image (signature, SBOM or other artifact)",
            Skip::ImageIndex => "multi-platform index",
            Skip::UnsupportedImage => "unsupported by basic scanning",
            Skip::Untagged => "untagged",
            Skip::TagNotMatched => "no tag matches TAG_PATTERNS",
            Skip::NotPulledRecently => "not pulled recently",
            Skip::NotLatest => "older than the latest N",
            Skip::Duplicate => "duplicate digest",
            Skip::ScannedRecently => "scanned within the rescan interval",
            Skip::ScanInProgress => "scan already in progress",
            Skip::UnsupportedType => "image type not supported",
            Skip::DeletedMidRun => "deleted or archived during the run",
        }
    }
}

/// The rules for one run: the configuration, narrowed by the invocation's overrides.
#[derive(Debug, Clone)]
pub(crate) struct Rules<'a> {
    pub(crate) selection: &'a ImageSelection,
    pub(crate) latest_per_repository: usize,
    pub(crate) rescan_after_ms: i64,
    pub(crate) now_ms: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Selected {
    pub(crate) candidates: Vec<Image>,
    pub(crate) skipped: Vec<(Image, Skip)>,
}

const IMAGE_CONFIG_TYPES: [&str; 2] = [
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
];
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Applies the rules to one repository's images.
pub(crate) fn select(images: Vec<Image>, rules: &Rules) -> Selected {
    let mut out = Selected::default();
    let mut kept = Vec::new();
    for image in images {
        match static_skip(&image, rules) {
            Some(skip) => out.skipped.push((image, skip)),
            None => kept.push(image),
        }
    }
    // Newest first, so "latest N" keeps the N most recently pushed.
    kept.sort_by(|a, b| {
        b.pushed_at_ms
            .cmp(&a.pushed_at_ms)
            .then_with(|| a.digest.cmp(&b.digest))
    });
    let mut seen = HashSet::new();
    for (rank, image) in kept.into_iter().enumerate() {
        let skip = if rules.latest_per_repository > 0 && rank >= rules.latest_per_repository {
            Some(Skip::NotLatest)
        } else if !seen.insert((image.repository.clone(), image.digest.clone())) {
            Some(Skip::Duplicate)
        } else if image
            .scan_completed_at_ms
            .is_some_and(|t| rules.now_ms - t < rules.rescan_after_ms)
        {
            Some(Skip::ScannedRecently)
        } else {
            None
        };
        match skip {
            Some(skip) => out.skipped.push((image, skip)),
            None => out.candidates.push(image),
        }
    }
    out
}

fn static_skip(image: &Image, rules: &Rules) -> Option<Skip> {
    let selection = rules.selection;
    if image.status != ImageStatus::Active {
        return Some(Skip::Archived);
    }
    if image.subject_digest.is_some()
        || image
            .artifact_media_type
            .as_deref()
            .is_some_and(|t| !IMAGE_CONFIG_TYPES.contains(&t))
    {
        return Some(Skip::Artifact);
    }
    if image
        .manifest_media_type
        .as_deref()
        .is_some_and(|t| INDEX_TYPES.contains(&t))
    {
        return Some(Skip::ImageIndex);
    }
    match image.scan_status.as_deref() {
        Some("UNSUPPORTED_IMAGE") => return Some(Skip::UnsupportedImage),
        Some("IN_PROGRESS" | "PENDING") => return Some(Skip::ScanInProgress),
        _ => {}
    }
    if selection.tagged_only && image.tags.is_empty() {
        return Some(Skip::Untagged);
    }
    if !selection.tag_patterns.is_empty()
        && !image
            .tags
            .iter()
            .any(|t| selection.tag_patterns.iter().any(|p| wildcard::matches(p, t)))
    {
        return Some(Skip::TagNotMatched);
    }
    if selection.pulled_within_days > 0 {
        let window = i64::from(selection.pulled_within_days) * 86_400_000;
        // Never pulled (or not recorded) counts as not pulled recently.
        if image.last_pulled_at_ms.is_none_or(|t| rules.now_ms - t > window) {
            return Some(Skip::NotPulledRecently);
        }
    }
    None
}

/// Oldest scan first (never scanned before anything), so runs cut short by the deadline
/// make progress across the schedule instead of rescanning the same images.
pub(crate) fn order_for_progress(candidates: &mut [Image]) {
    candidates.sort_by(|a, b| {
        a.scan_completed_at_ms
            .cmp(&b.scan_completed_at_ms)
            .then_with(|| a.repository.cmp(&b.repository))
            .then_with(|| a.digest.cmp(&b.digest))
    });
}

/// Why a repository's images could not be listed.
#[derive(Debug)]
pub(crate) enum ListingProblem {
    Api(ApiError),
    Deadline,
}

/// One repository's `DescribeImages`, or why it was not read.
pub(crate) type Listing = Result<Vec<Image>, ListingProblem>;

/// A repository as listed: its image count, or what kept it from being listed.
#[derive(Debug, Default)]
pub(crate) struct RepositoryListing {
    pub(crate) images: usize,
    pub(crate) error: Option<String>,
}

/// The listings, sorted into what is decided already and what may be scanned.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// Every repository listed (or not), by name.
    pub(crate) repositories: BTreeMap<String, RepositoryListing>,
    pub(crate) candidates: Vec<Image>,
    pub(crate) skipped: Vec<(Image, Skip)>,
    pub(crate) all_images: Vec<Image>,
    pub(crate) not_listed: u64,
    /// Not listed because the API failed (not the deadline): the run is a Lambda error.
    pub(crate) failed_listings: u64,
}

/// Applies the rules to every repository's listing.
pub(crate) fn select_all(listings: Vec<(String, Listing)>, rules: &Rules<'_>) -> Selection {
    let mut out = Selection::default();
    for (repository, listing) in listings {
        let entry = out.repositories.entry(repository).or_default();
        match listing {
            Ok(images) => {
                entry.images = images.len();
                out.all_images.extend(images.iter().cloned());
                let selected = select(images, rules);
                out.skipped.extend(selected.skipped);
                out.candidates.extend(selected.candidates);
            }
            Err(ListingProblem::Api(e)) if e.not_found => {
                entry.error = Some("deleted during the run".to_string());
            }
            Err(ListingProblem::Api(e)) => {
                out.not_listed += 1;
                out.failed_listings += 1;
                entry.error = Some(format!("not listed: {e}"));
            }
            Err(ListingProblem::Deadline) => {
                out.not_listed += 1;
                entry.error = Some("not listed: the Lambda deadline came first".to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 100 * DAY;

    fn image(digest: &str, tags: &[&str], pushed_day: i64) -> Image {
        Image {
            repository: "web".into(),
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at_ms: Some(pushed_day * DAY),
            ..Image::default()
        }
    }

    fn rules(selection: &ImageSelection, latest: usize) -> Rules<'_> {
        Rules {
            selection,
            latest_per_repository: latest,
            rescan_after_ms: DAY,
            now_ms: NOW,
        }
    }

    fn tagged() -> ImageSelection {
        ImageSelection {
            tagged_only: true,
            tag_patterns: vec![],
            latest_per_repository: 0,
            pulled_within_days: 0,
        }
    }

    fn skips(s: &Selected) -> Vec<(String, Skip)> {
        s.skipped.iter().map(|(i, k)| (i.digest.clone(), *k)).collect()
    }

    #[test]
    fn each_skip_reason() {
        let mut archived = image("a", &["v1"], 1);
        archived.status = ImageStatus::Archived;
        let mut sig = image("s", &["sha256-abc.sig"], 2);
        sig.artifact_media_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
        let mut sbom = image("b", &[], 2);
        sbom.subject_digest = Some("sha256:x".into());
        let mut index = image("i", &["multi"], 3);
        index.manifest_media_type = Some("application/vnd.oci.image.index.v1+json".into());
        let mut unsupported = image("u", &["v0"], 4);
        unsupported.scan_status = Some("UNSUPPORTED_IMAGE".into());
        let mut recent = image("r", &["v2"], 5);
        recent.scan_completed_at_ms = Some(NOW - DAY / 2);
        let mut old_scan = image("o", &["v3"], 6);
        old_scan.scan_completed_at_ms = Some(NOW - 2 * DAY);
        let mut running = image("p", &["v5"], 8);
        running.scan_status = Some("IN_PROGRESS".into());
        let mut config_ok = image("c", &["v4"], 7);
        config_ok.artifact_media_type = Some("application/vnd.oci.image.config.v1+json".into());
        let images = vec![
            archived,
            sig,
            sbom,
            index,
            unsupported,
            image("n", &[], 8),
            recent,
            old_scan,
            running,
            config_ok,
        ];
        let sel = tagged();
        let out = select(images, &rules(&sel, 0));
        let mut got = skips(&out);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("a".into(), Skip::Archived),
                ("b".into(), Skip::Artifact),
                ("i".into(), Skip::ImageIndex),
                ("n".into(), Skip::Untagged),
                ("p".into(), Skip::ScanInProgress),
                ("r".into(), Skip::ScannedRecently),
                ("s".into(), Skip::Artifact),
                ("u".into(), Skip::UnsupportedImage),
            ]
        );
        let kept: Vec<&str> = out.candidates.iter().map(|i| i.digest.as_str()).collect();
        assert_eq!(kept, vec!["c", "o"]);
    }

    #[test]
    fn all_images_includes_untagged() {
        let sel = ImageSelection {
            tagged_only: false,
            ..tagged()
        };
        let out = select(vec![image("n", &[], 1)], &rules(&sel, 0));
        assert_eq!(out.candidates.len(), 1);
    }

    #[test]
    fn tag_patterns_latest_n_and_pull_window() {
        let sel = ImageSelection {
            tag_patterns: vec!["v*".into()],
            pulled_within_days: 7,
            ..tagged()
        };
        let mut fresh = image("f", &["v1"], 1);
        fresh.last_pulled_at_ms = Some(NOW - DAY);
        let mut stale = image("s", &["v2"], 2);
        stale.last_pulled_at_ms = Some(NOW - 30 * DAY);
        let never = image("n", &["v3"], 3);
        let dev = image("d", &["dev"], 4);
        let out = select(vec![fresh, stale, never, dev], &rules(&sel, 0));
        let mut got = skips(&out);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("d".into(), Skip::TagNotMatched),
                ("n".into(), Skip::NotPulledRecently),
                ("s".into(), Skip::NotPulledRecently)
            ]
        );

        let sel = tagged();
        let images: Vec<Image> = (0..5).map(|i| image(&format!("d{i}"), &["t"], i)).collect();
        let out = select(images, &rules(&sel, 2));
        let kept: Vec<&str> = out.candidates.iter().map(|i| i.digest.as_str()).collect();
        assert_eq!(kept, vec!["d4", "d3"], "the two most recently pushed");
        assert_eq!(
            out.skipped.iter().filter(|(_, s)| *s == Skip::NotLatest).count(),
            3
        );
    }

    #[test]
    fn duplicates_by_digest() {
        let sel = tagged();
        let out = select(
            vec![image("x", &["a"], 1), image("x", &["b"], 1)],
            &rules(&sel, 0),
        );
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(skips(&out), vec![("x".into(), Skip::Duplicate)]);
    }

    #[test]
    fn progress_order_is_oldest_scan_first() {
        let mut a = image("a", &["t"], 1);
        a.scan_completed_at_ms = Some(5);
        let mut b = image("b", &["t"], 1);
        b.scan_completed_at_ms = Some(1);
        let c = image("c", &["t"], 1);
        let mut list = vec![a, b, c];
        order_for_progress(&mut list);
        let order: Vec<&str> = list.iter().map(|i| i.digest.as_str()).collect();
        assert_eq!(order, vec!["c", "b", "a"]);
    }
}
