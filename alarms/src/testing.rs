//! Test doubles for code that uses `alarms`: for tests only, behind the `testing` cargo
//! feature, and not covered by semver (they may change in any release).

use crate::Error;
use crate::notify::{Notification, Transport};

/// A [`Transport`] that records what it is asked to send, and can be told to fail.
///
/// ```
/// use alarms::testing::TestTransport;
/// use alarms::{Notification, Transport};
///
/// let digest = Notification::Digest {
///     recipient: "ops".into(),
///     address: "ops@example.invalid".into(),
///     time_zone: chrono_tz::UTC,
///     at: chrono::DateTime::UNIX_EPOCH,
///     items: Vec::new(),
/// };
/// let mut ok = TestTransport::default();
/// ok.send(&digest)?;
/// assert_eq!(ok.sent, vec![digest.clone()]);
///
/// let mut broken = TestTransport { fail_with: Some("mail server down".into()), ..Default::default() };
/// assert_eq!(broken.send(&digest).unwrap_err().to_string(), "transport test: mail server down");
/// assert!(broken.sent.is_empty());
/// # Ok::<(), alarms::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct TestTransport {
    /// Everything sent.
    pub sent: Vec<Notification>,
    /// Fail every send with this message.
    pub fail_with: Option<String>,
}

impl Transport for TestTransport {
    fn name(&self) -> &str {
        "test"
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        if let Some(m) = &self.fail_with {
            return Err(Error::Transport {
                transport: self.name().into(),
                message: m.clone(),
            });
        }
        self.sent.push(n.clone());
        Ok(())
    }
}
