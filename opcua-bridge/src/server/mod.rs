//! The OPC UA server (feature `server`, on `async-opcua`): the point tree under `Objects`,
//! batch updates pushed to subscribers, writes through an async handler the caller
//! registers ([`WriteHandler`], told the user), username/password users with a read-only or
//! operator role, alarms as `AlarmConditionType` events acknowledged through the caller's
//! [`AcknowledgeHandler`] ([`events`]), HistoryRead (raw) from the caller's
//! [`HistorySource`] ([`history`]). Two node managers share the namespace: the points' own
//! (`points`), which answers for every point variable and its properties from the
//! [`PointTree`] without storing nodes (97 000 points cost no more than the tree), and
//! async-opcua's in-memory one (`nodes`) for the folders and the alarm conditions, with
//! write, method-call and history paths of our own. The caller's parts are given to
//! [`Bridge::start_with`] as [`Handlers`].
//!
//! Address space, in the namespace [`ServerConfig::namespace_uri`] (index 2 when it is the
//! only one added, as here):
//!
//! - the site, each area and each device is a `FolderType` object, organised by its parent
//!   (the site by `Objects`); node ids are strings: `#site`, `#area/NAME/NAME..`, and the
//!   device name;
//! - each point is a variable with node id `device/service` (the workspace's point name),
//!   browse name `2:service`, a component of its device: an `AnalogItemType` of `Double` with
//!   `EURange` (when the point has a range) and `EngineeringUnits` (when its unit has
//!   one), or a `DataItemType` of `Boolean` or `String`; its description is the point's;
//! - the value's `StatusCode` follows the quality ([`status_of`]); its source timestamp is
//!   the update's source time, its server timestamp when the bridge took the update;
//! - the site folder is an event notifier (as `Server` is); alarm conditions hang off
//!   their source with `HasCondition` ([`events`]).
//!
//! Security: Basic256Sha256 and Aes128_Sha256_RsaOaep endpoints, Sign and SignAndEncrypt,
//! always; the None endpoint only with [`ServerConfig::allow_none`] (passwords sent on it
//! are still encrypted with the server's certificate, Basic256Sha256). A self-signed
//! application certificate is created in [`ServerConfig::pki_dir`] at first start; client
//! certificates are trusted only when found in `pki_dir/trusted/` (unknown ones land in
//! `pki_dir/rejected/`), unless [`ServerConfig::trust_client_certs`].

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use opcua::crypto::SecurityPolicy;
use opcua::server::address_space::{AccessLevel, AddressSpace, EventNotifier, ObjectBuilder};
use opcua::server::authenticator::{
    AuthManager, Password, UserToken, user_pass_security_policy_id,
};
use opcua::server::node_manager::memory::{InMemoryNodeManager, InMemoryNodeManagerBuilder};
use opcua::server::{
    ANONYMOUS_USER_TOKEN_ID, ServerBuilder, ServerEndpoint, ServerHandle, ServerUserToken,
};
use opcua::types::{
    AttributeId, DataValue, DateTime as UaDateTime, EUInformation, Error as UaError, LocalizedText,
    MessageSecurityMode, NodeId, ObjectId, QualifiedName, StatusCode, UAString, UserTokenPolicy,
    UserTokenType, Variant,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

pub mod events;
pub mod history;
mod nodes;
mod points;

pub use events::{
    AcknowledgeHandler, AcknowledgeRefusal, AcknowledgeRequest, AlarmAcknowledgement, AlarmError,
    AlarmOccurrence, AlarmPriority,
};
pub use history::{HistoricValue, HistoryError, HistoryQuery, HistorySource};

use events::{Conditions, Source};
use nodes::{Points, PointsBuilder};
use points::PointNodes;

use crate::model::{ApplyReport, FolderKind, Point, PointTree, PointValue, Quality, Update};
use crate::{UNECE_NAMESPACE_URI, Unit};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Browses, reads and subscribes.
    ReadOnly,
    /// Also writes writable points.
    Operator,
}

/// A username/password user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The user name.
    pub name: String,
    /// The password (compared in constant time; never logged).
    pub password: String,
    /// What the user may do.
    pub role: Role,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"****")
            .field("role", &self.role)
            .finish()
    }
}

/// The server's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The host the server binds to and advertises in its endpoint URLs (so never a wildcard
    /// such as `0.0.0.0`): an address or a name clients resolve to this machine.
    pub host: String,
    /// The TCP port; `0` picks a free one (see [`Bridge::endpoint_url`]).
    pub port: u16,
    /// The application name (also the certificate's common name).
    pub application_name: String,
    /// The application URI (also in the certificate).
    pub application_uri: String,
    /// The namespace of the tree's nodes.
    pub namespace_uri: String,
    /// The PKI folder: `own/cert.der`, `private/private.pem`, `trusted/`, `rejected/`.
    /// Relative paths are relative to the working directory.
    pub pki_dir: PathBuf,
    /// Also offer the None security endpoint (no signing, no encryption).
    pub allow_none: bool,
    /// Accept anonymous sessions (read-only).
    pub allow_anonymous: bool,
    /// Trust every client certificate (tests only); otherwise only those in `pki_dir/trusted/`.
    pub trust_client_certs: bool,
    /// The username/password users.
    pub users: Vec<User>,
    /// Session and subscription limits (defaults: [`ServerLimits::default`]).
    #[serde(default)]
    pub limits: ServerLimits,
}

/// How much one client may ask of the server. The defaults are async-opcua's: 20 sessions, 10
/// subscriptions per session, 1000 monitored items per subscription, no cap on the
/// notifications of one publish response. A SCADA client subscribing to 50 000 points then
/// spreads them over 50 subscriptions (5 sessions), which is how the `opcua` bench measures.
/// Larger subscriptions need clients that accept large publish responses (measured: async-opcua's
/// own client, with its default message limits, lost the connection on 5 000-item ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLimits {
    /// Concurrent sessions.
    pub max_sessions: usize,
    /// Subscriptions per session.
    pub max_subscriptions_per_session: usize,
    /// Monitored items per subscription (0 means no limit).
    pub max_monitored_items_per_subscription: usize,
    /// Notifications in one publish response (0 means no limit; more changes than this in one
    /// interval go out in the next publish responses, flagged "more notifications").
    pub max_notifications_per_publish: u64,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_sessions: 20,
            max_subscriptions_per_session: 10,
            max_monitored_items_per_subscription: 1000,
            max_notifications_per_publish: 0,
        }
    }
}

impl ServerConfig {
    /// Secure endpoints only, no anonymous access, no users yet, on `host:port`.
    pub fn new(host: impl Into<String>, port: u16, pki_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            host: host.into(),
            port,
            application_name: "emkit opcua-bridge".to_owned(),
            application_uri: "urn:emkit:opcua-bridge".to_owned(),
            namespace_uri: "urn:emkit:opcua-bridge:points".to_owned(),
            pki_dir: pki_dir.into(),
            allow_none: false,
            allow_anonymous: false,
            trust_client_certs: false,
            users: Vec::new(),
            limits: ServerLimits::default(),
        }
    }

    /// With one more user.
    #[must_use]
    pub fn with_user(
        mut self,
        name: impl Into<String>,
        password: impl Into<String>,
        role: Role,
    ) -> ServerConfig {
        self.users.push(User {
            name: name.into(),
            password: password.into(),
            role,
        });
        self
    }
}

/// Why a write was refused; each maps to an OPC UA status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefusal {
    /// The value is outside what the target accepts (`BadOutOfRange`).
    #[error("out of range")]
    OutOfRange,
    /// The target does not allow this write now (`BadUserAccessDenied`).
    #[error("not allowed")]
    NotAllowed,
    /// The write could not be carried out, e.g. the controller did not answer
    /// (`BadCommunicationError`).
    #[error("failed: {0}")]
    Failed(String),
}

impl WriteRefusal {
    /// The status code the client gets.
    pub fn status_code(&self) -> StatusCode {
        match self {
            WriteRefusal::OutOfRange => StatusCode::BadOutOfRange,
            WriteRefusal::NotAllowed => StatusCode::BadUserAccessDenied,
            WriteRefusal::Failed(_) => StatusCode::BadCommunicationError,
        }
    }
}

/// A client's write to a writable point, after the bridge's own checks.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    /// `device/service`.
    pub point: String,
    /// The value, of the point's kind and within its range.
    pub value: PointValue,
    /// The user who writes (`None` for an anonymous session).
    pub user: Option<String>,
}

/// Receives the writes clients make to writable points, after the bridge has checked the
/// user's role, the value's kind and the point's range. `Ok` makes the written value the
/// point's value (quality good, source time now); an error is returned to the client.
///
/// The address space is not locked while the handler runs, so it may wait for the
/// controller; the client waits for the answer (mind its request timeout). A plain
/// function `Fn(&WriteRequest) -> Result<(), WriteRefusal>` is a handler that decides at
/// once.
#[async_trait]
pub trait WriteHandler: Send + Sync + 'static {
    /// Carries out or refuses the write.
    ///
    /// # Errors
    /// The refusal the client gets.
    async fn write(&self, request: &WriteRequest) -> Result<(), WriteRefusal>;
}

#[async_trait]
impl<F> WriteHandler for F
where
    F: Fn(&WriteRequest) -> Result<(), WriteRefusal> + Send + Sync + 'static,
{
    async fn write(&self, request: &WriteRequest) -> Result<(), WriteRefusal> {
        self(request)
    }
}

/// The caller's parts of the server, each optional: the write handler (without one writes
/// are refused with `BadNotWritable`), the acknowledgement handler (without one
/// `Acknowledge` is refused with `BadNotImplemented`) and the history source (without one
/// points are not historizing and HistoryRead is refused).
///
/// ```
/// use std::sync::Arc;
/// use opcua_bridge::server::{AcknowledgeRefusal, AcknowledgeRequest, Handlers, WriteRefusal, WriteRequest};
/// let handlers = Handlers::default()
///     .with_write(Arc::new(|_: &WriteRequest| -> Result<(), WriteRefusal> { Ok(()) }))
///     .with_acknowledge(Arc::new(|a: &AcknowledgeRequest| -> Result<(), AcknowledgeRefusal> {
///         println!("{} acknowledged {} on {}: {}", a.user, a.alarm, a.target, a.comment);
///         Ok(())
///     }));
/// assert!(handlers.history.is_none());
/// ```
#[derive(Clone, Default)]
pub struct Handlers {
    /// Receives writes to writable points.
    pub write: Option<Arc<dyn WriteHandler>>,
    /// Receives acknowledgements of alarm occurrences.
    pub acknowledge: Option<Arc<dyn AcknowledgeHandler>>,
    /// Serves HistoryRead (raw).
    pub history: Option<Arc<dyn HistorySource>>,
}

impl Handlers {
    /// With a write handler.
    #[must_use]
    pub fn with_write(mut self, handler: Arc<dyn WriteHandler>) -> Handlers {
        self.write = Some(handler);
        self
    }

    /// With an acknowledgement handler.
    #[must_use]
    pub fn with_acknowledge(mut self, handler: Arc<dyn AcknowledgeHandler>) -> Handlers {
        self.acknowledge = Some(handler);
        self
    }

    /// With a history source.
    #[must_use]
    pub fn with_history(mut self, source: Arc<dyn HistorySource>) -> Handlers {
        self.history = Some(source);
        self
    }
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("write", &self.write.is_some())
            .field("acknowledge", &self.acknowledge.is_some())
            .field("history", &self.history.is_some())
            .finish()
    }
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A configuration that cannot work.
    #[error("invalid server configuration: {0}")]
    Config(String),
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// `host:port`.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// async-opcua refused to build the server.
    #[error("OPC UA server: {0}")]
    Build(String),
}

/// The OPC UA status code of a point's state: `BadWaitingForInitialData` before the first
/// value, else from the quality (`Good`, `Uncertain`, `BadCommunicationError`).
pub fn status_of(point: &Point) -> StatusCode {
    if point.state.value.is_none() {
        return match point.state.quality {
            Quality::BadCommunication => StatusCode::BadCommunicationError,
            Quality::Good | Quality::Uncertain => StatusCode::BadWaitingForInitialData,
        };
    }
    match point.state.quality {
        Quality::Good => StatusCode::Good,
        Quality::Uncertain => StatusCode::Uncertain,
        Quality::BadCommunication => StatusCode::BadCommunicationError,
    }
}

/// The `EUInformation` of a unit, `None` for a unit without a UNECE code (`varh`, `""`).
pub fn eu_information(unit: Unit) -> Option<EUInformation> {
    unit.unece_code()?;
    Some(EUInformation {
        namespace_uri: UNECE_NAMESPACE_URI.into(),
        unit_id: unit.unece_unit_id(),
        display_name: LocalizedText::new("", unit.display_name()),
        description: LocalizedText::new("", unit.description()),
    })
}

struct Shared {
    tree: Mutex<PointTree>,
    manager: Arc<InMemoryNodeManager<Points>>,
    handle: ServerHandle,
    ns: u16,
    /// The alarm conditions published so far. Lock order: tree, conditions, address space.
    conditions: Mutex<Conditions>,
    /// The users with the operator role.
    operators: HashSet<String>,
}

impl Shared {
    /// Whether `user` (`None`: anonymous) may write and acknowledge.
    fn is_operator(&self, user: Option<&str>) -> bool {
        user.is_some_and(|u| self.operators.contains(u))
    }

    /// The source of an alarm on `target`: a point, a device, or the site when empty.
    fn source_of(&self, target: &str) -> Option<Source> {
        let tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
        let folders = tree.folders();
        let site = folders.iter().find(|f| f.kind == FolderKind::Site)?;
        let (node, name) = if target.is_empty() {
            (site.key.clone(), site.name.clone())
        } else if tree.index_of(target).is_some()
            || folders
                .iter()
                .any(|f| f.kind == FolderKind::Device && f.key == target)
        {
            // A point's node id is its name, a device folder's its key: the device name.
            (target.to_owned(), target.to_owned())
        } else {
            return None;
        };
        let node = NodeId::new(self.ns, node);
        Some(Source {
            node,
            name,
            notifier: NodeId::new(self.ns, site.key.clone()),
        })
    }

    /// Records an occurrence (creating its condition node the first time) and sends its
    /// event.
    fn publish_alarm(&self, occurrence: AlarmOccurrence) -> Result<(), AlarmError> {
        if occurrence.alarm.is_empty() {
            return Err(AlarmError::EmptyAlarm {
                target: occurrence.target,
            });
        }
        let Some(source) = self.source_of(&occurrence.target) else {
            return Err(AlarmError::UnknownTarget {
                alarm: occurrence.alarm,
                target: occurrence.target,
            });
        };
        let node = events::condition_id(self.ns, &occurrence.alarm, &occurrence.target);
        // A point is not in the address space: the points' node manager answers for its
        // `HasCondition` references.
        let on_point = self.with_point(&occurrence.target, |_| ()).is_some();
        let (event, notifier) = {
            let mut conditions = self
                .conditions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !conditions.has(&occurrence.alarm, &occurrence.target) {
                let mut space = self.manager.address_space().write();
                events::add_condition_node(
                    &mut space,
                    self.ns,
                    &node,
                    &occurrence.alarm,
                    &source,
                    !on_point,
                );
            }
            conditions.record(occurrence, node, source, Utc::now())
        };
        events::notify(
            &self.manager,
            self.handle.subscriptions(),
            &event,
            &notifier,
        );
        Ok(())
    }

    /// `f` of the point named `name`, if there is one.
    fn with_point<T>(&self, name: &str, f: impl FnOnce(&Point) -> T) -> Option<T> {
        let tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
        tree.point(name).map(f)
    }

    /// Applies a batch to the tree and then to the address space, holding the tree's lock
    /// throughout so that two batches reach subscribers in the order the tree took them.
    /// Lock order: tree, then address space (a write callback, which runs under the address
    /// space's lock, never takes the tree's: it applies its value from a task).
    fn apply(&self, batch: Vec<Update>) -> ApplyReport {
        let now = Utc::now();
        let mut tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
        let report = tree.apply(batch, now);
        let mut changed = report.applied.clone();
        changed.sort_unstable();
        changed.dedup();
        let (ids, values): (Vec<NodeId>, Vec<DataValue>) = changed
            .iter()
            .filter_map(|&i| tree.points().get(i))
            .map(|e| (NodeId::new(self.ns, e.name.clone()), data_value(&e.point)))
            .unzip();
        // The points' node manager reads values from the tree; subscribers get them here.
        self.handle.subscriptions().notify_data_change(
            values
                .into_iter()
                .zip(&ids)
                .map(|(v, id)| (v, id, AttributeId::Value)),
        );
        drop(tree);
        report
    }
}

fn ua_time(t: Option<chrono::DateTime<Utc>>) -> Option<UaDateTime> {
    t.map(UaDateTime::from)
}

fn variant_of(value: Option<&PointValue>) -> Variant {
    match value {
        Some(PointValue::Number(x)) => Variant::Double(*x),
        Some(PointValue::Bool(b)) => Variant::Boolean(*b),
        Some(PointValue::Text(s)) => Variant::String(UAString::from(s.as_str())),
        None => Variant::Empty,
    }
}

fn data_value(point: &Point) -> DataValue {
    DataValue {
        value: Some(variant_of(point.state.value.as_ref())),
        status: Some(status_of(point)),
        source_timestamp: ua_time(point.state.source_time),
        server_timestamp: ua_time(point.state.server_time),
        ..Default::default()
    }
}

/// A running server. Dropping it does not stop the server; [`Bridge::shutdown`] does.
pub struct Bridge {
    shared: Arc<Shared>,
    url: String,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// Builds the address space from `tree`, binds `config.host:config.port` and serves
    /// in a tokio task. Writes to writable points reach `handler`; without one they are
    /// refused with `BadNotWritable`. [`Bridge::start_with`] also takes an acknowledgement
    /// handler and a history source.
    ///
    /// The first start in a new `pki_dir` creates the application certificate (RSA 2048:
    /// about 4 s in a debug build).
    ///
    /// # Errors
    /// A wildcard or empty host, a user named twice, the port taken, or async-opcua
    /// refusing the configuration (for instance a PKI folder it cannot create).
    pub async fn start(
        config: ServerConfig,
        tree: PointTree,
        handler: Option<Arc<dyn WriteHandler>>,
    ) -> Result<Bridge, ServerError> {
        let handlers = Handlers {
            write: handler,
            ..Handlers::default()
        };
        Bridge::start_with(config, tree, handlers).await
    }

    /// [`Bridge::start`] with all of the caller's parts: writes reach `handlers.write`,
    /// acknowledgements `handlers.acknowledge`, and with `handlers.history` every point is
    /// historizing and HistoryRead (raw) reads it.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use chrono::Utc;
    /// use opcua_bridge::server::{
    ///     AcknowledgeRefusal, AcknowledgeRequest, AlarmOccurrence, AlarmPriority, Bridge,
    ///     Handlers, Role, ServerConfig,
    /// };
    /// use opcua_bridge::{Device, Point, PointTree, Site, Unit};
    ///
    /// let site = Site::new("Plant")
    ///     .with_device(Device::new("main").with_point(Point::number("t_supply", Unit::DegC)));
    /// let config = ServerConfig::new("127.0.0.1", 4840, "pki")
    ///     .with_user("operator", "write-secret", Role::Operator);
    /// let ack = |a: &AcknowledgeRequest| -> Result<(), AcknowledgeRefusal> {
    ///     println!("occurrence {} acknowledged by {}: {}", a.occurrence, a.user, a.comment);
    ///     Ok(())
    /// };
    /// let handlers = Handlers::default().with_acknowledge(Arc::new(ack));
    /// let bridge = Bridge::start_with(config, PointTree::new(site)?, handlers).await?;
    /// let raised = AlarmOccurrence::raised(
    ///     1, "t_high", "main/t_supply", AlarmPriority::Major, "supply too hot", Utc::now());
    /// bridge.publish_alarm(raised)?;
    /// # bridge.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Bridge::start`].
    pub async fn start_with(
        config: ServerConfig,
        tree: PointTree,
        handlers: Handlers,
    ) -> Result<Bridge, ServerError> {
        check_config(&config)?;
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Listen { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: config.host.clone(),
                source,
            })?
            .port();
        let url = format!("opc.tcp://{}:{port}/", config.host);

        let historizing = handlers.history.is_some();
        // The points' manager comes first: it owns the point and property node ids, the
        // in-memory one the rest of the namespace (folders, alarm conditions).
        let builder = server_builder(&config, port)
            .with_node_manager(move |_context| PointNodes::new(historizing))
            .with_node_manager(InMemoryNodeManagerBuilder::new(PointsBuilder {
                namespace_uri: config.namespace_uri.clone(),
                handler: handlers.write,
                acknowledge: handlers.acknowledge,
                history: handlers.history.clone(),
            }))
            .with_authenticator(Arc::new(Users::new(&config)));
        let (server, handle) = builder.build().map_err(ServerError::Build)?;
        let manager = handle
            .node_managers()
            .get_of_type::<InMemoryNodeManager<Points>>()
            .ok_or_else(|| ServerError::Build("the node manager is missing".to_owned()))?;
        let point_nodes = handle
            .node_managers()
            .get_of_type::<PointNodes>()
            .ok_or_else(|| ServerError::Build("the points' node manager is missing".to_owned()))?;
        let ns = handle
            .get_namespace_index(&config.namespace_uri)
            .ok_or_else(|| ServerError::Build("the namespace is missing".to_owned()))?;
        {
            let mut space = manager.address_space().write();
            build_address_space(&mut space, &tree, ns);
        }
        let operators = config
            .users
            .iter()
            .filter(|u| u.role == Role::Operator)
            .map(|u| u.name.clone())
            .collect();
        let shared = Arc::new(Shared {
            tree: Mutex::new(tree),
            manager,
            handle,
            ns,
            conditions: Mutex::new(Conditions::default()),
            operators,
        });
        if shared
            .manager
            .inner()
            .shared
            .set(Arc::downgrade(&shared))
            .is_err()
        {
            return Err(ServerError::Build(
                "the node manager was already bound".to_owned(),
            ));
        }
        if point_nodes.shared.set(Arc::downgrade(&shared)).is_err() {
            return Err(ServerError::Build(
                "the points' node manager was already bound".to_owned(),
            ));
        }

        let task = tokio::spawn(async move {
            if let Err(e) = server.run_with(listener).await {
                warn!("OPC UA server stopped: {e}");
            }
        });
        info!(%url, "OPC UA server listening");
        Ok(Bridge { shared, url, task })
    }

    /// The endpoint URL clients connect to (`opc.tcp://host:port/`).
    pub fn endpoint_url(&self) -> &str {
        &self.url
    }

    /// The namespace index of the tree's nodes.
    pub fn namespace_index(&self) -> u16 {
        self.shared.ns
    }

    /// Applies a batch to the tree and pushes the changed values to subscribers. Every
    /// update is either applied or rejected with its reason in the report.
    pub fn update(&self, batch: impl IntoIterator<Item = Update>) -> ApplyReport {
        self.shared.apply(batch.into_iter().collect())
    }

    /// Publishes the new state of an alarm occurrence as an `AlarmConditionType` event to
    /// the clients subscribed to events of `Server` or of the site folder ([`events`] lists
    /// the fields). The first occurrence of an alarm on a
    /// target creates its condition node; a client acknowledges through its
    /// `Acknowledge` method, which reaches the [`AcknowledgeHandler`].
    ///
    /// Publish every change of the occurrence (raised, cleared, acknowledged elsewhere):
    /// the bridge does not derive states itself, except `AckedState` after an
    /// acknowledgement it accepted.
    ///
    /// # Errors
    /// An empty alarm name, or a target that is neither a point nor a device of the tree
    /// (an empty target stands for the site).
    pub fn publish_alarm(&self, occurrence: AlarmOccurrence) -> Result<(), AlarmError> {
        self.shared.publish_alarm(occurrence)
    }

    /// A copy of a point with its current state.
    pub fn point(&self, name: &str) -> Option<Point> {
        self.shared
            .tree
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .point(name)
            .cloned()
    }

    /// Stops the server and waits for its task.
    pub async fn shutdown(self) {
        self.shared.handle.cancel();
        if let Err(e) = self.task.await {
            warn!("OPC UA server task: {e}");
        }
    }
}

fn check_config(config: &ServerConfig) -> Result<(), ServerError> {
    let host = config.host.trim_matches(['[', ']']);
    if host.is_empty() || host == "0.0.0.0" || host == "::" {
        return Err(ServerError::Config(format!(
            "host {:?} is also the advertised endpoint: give an address or name clients can reach",
            config.host
        )));
    }
    let mut names = std::collections::HashSet::new();
    for u in &config.users {
        if u.name.is_empty() || !names.insert(u.name.as_str()) {
            return Err(ServerError::Config(format!(
                "user name {:?} is empty or given twice",
                u.name
            )));
        }
    }
    if config.users.is_empty() && !config.allow_anonymous {
        return Err(ServerError::Config(
            "no users and anonymous access off: nobody could connect".to_owned(),
        ));
    }
    Ok(())
}

fn user_key(name: &str) -> String {
    format!("user:{name}")
}

/// The user name of a session's token (`None` when anonymous).
fn user_name(token: &UserToken) -> Option<String> {
    token.0.strip_prefix("user:").map(str::to_owned)
}

fn server_builder(config: &ServerConfig, port: u16) -> ServerBuilder {
    let mut token_ids: Vec<String> = config.users.iter().map(|u| user_key(&u.name)).collect();
    if config.allow_anonymous {
        token_ids.push(ANONYMOUS_USER_TOKEN_ID.to_owned());
    }
    let mut builder = ServerBuilder::new()
        .application_name(config.application_name.clone())
        .application_uri(config.application_uri.clone())
        .product_uri("urn:emkit:opcua-bridge")
        .create_sample_keypair(true)
        .certificate_path("own/cert.der")
        .private_key_path("private/private.pem")
        .pki_dir(config.pki_dir.clone())
        .trust_client_certs(config.trust_client_certs)
        .host(config.host.clone())
        .port(port)
        .discovery_urls(vec![format!("opc.tcp://{}:{port}/", config.host)])
        .max_sessions(config.limits.max_sessions);
    let subscriptions = &mut builder.limits_mut().subscriptions;
    subscriptions.max_subscriptions_per_session = config.limits.max_subscriptions_per_session;
    subscriptions.max_monitored_items_per_sub = config.limits.max_monitored_items_per_subscription;
    subscriptions.max_notifications_per_publish = config.limits.max_notifications_per_publish;
    for u in &config.users {
        builder = builder.add_user_token(
            user_key(&u.name),
            ServerUserToken::user_pass(u.name.clone(), u.password.clone()),
        );
    }
    let secure = [
        (
            "basic256sha256_sign",
            SecurityPolicy::Basic256Sha256,
            MessageSecurityMode::Sign,
        ),
        (
            "basic256sha256_sign_encrypt",
            SecurityPolicy::Basic256Sha256,
            MessageSecurityMode::SignAndEncrypt,
        ),
        (
            "aes128sha256rsaoaep_sign",
            SecurityPolicy::Aes128Sha256RsaOaep,
            MessageSecurityMode::Sign,
        ),
        (
            "aes128sha256rsaoaep_sign_encrypt",
            SecurityPolicy::Aes128Sha256RsaOaep,
            MessageSecurityMode::SignAndEncrypt,
        ),
    ];
    for (id, policy, mode) in secure {
        builder = builder.add_endpoint(id, ServerEndpoint::new("/", policy, mode, &token_ids));
    }
    if config.allow_none {
        // Passwords are still encrypted with the server's certificate on this endpoint.
        let mut none = ServerEndpoint::new_none("/", &token_ids);
        none.password_security_policy = Some(SecurityPolicy::Basic256Sha256.to_str().to_owned());
        builder = builder.add_endpoint("none", none);
    }
    builder.default_endpoint("basic256sha256_sign_encrypt")
}

/// Authenticates the configured users and gives read-only users and anonymous sessions no
/// write access.
struct Users {
    users: BTreeMap<String, User>,
    anonymous: bool,
}

impl Users {
    fn new(config: &ServerConfig) -> Users {
        Users {
            users: config
                .users
                .iter()
                .map(|u| (user_key(&u.name), u.clone()))
                .collect(),
            anonymous: config.allow_anonymous,
        }
    }
}

/// Equal-length-independent constant-time comparison of two secrets.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

fn rejected(msg: &str) -> UaError {
    UaError::new(StatusCode::BadIdentityTokenRejected, msg)
}

#[async_trait]
impl AuthManager for Users {
    async fn authenticate_anonymous_token(&self, endpoint: &ServerEndpoint) -> Result<(), UaError> {
        if self.anonymous && endpoint.user_token_ids.contains(ANONYMOUS_USER_TOKEN_ID) {
            Ok(())
        } else {
            Err(rejected("anonymous access is off"))
        }
    }

    async fn authenticate_username_identity_token(
        &self,
        _endpoint: &ServerEndpoint,
        username: &str,
        password: &Password,
    ) -> Result<UserToken, UaError> {
        let key = user_key(username);
        match self.users.get(&key) {
            Some(u) if same_secret(u.password.as_bytes(), password.get().as_bytes()) => {
                debug!(user = username, "session authenticated");
                Ok(UserToken(key))
            }
            _ => {
                warn!(user = username, "wrong user name or password");
                Err(rejected("wrong user name or password"))
            }
        }
    }

    fn effective_user_access_level(
        &self,
        token: &UserToken,
        level: AccessLevel,
        _node: &NodeId,
    ) -> AccessLevel {
        match self.users.get(&token.0) {
            Some(User {
                role: Role::Operator,
                ..
            }) => level,
            _ => level - AccessLevel::CURRENT_WRITE,
        }
    }

    fn user_token_policies(&self, endpoint: &ServerEndpoint) -> Vec<UserTokenPolicy> {
        let mut policies = Vec::new();
        if self.anonymous && endpoint.user_token_ids.contains(ANONYMOUS_USER_TOKEN_ID) {
            policies.push(UserTokenPolicy {
                policy_id: "anonymous".into(),
                token_type: UserTokenType::Anonymous,
                issued_token_type: UAString::null(),
                issuer_endpoint_url: UAString::null(),
                security_policy_uri: UAString::null(),
            });
        }
        if !self.users.is_empty() {
            // On the None endpoint the client must encrypt the password with the server's
            // certificate (the policy says how); on the others the channel encrypts it.
            let password_policy = if endpoint.security_policy() == SecurityPolicy::None {
                UAString::from(endpoint.password_security_policy().to_uri())
            } else {
                UAString::null()
            };
            policies.push(UserTokenPolicy {
                policy_id: user_pass_security_policy_id(endpoint),
                token_type: UserTokenType::UserName,
                issued_token_type: UAString::null(),
                issuer_endpoint_url: UAString::null(),
                security_policy_uri: password_policy,
            });
        }
        policies
    }
}

/// The folders of the tree (site, areas, devices); the points and their properties are
/// served by the points' node manager ([`points`]).
fn build_address_space(space: &mut AddressSpace, tree: &PointTree, ns: u16) {
    let folder_ids: Vec<NodeId> = tree
        .folders()
        .iter()
        .map(|f| NodeId::new(ns, f.key.clone()))
        .collect();
    for (f, id) in tree.folders().iter().zip(&folder_ids) {
        let parent = match f.parent.and_then(|p| folder_ids.get(p)) {
            Some(p) => p.clone(),
            None => ObjectId::ObjectsFolder.into(),
        };
        ObjectBuilder::new(id, QualifiedName::new(ns, f.name.as_str()), f.name.as_str())
            .is_folder()
            .organized_by(parent)
            .description(f.description.as_str())
            .event_notifier(if f.kind == FolderKind::Site {
                EventNotifier::SUBSCRIBE_TO_EVENTS
            } else {
                EventNotifier::empty()
            })
            .insert(space);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_reach_the_server_and_default_when_absent() {
        let toml_config = serde_json::json!({
            "host": "127.0.0.1", "port": 0, "application_name": "a", "application_uri": "urn:a",
            "namespace_uri": "urn:a:points", "pki_dir": "pki", "allow_none": false,
            "allow_anonymous": false, "trust_client_certs": false, "users": []
        });
        let mut config: ServerConfig = match serde_json::from_value(toml_config) {
            Ok(c) => c,
            Err(e) => panic!("config without limits: {e}"),
        };
        assert_eq!(config.limits, ServerLimits::default());
        config.limits.max_monitored_items_per_subscription = 50_000;
        config.limits.max_subscriptions_per_session = 3;
        let mut builder = server_builder(&config, 4840);
        let limits = &builder.limits_mut().subscriptions;
        assert_eq!(limits.max_monitored_items_per_sub, 50_000);
        assert_eq!(limits.max_subscriptions_per_session, 3);
    }

    #[test]
    fn statuses_follow_quality() {
        let mut p = Point::number("x", Unit::V);
        assert_eq!(status_of(&p), StatusCode::BadWaitingForInitialData);
        p.state.quality = Quality::BadCommunication;
        assert_eq!(status_of(&p), StatusCode::BadCommunicationError);
        p.state.value = Some(PointValue::Number(1.0));
        assert_eq!(status_of(&p), StatusCode::BadCommunicationError);
        p.state.quality = Quality::Uncertain;
        assert_eq!(status_of(&p), StatusCode::Uncertain);
        p.state.quality = Quality::Good;
        assert_eq!(status_of(&p), StatusCode::Good);
    }

    #[test]
    fn eu_information_carries_the_unece_code() {
        let eu = eu_information(Unit::DegC);
        assert_eq!(eu.as_ref().map(|e| e.unit_id), Some(4_408_652));
        assert_eq!(
            eu.as_ref().map(|e| e.namespace_uri.as_ref().to_owned()),
            Some(UNECE_NAMESPACE_URI.to_owned())
        );
        assert!(eu_information(Unit::None).is_none());
        assert!(eu_information(Unit::Varh).is_none());
    }

    #[test]
    fn wildcard_hosts_and_nobody_are_refused() {
        for host in ["0.0.0.0", "::", "[::]", ""] {
            let c = ServerConfig::new(host, 0, "pki").with_user("u", "p", Role::ReadOnly);
            assert!(
                matches!(check_config(&c), Err(ServerError::Config(_))),
                "{host}"
            );
        }
        assert!(check_config(&ServerConfig::new("127.0.0.1", 0, "pki")).is_err());
        let twice = ServerConfig::new("127.0.0.1", 0, "pki")
            .with_user("u", "p", Role::ReadOnly)
            .with_user("u", "q", Role::Operator);
        assert!(check_config(&twice).is_err());
    }

    fn policies(config: &ServerConfig) -> Vec<(SecurityPolicy, MessageSecurityMode)> {
        let builder = server_builder(config, 4840);
        let mut v: Vec<_> = builder
            .config()
            .endpoints
            .values()
            .map(|e| (e.security_policy(), e.message_security_mode()))
            .collect();
        v.sort_by_key(|(p, m)| format!("{p} {m:?}"));
        v
    }

    #[test]
    fn none_is_offered_only_when_enabled() {
        let mut config =
            ServerConfig::new("127.0.0.1", 0, "pki").with_user("u", "p", Role::Operator);
        let secure = [
            (
                SecurityPolicy::Aes128Sha256RsaOaep,
                MessageSecurityMode::Sign,
            ),
            (
                SecurityPolicy::Aes128Sha256RsaOaep,
                MessageSecurityMode::SignAndEncrypt,
            ),
            (SecurityPolicy::Basic256Sha256, MessageSecurityMode::Sign),
            (
                SecurityPolicy::Basic256Sha256,
                MessageSecurityMode::SignAndEncrypt,
            ),
        ];
        assert_eq!(policies(&config), secure);
        config.allow_none = true;
        let with_none = policies(&config);
        assert_eq!(with_none.len(), 5);
        assert!(with_none.contains(&(SecurityPolicy::None, MessageSecurityMode::None)));
        let builder = server_builder(&config, 4840);
        let none = builder.config().endpoints.get("none");
        assert_eq!(
            none.map(ServerEndpoint::password_security_policy),
            Some(SecurityPolicy::Basic256Sha256),
            "passwords are encrypted on the None endpoint"
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
        assert!(same_secret(b"", b""));
    }
}
