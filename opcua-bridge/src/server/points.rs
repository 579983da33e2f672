//! The points' own node manager: every point variable and its `EURange` and
//! `EngineeringUnits` properties are answered from the [`PointTree`] instead of being stored
//! in async-opcua's in-memory address space.
//!
//! A materialised node costs about 2 KB there (the node, plus its references stored in both
//! directions with cloned string node ids), so 97 000 points with their properties took
//! about 400 MB. Here a point costs nothing beyond its entry in the tree: a request for a
//! point or property builds that one node on the fly, with the same builder as before, and
//! async-opcua's own attribute helpers answer from it, so clients see the same attributes,
//! browse names, references and status codes.
//!
//! This manager comes before the in-memory one (which keeps the site, area and device
//! folders and the alarm conditions, and owns the rest of the namespace): it owns the point
//! and property node ids, and adds the `HasComponent` references from each device folder
//! to its points when a folder is browsed.

use std::collections::VecDeque;
use std::sync::{OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use opcua::server::CreateMonitoredItem;
use opcua::server::address_space::{
    AccessLevel, DefaultTypeTree, NodeBase, NodeType, ReferenceDirection, Variable,
    VariableBuilder, read_node_value, user_access_level, validate_node_read, validate_node_write,
};
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::InMemoryNodeManagerImpl;
use opcua::server::node_manager::{
    AddReferenceResult, BrowseNode, BrowsePathItem, ExternalReference, ExternalReferenceRequest,
    HistoryNode, NodeManager, NodeMetadata, ReadNode, RequestContext, ServerContext, WriteNode,
    impl_translate_browse_paths_using_browse,
};
use opcua::types::{
    AttributeId, DataTypeId, ExtensionObject, Identifier, NodeClass, NodeId, QualifiedName,
    Range as UaRange, ReadRawModifiedDetails, ReferenceDescription, ReferenceTypeId, StatusCode,
    TimestampsToReturn, VariableTypeId, Variant,
};

use super::{Shared, data_value, eu_information};
use crate::model::{Access, FolderKind, Point, PointTree, ValueKind};

/// A point's property node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    EuRange,
    EngineeringUnits,
}

impl Property {
    const ALL: [Property; 2] = [Property::EuRange, Property::EngineeringUnits];

    fn name(self) -> &'static str {
        match self {
            Property::EuRange => "EURange",
            Property::EngineeringUnits => "EngineeringUnits",
        }
    }

    fn of(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The property's value when `point` has it.
    fn value(self, point: &Point) -> Option<(DataTypeId, Variant)> {
        match self {
            Property::EuRange => point.range.map(|r| {
                let range = UaRange {
                    low: r.low,
                    high: r.high,
                };
                (
                    DataTypeId::Range,
                    Variant::from(ExtensionObject::from_message(range)),
                )
            }),
            Property::EngineeringUnits => (point.kind == ValueKind::Number)
                .then(|| eu_information(point.unit))
                .flatten()
                .map(|eu| {
                    (
                        DataTypeId::EUInformation,
                        Variant::from(ExtensionObject::from_message(eu)),
                    )
                }),
        }
    }
}

/// What a node id of the namespace names, as far as this manager is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The point with this index in [`PointTree::points`].
    Point(usize),
    /// A property of that point.
    Property(usize, Property),
    /// The device folder with this index in [`PointTree::folders`] (owned by the in-memory
    /// manager; this one adds its points to a browse).
    Device(usize),
    /// An alarm condition node on the point with this index (owned by the in-memory
    /// manager; this one adds the inverse `HasCondition` reference to the point).
    Condition(usize),
}

fn classify(tree: &PointTree, ns: u16, id: &NodeId) -> Option<Target> {
    if id.namespace != ns {
        return None;
    }
    let Identifier::String(s) = &id.identifier else {
        return None;
    };
    let s = s.as_ref();
    if let Some(i) = tree.index_of(s) {
        return Some(Target::Point(i));
    }
    if let Some((owner, prop)) = s.rsplit_once('#')
        && let Some(i) = tree.index_of(owner)
        && let Some(prop) = Property::of(prop)
        && let Some(entry) = tree.points().get(i)
        && prop.value(&entry.point).is_some()
    {
        return Some(Target::Property(i, prop));
    }
    tree.folders()
        .iter()
        .position(|f| f.kind == FolderKind::Device && f.key == s)
        .map(Target::Device)
}

/// The point's variable node, as the address space held it.
pub(super) fn point_variable(ns: u16, name: &str, p: &Point, history: bool) -> Variable {
    let id = NodeId::new(ns, name.to_owned());
    let data_type = match p.kind {
        ValueKind::Number => DataTypeId::Double,
        ValueKind::Bool => DataTypeId::Boolean,
        ValueKind::Text => DataTypeId::String,
    };
    let mut level = match p.access {
        Access::Read => AccessLevel::CURRENT_READ,
        Access::ReadWrite => AccessLevel::CURRENT_READ | AccessLevel::CURRENT_WRITE,
    };
    if history {
        level |= AccessLevel::HISTORY_READ;
    }
    let mut var = VariableBuilder::new(
        &id,
        QualifiedName::new(ns, p.service.as_str()),
        p.service.as_str(),
    )
    .data_type(data_type)
    .value_rank(-1)
    .access_level(level)
    .user_access_level(level)
    .historizing(history)
    .description(p.description.as_str())
    .build();
    var.set_data_value(data_value(p));
    var
}

fn type_definition(p: &Point) -> VariableTypeId {
    match p.kind {
        ValueKind::Number => VariableTypeId::AnalogItemType,
        ValueKind::Bool | ValueKind::Text => VariableTypeId::DataItemType,
    }
}

fn property_id(ns: u16, owner: &str, prop: Property) -> NodeId {
    NodeId::new(ns, format!("{owner}#{name}", name = prop.name()))
}

/// A property's variable node, as the address space held it.
fn property_variable(ns: u16, owner: &str, p: &Point, prop: Property) -> Option<Variable> {
    let (data_type, value) = prop.value(p)?;
    let id = property_id(ns, owner, prop);
    let name = prop.name();
    Some(
        VariableBuilder::new(&id, QualifiedName::new(0, name), name)
            .data_type(data_type)
            .value_rank(-1)
            .access_level(AccessLevel::CURRENT_READ)
            .user_access_level(AccessLevel::CURRENT_READ)
            .value(value)
            .build(),
    )
}

fn reference_to(
    var: &Variable,
    reference_type: ReferenceTypeId,
    forward: bool,
    type_def: VariableTypeId,
) -> ReferenceDescription {
    ReferenceDescription {
        reference_type_id: reference_type.into(),
        is_forward: forward,
        node_id: var.node_id().clone().into(),
        browse_name: var.browse_name().clone(),
        display_name: var.display_name().clone(),
        node_class: NodeClass::Variable,
        type_definition: NodeId::from(type_def).into(),
    }
}

/// The references of a browse that did not fit, for BrowseNext.
struct Continuation {
    references: VecDeque<ReferenceDescription>,
}

/// The node manager of the points (see the module's documentation).
pub(super) struct PointNodes {
    /// Whether points are historizing (a history source was given).
    history: bool,
    /// Set once the bridge exists.
    pub(super) shared: OnceLock<Weak<Shared>>,
}

impl PointNodes {
    pub(super) fn new(history: bool) -> PointNodes {
        PointNodes {
            history,
            shared: OnceLock::new(),
        }
    }

    fn shared(&self) -> Option<std::sync::Arc<Shared>> {
        self.shared.get().and_then(Weak::upgrade)
    }

    /// The node `id` names, built from the tree (`None` when it is not one of ours).
    fn node(&self, shared: &Shared, id: &NodeId) -> Option<NodeType> {
        let tree = shared.tree.lock().unwrap_or_else(PoisonError::into_inner);
        let var = match classify(&tree, shared.ns, id)? {
            Target::Point(i) => {
                let e = tree.points().get(i)?;
                point_variable(shared.ns, &e.name, &e.point, self.history)
            }
            Target::Property(i, prop) => {
                let e = tree.points().get(i)?;
                property_variable(shared.ns, &e.name, &e.point, prop)?
            }
            Target::Device(_) | Target::Condition(_) => return None,
        };
        Some(NodeType::Variable(Box::new(var)))
    }

    /// The references of one node to browse: ours, in browse order, with the external
    /// ones (types, the device folder) pushed onto the node.
    fn references(
        &self,
        shared: &Shared,
        node: &mut BrowseNode,
    ) -> Option<Vec<ReferenceDescription>> {
        // Lock order: tree, then conditions.
        let tree = shared.tree.lock().unwrap_or_else(PoisonError::into_inner);
        let conditions = shared
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ns = shared.ns;
        let forward = node.allows_forward();
        let inverse = node.allows_inverse();
        let mut out = Vec::new();
        let target = classify(&tree, ns, node.node_id()).or_else(|| {
            conditions
                .target_of(node.node_id())
                .and_then(|t| tree.index_of(t))
                .map(Target::Condition)
        })?;
        match target {
            Target::Point(i) => {
                let e = tree.points().get(i)?;
                if forward {
                    node.push_external_reference(ExternalReference::new(
                        NodeId::from(type_definition(&e.point)).into(),
                        ReferenceTypeId::HasTypeDefinition.into(),
                        ReferenceDirection::Forward,
                    ));
                    for prop in Property::ALL {
                        if let Some(var) = property_variable(ns, &e.name, &e.point, prop) {
                            out.push(reference_to(
                                &var,
                                ReferenceTypeId::HasProperty,
                                true,
                                VariableTypeId::PropertyType,
                            ));
                        }
                    }
                }
                if forward {
                    for condition in conditions.nodes_of(&e.name) {
                        node.push_external_reference(ExternalReference::new(
                            condition.clone().into(),
                            ReferenceTypeId::HasCondition.into(),
                            ReferenceDirection::Forward,
                        ));
                    }
                }
                if inverse && let Some(device) = tree.folders().get(e.folder) {
                    node.push_external_reference(ExternalReference::new(
                        NodeId::new(ns, device.key.clone()).into(),
                        ReferenceTypeId::HasComponent.into(),
                        ReferenceDirection::Inverse,
                    ));
                }
            }
            Target::Property(i, _) => {
                let e = tree.points().get(i)?;
                if forward {
                    node.push_external_reference(ExternalReference::new(
                        NodeId::from(VariableTypeId::PropertyType).into(),
                        ReferenceTypeId::HasTypeDefinition.into(),
                        ReferenceDirection::Forward,
                    ));
                }
                if inverse {
                    let var = point_variable(ns, &e.name, &e.point, self.history);
                    out.push(reference_to(
                        &var,
                        ReferenceTypeId::HasProperty,
                        false,
                        type_definition(&e.point),
                    ));
                }
            }
            Target::Condition(i) => {
                let e = tree.points().get(i)?;
                if inverse {
                    let var = point_variable(ns, &e.name, &e.point, self.history);
                    out.push(reference_to(
                        &var,
                        ReferenceTypeId::HasCondition,
                        false,
                        type_definition(&e.point),
                    ));
                }
            }
            Target::Device(d) => {
                if forward {
                    for e in tree.points().iter().filter(|e| e.folder == d) {
                        let var = point_variable(ns, &e.name, &e.point, self.history);
                        out.push(reference_to(
                            &var,
                            ReferenceTypeId::HasComponent,
                            true,
                            type_definition(&e.point),
                        ));
                    }
                }
            }
        }
        Some(out)
    }
}

#[async_trait]
impl NodeManager for PointNodes {
    fn owns_node(&self, id: &NodeId) -> bool {
        let Some(shared) = self.shared() else {
            return false;
        };
        let tree = shared.tree.lock().unwrap_or_else(PoisonError::into_inner);
        matches!(
            classify(&tree, shared.ns, id),
            Some(Target::Point(_) | Target::Property(..))
        )
    }

    fn name(&self) -> &str {
        "emkit point variables"
    }

    fn namespaces_for_user(&self, _context: &RequestContext) -> Vec<NamespaceMetadata> {
        Vec::new()
    }

    async fn init(&self, _type_tree: &mut DefaultTypeTree, _context: ServerContext) {}

    async fn resolve_external_references(
        &self,
        _context: &RequestContext,
        items: &mut [&mut ExternalReferenceRequest],
    ) {
        let Some(shared) = self.shared() else {
            return;
        };
        for item in items.iter_mut() {
            let Some(NodeType::Variable(var)) = self.node(&shared, item.node_id()) else {
                continue;
            };
            let type_def = {
                let tree = shared.tree.lock().unwrap_or_else(PoisonError::into_inner);
                match classify(&tree, shared.ns, item.node_id()) {
                    Some(Target::Point(i)) => tree
                        .points()
                        .get(i)
                        .map_or(VariableTypeId::DataItemType, |e| type_definition(&e.point)),
                    _ => VariableTypeId::PropertyType,
                }
            };
            item.set(NodeMetadata {
                node_id: var.node_id().clone().into(),
                type_definition: NodeId::from(type_def).into(),
                browse_name: var.browse_name().clone(),
                display_name: var.display_name().clone(),
                node_class: NodeClass::Variable,
            });
        }
    }

    async fn read(
        &self,
        context: &RequestContext,
        max_age: f64,
        timestamps_to_return: TimestampsToReturn,
        nodes_to_read: &mut [&mut ReadNode],
    ) -> Result<(), StatusCode> {
        let shared = self.shared().ok_or(StatusCode::BadServerHalted)?;
        for read in nodes_to_read.iter_mut() {
            match self.node(&shared, &read.node().node_id) {
                Some(node) => read.set_result(read_node_value(
                    &node,
                    context,
                    read.node(),
                    max_age,
                    timestamps_to_return,
                )),
                None => read.set_error(StatusCode::BadNodeIdUnknown),
            }
        }
        Ok(())
    }

    async fn browse(
        &self,
        context: &RequestContext,
        nodes_to_browse: &mut [BrowseNode],
    ) -> Result<(), StatusCode> {
        let shared = self.shared().ok_or(StatusCode::BadServerHalted)?;
        let type_tree = context.get_type_tree_for_user();
        for node in nodes_to_browse.iter_mut() {
            let pending = match node.take_continuation_point::<Continuation>() {
                Some(c) => c.references,
                None => match self.references(&shared, node) {
                    Some(refs) => {
                        node.set_status(StatusCode::Good);
                        refs.into()
                    }
                    None => continue,
                },
            };
            let mut rest = VecDeque::new();
            for r in pending {
                if let AddReferenceResult::Full(r) = node.add(type_tree.get(), r) {
                    rest.push_back(r);
                }
            }
            if !rest.is_empty() {
                node.set_next_continuation_point(Box::new(Continuation { references: rest }));
            }
        }
        Ok(())
    }

    async fn translate_browse_paths_to_node_ids(
        &self,
        context: &RequestContext,
        nodes: &mut [&mut BrowsePathItem],
    ) -> Result<(), StatusCode> {
        impl_translate_browse_paths_using_browse(self, context, nodes).await
    }

    async fn create_monitored_items(
        &self,
        context: &RequestContext,
        items: &mut [&mut CreateMonitoredItem],
    ) -> Result<(), StatusCode> {
        let shared = self.shared().ok_or(StatusCode::BadServerHalted)?;
        for item in items.iter_mut() {
            let Some(node) = self.node(&shared, &item.item_to_monitor().node_id) else {
                item.set_status(StatusCode::BadNodeIdUnknown);
                continue;
            };
            let attribute = item.item_to_monitor().attribute_id;
            if attribute != AttributeId::Value {
                if let Err(e) = validate_node_read(&node, context, item.item_to_monitor()) {
                    item.set_status(e);
                    continue;
                }
                if attribute == AttributeId::EventNotifier {
                    item.set_status(StatusCode::BadAttributeIdInvalid);
                    continue;
                }
            }
            let timestamps = if attribute == AttributeId::Value {
                TimestampsToReturn::Both
            } else {
                item.timestamps_to_return()
            };
            let value = read_node_value(&node, context, item.item_to_monitor(), 0.0, timestamps);
            if value.status() != StatusCode::BadAttributeIdInvalid {
                item.set_initial_value(value);
            }
            item.set_status(StatusCode::Good);
        }
        Ok(())
    }

    /// Checks each write (node, attribute, the user's access level, data type), then the
    /// point's kind and range and the caller's handler ([`super::nodes`]); accepted values
    /// are applied as one batch.
    async fn write(
        &self,
        context: &RequestContext,
        nodes_to_write: &mut [&mut WriteNode],
    ) -> Result<(), StatusCode> {
        let shared = self.shared().ok_or(StatusCode::BadServerHalted)?;
        let mut pending = Vec::new();
        {
            let type_tree = context.get_type_tree_for_user();
            for (i, w) in nodes_to_write.iter_mut().enumerate() {
                let Some(node) = self.node(&shared, &w.value().node_id) else {
                    w.set_status(StatusCode::BadNodeIdUnknown);
                    continue;
                };
                // A point that is not writable is so for everyone (BadNotWritable); a
                // writable one refuses read-only users (BadUserAccessDenied).
                if w.value().attribute_id == AttributeId::Value
                    && let NodeType::Variable(var) = &node
                    && !var.access_level().contains(AccessLevel::CURRENT_WRITE)
                {
                    w.set_status(StatusCode::BadNotWritable);
                    continue;
                }
                let status = match validate_node_write(&node, context, w.value(), type_tree.get()) {
                    Err(status) => status,
                    Ok(()) if w.value().attribute_id != AttributeId::Value => {
                        StatusCode::BadNotWritable
                    }
                    Ok(()) if w.value().index_range.has_range() => StatusCode::BadWriteNotSupported,
                    Ok(()) => match (&w.value().node_id.identifier, &w.value().value.value) {
                        (Identifier::String(name), Some(v)) => {
                            pending.push((i, name.as_ref().to_owned(), v.clone()));
                            continue;
                        }
                        _ => StatusCode::BadNotWritable,
                    },
                };
                w.set_status(status);
            }
        }
        let user = super::user_name(&context.token);
        let inner = shared.manager.inner();
        let mut accepted = Vec::new();
        for (i, point, variant) in pending {
            let status = match inner.decide(&shared, point, variant, user.clone()).await {
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

    /// HistoryRead (raw) of points with `HistoryRead` in the user's access level, from the
    /// caller's source ([`super::nodes`]).
    async fn history_read_raw_modified(
        &self,
        context: &RequestContext,
        details: &ReadRawModifiedDetails,
        nodes: &mut [&mut HistoryNode],
        timestamps_to_return: TimestampsToReturn,
    ) -> Result<(), StatusCode> {
        let shared = self.shared().ok_or(StatusCode::BadServerHalted)?;
        let mut valid = Vec::with_capacity(nodes.len());
        for history_node in nodes.iter_mut() {
            let Some(node) = self.node(&shared, history_node.node_id()) else {
                history_node.set_status(StatusCode::BadNodeIdUnknown);
                continue;
            };
            if !user_access_level(context, &node).contains(AccessLevel::HISTORY_READ) {
                history_node.set_status(StatusCode::BadUserAccessDenied);
                continue;
            }
            valid.push(history_node);
        }
        shared
            .manager
            .inner()
            .history_read_raw_modified(context, details, &mut valid, timestamps_to_return)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Unit;
    use crate::model::{Device, Site};

    #[test]
    fn node_ids_name_points_properties_and_devices() {
        let site = Site::new("Plant").with_device(
            Device::new("main")
                .with_point(Point::number("e", Unit::KWh).with_range(0.0, 1.0))
                .with_point(Point::number("n", Unit::None)),
        );
        let tree = match PointTree::new(site) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let id = |s: &str| NodeId::new(2, s.to_owned());
        assert!(matches!(
            classify(&tree, 2, &id("main/e")),
            Some(Target::Point(_))
        ));
        assert!(matches!(
            classify(&tree, 2, &id("main/e#EURange")),
            Some(Target::Property(_, Property::EuRange))
        ));
        assert!(matches!(
            classify(&tree, 2, &id("main/e#EngineeringUnits")),
            Some(Target::Property(_, Property::EngineeringUnits))
        ));
        // No unit code, no range: no properties.
        assert_eq!(classify(&tree, 2, &id("main/n#EngineeringUnits")), None);
        assert_eq!(classify(&tree, 2, &id("main/n#EURange")), None);
        assert!(matches!(
            classify(&tree, 2, &id("main")),
            Some(Target::Device(_))
        ));
        assert_eq!(classify(&tree, 3, &id("main/e")), None);
        assert_eq!(classify(&tree, 2, &id("#site")), None);
    }
}
