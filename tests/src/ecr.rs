//! ECR fixtures on moto: repositories and images pushed as manifests (no Docker needed).

use aws_sdk_ecr::Client;
use serde_json::json;

/// A manifest whose single layer digest is derived from `seed`: a distinct seed gives a
/// distinct image digest (moto derives the digest from the layers).
pub fn manifest(seed: u64) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1234, "digest": format!("sha256:{}", "1".repeat(64))},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 5678, "digest": format!("sha256:{seed:064x}")}],
    })
    .to_string()
}

pub async fn create_repository(ecr: &Client, name: &str) {
    ecr.create_repository()
        .repository_name(name)
        .send()
        .await
        .expect("create repository");
}

/// Pushes image `seed` with `tag` (None: untagged); returns its digest.
pub async fn put_image(ecr: &Client, repository: &str, seed: u64, tag: Option<&str>) -> String {
    let out = ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest(seed))
        .set_image_tag(tag.map(String::from))
        .send()
        .await
        .expect("put image");
    out.image
        .and_then(|i| i.image_id)
        .and_then(|id| id.image_digest)
        .expect("digest")
}

/// Whether a basic scan was ever started for the image (moto answers ScanNotFoundException
/// until one is).
pub async fn was_scanned(ecr: &Client, repository: &str, digest: &str) -> bool {
    let result = ecr
        .describe_image_scan_findings()
        .repository_name(repository)
        .image_id(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build(),
        )
        .send()
        .await;
    match result {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_scan_not_found_exception()) =>
        {
            false
        }
        Err(e) => panic!("DescribeImageScanFindings: {e:?}"),
    }
}

/// Queues what moto's DescribeImageScanFindings answers for image `digest`: `findings` as
/// (name, severity), with their counts. moto hands a queued answer to the next request for the
/// image that has none yet and keeps it for that request from then on, so seed an image before
/// its first read, or after reads that got moto's default (CVE-9999-9999, HIGH).
pub fn seed_scan_findings(moto: &crate::Moto, repository: &str, digest: &str, findings: &[(&str, &str)]) {
    seed_scan_findings_in(moto, crate::moto::ACCOUNT, repository, digest, findings);
}

/// [`seed_scan_findings`] for an image in `account`'s registry (moto keeps each account's
/// apart).
pub fn seed_scan_findings_in(
    moto: &crate::Moto,
    account: &str,
    repository: &str,
    digest: &str,
    findings: &[(&str, &str)],
) {
    let mut counts = serde_json::Map::new();
    for (_, severity) in findings {
        let n = counts
            .get(*severity)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        counts.insert((*severity).to_string(), json!(n + 1));
    }
    let listed: Vec<serde_json::Value> = findings
        .iter()
        .map(|(name, severity)| {
            json!({"name": name, "severity": severity, "attributes": [
                {"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "3.0.11"}]})
        })
        .collect();
    moto.post(
        "/moto-api/static/ecr/scan-finding-results",
        &json!({"account_id": account, "region": crate::moto::REGION, "results": [{
            "registryId": account,
            "repositoryName": repository,
            "imageId": {"imageDigest": digest},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findings": listed, "findingSeverityCounts": counts},
        }]}),
    );
}
