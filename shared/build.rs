//! Writes Mozilla's root certificates (`webpki-root-certs`) as one PEM bundle, the only form the
//! SDK's trust store takes, so the function does not base64-encode 150 certificates at every
//! cold start (≈0.2 ms; BENCHMARKS.md, "Cold start").

use base64::Engine;
use std::io::Write;

fn main() -> std::io::Result<()> {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or(std::io::ErrorKind::NotFound)?);
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2_100);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    std::fs::File::create(out.join("roots.pem"))?.write_all(&pem)?;
    println!("cargo::rerun-if-changed=build.rs");
    Ok(())
}
