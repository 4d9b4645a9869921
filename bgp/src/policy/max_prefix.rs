//! Per-peer maximum number of prefixes (RFC 4271 §8.1.2 leaves the limit to the
//! implementation; RFC 4486 §4 names the Cease subcode): a warning once the count crosses a
//! threshold, then the signal to close the session with Cease / "Maximum Number of Prefixes
//! Reached", carrying AFI, SAFI and the limit, and the delay before the driver may restart it.

use std::time::Duration;

use bytes::{BufMut, BytesMut};

use crate::wire::{AfiSafi, CeaseSubcode, ErrorCode, Notification};

use super::PolicyError;

/// The limit configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(
    deny_unknown_fields,
    try_from = "MaxPrefixConfig",
    into = "MaxPrefixConfig"
)]
pub struct MaxPrefix {
    limit: u32,
    warning_percent: u8,
    restart_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct MaxPrefixConfig {
    limit: u32,
    #[serde(default = "default_warning_percent")]
    warning_percent: u8,
    /// Seconds before the session may be re-established; none: only by an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restart_after_secs: Option<u64>,
}

fn default_warning_percent() -> u8 {
    75
}

impl TryFrom<MaxPrefixConfig> for MaxPrefix {
    type Error = PolicyError;
    fn try_from(c: MaxPrefixConfig) -> Result<Self, PolicyError> {
        MaxPrefix::new(
            c.limit,
            c.warning_percent,
            c.restart_after_secs.map(Duration::from_secs),
        )
    }
}

impl From<MaxPrefix> for MaxPrefixConfig {
    fn from(m: MaxPrefix) -> Self {
        MaxPrefixConfig {
            limit: m.limit,
            warning_percent: m.warning_percent,
            restart_after_secs: m.restart_after.map(|d| d.as_secs()),
        }
    }
}

/// What crossing a threshold asks of the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaxPrefixEvent {
    /// The count reached the warning threshold (given once per session and family).
    Warning {
        family: AfiSafi,
        count: usize,
        limit: u32,
    },
    /// The count exceeds the limit: send `notification` (Cease/1), close, and do not
    /// re-establish before `restart_after` (never automatically when `None`).
    Exceeded {
        family: AfiSafi,
        count: usize,
        limit: u32,
        notification: Notification,
        restart_after: Option<Duration>,
    },
}

impl MaxPrefix {
    /// Validates: `limit >= 1`, `warning_percent` in 1..=100.
    pub fn new(
        limit: u32,
        warning_percent: u8,
        restart_after: Option<Duration>,
    ) -> Result<Self, PolicyError> {
        if limit == 0 || warning_percent == 0 || warning_percent > 100 {
            return Err(PolicyError::MaxPrefix {
                limit,
                warning_percent,
            });
        }
        Ok(MaxPrefix {
            limit,
            warning_percent,
            restart_after,
        })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    fn warning_threshold(&self) -> u64 {
        (u64::from(self.limit) * u64::from(self.warning_percent)).div_ceil(100)
    }

    /// The event for `count` prefixes of `family`; `warned` says whether the warning was
    /// already given (and is set when it is given now).
    pub fn check(
        &self,
        family: AfiSafi,
        count: usize,
        warned: &mut bool,
    ) -> Option<MaxPrefixEvent> {
        let n = count as u64;
        if n > u64::from(self.limit) {
            return Some(MaxPrefixEvent::Exceeded {
                family,
                count,
                limit: self.limit,
                notification: self.notification(family),
                restart_after: self.restart_after,
            });
        }
        if n >= self.warning_threshold() && !*warned {
            *warned = true;
            return Some(MaxPrefixEvent::Warning {
                family,
                count,
                limit: self.limit,
            });
        }
        None
    }

    /// RFC 4486 §4: Cease, subcode 1, data "AFI (2 octets), SAFI (1), Prefix upper bound (4)".
    fn notification(&self, family: AfiSafi) -> Notification {
        let mut data = BytesMut::with_capacity(7);
        data.put_u16(family.afi.0);
        data.put_u8(family.safi.0);
        data.put_u32(self.limit);
        Notification::new(
            ErrorCode::Cease(CeaseSubcode::MaximumPrefixesReached),
            data.freeze(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_once_then_cease_1_with_family_and_limit() {
        // RFC 4486 §4.
        let m = MaxPrefix::new(4, 50, Some(Duration::from_secs(30))).expect("valid");
        let mut warned = false;
        let f = AfiSafi::IPV4_UNICAST;
        assert_eq!(m.check(f, 1, &mut warned), None);
        assert!(matches!(
            m.check(f, 2, &mut warned),
            Some(MaxPrefixEvent::Warning {
                count: 2,
                limit: 4,
                ..
            })
        ));
        assert_eq!(m.check(f, 3, &mut warned), None);
        assert_eq!(m.check(f, 4, &mut warned), None);
        let Some(MaxPrefixEvent::Exceeded {
            notification,
            restart_after,
            ..
        }) = m.check(f, 5, &mut warned)
        else {
            panic!("5 > 4 must exceed");
        };
        assert_eq!(notification.error.pair(), (6, 1));
        assert_eq!(&notification.data[..], &[0, 1, 1, 0, 0, 0, 4]);
        assert_eq!(restart_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn invalid_limits_are_refused() {
        assert!(MaxPrefix::new(0, 75, None).is_err());
        assert!(MaxPrefix::new(10, 0, None).is_err());
        assert!(MaxPrefix::new(10, 101, None).is_err());
    }
}
