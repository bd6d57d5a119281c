//! An SNS endpoint that answers every Publish at once: benchmarks measure the function, not
//! the network.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct SnsStub {
    pub endpoint: String,
    publishes: Arc<AtomicU64>,
}

const PUBLISH_RESPONSE: &str = "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>00000000-0000-0000-0000-000000000000</MessageId></PublishResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></PublishResponse>";

impl SnsStub {
    pub fn start() -> Self {
        let publishes = Arc::new(AtomicU64::new(0));
        let counter = publishes.clone();
        let address = crate::http::listen(move |stream| {
            crate::http::serve(stream, |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                Some(crate::http::response(
                    200,
                    &[("Content-Type", "text/xml")],
                    PUBLISH_RESPONSE.as_bytes(),
                ))
            })
        });
        let endpoint = format!("http://{address}");
        Self { endpoint, publishes }
    }

    pub fn publishes(&self) -> u64 {
        self.publishes.load(Ordering::SeqCst)
    }
}
