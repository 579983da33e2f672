//! The OPC UA client gateway (feature `client`, on async-opcua's client): nodes of an
//! external OPC UA server feed our points.
//!
//! [`Gateway::connect`] logs in to the server of a [`GatewayConfig`], checks every mapped
//! node (it exists, is a variable of a type the gateway converts; browse paths are resolved,
//! units come from the mapping or the node's `EngineeringUnits`), subscribes to them and
//! returns the gateway with a channel of update batches:
//!
//! - each publish of the server becomes one `Vec<Update>` (in the order of the server's
//!   notifications): the value (numbers times the mapping's scale), the quality from the
//!   `StatusCode` ([`quality_of`]: good, uncertain, every `Bad*` bad-communication without
//!   a value), the source time (the server time when the server gave none);
//! - when the connection is lost (the server closes it, stops, or two keep-alive reads
//!   fail), one batch marks every point bad-communication without a value, stamped with
//!   each point's last source time (so the value the server still holds when it comes back
//!   is not older than the mark, and `PointTree::apply` accepts it); the gateway then
//!   reconnects with exponential backoff, reactivates or recreates the session, transfers
//!   or recreates the subscription, and reads every node once so that values that did not
//!   change resume too;
//! - [`Gateway::write`] writes a setpoint through to its node (divided by the scale, in the
//!   node's data type) and maps the server's refusal to [`WriteFailure`].
//!
//! The channel is unbounded so the gateway never waits for the caller nor drops a batch:
//! keep receiving. It closes when the gateway is shut down or dropped.
//!
//! [`Gateway::browse`] lists the children of a node (id, browse name, class, data type,
//! unit) to help write a configuration; [`Gateway::points`] and [`Gateway::devices`]
//! describe the mapped points (unit, kind, writability) so the caller can build the point
//! tree the updates go to.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use opcua::client::{
    Client, ClientBuilder, IdentityToken, MonitoredItemMap, OnSubscriptionNotificationCore,
    Session, SessionPollResult,
};
use opcua::types::{
    AttributeId, BrowseDescription, BrowseDirection, BrowsePath, BrowseResultMask,
    DataChangeNotification, DataValue, EUInformation, EndpointDescription, ExtensionObject,
    MonitoredItemCreateRequest, MonitoringMode, MonitoringParameters, NodeClass, NodeId,
    NotificationMessage, ObjectId, QualifiedName, ReadValueId, ReferenceTypeId, RelativePath,
    RelativePathElement, StatusCode, TimestampsToReturn, UserTokenPolicy, Variant, WriteValue,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

mod config;
mod convert;

pub use config::{GatewayConfig, Login, NodeMapping, SecurityMode, SecurityPolicy};
pub use convert::{NodeType, WriteFailure, quality_of};

use crate::Unit;
use crate::model::{Device, Point, PointValue, Quality, Update, ValueKind};
use config::NodeRef;

/// What can go wrong in the gateway.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file is malformed or inconsistent: where, and what was wrong.
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The file.
        file: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written in the file (`node[2].point`); `(file)` when no field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A configuration built in code is inconsistent.
    #[error("gateway configuration: {field}: {message}")]
    InvalidConfig {
        /// The field path (`node[2].point`).
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A file could not be read.
    #[error("{}: {message}", file.display())]
    Io {
        /// The file.
        file: std::path::PathBuf,
        /// The cause.
        message: String,
    },
    /// The server could not be reached, refused the endpoint, the certificate or the login,
    /// or did not answer in time.
    #[error("cannot connect to {endpoint}: {status}: {message}")]
    Connect {
        /// The endpoint URL.
        endpoint: String,
        /// The OPC UA status code's name (`BadUserAccessDenied`, `BadTimeout`, ...).
        status: String,
        /// Details.
        message: String,
    },
    /// A mapped node does not exist on the server (or its browse path does not resolve).
    #[error("point {point}: node {node} is not on the server ({status})")]
    UnknownNode {
        /// Our point name.
        point: String,
        /// The node as configured.
        node: String,
        /// The status code's name (`BadNodeIdUnknown`, `BadNoMatch`, ...).
        status: String,
    },
    /// A mapped node exists but cannot feed the point (not a variable, a type the gateway
    /// does not convert, a unit that is not a workspace unit).
    #[error("point {point}: node {node}: {message}")]
    Mapping {
        /// Our point name.
        point: String,
        /// The node as configured.
        node: String,
        /// What is wrong.
        message: String,
    },
    /// A request (browse, read) failed.
    #[error("{what}: {status}")]
    Service {
        /// The request.
        what: String,
        /// The status code's name.
        status: String,
    },
    /// [`Gateway::write`] to a point no node feeds.
    #[error("no node feeds point {0:?}")]
    NotMapped(String),
    /// [`Gateway::write`] of a value that does not fit the node (kind, integer range).
    #[error("point {point}: {message}")]
    BadSetpoint {
        /// Our point name.
        point: String,
        /// What does not fit.
        message: String,
    },
    /// [`Gateway::write`] while the connection is down.
    #[error("not connected to {endpoint}")]
    Disconnected {
        /// The endpoint URL.
        endpoint: String,
    },
    /// The server refused a write, or the request failed.
    #[error("point {point}: write refused: {status} ({failure:?})")]
    WriteRefused {
        /// Our point name.
        point: String,
        /// Why, by kind.
        failure: WriteFailure,
        /// The status code's name.
        status: String,
    },
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

/// A mapped point as the gateway found it on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappedPoint {
    /// Our point name, `device/service`.
    pub name: String,
    /// The node as configured (id or browse path).
    pub node: String,
    /// The node id (a browse path resolved), in OPC UA's string form.
    pub node_id: String,
    /// The unit: the mapping's, else the node's `EngineeringUnits`, else dimensionless.
    pub unit: Unit,
    /// The node's data type.
    pub node_type: NodeType,
    /// The kind of value the point gets.
    pub kind: ValueKind,
    /// Whether the server lets this session write the node (`UserAccessLevel`).
    pub writable: bool,
    /// The mapping's scale (1 when none).
    pub scale: f64,
}

/// A child of a browsed node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseEntry {
    /// Its node id, in OPC UA's string form (`ns=2;s=Boiler.T`): the `node` of a mapping.
    pub node_id: String,
    /// Its browse name, `NS:Name` (the segment of a browse path).
    pub browse_name: String,
    /// Its display name.
    pub display_name: String,
    /// `Object`, `Variable`, `Method`, ...
    pub node_class: String,
    /// For a variable, its data type (the built-in type's name, else the type's node id).
    pub data_type: Option<String>,
    /// For a variable with `EngineeringUnits` of a workspace unit, that unit.
    pub unit: Option<Unit>,
}

/// Turns notifications into update batches. Holds no session (the session holds it).
struct Deliver {
    points: Vec<MappedPoint>,
    /// The node id of each point.
    ids: Vec<NodeId>,
    last_source: Mutex<Vec<Option<DateTime<Utc>>>>,
    tx: mpsc::UnboundedSender<Vec<Update>>,
}

impl Deliver {
    /// One batch from `(client handle, value)` pairs; handle `i + 1` is point `i`.
    fn values(&self, values: impl IntoIterator<Item = (u32, DataValue)>) {
        let now = Utc::now();
        let mut batch = Vec::new();
        let mut last = self
            .last_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (handle, dv) in values {
            let i = (handle as usize).wrapping_sub(1);
            let Some(p) = self.points.get(i) else {
                continue;
            };
            let update = update_of(p, &dv, now);
            if let Some(slot) = last.get_mut(i) {
                *slot = Some(update.source_time);
            }
            batch.push(update);
        }
        drop(last);
        if !batch.is_empty() {
            let _ = self.tx.send(batch);
        }
    }

    /// One batch marking every point bad-communication (each at its last source time).
    fn lost(&self) {
        let now = Utc::now();
        let last = self
            .last_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let batch: Vec<Update> = self
            .points
            .iter()
            .zip(last.iter())
            .map(|(p, t)| {
                Update::without_value(&p.name, Quality::BadCommunication, t.unwrap_or(now))
            })
            .collect();
        drop(last);
        if !batch.is_empty() {
            let _ = self.tx.send(batch);
        }
    }
}

/// The update of point `p` for a value from the server.
fn update_of(p: &MappedPoint, dv: &DataValue, now: DateTime<Utc>) -> Update {
    let status = dv.status.unwrap_or(StatusCode::Good);
    let quality = quality_of(status);
    let source_time = dv
        .source_timestamp
        .or(dv.server_timestamp)
        .filter(|t| !t.is_null())
        .map_or(now, |t| t.as_chrono());
    let value = match quality {
        Quality::BadCommunication => None,
        Quality::Good | Quality::Uncertain => dv
            .value
            .as_ref()
            .and_then(|v| convert::value_of(v, p.scale))
            .filter(|v| v.kind() == p.kind),
    };
    // A good status without a usable value is not a good value.
    let quality = if value.is_none() && quality == Quality::Good {
        Quality::Uncertain
    } else {
        quality
    };
    Update {
        point: p.name.clone(),
        value,
        quality,
        source_time,
    }
}

/// The subscription's callback (the session keeps it; it holds no session).
struct OnData(Arc<Deliver>);

impl OnSubscriptionNotificationCore for OnData {
    fn on_subscription_notification(
        &mut self,
        notification: NotificationMessage,
        _items: MonitoredItemMap<'_>,
    ) {
        let values = notification
            .notification_data
            .into_iter()
            .flatten()
            .filter_map(|obj| obj.into_inner_as::<DataChangeNotification>())
            .flat_map(|n| n.monitored_items.into_iter().flatten())
            .map(|item| (item.client_handle, item.value));
        self.0.values(values);
    }
}

/// A connected gateway. Dropping it closes the session; [`Gateway::shutdown`] does so
/// politely.
pub struct Gateway {
    session: Arc<Session>,
    deliver: Arc<Deliver>,
    link: watch::Receiver<bool>,
    driver: JoinHandle<()>,
    endpoint: String,
    timeout: Duration,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("endpoint", &self.endpoint)
            .field("points", &self.deliver.points.len())
            .field("connected", &*self.link.borrow())
            .finish_non_exhaustive()
    }
}

type PollStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<SessionPollResult, StatusCode>> + Send>>;

impl Gateway {
    /// Connects, checks and subscribes to the configured nodes; returns the gateway and the
    /// channel of update batches (the first ones carry every node's current value).
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use opcua_bridge::PointValue;
    /// use opcua_bridge::client::{Gateway, GatewayConfig};
    ///
    /// let config = GatewayConfig::from_toml_file("/etc/emkit/gateway.toml")?;
    /// let (gateway, mut updates) = Gateway::connect(config).await?;
    /// for child in gateway.browse("i=85").await? {
    ///     println!("{} {} {:?}", child.node_id, child.browse_name, child.data_type);
    /// }
    /// for p in gateway.points() {
    ///     println!("{} <- {} [{}]", p.name, p.node_id, p.unit);
    /// }
    /// gateway.write("boiler/t_set", PointValue::Number(55.0)).await?;
    /// while let Some(batch) = updates.recv().await {
    ///     for u in batch {
    ///         println!("{} {:?} {} {}", u.point, u.value, u.quality, u.source_time);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`]; [`Error::Connect`] when the server cannot be reached or
    /// refuses the endpoint, certificate or login within the timeout;
    /// [`Error::UnknownNode`] and [`Error::Mapping`] for a node that cannot feed its point.
    pub async fn connect(
        config: GatewayConfig,
    ) -> Result<(Gateway, mpsc::UnboundedReceiver<Vec<Update>>), Error> {
        config.validate()?;
        let endpoint = config.endpoint.clone();
        let timeout = Duration::from_millis(config.timeout_ms);
        let connect_error = |status: StatusCode, message: String| Error::Connect {
            endpoint: endpoint.clone(),
            status: status.to_string(),
            message,
        };
        let client = build_client(&config)
            .await
            .map_err(|(s, m)| connect_error(s, m))?;
        let (session, stream) = tokio::time::timeout(timeout, open_session(client, &config))
            .await
            .map_err(|_| connect_error(StatusCode::BadTimeout, "no session in time".into()))?
            .map_err(|(s, m)| connect_error(s, m))?;
        let (link_tx, link) = watch::channel(true);
        let (tx, rx) = mpsc::unbounded_channel();
        // Until the points are known the driver delivers nothing; it must run from here on,
        // since nothing reaches the server unless the session's event loop is polled.
        let (points_tx, points_rx) = tokio::sync::oneshot::channel::<Arc<Deliver>>();
        let driver = tokio::spawn(drive(stream, session.clone(), link_tx, points_rx));
        let setup = async {
            let (points, ids) = resolve_points(&session, &config).await?;
            let deliver = Arc::new(Deliver {
                last_source: Mutex::new(vec![None; points.len()]),
                points,
                ids,
                tx,
            });
            subscribe(&session, &config, &deliver).await?;
            Ok::<_, Error>(deliver)
        };
        let deliver = match tokio::time::timeout(timeout * 4, setup).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                close(&session, driver).await;
                return Err(e);
            }
            Err(_) => {
                close(&session, driver).await;
                return Err(connect_error(
                    StatusCode::BadTimeout,
                    "subscribing took too long".into(),
                ));
            }
        };
        let _ = points_tx.send(deliver.clone());
        info!(%endpoint, points = deliver.points.len(), "OPC UA gateway connected");
        Ok((
            Gateway {
                session,
                deliver,
                link,
                driver,
                endpoint,
                timeout,
            },
            rx,
        ))
    }

    /// The mapped points, in configuration order.
    pub fn points(&self) -> &[MappedPoint] {
        &self.deliver.points
    }

    /// The mapped points as point-model devices (grouped by the `device` of their names,
    /// in configuration order; number points with their unit; writable when the server
    /// lets this session write), to build the tree the updates go to.
    pub fn devices(&self) -> Vec<Device> {
        let mut devices: Vec<Device> = Vec::new();
        for p in &self.deliver.points {
            let Some((device, service)) = p.name.split_once('/') else {
                continue;
            };
            let mut point = match p.kind {
                ValueKind::Number => Point::number(service, p.unit),
                ValueKind::Bool => Point::bool(service),
                ValueKind::Text => Point::text(service),
            }
            .with_description(format!("OPC UA {}", p.node_id));
            if p.writable {
                point = point.writable();
            }
            match devices.iter_mut().find(|d| d.name == device) {
                Some(d) => d.points.push(point),
                None => devices.push(Device::new(device).with_point(point)),
            }
        }
        devices
    }

    /// Whether the session is up now.
    pub fn is_connected(&self) -> bool {
        *self.link.borrow()
    }

    /// A watch of the connection: `true` while up.
    pub fn link(&self) -> watch::Receiver<bool> {
        self.link.clone()
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The children of `node` (a node id in string form; `i=85` is the Objects folder)
    /// along hierarchical references, with their data type and unit for variables.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a malformed node id, [`Error::Service`] when the
    /// server refuses the browse (`BadNodeIdUnknown` for a node it does not have).
    pub async fn browse(&self, node: &str) -> Result<Vec<BrowseEntry>, Error> {
        let NodeRef::Id(id) = NodeRef::parse(node).map_err(|m| Error::InvalidConfig {
            field: "node".into(),
            message: m,
        })?
        else {
            return Err(Error::InvalidConfig {
                field: "node".into(),
                message: format!("browse takes a node id, found {node:?}"),
            });
        };
        tokio::time::timeout(self.timeout * 4, browse_children(&self.session, &id, node))
            .await
            .map_err(|_| Error::Service {
                what: format!("browse {node}"),
                status: StatusCode::BadTimeout.to_string(),
            })?
    }

    /// Writes `value` to the node feeding `point` (numbers divided by the mapping's scale,
    /// in the node's data type); returns once the server accepted it.
    ///
    /// # Errors
    /// [`Error::NotMapped`], [`Error::BadSetpoint`] (kind or range of the node's type),
    /// [`Error::Disconnected`], [`Error::WriteRefused`] with the server's status.
    pub async fn write(&self, point: &str, value: PointValue) -> Result<(), Error> {
        let (p, node_id) = self
            .deliver
            .points
            .iter()
            .zip(&self.deliver.ids)
            .find(|(p, _)| p.name == point)
            .ok_or_else(|| Error::NotMapped(point.to_owned()))?;
        let variant =
            p.node_type
                .encode(&value, p.scale)
                .map_err(|message| Error::BadSetpoint {
                    point: point.to_owned(),
                    message,
                })?;
        if !self.is_connected() {
            return Err(Error::Disconnected {
                endpoint: self.endpoint.clone(),
            });
        }
        let request = WriteValue {
            node_id: node_id.clone(),
            attribute_id: AttributeId::Value as u32,
            index_range: Default::default(),
            value: DataValue::value_only(variant),
        };
        let refused = |status: StatusCode| Error::WriteRefused {
            point: point.to_owned(),
            failure: WriteFailure::of(status),
            status: status.to_string(),
        };
        let results = tokio::time::timeout(self.timeout, self.session.write(&[request]))
            .await
            .map_err(|_| refused(StatusCode::BadTimeout))?
            .map_err(|e| refused(e.status()))?;
        let status = results
            .first()
            .copied()
            .unwrap_or(StatusCode::BadUnexpectedError);
        if status.is_good() {
            debug!(point, ?value, "setpoint written");
            Ok(())
        } else {
            Err(refused(status))
        }
    }

    /// Closes the session (deleting the subscription on the server) and stops; the update
    /// channel closes.
    pub async fn shutdown(mut self) {
        let driver = std::mem::replace(&mut self.driver, tokio::spawn(async {}));
        close(&self.session, driver).await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.session.disable_reconnects();
        self.driver.abort();
    }
}

async fn close(session: &Arc<Session>, driver: JoinHandle<()>) {
    session.disable_reconnects();
    let _ = tokio::time::timeout(Duration::from_secs(2), session.disconnect()).await;
    driver.abort();
    let _ = driver.await;
}

/// Builds the client: creates the gateway's key pair and certificate in the PKI folder the
/// first time security is on (seconds of RSA work: on a blocking thread, outside the
/// connection timeout).
async fn build_client(config: &GatewayConfig) -> Result<Client, (StatusCode, String)> {
    let secure = config.security_policy != SecurityPolicy::None;
    let builder = ClientBuilder::new()
        .application_name("emkit opcua-bridge gateway")
        .application_uri(&config.application_uri)
        .product_uri("urn:emkit:opcua-bridge")
        .pki_dir(&config.pki_dir)
        .create_sample_keypair(secure)
        .trust_server_certs(config.trust_server_certs)
        .session_retry_limit(-1)
        .session_retry_initial(Duration::from_millis(config.reconnect_initial_ms))
        .session_retry_max(Duration::from_millis(config.reconnect_max_ms))
        .keep_alive_interval(Duration::from_millis(config.keep_alive_ms))
        .max_failed_keep_alive_count(2)
        .request_timeout(Duration::from_millis(config.timeout_ms))
        .recreate_subscriptions(true)
        .session_timeout(60_000);
    tokio::task::spawn_blocking(move || builder.client())
        .await
        .map_err(|e| (StatusCode::BadInternalError, e.to_string()))?
        .map_err(|errors| (StatusCode::BadConfigurationError, errors.join("; ")))
}

/// Finds the endpoint and drives the session's event loop until the first session is
/// active.
async fn open_session(
    mut client: Client,
    config: &GatewayConfig,
) -> Result<(Arc<Session>, PollStream), (StatusCode, String)> {
    let endpoint: EndpointDescription = (
        config.endpoint.as_str(),
        config.security_policy.to_opcua().to_uri(),
        config.security_mode.to_opcua(),
        UserTokenPolicy::anonymous(),
    )
        .into();
    let identity = match &config.user {
        Some(login) => IdentityToken::new_user_name(&login.name, login.password.as_str()),
        None => IdentityToken::Anonymous,
    };
    let (session, event_loop) = client
        .connect_to_matching_endpoint(endpoint, identity)
        .await
        .map_err(|e| (e.status(), e.to_string()))?;
    let mut stream: PollStream = Box::pin(event_loop.enter());
    loop {
        match stream.next().await {
            Some(Ok(SessionPollResult::Reconnected(mode))) => {
                debug!(?mode, "session active");
                return Ok((session, stream));
            }
            Some(Ok(SessionPollResult::ReconnectFailed(status))) => {
                session.disable_reconnects();
                return Err((
                    status,
                    "no session (see the status: certificate, login, endpoint)".into(),
                ));
            }
            Some(Ok(_)) => {}
            Some(Err(status)) => return Err((status, "the session ended".into())),
            None => return Err((StatusCode::BadConnectionClosed, "the session ended".into())),
        }
    }
}

/// Polls the session's event loop for the gateway's life: marks the points down when the
/// connection is lost, and reads every node again once it is back.
async fn drive(
    mut stream: PollStream,
    session: Arc<Session>,
    link: watch::Sender<bool>,
    deliver: tokio::sync::oneshot::Receiver<Arc<Deliver>>,
) {
    let mut deliver = Some(deliver);
    let mut points: Option<Arc<Deliver>> = None;
    while let Some(event) = stream.next().await {
        if points.is_none()
            && let Some(rx) = deliver.as_mut()
            && let Ok(d) = rx.try_recv()
        {
            points = Some(d);
            deliver = None;
        }
        match event {
            Ok(SessionPollResult::ConnectionLost(status)) => {
                warn!(%status, "OPC UA gateway: connection lost");
                if link.send_replace(false)
                    && let Some(d) = &points
                {
                    d.lost();
                }
            }
            Ok(SessionPollResult::ReconnectFailed(status)) => {
                debug!(%status, "OPC UA gateway: reconnection failed");
            }
            Ok(SessionPollResult::Reconnected(mode)) => {
                info!(?mode, "OPC UA gateway: reconnected");
                link.send_replace(true);
                // The subscription loop of the new connection starts idle, and the
                // subscriptions recreated while connecting triggered publishing before
                // it existed (async-opcua 0.19): trigger it again, or nothing is published.
                session.trigger_publish_now();
                if let Some(d) = &points {
                    tokio::spawn(read_all(session.clone(), d.clone()));
                }
            }
            Ok(_) => {}
            Err(status) => {
                warn!(%status, "OPC UA gateway: session ended");
                break;
            }
        }
    }
    if link.send_replace(false)
        && let Some(d) = &points
    {
        d.lost();
    }
}

/// Reads every mapped node's value and delivers it as one batch.
async fn read_all(session: Arc<Session>, deliver: Arc<Deliver>) {
    let reads: Vec<ReadValueId> = deliver
        .ids
        .iter()
        .map(|id| read_id(id.clone(), AttributeId::Value))
        .collect();
    match session.read(&reads, TimestampsToReturn::Both, 0.0).await {
        Ok(values) => deliver.values((1..).zip(values)),
        Err(e) => warn!(status = %e.status(), "OPC UA gateway: reading after reconnection failed"),
    }
}

fn read_id(node_id: NodeId, attribute: AttributeId) -> ReadValueId {
    ReadValueId {
        node_id,
        attribute_id: attribute as u32,
        index_range: Default::default(),
        data_encoding: QualifiedName::null(),
    }
}

fn path_element(reference: ReferenceTypeId, ns: u16, name: &str) -> RelativePathElement {
    RelativePathElement {
        reference_type_id: reference.into(),
        is_inverse: false,
        include_subtypes: true,
        target_name: QualifiedName::new(ns, name),
    }
}

/// Node ids of browse paths / properties; `Err(status)` for each that does not resolve.
async fn translate(
    session: &Session,
    paths: Vec<BrowsePath>,
) -> Result<Vec<Result<NodeId, StatusCode>>, StatusCode> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let n = paths.len();
    let results = session
        .translate_browse_paths_to_node_ids(&paths)
        .await
        .map_err(|e| e.status())?;
    let mut out: Vec<_> = results
        .into_iter()
        .map(|r| {
            if !r.status_code.is_good() {
                return Err(r.status_code);
            }
            r.targets
                .into_iter()
                .flatten()
                .find(|t| t.target_id.server_index == 0)
                .map(|t| t.target_id.node_id)
                .ok_or(StatusCode::BadNoMatch)
        })
        .collect();
    out.resize(n, Err(StatusCode::BadUnexpectedError));
    Ok(out)
}

/// Resolves and checks every mapping: node id, class, data type, access, unit.
async fn resolve_points(
    session: &Session,
    config: &GatewayConfig,
) -> Result<(Vec<MappedPoint>, Vec<NodeId>), Error> {
    let service = |what: &str| {
        let what = what.to_owned();
        move |status: StatusCode| Error::Service {
            what: what.clone(),
            status: status.to_string(),
        }
    };
    let ids = node_ids(session, config).await?;
    // class, data type and access of every node
    let reads: Vec<ReadValueId> = ids
        .iter()
        .flat_map(|id| {
            [
                AttributeId::NodeClass,
                AttributeId::DataType,
                AttributeId::UserAccessLevel,
            ]
            .map(|a| read_id(id.clone(), a))
        })
        .collect();
    let attrs = if reads.is_empty() {
        Vec::new()
    } else {
        session
            .read(&reads, TimestampsToReturn::Neither, 0.0)
            .await
            .map_err(|e| service("read node attributes")(e.status()))?
    };
    let units = engineering_units(session, &ids).await?;
    let mut points = Vec::with_capacity(ids.len());
    let mut ids_out = Vec::with_capacity(ids.len());
    for (i, (m, id)) in config.nodes.iter().zip(ids).enumerate() {
        let attr = |k: usize| attrs.get(3 * i + k);
        let class = attr(0).ok_or(StatusCode::BadUnexpectedError);
        let status = class.map_or_else(|s| s, |dv| dv.status.unwrap_or(StatusCode::Good));
        if !status.is_good() {
            return Err(Error::UnknownNode {
                point: m.point.clone(),
                node: m.node.clone(),
                status: status.to_string(),
            });
        }
        let mapping_error = |message: String| Error::Mapping {
            point: m.point.clone(),
            node: m.node.clone(),
            message,
        };
        let is_variable = matches!(
            attr(0).and_then(|dv| dv.value.as_ref()),
            Some(Variant::Int32(c)) if *c == NodeClass::Variable as i32
        );
        if !is_variable {
            return Err(mapping_error("not a variable".into()));
        }
        let node_type = match attr(1).and_then(|dv| dv.value.as_ref()) {
            Some(Variant::NodeId(t)) => NodeType::from_data_type(t),
            _ => NodeType::Other,
        };
        let Some(kind) = node_type.kind() else {
            return Err(mapping_error(
                "its data type is not a number, boolean or text".into(),
            ));
        };
        let writable = matches!(
            attr(2).and_then(|dv| dv.value.as_ref()),
            Some(Variant::Byte(a)) if a & 0x02 != 0
        );
        let unit = match (m.unit, &units[i]) {
            (Some(u), _) => u,
            (None, Some(eu)) => convert::unit_of_eu(eu).map_err(mapping_error)?,
            (None, None) => Unit::None,
        };
        if m.scale.is_some() && kind != ValueKind::Number {
            return Err(mapping_error(format!("a scale on a {kind:?} node")));
        }
        ids_out.push(id.clone());
        points.push(MappedPoint {
            name: m.point.clone(),
            node: m.node.clone(),
            node_id: id.to_string(),
            unit,
            node_type,
            kind,
            writable,
            scale: m.scale.unwrap_or(1.0),
        });
    }
    Ok((points, ids_out))
}

/// The node id of every mapping (browse paths translated).
async fn node_ids(session: &Session, config: &GatewayConfig) -> Result<Vec<NodeId>, Error> {
    let refs: Vec<NodeRef> = config
        .nodes
        .iter()
        .map(|m| NodeRef::parse(&m.node))
        .collect::<Result<_, _>>()
        .map_err(|message| Error::InvalidConfig {
            field: "node".into(),
            message,
        })?;
    let paths: Vec<BrowsePath> = refs
        .iter()
        .filter_map(|r| match r {
            NodeRef::Path(segments) => Some(BrowsePath {
                starting_node: ObjectId::RootFolder.into(),
                relative_path: RelativePath {
                    elements: Some(
                        segments
                            .iter()
                            .map(|(ns, name)| {
                                path_element(ReferenceTypeId::HierarchicalReferences, *ns, name)
                            })
                            .collect(),
                    ),
                },
            }),
            NodeRef::Id(_) => None,
        })
        .collect();
    let mut resolved = translate(session, paths)
        .await
        .map_err(|s| Error::Service {
            what: "translate browse paths".into(),
            status: s.to_string(),
        })?
        .into_iter();
    let mut ids = Vec::with_capacity(refs.len());
    for (m, r) in config.nodes.iter().zip(refs) {
        match r {
            NodeRef::Id(id) => ids.push(id),
            NodeRef::Path(_) => match resolved.next().unwrap_or(Err(StatusCode::BadNoMatch)) {
                Ok(id) => ids.push(id),
                Err(status) => {
                    return Err(Error::UnknownNode {
                        point: m.point.clone(),
                        node: m.node.clone(),
                        status: status.to_string(),
                    });
                }
            },
        }
    }
    Ok(ids)
}

/// The `EngineeringUnits` of each node, `None` where it has none.
async fn engineering_units(
    session: &Session,
    ids: &[NodeId],
) -> Result<Vec<Option<EUInformation>>, Error> {
    let paths = ids
        .iter()
        .map(|id| BrowsePath {
            starting_node: id.clone(),
            relative_path: RelativePath {
                elements: Some(vec![path_element(
                    ReferenceTypeId::HasProperty,
                    0,
                    "EngineeringUnits",
                )]),
            },
        })
        .collect();
    let props = translate(session, paths)
        .await
        .map_err(|s| Error::Service {
            what: "find EngineeringUnits".into(),
            status: s.to_string(),
        })?;
    let reads: Vec<ReadValueId> = props
        .iter()
        .flatten()
        .map(|id| read_id(id.clone(), AttributeId::Value))
        .collect();
    let mut values = if reads.is_empty() {
        Vec::new()
    } else {
        session
            .read(&reads, TimestampsToReturn::Neither, 0.0)
            .await
            .map_err(|e| Error::Service {
                what: "read EngineeringUnits".into(),
                status: e.status().to_string(),
            })?
    }
    .into_iter();
    Ok(props
        .iter()
        .map(|p| {
            p.as_ref().ok()?;
            match values.next()?.value? {
                Variant::ExtensionObject(obj) => eu_of(obj),
                _ => None,
            }
        })
        .collect())
}

fn eu_of(obj: ExtensionObject) -> Option<EUInformation> {
    obj.into_inner_as::<EUInformation>().map(|b| *b)
}

/// Creates the subscription and one monitored item per point (client handle = index + 1).
async fn subscribe(
    session: &Session,
    config: &GatewayConfig,
    deliver: &Arc<Deliver>,
) -> Result<(), Error> {
    if deliver.points.is_empty() {
        return Ok(());
    }
    let interval = Duration::from_millis(config.publishing_interval_ms);
    let service = |what: &'static str| {
        move |e: opcua::types::Error| Error::Service {
            what: what.into(),
            status: e.status().to_string(),
        }
    };
    let subscription = session
        .create_subscription(interval, 60, 10, 0, 0, true, OnData(deliver.clone()))
        .await
        .map_err(service("create subscription"))?;
    #[allow(
        clippy::cast_precision_loss,
        reason = "milliseconds fit an f64 exactly"
    )]
    let sampling = config.publishing_interval_ms as f64;
    let items: Vec<MonitoredItemCreateRequest> = deliver
        .ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            Some(MonitoredItemCreateRequest {
                item_to_monitor: read_id(id.clone(), AttributeId::Value),
                monitoring_mode: MonitoringMode::Reporting,
                requested_parameters: MonitoringParameters {
                    client_handle: u32::try_from(i + 1).ok()?,
                    sampling_interval: sampling,
                    filter: ExtensionObject::null(),
                    queue_size: 10,
                    discard_oldest: true,
                },
            })
        })
        .collect();
    let created = session
        .create_monitored_items(subscription, TimestampsToReturn::Both, items)
        .await
        .map_err(service("create monitored items"))?;
    for (p, c) in deliver.points.iter().zip(&created) {
        if !c.result.status_code.is_good() {
            return Err(Error::UnknownNode {
                point: p.name.clone(),
                node: p.node.clone(),
                status: c.result.status_code.to_string(),
            });
        }
    }
    Ok(())
}

/// The children of `id` along hierarchical references, following continuation points.
async fn browse_children(
    session: &Session,
    id: &NodeId,
    node: &str,
) -> Result<Vec<BrowseEntry>, Error> {
    let service = |status: StatusCode| Error::Service {
        what: format!("browse {node}"),
        status: status.to_string(),
    };
    let description = BrowseDescription {
        node_id: id.clone(),
        browse_direction: BrowseDirection::Forward,
        reference_type_id: ReferenceTypeId::HierarchicalReferences.into(),
        include_subtypes: true,
        node_class_mask: 0,
        result_mask: BrowseResultMask::All as u32,
    };
    let mut refs = Vec::new();
    let mut result = session
        .browse(&[description], 0, None)
        .await
        .map_err(|e| service(e.status()))?
        .into_iter()
        .next()
        .ok_or_else(|| service(StatusCode::BadUnexpectedError))?;
    loop {
        if !result.status_code.is_good() {
            return Err(service(result.status_code));
        }
        refs.extend(result.references.take().into_iter().flatten());
        if result.continuation_point.is_null_or_empty() {
            break;
        }
        result = session
            .browse_next(false, &[result.continuation_point.clone()])
            .await
            .map_err(|e| service(e.status()))?
            .into_iter()
            .next()
            .ok_or_else(|| service(StatusCode::BadUnexpectedError))?;
    }
    let ids: Vec<NodeId> = refs.iter().map(|r| r.node_id.node_id.clone()).collect();
    let variables: Vec<usize> = (0..refs.len())
        .filter(|&i| refs[i].node_class == NodeClass::Variable)
        .collect();
    let reads: Vec<ReadValueId> = variables
        .iter()
        .map(|&i| read_id(ids[i].clone(), AttributeId::DataType))
        .collect();
    let types = if reads.is_empty() {
        Vec::new()
    } else {
        session
            .read(&reads, TimestampsToReturn::Neither, 0.0)
            .await
            .map_err(|e| service(e.status()))?
    };
    let var_ids: Vec<NodeId> = variables.iter().map(|&i| ids[i].clone()).collect();
    let units = engineering_units(session, &var_ids).await?;
    let mut extra = vec![(None, None); refs.len()];
    for ((&i, dv), eu) in variables.iter().zip(&types).zip(units) {
        let data_type = match &dv.value {
            Some(Variant::NodeId(t)) => Some(match NodeType::from_data_type(t) {
                NodeType::Other => t.to_string(),
                known => format!("{known:?}"),
            }),
            _ => None,
        };
        extra[i] = (data_type, eu.and_then(|eu| convert::unit_of_eu(&eu).ok()));
    }
    Ok(refs
        .into_iter()
        .zip(extra)
        .map(|(r, (data_type, unit))| BrowseEntry {
            node_id: r.node_id.node_id.to_string(),
            browse_name: format!(
                "{}:{}",
                r.browse_name.namespace_index,
                r.browse_name.name.as_ref()
            ),
            display_name: r.display_name.text.as_ref().to_owned(),
            node_class: format!("{:?}", r.node_class),
            data_type,
            unit,
        })
        .collect())
}
