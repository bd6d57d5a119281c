//! Size fitting: re-render with less detail until the whole request fits the SNS limit.

use super::model::{Bodies, Detail, Notification, SnsMessage};
use super::{Delivery, MessageFormat};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the notification does not fit the SNS limit of {limit} bytes even without any items ({bytes} bytes)"
)]
/// Even the notification without items is over the SNS limit: nothing can be sent.
pub struct FitError {
    /// The request size with no items.
    pub bytes: usize,
    /// The limit it had to fit.
    pub limit: usize,
}

/// The smallest per-item size tried before giving up on showing any item.
const MIN_ITEM_BYTES: usize = 256;

impl Delivery {
    /// The bodies this delivery's format sends.
    pub fn bodies(&self) -> Bodies {
        match self.format {
            MessageFormat::Text => Bodies {
                structured: false,
                chat: false,
            },
            MessageFormat::PerProtocol => Bodies {
                structured: true,
                chat: self.chat_app,
            },
        }
    }

    /// Renders with as much detail as fits: all of `max`, else the most items that fit, else
    /// shorter items. `render` must produce smaller output for smaller [`Detail`].
    pub fn fit(
        &self,
        max: Detail,
        mut render: impl FnMut(Detail) -> Notification,
    ) -> Result<(SnsMessage, Detail), FitError> {
        let bodies = self.bodies();
        let max = Detail { bodies, ..max };
        let limit = self.max_request_bytes;
        let mut attempt = |d: Detail| {
            let msg = self.encode(&render(d));
            let bytes = msg.request_bytes();
            if bytes <= limit { Ok(msg) } else { Err(bytes) }
        };
        if let Ok(msg) = attempt(max) {
            return Ok((msg, max));
        }
        let mut item_bytes = max.item_bytes;
        loop {
            let best = largest_fitting(max.items, |items| {
                attempt(Detail {
                    items,
                    item_bytes,
                    bodies,
                })
                .ok()
            });
            let exhausted = max.items == 0 || item_bytes <= MIN_ITEM_BYTES;
            match best {
                Some((msg, items)) if items > 0 || exhausted => {
                    return Ok((
                        msg,
                        Detail {
                            items,
                            item_bytes,
                            bodies,
                        },
                    ));
                }
                None if exhausted => {
                    let bytes = attempt(Detail {
                        items: 0,
                        item_bytes,
                        bodies,
                    })
                    .err()
                    .unwrap_or(0);
                    return Err(FitError { bytes, limit });
                }
                _ => item_bytes = (item_bytes / 2).max(MIN_ITEM_BYTES),
            }
        }
    }
}

/// The largest `n` in `0..=max` for which `try_n` succeeds, assuming success is monotonic.
fn largest_fitting<T>(max: usize, mut try_n: impl FnMut(usize) -> Option<T>) -> Option<(T, usize)> {
    let (mut lo, mut hi) = (0usize, max);
    let mut best = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        match try_n(mid) {
            Some(found) => {
                best = Some((found, mid));
                lo = mid + 1;
            }
            None if mid == 0 => break,
            None => hi = mid - 1,
        }
    }
    best
}
