//! The in-memory node manager of the tree's folders and alarm conditions: async-opcua's
//! in-memory address space, with write, method-call (`Acknowledge`) and history paths of
//! our own, so that the caller's handlers learn the user and may take their time (the
//! address space is not locked while they run). The points themselves are served by
//! [`super::points`], which uses this manager's write decision and history path.

use std::sync::{Arc, OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use chrono::Utc;
use opcua::server::ContinuationPoint;
use opcua::server::address_space::{AccessLevel, AddressSpace, NodeType};
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{
    InMemoryNodeManagerImpl, InMemoryNodeManagerImplBuilder,
};
use opcua::server::node_manager::{
    HistoryNode, MethodCall, RequestContext, ServerContext, WriteNode,
};
use opcua::sync::RwLock;
use opcua::types::{
    AttributeId, DataValue, DateTime as UaDateTime, HistoryData, Identifier, NodeClass, NodeId,
    ObjectTypeId, ReadRawModifiedDetails, StatusCode, TimestampsToReturn, Variant,
};
use tracing::debug;

use super::events::{self, AcknowledgeHandler};
use super::history::{HistoricValue, HistorySource, Window};
use super::{Shared, WriteHandler, WriteRequest, user_name, variant_of};
use crate::model::{Access, PointValue, Quality, Update, ValueKind};

/// Builds [`Points`] and registers its namespace.
pub(super) struct PointsBuilder {
    pub(super) namespace_uri: String,
    pub(super) handler: Option<Arc<dyn WriteHandler>>,
    pub(super) acknowledge: Option<Arc<dyn AcknowledgeHandler>>,
    pub(super) history: Option<Arc<dyn HistorySource>>,
}

impl InMemoryNodeManagerImplBuilder for PointsBuilder {
    type Impl = Points;

    fn build(self, context: ServerContext, address_space: &mut AddressSpace) -> Points {
        let mut type_tree = context.type_tree.write();
        let index = type_tree
            .namespaces_mut()
            .add_namespace(&self.namespace_uri);
        // The ConditionId select clause (NodeId attribute, empty browse path, ConditionType;
        // asyncua adds it to every condition subscription): async-opcua validates select
        // clauses against type properties and drops the ones it does not find, which would
        // shift the client's fields. Registering the empty path keeps the clause.
        type_tree.add_type_property(
            &NodeId::new(index, "#ConditionId"),
            &ObjectTypeId::ConditionType.into(),
            &[],
            NodeClass::Object,
        );
        drop(type_tree);
        address_space.add_namespace(&self.namespace_uri, index);
        Points {
            namespace: NamespaceMetadata {
                namespace_uri: self.namespace_uri,
                namespace_index: index,
                ..Default::default()
            },
            handler: self.handler,
            acknowledge: self.acknowledge,
            history: self.history,
            shared: OnceLock::new(),
        }
    }
}

/// The node manager's own part: reads, browsing and subscriptions are async-opcua's
/// in-memory defaults; writes, method calls and history reads are ours (the points'
/// manager calls [`Points::decide`] and the history path for point nodes).
pub(super) struct Points {
    namespace: NamespaceMetadata,
    handler: Option<Arc<dyn WriteHandler>>,
    acknowledge: Option<Arc<dyn AcknowledgeHandler>>,
    history: Option<Arc<dyn HistorySource>>,
    /// Set once the bridge exists (it needs the built node manager first).
    pub(super) shared: OnceLock<Weak<Shared>>,
}

#[async_trait]
impl InMemoryNodeManagerImpl for Points {
    async fn init(&self, _address_space: &mut AddressSpace, _context: ServerContext) {}

    fn name(&self) -> &str {
        "emkit points"
    }

    fn namespaces(&self) -> Vec<NamespaceMetadata> {
        vec![self.namespace.clone()]
    }

    /// Checks each write under the address space's lock (node, attribute, the user's access
    /// level, data type), then, without the lock, the point's kind and range and the
    /// caller's handler; accepted values are applied as one batch.
    async fn write(
        &self,
        context: &RequestContext,
        address_space: &RwLock<AddressSpace>,
        nodes_to_write: &mut [&mut WriteNode],
    ) -> Result<(), StatusCode> {
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return Err(StatusCode::BadServerHalted);
        };
        let pending = validate(context, address_space, nodes_to_write);
        let user = user_name(&context.token);
        let mut accepted = Vec::new();
        for (i, point, variant) in pending {
            let status = match self.decide(&shared, point, variant, user.clone()).await {
                Ok(update) => {
                    accepted.push(update);
                    StatusCode::Good
                }
                Err(status) => status,
            };
            if let Some(w) = nodes_to_write.get_mut(i) {
                w.set_status(status);
            }
        }
        if !accepted.is_empty() {
            shared.apply(accepted);
        }
        Ok(())
    }

    /// `Acknowledge` on a condition; async-opcua has checked that the method is a
    /// component of the object and the argument count.
    async fn call(
        &self,
        context: &RequestContext,
        _address_space: &RwLock<AddressSpace>,
        methods_to_call: &mut [&mut &mut MethodCall],
    ) -> Result<(), StatusCode> {
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return Err(StatusCode::BadServerHalted);
        };
        let user = user_name(&context.token);
        for call in methods_to_call.iter_mut() {
            if let Err(status) = self
                .acknowledge(context, &shared, call, user.as_deref())
                .await
            {
                call.set_status(status);
            } else {
                call.set_status(StatusCode::Good);
            }
        }
        Ok(())
    }

    /// HistoryRead (raw) from the caller's source; the nodes are known variables with
    /// `HistoryRead` in the user's access level (async-opcua checked).
    async fn history_read_raw_modified(
        &self,
        _context: &RequestContext,
        details: &ReadRawModifiedDetails,
        nodes: &mut [&mut &mut HistoryNode],
        timestamps_to_return: TimestampsToReturn,
    ) -> Result<(), StatusCode> {
        let Some(source) = &self.history else {
            return Err(StatusCode::BadHistoryOperationUnsupported);
        };
        if details.is_read_modified {
            return Err(StatusCode::BadHistoryOperationUnsupported);
        }
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return Err(StatusCode::BadServerHalted);
        };
        for node in nodes.iter_mut() {
            let status = match read_raw(
                &shared,
                source.as_ref(),
                details,
                node,
                timestamps_to_return,
            )
            .await
            {
                Ok(status) | Err(status) => status,
            };
            node.set_status(status);
        }
        Ok(())
    }
}

/// One node's page of a raw read: its values and, when there are more, a continuation
/// point.
async fn read_raw(
    shared: &Shared,
    source: &dyn HistorySource,
    details: &ReadRawModifiedDetails,
    node: &mut HistoryNode,
    timestamps_to_return: TimestampsToReturn,
) -> Result<StatusCode, StatusCode> {
    let Identifier::String(name) = &node.node_id().identifier else {
        return Err(StatusCode::BadNodeIdUnknown);
    };
    let name = name.as_ref().to_owned();
    if shared.with_point(&name, |_| ()).is_none() {
        return Err(StatusCode::BadNodeIdUnknown);
    }
    let window = match node.continuation_point() {
        Some(cp) => match cp.get::<Window>() {
            Some(w) if w.point == name => w.clone(),
            _ => return Err(StatusCode::BadContinuationPointInvalid),
        },
        None => Window::of_request(
            name,
            time_of(&details.start_time),
            time_of(&details.end_time),
            details.num_values_per_node,
        )?,
    };
    let values = source.read_raw(&window.query()).await.map_err(|e| {
        debug!(point = %window.point, %e, "history source refused");
        e.status_code()
    })?;
    let (page, next) = window.page(values);
    let empty = page.is_empty() && next.is_none();
    let data_values = page
        .into_iter()
        .map(|h| historic_data_value(h, timestamps_to_return))
        .collect();
    node.set_result(HistoryData {
        data_values: Some(data_values),
    });
    node.set_next_continuation_point(next.map(|w| ContinuationPoint::new(Box::new(w))));
    Ok(if empty {
        StatusCode::GoodNoData
    } else {
        StatusCode::Good
    })
}

/// A request time: `None` when unspecified (null or the minimum).
fn time_of(t: &UaDateTime) -> Option<chrono::DateTime<Utc>> {
    (!t.is_null()).then(|| t.as_chrono())
}

fn historic_data_value(h: HistoricValue, timestamps: TimestampsToReturn) -> DataValue {
    let status = match (&h.value, h.quality) {
        (_, Quality::BadCommunication) => StatusCode::BadCommunicationError,
        (None, _) => StatusCode::BadNoData,
        (Some(_), Quality::Uncertain) => StatusCode::Uncertain,
        (Some(_), Quality::Good) => StatusCode::Good,
    };
    let source = matches!(
        timestamps,
        TimestampsToReturn::Source | TimestampsToReturn::Both
    );
    DataValue {
        value: Some(variant_of(h.value.as_ref())),
        status: Some(status),
        source_timestamp: source.then(|| UaDateTime::from(h.source_time)),
        ..Default::default()
    }
}

/// The writes that pass async-opcua's checks: (index, point name, value). The others get
/// their status here.
fn validate(
    context: &RequestContext,
    address_space: &RwLock<AddressSpace>,
    nodes_to_write: &mut [&mut WriteNode],
) -> Vec<(usize, String, Variant)> {
    let mut space = address_space.write();
    let type_tree = context.type_tree.read();
    let mut pending = Vec::new();
    for (i, w) in nodes_to_write.iter_mut().enumerate() {
        // A point that is not writable is so for everyone (BadNotWritable); a writable one
        // refuses read-only users (BadUserAccessDenied, from async-opcua's check).
        if w.value().attribute_id == AttributeId::Value
            && let Some(NodeType::Variable(var)) = space.find(&w.value().node_id)
            && !var.access_level().contains(AccessLevel::CURRENT_WRITE)
        {
            w.set_status(StatusCode::BadNotWritable);
            continue;
        }
        let checked = space
            .validate_node_write(context, w.value(), &*type_tree)
            .map(|node| node.node_class());
        let status = match checked {
            Err(status) => status,
            Ok(class)
                if class != NodeClass::Variable || w.value().attribute_id != AttributeId::Value =>
            {
                StatusCode::BadNotWritable
            }
            Ok(_) if w.value().index_range.has_range() => StatusCode::BadWriteNotSupported,
            Ok(_) => match (&w.value().node_id.identifier, &w.value().value.value) {
                (Identifier::String(name), Some(v)) => {
                    pending.push((i, name.as_ref().to_owned(), v.clone()));
                    continue;
                }
                _ => StatusCode::BadNotWritable,
            },
        };
        w.set_status(status);
    }
    pending
}

impl Points {
    /// Checks and carries out one `Acknowledge` call.
    async fn acknowledge(
        &self,
        context: &RequestContext,
        shared: &Shared,
        call: &mut MethodCall,
        user: Option<&str>,
    ) -> Result<(), StatusCode> {
        if !events::is_acknowledge(call.object_id(), call.method_id()) {
            return Err(StatusCode::BadMethodInvalid);
        }
        let (event_id, comment) = match call.arguments() {
            [Variant::ByteString(id), Variant::LocalizedText(c)] => {
                (id.as_ref().to_vec(), c.text.as_ref().to_owned())
            }
            [id, comment] => {
                let ok = |good: bool| {
                    if good {
                        StatusCode::Good
                    } else {
                        StatusCode::BadTypeMismatch
                    }
                };
                let results = vec![
                    ok(matches!(id, Variant::ByteString(_))),
                    ok(matches!(comment, Variant::LocalizedText(_))),
                ];
                call.set_argument_error(results);
                return Err(StatusCode::BadInvalidArgument);
            }
            args if args.len() < 2 => return Err(StatusCode::BadArgumentsMissing),
            _ => return Err(StatusCode::BadTooManyArguments),
        };
        let user = match user {
            Some(u) if shared.is_operator(Some(u)) => u.to_owned(),
            _ => {
                debug!(?user, "acknowledgement refused: not an operator");
                return Err(StatusCode::BadUserAccessDenied);
            }
        };
        let pending = shared
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check_acknowledge(call.object_id(), &event_id, user, comment)?;
        let handler = self
            .acknowledge
            .as_ref()
            .ok_or(StatusCode::BadNotImplemented)?;
        if let Err(refusal) = handler.acknowledge(&pending.request).await {
            debug!(alarm = %pending.request.alarm, %refusal, "acknowledgement refused by the handler");
            return Err(refusal.status_code());
        }
        let emitted = shared
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .acknowledged(&pending, Utc::now());
        if let Some((event, notifier)) = emitted {
            events::notify(&shared.manager, &context.subscriptions, &event, &notifier);
        }
        Ok(())
    }

    /// The point's own checks, then the handler's decision (also for the points' node
    /// manager).
    pub(super) async fn decide(
        &self,
        shared: &Shared,
        point: String,
        variant: Variant,
        user: Option<String>,
    ) -> Result<Update, StatusCode> {
        let (kind, range, access) = shared
            .with_point(&point, |p| (p.kind, p.range, p.access))
            .ok_or(StatusCode::BadNodeIdUnknown)?;
        if access != Access::ReadWrite {
            return Err(StatusCode::BadNotWritable);
        }
        let value = match (kind, variant) {
            (ValueKind::Number, Variant::Double(x)) => PointValue::Number(x),
            (ValueKind::Bool, Variant::Boolean(b)) => PointValue::Bool(b),
            (ValueKind::Text, Variant::String(s)) => PointValue::Text(s.as_ref().to_owned()),
            _ => return Err(StatusCode::BadTypeMismatch),
        };
        if let (PointValue::Number(x), Some(r)) = (&value, range)
            && !r.contains(*x)
        {
            debug!(%point, x, "write refused: out of range");
            return Err(StatusCode::BadOutOfRange);
        }
        let handler = self.handler.as_ref().ok_or(StatusCode::BadNotWritable)?;
        let request = WriteRequest { point, value, user };
        if let Err(refusal) = handler.write(&request).await {
            debug!(point = %request.point, %refusal, "write refused by the handler");
            return Err(refusal.status_code());
        }
        Ok(Update::good(request.point, request.value, Utc::now()))
    }
}
