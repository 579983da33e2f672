//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `alarms`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data file is malformed or inconsistent: where, and what was wrong.
    ///
    /// Raised for rules files, system-text files and event logs (for an event log the line
    /// is the JSON line and the column serde_json's, in characters).
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The file (built-in files are named `<builtin>/NAME`).
        file: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written in the file, e.g. `product[2].service[4].type`; `(file)` when no field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A rule is inconsistent (raised by loading and by [`crate::RuleSet::add`]).
    #[error("rule {rule:?}: {field}: {message}")]
    InvalidRule {
        /// the rule id
        rule: String,
        /// the offending field
        field: String,
        /// what was expected and what was found
        message: String,
    },
    /// A file could not be read or written.
    #[error("{file}: {message}")]
    Io {
        /// file name
        file: PathBuf,
        /// the OS error
        message: String,
    },
    /// No rule with this id.
    #[error("unknown alarm {0:?}")]
    UnknownAlarm(String),
    /// A rule id used twice.
    #[error("duplicate alarm id {0:?}")]
    DuplicateAlarm(String),
    /// Hierarchy: the child already has a parent.
    #[error("alarm {child:?} already has a hierarchical parent ({parent:?}), only one is allowed")]
    AlreadyHasParent {
        /// the child
        child: String,
        /// its existing parent
        parent: String,
    },
    /// Hierarchy: the link would make a cycle.
    #[error("alarm {child:?} cannot be placed under {parent:?}: that would make a cycle ({path})")]
    Cycle {
        /// the intended parent
        parent: String,
        /// the intended child
        child: String,
        /// the cycle, e.g. `a -> b -> a`
        path: String,
    },
    /// Hierarchy: only group alarms summarise children.
    #[error("alarm {0:?} is not a group alarm (kind = \"group\"), it cannot have children")]
    NotAGroup(String),
    /// Hierarchy: an alarm in a hierarchy cannot be deleted.
    #[error(
        "alarm {alarm:?} is part of a hierarchy ({relation}); remove it from the hierarchy first"
    )]
    InHierarchy {
        /// the alarm
        alarm: String,
        /// e.g. `child of "building"` or `parent of "a", "b"`
        relation: String,
    },
    /// Hierarchy: the child is not in the hierarchy.
    #[error("alarm {0:?} has no hierarchical parent")]
    NoParent(String),
    /// No occurrence with this id.
    #[error("unknown occurrence {0}")]
    UnknownOccurrence(u64),
    /// Acknowledgement or read without a user / comment.
    #[error("occurrence {occurrence}: {what} is required, found an empty string")]
    Missing {
        /// the occurrence
        occurrence: u64,
        /// `user` or `comment`
        what: &'static str,
    },
    /// The occurrence is already acknowledged.
    #[error("occurrence {0} is already acknowledged")]
    AlreadyAcknowledged(u64),
    /// A parent acknowledged before its active children.
    #[error(
        "occurrence {occurrence} ({alarm:?}) cannot be acknowledged before its active children: {children}"
    )]
    ChildrenNotAcknowledged {
        /// the parent's occurrence
        occurrence: u64,
        /// the parent alarm
        alarm: String,
        /// the unacknowledged child occurrences, e.g. `#3 "pump-1" on "sub/pump"`
        children: String,
    },
    /// A system event code not in the texts.
    #[error("unknown system event {0:?}")]
    UnknownSystemEvent(String),
    /// A system event filled with the wrong number of parameters.
    #[error("system event {code:?}: expected {expected} parameter(s) ({names}), found {found}")]
    Parameters {
        /// the code
        code: String,
        /// how many the text takes
        expected: usize,
        /// their names
        names: String,
        /// how many were given
        found: usize,
    },
    /// A point name that is not in the point list.
    #[error("unknown point {0:?}")]
    UnknownPoint(String),
    /// The point list given to the engine names a point twice.
    #[error("point {name:?} is listed twice in the point list (at {first} and {second})")]
    DuplicatePoint {
        /// The point name.
        name: String,
        /// 0-based index of its first entry.
        first: usize,
        /// 0-based index of the second.
        second: usize,
    },
    /// A transport failed to deliver a notification.
    #[error("transport {transport}: {message}")]
    Transport {
        /// the transport's name
        transport: String,
        /// what failed
        message: String,
    },
    /// A notification transport could not deliver: which transport, to which peer, at which
    /// stage, and whether retrying can help (an [`crate::Outbox`] retries the others).
    #[error("transport {transport}: {stage} {peer}: {message}")]
    Delivery {
        /// the transport's name (`smtp`, `webhook`, `console`, `json-lines`)
        transport: String,
        /// the server, URL or file
        peer: String,
        /// what was being done
        stage: DeliveryStage,
        /// what failed (the server's answer, the OS error)
        message: String,
        /// `true` when the receiver refused this message, so sending it again cannot help;
        /// `false` when the receiver is unreachable or busy (retry later)
        permanent: bool,
    },
    /// A transport's configuration is unusable (found when the transport is built).
    #[error("transport {transport}: {field}: {message}")]
    TransportConfig {
        /// the transport's name
        transport: String,
        /// the field, as in the configuration
        field: String,
        /// what was expected and what was found
        message: String,
    },
    /// A time outside the range the engine represents (±292 000 years in microseconds).
    #[error("time out of range: {0}")]
    TimeRange(String),
}

/// What a transport was doing when delivery failed ([`Error::Delivery`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStage {
    /// Turning the notification into a message (addresses, headers).
    Compose,
    /// Connecting (name resolution, TCP, timeouts).
    Connect,
    /// Negotiating TLS (STARTTLS, certificates).
    Tls,
    /// Authenticating (SMTP AUTH).
    Authenticate,
    /// Sending: the receiver answered with a refusal (SMTP reply, HTTP status).
    Refused,
    /// Writing (a file, the console).
    Write,
}

impl DeliveryStage {
    /// The words used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStage::Compose => "composing the message for",
            DeliveryStage::Connect => "connecting to",
            DeliveryStage::Tls => "negotiating TLS with",
            DeliveryStage::Authenticate => "authenticating to",
            DeliveryStage::Refused => "refused by",
            DeliveryStage::Write => "writing to",
        }
    }
}

impl std::fmt::Display for DeliveryStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<crate::toml_file::Located> for Error {
    fn from(l: crate::toml_file::Located) -> Self {
        Error::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}

impl Error {
    /// Whether retrying cannot help: a [`Error::Delivery`] the receiver refused for good.
    /// Every other error is treated as temporary by an [`crate::Outbox`].
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::Delivery {
                permanent: true,
                ..
            }
        )
    }

    pub(crate) fn rule(rule: &str, field: &str, message: impl Into<String>) -> Self {
        Error::InvalidRule {
            rule: rule.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}
