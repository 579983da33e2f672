//! Alarms as OPC UA events: the caller publishes the state of an alarm occurrence
//! ([`AlarmOccurrence`], the shape of the `alarms` crate's occurrence, as plain data) with
//! [`Bridge::publish_alarm`](super::Bridge::publish_alarm); the bridge turns it into an
//! `AlarmConditionType` event and takes acknowledgements from clients through the
//! condition's `Acknowledge` method, which reaches the caller's [`AcknowledgeHandler`].
//!
//! One condition node per alarm instance (alarm, target): node id `#alarm/ALARM@TARGET` in
//! the bridge's namespace, type `AlarmConditionType`, browse name `2:ALARM`, referenced by
//! its source (the target point or device, the site for an empty target) with
//! `HasCondition`, with the latest event's fields as variables (`ActiveState`, `ActiveState/Id`,
//! `AckedState`, `AckedState/Id`, `EnabledState`, `Retain`, `Comment`, `Severity`, ...;
//! node ids `#alarm/ALARM@TARGET#ActiveState/Id`) and an `Acknowledge` method (`0:Acknowledge`, node id
//! `#alarm/ALARM@TARGET#Acknowledge`; input arguments `EventId` (ByteString) and `Comment`
//! (LocalizedText)). Events are notified on the `Server` object and on the site folder (an
//! event notifier; areas and devices are not: async-opcua delivers an event notified on a
//! node to that node's and `Server`'s subscribers, so a second notifying folder would send
//! `Server`'s subscribers the event twice).
//!
//! Event fields (select them with `TypeDefinitionId` `BaseEventType` or any of the condition
//! types):
//!
//! | field | value |
//! |---|---|
//! | `EventId` | 16 bytes: the occurrence id and the event's sequence number, big-endian |
//! | `EventType` | `AlarmConditionType` (`i=2915`) |
//! | `SourceNode`, `InputNode` | the target point's or device's node (the site for an empty target) |
//! | `SourceName` | the target (the site's name for an empty target) |
//! | `Time` | [`AlarmOccurrence::time`], when the change happened |
//! | `ReceiveTime` | when the bridge took it |
//! | `Message` | [`AlarmOccurrence::text`] |
//! | `Severity`, `LastSeverity` | from the priority ([`AlarmPriority::severity`]) |
//! | `ConditionName` | the alarm (rule id) |
//! | `ConditionClassId` / `ConditionClassName` | `ProcessConditionClassType` / `Process` |
//! | `ActiveState`, `ActiveState/Id`, `ActiveState/TransitionTime` | `Active`/`Inactive`, raised or cleared time |
//! | `AckedState`, `AckedState/Id`, `AckedState/TransitionTime` | `Acknowledged`/`Unacknowledged` |
//! | `EnabledState`, `EnabledState/Id` | `Enabled`, `true` |
//! | `Retain` | while active or unacknowledged |
//! | `Comment`, `ClientUserId` | the acknowledgement's comment and user |
//! | `Quality` | `Good` |
//! | `BranchId` | null (no branches) |
//! | `ConditionId` (`NodeId` attribute, empty path, `ConditionType`) | the condition node |

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opcua::server::address_space::{
    AccessLevel, AddressSpace, BaseEventType, Event, EventField, MethodBuilder, ObjectBuilder,
    VariableBuilder,
};
use opcua::types::{
    Argument, AttributeId, ByteString, DataTypeId, DataValue, DateTime as UaDateTime,
    LocalizedText, NodeId, NumericRange, ObjectTypeId, QualifiedName, ReferenceTypeId, StatusCode,
    UAString, VariableTypeId, Variant,
};
use serde::{Deserialize, Serialize};

/// An alarm's priority, as the `alarms` crate names them.
///
/// The OPC UA `Severity` (1..1000) of each:
///
/// | priority | severity |
/// |---|---|
/// | `critical` | 900 |
/// | `major` | 700 |
/// | `minor` | 500 |
/// | `warning` | 300 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmPriority {
    /// Wake someone up.
    Critical,
    /// Important, next working day.
    Major,
    /// Minor.
    Minor,
    /// A warning (also the priority of a pre-alarm).
    Warning,
}

impl AlarmPriority {
    /// The OPC UA `Severity` of the priority (see the table above).
    ///
    /// ```
    /// use opcua_bridge::server::AlarmPriority;
    /// assert_eq!(AlarmPriority::Critical.severity(), 900);
    /// assert_eq!(AlarmPriority::Warning.severity(), 300);
    /// ```
    pub fn severity(self) -> u16 {
        match self {
            AlarmPriority::Critical => 900,
            AlarmPriority::Major => 700,
            AlarmPriority::Minor => 500,
            AlarmPriority::Warning => 300,
        }
    }
}

/// Who acknowledged an occurrence, with which comment, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmAcknowledgement {
    /// The user.
    pub user: String,
    /// The comment.
    pub comment: String,
    /// When.
    pub time: DateTime<Utc>,
}

/// The state of one occurrence of an alarm on one target, after a change: what the bridge
/// publishes as an OPC UA event. The fields follow the `alarms` crate's occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmOccurrence {
    /// The occurrence's id (unique, increasing); a new id on the same alarm and target is
    /// a new episode of the same condition.
    pub id: u64,
    /// The alarm (rule id): the condition's name.
    pub alarm: String,
    /// The point (`device/service`) or device the alarm is about; empty for a group alarm
    /// (the source is then the site).
    pub target: String,
    /// The priority, giving the event's severity.
    pub priority: AlarmPriority,
    /// The rule's text: the event's message.
    pub text: String,
    /// When this change happened: the event's `Time`.
    pub time: DateTime<Utc>,
    /// When the occurrence opened.
    pub opened_at: DateTime<Utc>,
    /// When the alarm was raised, if it was.
    pub raised_at: Option<DateTime<Utc>>,
    /// When it cleared, if it did.
    pub cleared_at: Option<DateTime<Utc>>,
    /// The alarm is active.
    pub active: bool,
    /// The occurrence is acknowledged.
    pub acknowledged: bool,
    /// The acknowledgement, once there is one.
    pub acknowledgement: Option<AlarmAcknowledgement>,
    /// The latest value seen with a transition.
    pub value: Option<f64>,
}

impl AlarmOccurrence {
    /// A new, active, unacknowledged occurrence raised at `time`.
    ///
    /// ```
    /// use chrono::Utc;
    /// use opcua_bridge::server::{AlarmOccurrence, AlarmPriority};
    /// let o = AlarmOccurrence::raised(1, "t_high", "main/t_supply", AlarmPriority::Major, "supply too hot", Utc::now());
    /// assert!(o.active && !o.acknowledged && o.retained());
    /// ```
    pub fn raised(
        id: u64,
        alarm: impl Into<String>,
        target: impl Into<String>,
        priority: AlarmPriority,
        text: impl Into<String>,
        time: DateTime<Utc>,
    ) -> AlarmOccurrence {
        AlarmOccurrence {
            id,
            alarm: alarm.into(),
            target: target.into(),
            priority,
            text: text.into(),
            time,
            opened_at: time,
            raised_at: Some(time),
            cleared_at: None,
            active: true,
            acknowledged: false,
            acknowledgement: None,
            value: None,
        }
    }

    /// Whether clients should keep showing it (`Retain`): active or not yet acknowledged.
    pub fn retained(&self) -> bool {
        self.active || !self.acknowledged
    }
}

/// A client's acknowledgement of an occurrence, after the bridge's own checks (the user is
/// an operator, the event id is one the bridge sent for this condition, the occurrence is
/// not acknowledged yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcknowledgeRequest {
    /// The occurrence's id.
    pub occurrence: u64,
    /// The alarm (rule id).
    pub alarm: String,
    /// The target.
    pub target: String,
    /// The user who acknowledges (an operator).
    pub user: String,
    /// The comment the client sent (may be empty).
    pub comment: String,
}

/// Why an acknowledgement was refused; each maps to an OPC UA status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcknowledgeRefusal {
    /// Not allowed for this user or occurrence (`BadUserAccessDenied`).
    #[error("not allowed")]
    NotAllowed,
    /// Not possible in the occurrence's state, e.g. a comment is required or a group's
    /// children are unacknowledged (`BadInvalidState`).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The occurrence is no longer known (`BadEventIdUnknown`).
    #[error("unknown occurrence")]
    UnknownOccurrence,
    /// The acknowledgement could not be recorded (`BadInternalError`).
    #[error("failed: {0}")]
    Failed(String),
}

impl AcknowledgeRefusal {
    /// The status code the client gets.
    pub fn status_code(&self) -> StatusCode {
        match self {
            AcknowledgeRefusal::NotAllowed => StatusCode::BadUserAccessDenied,
            AcknowledgeRefusal::InvalidState(_) => StatusCode::BadInvalidState,
            AcknowledgeRefusal::UnknownOccurrence => StatusCode::BadEventIdUnknown,
            AcknowledgeRefusal::Failed(_) => StatusCode::BadInternalError,
        }
    }
}

/// Receives the acknowledgements clients make with a condition's `Acknowledge` method. The
/// bridge has already refused read-only users and anonymous sessions
/// (`BadUserAccessDenied`), event ids it did not send for that condition
/// (`BadEventIdUnknown`) and occurrences already acknowledged
/// (`BadConditionBranchAlreadyAcked`). `Ok` marks the occurrence acknowledged and sends the
/// event with `AckedState` true; an error is returned to the client.
///
/// No lock is held while the handler runs. A plain function
/// `Fn(&AcknowledgeRequest) -> Result<(), AcknowledgeRefusal>` is a handler that decides at
/// once.
#[async_trait]
pub trait AcknowledgeHandler: Send + Sync + 'static {
    /// Records or refuses the acknowledgement.
    ///
    /// # Errors
    /// The refusal the client gets.
    async fn acknowledge(&self, request: &AcknowledgeRequest) -> Result<(), AcknowledgeRefusal>;
}

#[async_trait]
impl<F> AcknowledgeHandler for F
where
    F: Fn(&AcknowledgeRequest) -> Result<(), AcknowledgeRefusal> + Send + Sync + 'static,
{
    async fn acknowledge(&self, request: &AcknowledgeRequest) -> Result<(), AcknowledgeRefusal> {
        self(request)
    }
}

/// An occurrence the bridge cannot publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlarmError {
    /// The target is neither a point nor a device of the tree.
    #[error("alarm {alarm:?}: target {target:?} is neither a point nor a device of the tree")]
    UnknownTarget {
        /// The alarm.
        alarm: String,
        /// The target.
        target: String,
    },
    /// The alarm (rule id) is empty.
    #[error("an occurrence of target {target:?} has an empty alarm name")]
    EmptyAlarm {
        /// The target.
        target: String,
    },
}

/// Where a condition's events come from and go to.
#[derive(Debug, Clone)]
pub(super) struct Source {
    /// The point's or device's node (the site's for an empty target).
    pub(super) node: NodeId,
    /// The target, or the site's name.
    pub(super) name: String,
    /// The folder notified (with `Server`): the site.
    pub(super) notifier: NodeId,
}

/// How many event ids of the current occurrence a condition remembers (for acknowledgement).
const EVENT_IDS_KEPT: usize = 64;

/// One condition (alarm instance) and its current occurrence.
struct Condition {
    node: NodeId,
    source: Source,
    occurrence: AlarmOccurrence,
    event_ids: VecDeque<[u8; 16]>,
}

/// The conditions the bridge has published, by (alarm, target).
#[derive(Default)]
pub(super) struct Conditions {
    by_key: HashMap<(String, String), Condition>,
    by_node: HashMap<NodeId, (String, String)>,
    next_seq: u64,
}

/// What an `Acknowledge` call may acknowledge, found under the lock and handed to the
/// handler without it.
pub(super) struct Pending {
    pub(super) key: (String, String),
    pub(super) request: AcknowledgeRequest,
}

impl Conditions {
    /// The target (`device/service`, a device, or empty for the site) of the condition
    /// node `node`.
    pub(super) fn target_of(&self, node: &NodeId) -> Option<&str> {
        self.by_node.get(node).map(|(_, target)| target.as_str())
    }

    /// The condition nodes of alarms on `target`.
    pub(super) fn nodes_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a NodeId> {
        self.by_node
            .iter()
            .filter(move |(_, (_, t))| t == target)
            .map(|(node, _)| node)
    }

    /// Whether the condition node exists.
    pub(super) fn has(&self, alarm: &str, target: &str) -> bool {
        self.by_key
            .contains_key(&(alarm.to_owned(), target.to_owned()))
    }

    /// Records the occurrence (the condition must have been created with
    /// [`add_condition_node`] when [`Conditions::has`] was false) and builds its event.
    pub(super) fn record(
        &mut self,
        occurrence: AlarmOccurrence,
        node: NodeId,
        source: Source,
        received: DateTime<Utc>,
    ) -> (ConditionEvent, NodeId) {
        let key = (occurrence.alarm.clone(), occurrence.target.clone());
        self.by_node.insert(node.clone(), key.clone());
        let condition = self.by_key.entry(key).or_insert_with(|| Condition {
            node,
            source,
            occurrence: occurrence.clone(),
            event_ids: VecDeque::new(),
        });
        if condition.occurrence.id != occurrence.id {
            condition.event_ids.clear();
        }
        condition.occurrence = occurrence;
        self.next_seq += 1;
        emit(condition, self.next_seq, received)
    }

    /// Checks an acknowledgement of the condition `object` with `event_id`.
    pub(super) fn check_acknowledge(
        &self,
        object: &NodeId,
        event_id: &[u8],
        user: String,
        comment: String,
    ) -> Result<Pending, StatusCode> {
        let key = self
            .by_node
            .get(object)
            .ok_or(StatusCode::BadNodeIdUnknown)?;
        let condition = self.by_key.get(key).ok_or(StatusCode::BadNodeIdUnknown)?;
        if !condition.event_ids.iter().any(|id| id[..] == *event_id) {
            return Err(StatusCode::BadEventIdUnknown);
        }
        if condition.occurrence.acknowledged {
            return Err(StatusCode::BadConditionBranchAlreadyAcked);
        }
        Ok(Pending {
            key: key.clone(),
            request: AcknowledgeRequest {
                occurrence: condition.occurrence.id,
                alarm: key.0.clone(),
                target: key.1.clone(),
                user,
                comment,
            },
        })
    }

    /// Marks the occurrence acknowledged (if it is still the current one) and builds the
    /// event saying so.
    pub(super) fn acknowledged(
        &mut self,
        pending: &Pending,
        now: DateTime<Utc>,
    ) -> Option<(ConditionEvent, NodeId)> {
        let condition = self.by_key.get_mut(&pending.key)?;
        if condition.occurrence.id != pending.request.occurrence {
            return None;
        }
        let o = &mut condition.occurrence;
        o.acknowledged = true;
        o.time = now;
        o.acknowledgement = Some(AlarmAcknowledgement {
            user: pending.request.user.clone(),
            comment: pending.request.comment.clone(),
            time: now,
        });
        self.next_seq += 1;
        Some(emit(condition, self.next_seq, now))
    }
}

/// The event of the condition's current state, its id remembered for acknowledgement; and
/// the notifiers to send it to.
fn emit(c: &mut Condition, seq: u64, received: DateTime<Utc>) -> (ConditionEvent, NodeId) {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&c.occurrence.id.to_be_bytes());
    id[8..].copy_from_slice(&seq.to_be_bytes());
    if c.event_ids.len() == EVENT_IDS_KEPT {
        c.event_ids.pop_front();
    }
    c.event_ids.push_back(id);
    let event = ConditionEvent::new(&c.occurrence, id, &c.node, &c.source, received);
    (event, c.source.notifier.clone())
}

/// The node id of the condition of `alarm` on `target`.
pub(super) fn condition_id(ns: u16, alarm: &str, target: &str) -> NodeId {
    NodeId::new(ns, format!("#alarm/{alarm}@{target}"))
}

/// How a state variable of a condition node hangs off its parent.
#[derive(Clone, Copy)]
enum Kind {
    /// A `HasProperty` of the parent, `PropertyType`.
    Property,
    /// A `HasComponent` of the parent, of this variable type.
    Component(VariableTypeId),
}

/// The condition node's variables: path below the condition, data type, kind. Parents come
/// before their children. Their values are those of the latest event.
const STATE_VARIABLES: &[(&[&str], DataTypeId, Kind)] = &[
    (&["EventId"], DataTypeId::ByteString, Kind::Property),
    (&["EventType"], DataTypeId::NodeId, Kind::Property),
    (&["SourceNode"], DataTypeId::NodeId, Kind::Property),
    (&["SourceName"], DataTypeId::String, Kind::Property),
    (&["Time"], DataTypeId::UtcTime, Kind::Property),
    (&["ReceiveTime"], DataTypeId::UtcTime, Kind::Property),
    (&["Message"], DataTypeId::LocalizedText, Kind::Property),
    (&["Severity"], DataTypeId::UInt16, Kind::Property),
    (&["ConditionName"], DataTypeId::String, Kind::Property),
    (&["BranchId"], DataTypeId::NodeId, Kind::Property),
    (&["Retain"], DataTypeId::Boolean, Kind::Property),
    (&["ClientUserId"], DataTypeId::String, Kind::Property),
    (&["InputNode"], DataTypeId::NodeId, Kind::Property),
    (
        &["SuppressedOrShelved"],
        DataTypeId::Boolean,
        Kind::Property,
    ),
    (
        &["EnabledState"],
        DataTypeId::LocalizedText,
        Kind::Component(VariableTypeId::TwoStateVariableType),
    ),
    (&["EnabledState", "Id"], DataTypeId::Boolean, Kind::Property),
    (
        &["ActiveState"],
        DataTypeId::LocalizedText,
        Kind::Component(VariableTypeId::TwoStateVariableType),
    ),
    (&["ActiveState", "Id"], DataTypeId::Boolean, Kind::Property),
    (
        &["AckedState"],
        DataTypeId::LocalizedText,
        Kind::Component(VariableTypeId::TwoStateVariableType),
    ),
    (&["AckedState", "Id"], DataTypeId::Boolean, Kind::Property),
    (
        &["Comment"],
        DataTypeId::LocalizedText,
        Kind::Component(VariableTypeId::ConditionVariableType),
    ),
    (
        &["LastSeverity"],
        DataTypeId::UInt16,
        Kind::Component(VariableTypeId::ConditionVariableType),
    ),
    (
        &["Quality"],
        DataTypeId::StatusCode,
        Kind::Component(VariableTypeId::ConditionVariableType),
    ),
];

/// The node id of a condition's variable at `path`.
fn variable_id(condition: &NodeId, path: &[&str]) -> NodeId {
    NodeId::new(
        condition.namespace,
        format!("{}#{}", condition.identifier_string(), path.join("/")),
    )
}

/// Adds the condition node, its state variables (values set by the first event), its
/// `Acknowledge` method and, when `source_in_space` (a folder, not a point: the points'
/// node manager answers for those), the `HasCondition` reference from its source.
pub(super) fn add_condition_node(
    space: &mut AddressSpace,
    ns: u16,
    id: &NodeId,
    alarm: &str,
    source: &Source,
    source_in_space: bool,
) {
    let mut condition = ObjectBuilder::new(id, QualifiedName::new(ns, alarm), alarm)
        .has_type_definition(ObjectTypeId::AlarmConditionType);
    if source_in_space {
        condition = condition.reference(
            source.node.clone(),
            ReferenceTypeId::HasCondition,
            opcua::server::address_space::ReferenceDirection::Inverse,
        );
    }
    condition.insert(space);
    for (path, data_type, kind) in STATE_VARIABLES {
        let Some((name, parents)) = path.split_last() else {
            continue;
        };
        let parent = if parents.is_empty() {
            id.clone()
        } else {
            variable_id(id, parents)
        };
        let var = VariableBuilder::new(&variable_id(id, path), QualifiedName::new(0, *name), *name)
            .data_type(*data_type)
            .value_rank(-1)
            .access_level(AccessLevel::CURRENT_READ)
            .user_access_level(AccessLevel::CURRENT_READ);
        let var = match kind {
            Kind::Property => var
                .has_type_definition(VariableTypeId::PropertyType)
                .property_of(parent),
            Kind::Component(t) => var.has_type_definition(*t).component_of(parent),
        };
        var.insert(space);
    }
    let method = NodeId::new(ns, format!("{}#Acknowledge", id.identifier_string()));
    let args = NodeId::new(
        ns,
        format!("{}#Acknowledge#InputArguments", id.identifier_string()),
    );
    MethodBuilder::new(&method, QualifiedName::new(0, "Acknowledge"), "Acknowledge")
        .component_of(id.clone())
        .executable(true)
        .user_executable(true)
        .input_args(
            space,
            &args,
            &[
                argument(
                    "EventId",
                    DataTypeId::ByteString,
                    "the event being acknowledged",
                ),
                argument(
                    "Comment",
                    DataTypeId::LocalizedText,
                    "the operator's comment",
                ),
            ],
        )
        .insert(space);
}

trait IdentifierString {
    fn identifier_string(&self) -> String;
}

impl IdentifierString for NodeId {
    fn identifier_string(&self) -> String {
        match &self.identifier {
            opcua::types::Identifier::String(s) => s.as_ref().to_owned(),
            other => other.to_string(),
        }
    }
}

fn argument(name: &str, data_type: DataTypeId, description: &str) -> Argument {
    Argument {
        name: name.into(),
        data_type: data_type.into(),
        value_rank: -1,
        array_dimensions: None,
        description: LocalizedText::new("", description),
    }
}

/// Whether `method` on `object` is a condition's `Acknowledge` method.
pub(super) fn is_acknowledge(object: &NodeId, method: &NodeId) -> bool {
    object.namespace == method.namespace
        && method.identifier_string() == format!("{}#Acknowledge", object.identifier_string())
}

/// An `AlarmConditionType` event: the fields of the table in the module's documentation.
#[derive(Debug)]
pub(super) struct ConditionEvent {
    base: BaseEventType,
    condition: NodeId,
    condition_name: UAString,
    retain: bool,
    active: bool,
    active_time: Option<UaDateTime>,
    acked: bool,
    acked_time: Option<UaDateTime>,
    comment: LocalizedText,
    comment_time: Option<UaDateTime>,
    client_user_id: UAString,
}

impl ConditionEvent {
    fn new(
        o: &AlarmOccurrence,
        id: [u8; 16],
        condition: &NodeId,
        source: &Source,
        received: DateTime<Utc>,
    ) -> ConditionEvent {
        let mut base = BaseEventType::new(
            ObjectTypeId::AlarmConditionType,
            ByteString::from(id.to_vec()),
            LocalizedText::new("", o.text.as_str()),
            UaDateTime::from(o.time),
        )
        .set_source_node(source.node.clone())
        .set_source_name(UAString::from(source.name.as_str()))
        .set_receive_time(UaDateTime::from(received))
        .set_severity(o.priority.severity());
        base.condition_class_id = Some(ObjectTypeId::ProcessConditionClassType.into());
        base.condition_class_name = Some(LocalizedText::new("", "Process"));
        let active_time = if o.active { o.raised_at } else { o.cleared_at };
        let ack = o.acknowledgement.as_ref();
        ConditionEvent {
            base,
            condition: condition.clone(),
            condition_name: UAString::from(o.alarm.as_str()),
            retain: o.retained(),
            active: o.active,
            active_time: active_time.map(UaDateTime::from),
            acked: o.acknowledged,
            acked_time: ack.map(|a| UaDateTime::from(a.time)),
            comment: LocalizedText::new("", ack.map_or("", |a| a.comment.as_str())),
            comment_time: ack.map(|a| UaDateTime::from(a.time)),
            client_user_id: UAString::from(ack.map_or("", |a| a.user.as_str())),
        }
    }

    /// The condition node's variables with the values of this event.
    pub(super) fn state_values(&self) -> Vec<(NodeId, DataValue)> {
        let now = UaDateTime::now();
        STATE_VARIABLES
            .iter()
            .map(|(path, _, _)| {
                let names: Vec<QualifiedName> =
                    path.iter().map(|p| QualifiedName::new(0, *p)).collect();
                let value = self.get_value(AttributeId::Value, &NumericRange::None, &names);
                let dv = DataValue {
                    value: Some(value),
                    status: Some(StatusCode::Good),
                    source_timestamp: Some(self.base.time),
                    server_timestamp: Some(now),
                    ..Default::default()
                };
                (variable_id(&self.condition, path), dv)
            })
            .collect()
    }

    /// The event's id.
    #[cfg(test)]
    pub(super) fn event_id(&self) -> &ByteString {
        &self.base.event_id
    }
}

fn state_text(on: bool, yes: &str, no: &str) -> Variant {
    Variant::from(LocalizedText::new("en", if on { yes } else { no }))
}

fn time_or_empty(t: Option<UaDateTime>) -> Variant {
    t.map_or(Variant::Empty, Variant::from)
}

impl EventField for ConditionEvent {
    fn get_value(
        &self,
        attribute_id: AttributeId,
        index_range: &NumericRange,
        remaining_path: &[QualifiedName],
    ) -> Variant {
        if attribute_id != AttributeId::Value
            || remaining_path.iter().any(|q| q.namespace_index != 0)
        {
            return Variant::Empty;
        }
        let names: Vec<&str> = remaining_path.iter().map(|q| q.name.as_ref()).collect();
        match names.as_slice() {
            ["ConditionName"] => Variant::from(self.condition_name.clone()),
            ["BranchId"] => Variant::from(NodeId::null()),
            ["Retain"] => Variant::from(self.retain),
            ["EnabledState"] => state_text(true, "Enabled", "Disabled"),
            ["EnabledState", "Id"] => Variant::from(true),
            ["Quality"] => Variant::from(StatusCode::Good),
            ["LastSeverity"] => Variant::from(self.base.severity),
            ["Comment"] => Variant::from(self.comment.clone()),
            ["Comment", "SourceTimestamp"] => time_or_empty(self.comment_time),
            ["ClientUserId"] => Variant::from(self.client_user_id.clone()),
            ["AckedState"] => state_text(self.acked, "Acknowledged", "Unacknowledged"),
            ["AckedState", "Id"] => Variant::from(self.acked),
            ["AckedState", "TransitionTime"] => time_or_empty(self.acked_time),
            ["ActiveState"] => state_text(self.active, "Active", "Inactive"),
            ["ActiveState", "Id"] => Variant::from(self.active),
            ["ActiveState", "TransitionTime"] => time_or_empty(self.active_time),
            ["InputNode"] => Variant::from(self.base.source_node.clone()),
            ["SuppressedOrShelved"] => Variant::from(false),
            _ => self
                .base
                .get_value(attribute_id, index_range, remaining_path),
        }
    }
}

/// The event types whose fields a select clause may name for this event.
fn is_own_type(type_definition_id: &NodeId) -> bool {
    [
        ObjectTypeId::BaseEventType,
        ObjectTypeId::ConditionType,
        ObjectTypeId::AcknowledgeableConditionType,
        ObjectTypeId::AlarmConditionType,
    ]
    .iter()
    .any(|t| type_definition_id == t)
}

impl Event for ConditionEvent {
    fn get_field(
        &self,
        type_definition_id: &NodeId,
        attribute_id: AttributeId,
        index_range: &NumericRange,
        browse_path: &[QualifiedName],
    ) -> Variant {
        if !is_own_type(type_definition_id) {
            return Variant::Empty;
        }
        if browse_path.is_empty() {
            // ConditionId: the condition's node.
            return if attribute_id == AttributeId::NodeId
                && type_definition_id != &ObjectTypeId::BaseEventType
            {
                Variant::from(self.condition.clone())
            } else {
                Variant::Empty
            };
        }
        self.get_value(attribute_id, index_range, browse_path)
    }

    fn time(&self) -> &UaDateTime {
        &self.base.time
    }

    fn event_type_id(&self) -> &NodeId {
        &self.base.event_type
    }
}

/// Sets the condition node's variables from `event`, then sends `event` to the subscribers
/// of `notifier` and of `Server` (async-opcua adds those).
pub(super) fn notify<T: opcua::server::node_manager::memory::InMemoryNodeManagerImpl>(
    manager: &opcua::server::node_manager::memory::InMemoryNodeManager<T>,
    subscriptions: &opcua::server::SubscriptionCache,
    event: &ConditionEvent,
    notifier: &NodeId,
) {
    let values = event.state_values();
    let updates = values.iter().map(|(id, v)| (id, None, v.clone()));
    if let Err(e) = manager.set_values(subscriptions, updates) {
        tracing::warn!("updating the condition {} failed: {e}", event.condition);
    }
    subscriptions.notify_events(std::iter::once((event as &dyn Event, notifier)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn source() -> Source {
        Source {
            node: NodeId::new(2, "main/t_supply"),
            name: "main/t_supply".to_owned(),
            notifier: NodeId::new(2, "#site"),
        }
    }

    fn field(e: &ConditionEvent, path: &[&str]) -> Variant {
        let path: Vec<QualifiedName> = path.iter().map(|p| QualifiedName::new(0, *p)).collect();
        e.get_field(
            &ObjectTypeId::BaseEventType.into(),
            AttributeId::Value,
            &NumericRange::None,
            &path,
        )
    }

    #[test]
    fn severities_follow_priorities() {
        let s: Vec<u16> = [
            AlarmPriority::Critical,
            AlarmPriority::Major,
            AlarmPriority::Minor,
            AlarmPriority::Warning,
        ]
        .iter()
        .map(|p| p.severity())
        .collect();
        assert_eq!(s, [900, 700, 500, 300]);
    }

    #[test]
    fn events_carry_the_occurrence_and_acknowledgement_needs_a_sent_event_id() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        let mut c = Conditions::default();
        let node = condition_id(2, "t_high", "main/t_supply");
        let o = AlarmOccurrence::raised(
            7,
            "t_high",
            "main/t_supply",
            AlarmPriority::Major,
            "too hot",
            t,
        );
        let (e, notifier) = c.record(o, node.clone(), source(), t);
        assert_eq!(notifier, NodeId::new(2, "#site"));
        assert_eq!(field(&e, &["Severity"]), Variant::from(700u16));
        assert_eq!(
            field(&e, &["Message"]),
            Variant::from(LocalizedText::new("", "too hot"))
        );
        assert_eq!(
            field(&e, &["SourceNode"]),
            Variant::from(NodeId::new(2, "main/t_supply"))
        );
        assert_eq!(field(&e, &["ActiveState", "Id"]), Variant::from(true));
        assert_eq!(field(&e, &["AckedState", "Id"]), Variant::from(false));
        assert_eq!(field(&e, &["Retain"]), Variant::from(true));
        assert_eq!(
            field(&e, &["ConditionName"]),
            Variant::from(UAString::from("t_high"))
        );
        assert_eq!(field(&e, &["NoSuchField"]), Variant::Empty);
        let condition_id_field = e.get_field(
            &ObjectTypeId::ConditionType.into(),
            AttributeId::NodeId,
            &NumericRange::None,
            &[],
        );
        assert_eq!(condition_id_field, Variant::from(node.clone()));
        let id = e.event_id().as_ref().to_vec();
        assert_eq!(&id[..8], &7u64.to_be_bytes());

        let unknown = c.check_acknowledge(&node, &[0; 16], "op".into(), String::new());
        assert_eq!(unknown.err(), Some(StatusCode::BadEventIdUnknown));
        let other = c.check_acknowledge(&NodeId::new(2, "x"), &id, "op".into(), String::new());
        assert_eq!(other.err(), Some(StatusCode::BadNodeIdUnknown));
        let pending = c
            .check_acknowledge(&node, &id, "op".into(), "seen".into())
            .unwrap();
        assert_eq!(pending.request.occurrence, 7);
        let (acked, _) = c.acknowledged(&pending, t).unwrap();
        assert_eq!(field(&acked, &["AckedState", "Id"]), Variant::from(true));
        assert_eq!(
            field(&acked, &["Comment"]),
            Variant::from(LocalizedText::new("", "seen"))
        );
        assert_eq!(
            field(&acked, &["ClientUserId"]),
            Variant::from(UAString::from("op"))
        );
        assert_eq!(
            c.check_acknowledge(&node, &id, "op".into(), String::new())
                .err(),
            Some(StatusCode::BadConditionBranchAlreadyAcked)
        );

        // A new occurrence forgets the old one's event ids.
        let o2 = AlarmOccurrence::raised(
            8,
            "t_high",
            "main/t_supply",
            AlarmPriority::Major,
            "too hot",
            t,
        );
        let (e2, _) = c.record(o2, node.clone(), source(), t);
        assert_eq!(
            c.check_acknowledge(&node, &id, "op".into(), String::new())
                .err(),
            Some(StatusCode::BadEventIdUnknown)
        );
        let id2 = e2.event_id().as_ref().to_vec();
        assert!(
            c.check_acknowledge(&node, &id2, "op".into(), String::new())
                .is_ok()
        );
    }

    #[test]
    fn a_cleared_acknowledged_occurrence_is_not_retained() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        let mut o = AlarmOccurrence::raised(1, "a", "main", AlarmPriority::Warning, "w", t);
        o.active = false;
        assert!(o.retained());
        o.acknowledged = true;
        assert!(!o.retained());
    }

    #[test]
    fn a_closed_occurrence_is_sent_with_retain_false() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        let cleared_at = t + chrono::Duration::minutes(5);
        let mut c = Conditions::default();
        let node = condition_id(2, "t_high", "main/t_supply");
        let mut o =
            AlarmOccurrence::raised(3, "t_high", "main/t_supply", AlarmPriority::Minor, "hot", t);
        o.active = false;
        o.cleared_at = Some(cleared_at);
        o.time = cleared_at;
        let (e, _) = c.record(o.clone(), node.clone(), source(), cleared_at);
        assert_eq!(field(&e, &["ActiveState", "Id"]), Variant::from(false));
        assert_eq!(
            field(&e, &["ActiveState", "TransitionTime"]),
            Variant::from(UaDateTime::from(cleared_at))
        );
        assert_eq!(
            field(&e, &["Retain"]),
            Variant::from(true),
            "not acknowledged yet"
        );
        assert_eq!(field(&e, &["Severity"]), Variant::from(500u16));
        o.acknowledged = true;
        o.acknowledgement = Some(AlarmAcknowledgement {
            user: "ann".into(),
            comment: "done".into(),
            time: cleared_at,
        });
        let (e, _) = c.record(o, node, source(), cleared_at);
        assert_eq!(field(&e, &["Retain"]), Variant::from(false));
        assert_eq!(
            field(&e, &["AckedState"]),
            Variant::from(LocalizedText::new("en", "Acknowledged"))
        );
        assert_eq!(
            field(&e, &["ClientUserId"]),
            Variant::from(UAString::from("ann"))
        );
    }

    #[test]
    fn acknowledge_methods_belong_to_their_condition() {
        let c = condition_id(2, "a", "main/x");
        assert!(is_acknowledge(
            &c,
            &NodeId::new(2, "#alarm/a@main/x#Acknowledge")
        ));
        assert!(!is_acknowledge(
            &c,
            &NodeId::new(2, "#alarm/b@main/x#Acknowledge")
        ));
        assert!(!is_acknowledge(
            &c,
            &NodeId::new(3, "#alarm/a@main/x#Acknowledge")
        ));
    }
}
