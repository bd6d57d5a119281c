//! AWS console deep links. Built only from names AWS has validated (log group, stream,
//! repository, digest), percent-encoded, so log text can never shape a link.

use crate::ids::{AccountId, Region};
use crate::time::iso8601_ms;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Names are encoded strictly: only `A-Z a-z 0-9 - _ .` stay as they are.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// What JavaScript's `encodeURIComponent` leaves alone: the Insights detail keeps its `~'()`.
const URI_COMPONENT: &AsciiSet = &STRICT
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

/// The AWS partition a region belongs to: the one table for console hosts and ARNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// `aws`: the commercial regions.
    Aws,
    /// `aws-cn`: `cn-*` regions.
    China,
    /// `aws-us-gov`: `us-gov-*` regions.
    GovCloud,
}

impl Partition {
    /// The partition of a region name, by its prefix.
    pub fn of_region(region: &str) -> Self {
        if region.starts_with("cn-") {
            Partition::China
        } else if region.starts_with("us-gov-") {
            Partition::GovCloud
        } else {
            Partition::Aws
        }
    }

    /// The partition in ARNs: `arn:<this>:service:region:account:resource`.
    pub fn arn_name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::China => "aws-cn",
            Partition::GovCloud => "aws-us-gov",
        }
    }
}

/// The partitions ARNs name, each with the prefix its regions carry, most specific first.
const PARTITIONS: [(&str, &str); 8] = [
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
    ("cn-", "aws-cn"),
    ("", "aws"),
];

/// The partition a region belongs to, as ARNs spell it: `aws`, `aws-cn`, `aws-us-gov`,
/// `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, `aws-eusc`.
pub fn partition_of_region(region: &str) -> &'static str {
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// Whether `name` is one of the partitions [`partition_of_region`] knows.
pub fn is_partition(name: &str) -> bool {
    PARTITIONS.iter().any(|(_, partition)| *partition == name)
}

/// The AWS region grammar, the one every function checks regions against: lowercase words
/// joined by `-`, ending in a one- or two-digit number, the first word two letters (`eusc` for
/// the European Sovereign Cloud): `us-east-1`, `us-gov-west-1`, `us-isob-east-1`,
/// `eusc-de-east-1`. Region text from an event or the environment is untrusted: only a region
/// of this shape ever becomes part of a link host, an ARN or an SDK endpoint.
pub fn is_region(s: &str) -> bool {
    if s.len() > 32 {
        return false;
    }
    let mut parts = s.split('-');
    let Some(first) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    let Some((number, words)) = rest.split_last() else {
        return false;
    };
    let letters = |w: &str| !w.is_empty() && w.len() <= 16 && w.bytes().all(|b| b.is_ascii_lowercase());
    (first.len() == 2 || first == "eusc")
        && letters(first)
        && !words.is_empty()
        && words.iter().all(|w| letters(w))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The console host for the region's partition. Only a [`Region`] (checked at the edge)
/// becomes part of a host.
pub fn console_base(region: &Region) -> String {
    match Partition::of_region(region.as_str()) {
        Partition::GovCloud => "https://console.amazonaws-us-gov.com".to_string(),
        Partition::China => format!("https://{region}.console.amazonaws.cn"),
        Partition::Aws => format!("https://{region}.console.aws.amazon.com"),
    }
}

/// Epoch milliseconds the console can show: 1970-01-01 to 9999-12-31. Log event timestamps are
/// untrusted `i64`s; a window outside this range is left out of links rather than wrapped.
pub const LINK_TIME_RANGE_MS: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999;

/// `arn:<partition>:<service>:<region>:<account>:<resource>`, the partition from the region.
pub fn arn(service: &str, region: &Region, account: &AccountId, resource: &str) -> String {
    let partition = region.partition();
    format!("arn:{partition}:{service}:{region}:{account}:{resource}")
}

/// The console's fragment encoding: percent-encode, then every `%` becomes `$25`.
fn fragment_component(s: &str) -> String {
    encode(s).replace('%', "$25")
}

/// The log stream, opened at `start_ms` and ending at `end_ms`; without a time window when
/// either is outside [`LINK_TIME_RANGE_MS`] or they are out of order.
pub fn log_stream_url(region: &Region, group: &str, stream: &str, start_ms: i64, end_ms: i64) -> String {
    let window = if LINK_TIME_RANGE_MS.contains(&start_ms)
        && LINK_TIME_RANGE_MS.contains(&end_ms)
        && start_ms <= end_ms
    {
        format!("$3Fstart$3D{start_ms}$26end$3D{end_ms}")
    } else {
        String::new()
    };
    format!(
        "{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}{window}",
        console_base(region),
        fragment_component(group),
        fragment_component(stream),
    )
}

/// A Logs Insights query over `[start_ms, end_ms]` of one log group.
/// Times are clamped to [`LINK_TIME_RANGE_MS`] (the query needs a window).
pub fn logs_insights_url(region: &Region, group: &str, query: &str, start_ms: i64, end_ms: i64) -> String {
    let clamp = |t: i64| t.clamp(*LINK_TIME_RANGE_MS.start(), *LINK_TIME_RANGE_MS.end());
    let (start_ms, end_ms) = (clamp(start_ms), clamp(end_ms));
    // Each value is URI-encoded with `%` written `*`; the whole detail is then URI-encoded
    // with `%` written `$`.
    let value = |s: &str| encode(s).replace('%', "*");
    let detail = format!(
        "~(end~'{}~start~'{}~timeType~'ABSOLUTE~tz~'UTC~editorString~'{}~source~(~'{}))",
        value(&iso8601_ms(end_ms)),
        value(&iso8601_ms(start_ms)),
        value(query),
        value(group),
    );
    format!(
        "{}/cloudwatch/home?region={region}#logsV2:logs-insights$3FqueryDetail$3D{}",
        console_base(region),
        utf8_percent_encode(&detail, URI_COMPONENT)
            .to_string()
            .replace('%', "$")
    )
}

/// An ECR image's scan findings (basic scanning) in the ECR console.
pub fn ecr_image_url(region: &Region, account: &AccountId, repository: &str, digest: &str) -> String {
    format!(
        "{}/ecr/repositories/private/{account}/{}/_/image/{}/details?region={region}",
        console_base(region),
        encode(repository),
        encode(digest),
    )
}

/// Amazon Inspector's findings for one ECR image.
pub fn inspector_image_url(region: &Region, digest: &str) -> String {
    format!(
        "{}/inspector/v2/home?region={region}#/findings/all?filters=ecrImageHash%3A{}",
        console_base(region),
        encode(digest),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(region: &str) -> Region {
        Region::parse(region).unwrap()
    }

    fn a(account: &str) -> AccountId {
        AccountId::parse(account).unwrap()
    }

    #[test]
    fn log_stream_link_uses_dollar_encoding() {
        let url = log_stream_url(
            &r("eu-west-1"),
            "/ecs/web-app",
            "2024/05/01/[$LATEST]abc",
            1000,
            2000,
        );
        assert_eq!(
            url,
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fweb-app/log-events/2024$252F05$252F01$252F$255B$2524LATEST$255Dabc$3Fstart$3D1000$26end$3D2000"
        );
    }

    #[test]
    fn insights_link_double_encodes() {
        let url = logs_insights_url(&r("us-east-1"), "/ecs/web", "fields @message", 0, 60_000);
        assert!(url.contains("logs-insights$3FqueryDetail$3D~(end~'1970-01-01T00*3A01*3A00.000Z~start~'1970-01-01T00*3A00*3A00.000Z"), "{url}");
        assert!(
            url.contains("editorString~'fields*20*40message~source~(~'*2Fecs*2Fweb))"),
            "{url}"
        );
        // Nothing in the fragment may need further escaping in a message body.
        assert!(!url.contains(' ') && !url.contains('%'), "{url}");
    }

    #[test]
    fn insights_values_cannot_break_the_detail_structure() {
        let url = logs_insights_url(&r("us-east-1"), "/g~(x'", "q", 0, 1);
        assert!(url.contains("source~(~'*2Fg*7E*28x*27))"), "{url}");
    }

    #[test]
    fn partitions() {
        assert!(console_base(&r("cn-north-1")).ends_with(".console.amazonaws.cn"));
        assert_eq!(
            console_base(&r("us-gov-west-1")),
            "https://console.amazonaws-us-gov.com"
        );
        assert_eq!(
            arn("logs", &r("cn-north-1"), &a("123456789012"), "log-group:/g"),
            "arn:aws-cn:logs:cn-north-1:123456789012:log-group:/g"
        );
        assert_eq!(
            arn("ecr", &r("us-gov-east-1"), &a("123456789012"), "repository/web"),
            "arn:aws-us-gov:ecr:us-gov-east-1:123456789012:repository/web"
        );
        assert_eq!(
            arn("ecr", &r("eu-west-1"), &a("123456789012"), "repository/web"),
            "arn:aws:ecr:eu-west-1:123456789012:repository/web"
        );
    }

    #[test]
    fn hostile_names_stay_inside_their_component() {
        let url = log_stream_url(&r("eu-west-1"), "g", "s) [click](https://evil.example", 0, 1);
        assert!(!url.contains("https://evil"), "{url}");
        assert!(
            url.contains("s$2529$2520$255Bclick$255D$2528https$253A$252F$252Fevil.example"),
            "{url}"
        );
    }

    #[test]
    fn only_region_shaped_regions_reach_a_host_or_an_arn() {
        for ok in [
            "us-east-1",
            "eu-west-3",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-5",
            "il-central-1",
            "mx-central-1",
            "eu-central-2",
            "us-isob-east-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "evil.example/#",
            "us-east-1.evil.example",
            "US-EAST-1",
            "us-east",
            "east-1",
            "",
            "us-east-123",
            "us--1",
            "x-y-1",
            "us-east-1/",
            "hunter2",
            "euscx-de-east-1",
            "us-aaaa-bbbb-cccc-dddd-eeee-ffff-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        // Only a checked Region reaches a host or an ARN: the types make anything else a
        // compile error, and `Region::parse` refuses exactly what `is_region` refuses.
        assert!(Region::parse("evil.example/#").is_none());
    }

    #[test]
    fn every_partition_is_named_from_its_regions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("eu-west-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(partition_of_region(region), partition, "{region}");
            assert!(is_partition(partition));
        }
        for bad in ["awsbogus", "", "aws-", "AWS", "aws-iso-x"] {
            assert!(!is_partition(bad), "{bad}");
        }
        assert_eq!(
            arn("logs", &r("us-isob-east-1"), &a("123456789012"), "log-group:g"),
            "arn:aws-iso-b:logs:us-isob-east-1:123456789012:log-group:g"
        );
    }

    #[test]
    fn extreme_times_never_wrap_into_links() {
        let url = log_stream_url(&r("eu-west-1"), "g", "s", i64::MIN, i64::MAX);
        assert!(url.ends_with("/log-events/s"), "window omitted: {url}");
        let url = log_stream_url(&r("eu-west-1"), "g", "s", -5, 1);
        assert!(url.ends_with("/log-events/s"), "{url}");
        let url = logs_insights_url(&r("eu-west-1"), "g", "q", i64::MIN, i64::MAX);
        assert!(
            url.contains("end~'9999-12-31T23*3A59*3A59.999Z~start~'1970-01-01T00*3A00*3A00.000Z"),
            "{url}"
        );
        assert!(!url.contains("-9223"), "{url}");
    }
}
