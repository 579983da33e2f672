//! The console transport: one line per notification.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::DeliveryStage;
use crate::notify::{Notification, Transport};
use crate::transport::{console_line, delivery};

/// Which standard stream [`Console`] writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleStream {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

/// Configuration of [`Console`] (`type = "console"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// `stdout` (default) or `stderr`.
    #[serde(default)]
    pub stream: ConsoleStream,
}

/// Writes one line per notification ([`crate::transport::console_line`]) to a writer, and
/// flushes it.
///
/// ```
/// use alarms::Transport;
/// use alarms::transport::Console;
///
/// let mut console = Console::new(Vec::new());
/// let n = alarms::Notification::Digest {
///     recipient: "ops".into(),
///     address: "ops@example.com".into(),
///     time_zone: chrono_tz::UTC,
///     at: chrono::DateTime::UNIX_EPOCH,
///     items: Vec::new(),
/// };
/// console.send(&n)?;
/// let out = String::from_utf8(console.into_inner()).unwrap();
/// assert_eq!(out, "1970-01-01 00:00:00 +00:00 (UTC) ops <ops@example.com>: digest of 0 events\n");
/// # Ok::<(), alarms::Error>(())
/// ```
pub struct Console<W = Box<dyn Write + Send>> {
    out: W,
    peer: &'static str,
}

impl<W> std::fmt::Debug for Console<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("peer", &self.peer).finish()
    }
}

impl Console {
    /// The console on standard output.
    pub fn stdout() -> Console {
        Console {
            out: Box::new(std::io::stdout()),
            peer: "stdout",
        }
    }

    /// The console on standard error.
    pub fn stderr() -> Console {
        Console {
            out: Box::new(std::io::stderr()),
            peer: "stderr",
        }
    }

    /// The console its configuration names.
    pub fn from_config(c: &ConsoleConfig) -> Console {
        match c.stream {
            ConsoleStream::Stdout => Console::stdout(),
            ConsoleStream::Stderr => Console::stderr(),
        }
    }
}

impl<W: Write> Console<W> {
    /// A console writing to `out`.
    pub fn new(out: W) -> Console<W> {
        Console {
            out,
            peer: "the console writer",
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Transport for Console<W> {
    fn name(&self) -> &str {
        "console"
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        let mut line = console_line(n);
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| {
                delivery(
                    "console",
                    self.peer,
                    DeliveryStage::Write,
                    e.to_string(),
                    false,
                )
            })
    }
}
