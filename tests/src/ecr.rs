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
