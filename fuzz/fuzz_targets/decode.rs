//! Arbitrary bytes as `awslogs.data`, through decoding and, when they decode, rendering.
//! The first byte picks how deep the input reaches: as-is (base64 layer), base64-encoded
//! (gzip layer), or base64 of gzip (JSON layer).

#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use lookout_fuzz_support::check_rendered;
use std::io::Write;

const CAP: usize = 1 << 20;

fuzz_target!(|input: &[u8]| {
    let Some((mode, rest)) = input.split_first() else { return };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let data = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => b64(rest),
        _ => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = gz.write_all(rest);
            b64(&gz.finish().unwrap_or_default())
        }
    };
    let mut out = Vec::new();
    if log_alert::decompress(&data, CAP, &mut out).is_err() {
        return;
    }
    assert!(out.len() <= CAP, "the decompression cap held");
    if let Ok(message) = log_alert::parse(&out) {
        check_rendered(&message, 100, 8192, true, false);
    }
});

#[path = "../support.rs"]
mod lookout_fuzz_support;
