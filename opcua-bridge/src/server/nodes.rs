//! The node manager of the point tree: async-opcua's in-memory address space, with a write
//! path of our own so that the write handler learns the user and may take its time (the
//! address space is not locked while it runs).

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use chrono::Utc;
use opcua::server::address_space::AddressSpace;
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{
    InMemoryNodeManagerImpl, InMemoryNodeManagerImplBuilder,
};
use opcua::server::node_manager::{RequestContext, ServerContext, WriteNode};
use opcua::sync::RwLock;
use opcua::types::{AttributeId, Identifier, NodeClass, StatusCode, Variant};
use tracing::debug;

use super::{Shared, WriteHandler, WriteRequest, user_name};
use crate::model::{Access, PointValue, Update, ValueKind};

/// Builds [`Points`] and registers its namespace.
pub(super) struct PointsBuilder {
    pub(super) namespace_uri: String,
    pub(super) handler: Option<Arc<dyn WriteHandler>>,
}

impl InMemoryNodeManagerImplBuilder for PointsBuilder {
    type Impl = Points;

    fn build(self, context: ServerContext, address_space: &mut AddressSpace) -> Points {
        let index = context
            .type_tree
            .write()
            .namespaces_mut()
            .add_namespace(&self.namespace_uri);
        address_space.add_namespace(&self.namespace_uri, index);
        Points {
            namespace: NamespaceMetadata {
                namespace_uri: self.namespace_uri,
                namespace_index: index,
                ..Default::default()
            },
            handler: self.handler,
            shared: OnceLock::new(),
        }
    }
}

/// The node manager's own part: reads, browsing and subscriptions are async-opcua's
/// in-memory defaults; writes are ours.
pub(super) struct Points {
    namespace: NamespaceMetadata,
    handler: Option<Arc<dyn WriteHandler>>,
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
    /// The point's own checks, then the handler's decision.
    async fn decide(
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
