//! The gateway's configuration: which server, how to log in, and which nodes feed which
//! points. Plain serde data; [`GatewayConfig::from_toml_file`] loads it with errors that
//! name the file, line, column and field.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use opcua::types::NodeId;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Error;
use crate::Unit;
use crate::toml_file::Source;

/// The security policy of the endpoint the gateway connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SecurityPolicy {
    /// No signing, no encryption (use with [`SecurityMode::None`]).
    #[default]
    None,
    /// `Basic256Sha256`.
    Basic256Sha256,
    /// `Aes128_Sha256_RsaOaep`.
    #[serde(rename = "Aes128_Sha256_RsaOaep")]
    Aes128Sha256RsaOaep,
    /// `Aes256_Sha256_RsaPss`.
    #[serde(rename = "Aes256_Sha256_RsaPss")]
    Aes256Sha256RsaPss,
}

impl SecurityPolicy {
    /// The policy's name as OPC UA writes it (the last part of its URI).
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityPolicy::None => "None",
            SecurityPolicy::Basic256Sha256 => "Basic256Sha256",
            SecurityPolicy::Aes128Sha256RsaOaep => "Aes128_Sha256_RsaOaep",
            SecurityPolicy::Aes256Sha256RsaPss => "Aes256_Sha256_RsaPss",
        }
    }

    pub(super) fn to_opcua(self) -> opcua::crypto::SecurityPolicy {
        use opcua::crypto::SecurityPolicy as P;
        match self {
            SecurityPolicy::None => P::None,
            SecurityPolicy::Basic256Sha256 => P::Basic256Sha256,
            SecurityPolicy::Aes128Sha256RsaOaep => P::Aes128Sha256RsaOaep,
            SecurityPolicy::Aes256Sha256RsaPss => P::Aes256Sha256RsaPss,
        }
    }
}

/// The message security mode of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    /// Neither signed nor encrypted (only with [`SecurityPolicy::None`]).
    #[default]
    None,
    /// Signed.
    Sign,
    /// Signed and encrypted.
    SignAndEncrypt,
}

impl SecurityMode {
    pub(super) fn to_opcua(self) -> opcua::types::MessageSecurityMode {
        use opcua::types::MessageSecurityMode as M;
        match self {
            SecurityMode::None => M::None,
            SecurityMode::Sign => M::Sign,
            SecurityMode::SignAndEncrypt => M::SignAndEncrypt,
        }
    }
}

/// A username/password login; without one the gateway logs in anonymously.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user name.
    pub name: String,
    /// The password (never logged).
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("name", &self.name)
            .field("password", &"****")
            .finish()
    }
}

/// One node of the external server feeding one of our points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeMapping {
    /// The node: a node id in OPC UA's string form (`ns=2;s=Boiler.T`, `ns=3;i=1001`) or a
    /// browse path from the Root folder, `/`-separated qualified names
    /// (`/Objects/2:Boiler/2:T`; a name without `N:` is in namespace 0). A browse path is
    /// resolved at connection time.
    pub node: String,
    /// Our point name, `device/service`.
    pub point: String,
    /// The unit of the point; when absent, taken from the node's `EngineeringUnits`
    /// property (its UNECE code), or dimensionless when the node has none.
    #[serde(default)]
    pub unit: Option<Unit>,
    /// Multiplies the server's numbers (and divides a setpoint written back); e.g. `0.001`
    /// for a node in Wh feeding a point in kWh. Not for bool or text nodes.
    #[serde(default)]
    pub scale: Option<f64>,
}

impl NodeMapping {
    /// A mapping of `node` to `point` with the unit from the node and no scale.
    pub fn new(node: impl Into<String>, point: impl Into<String>) -> NodeMapping {
        NodeMapping {
            node: node.into(),
            point: point.into(),
            unit: None,
            scale: None,
        }
    }

    /// With this unit (instead of the node's `EngineeringUnits`).
    pub fn with_unit(mut self, unit: Unit) -> NodeMapping {
        self.unit = Some(unit);
        self
    }

    /// With this scale.
    pub fn with_scale(mut self, scale: f64) -> NodeMapping {
        self.scale = Some(scale);
        self
    }
}

/// Where a node is: its id, or a browse path resolved on the server.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum NodeRef {
    Id(NodeId),
    /// `(namespace index, name)` from the Root folder.
    Path(Vec<(u16, String)>),
}

impl NodeRef {
    pub(super) fn parse(s: &str) -> Result<NodeRef, String> {
        if let Some(path) = s.strip_prefix('/') {
            let mut segments = Vec::new();
            for seg in path.split('/') {
                let (ns, name) = match seg.split_once(':') {
                    Some((ns, name))
                        if !ns.is_empty() && ns.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        let ns = ns
                            .parse::<u16>()
                            .map_err(|_| format!("namespace index {ns:?} is not a u16"))?;
                        (ns, name)
                    }
                    _ => (0, seg),
                };
                if name.is_empty() {
                    return Err(format!(
                        "browse path {s:?} has an empty name (expected /NS:Name/NS:Name..)"
                    ));
                }
                segments.push((ns, name.to_owned()));
            }
            Ok(NodeRef::Path(segments))
        } else {
            NodeId::from_str(s)
                .map(NodeRef::Id)
                .map_err(|_| {
                    format!(
                        "expected a node id such as \"ns=2;s=Boiler.T\" or a browse path such as \"/Objects/2:Boiler/2:T\", found {s:?}"
                    )
                })
        }
    }
}

/// The gateway's configuration (TOML: [`GatewayConfig::from_toml_file`]).
///
/// ```toml
/// endpoint = "opc.tcp://192.168.1.30:4840/"
/// security_policy = "Basic256Sha256"      # None (default), Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss
/// security_mode = "sign_and_encrypt"      # none (default), sign, sign_and_encrypt
/// pki_dir = "/var/lib/emkit/gateway-pki"  # own/, private/, trusted/, rejected/
/// trust_server_certs = false              # true trusts any server certificate (tests only)
/// publishing_interval_ms = 1000
///
/// [user]                                  # absent: anonymous
/// name = "emkit"
/// password = "secret"
///
/// [[node]]
/// node = "ns=2;s=Boiler.T"
/// point = "boiler/t_supply"               # unit from the node's EngineeringUnits
///
/// [[node]]
/// node = "/Objects/2:Meter/2:Energy"
/// point = "main/e_import"
/// unit = "kWh"
/// scale = 0.001                           # the node counts Wh
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The server's endpoint URL, `opc.tcp://HOST:PORT/PATH`.
    pub endpoint: String,
    /// The security policy of the endpoint to use.
    #[serde(default)]
    pub security_policy: SecurityPolicy,
    /// The message security mode of the endpoint to use.
    #[serde(default)]
    pub security_mode: SecurityMode,
    /// The login; `None` is anonymous.
    #[serde(default)]
    pub user: Option<Login>,
    /// The PKI folder: the gateway's own certificate (`own/cert.der`, created at first
    /// connection when security is on), its key (`private/private.pem`), and server
    /// certificates in `trusted/` and `rejected/`. Relative to the working directory when
    /// relative.
    pub pki_dir: PathBuf,
    /// Trust every server certificate (stored in `trusted/` at first contact); otherwise a
    /// server's certificate must be moved from `rejected/` to `trusted/` first.
    #[serde(default)]
    pub trust_server_certs: bool,
    /// The gateway's application URI (also in its certificate).
    #[serde(default = "default_application_uri")]
    pub application_uri: String,
    /// How often the server sends changes, in milliseconds (also the sampling interval).
    #[serde(default = "default_publishing_interval_ms")]
    pub publishing_interval_ms: u64,
    /// First wait before reconnecting, in milliseconds; doubled after every failed attempt.
    #[serde(default = "default_reconnect_initial_ms")]
    pub reconnect_initial_ms: u64,
    /// Longest wait between reconnection attempts, in milliseconds.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// How often the session is checked by reading the server's state, in milliseconds;
    /// two failed checks count as a lost connection (a network that drops packets
    /// without closing the connection).
    #[serde(default = "default_keep_alive_ms")]
    pub keep_alive_ms: u64,
    /// How long [`super::Gateway::connect`] and each request may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The nodes and the points they feed (`[[node]]` tables).
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeMapping>,
}

fn default_application_uri() -> String {
    "urn:emkit:opcua-bridge:gateway".to_owned()
}
fn default_publishing_interval_ms() -> u64 {
    1000
}
fn default_reconnect_initial_ms() -> u64 {
    500
}
fn default_reconnect_max_ms() -> u64 {
    10_000
}
fn default_keep_alive_ms() -> u64 {
    5000
}
fn default_timeout_ms() -> u64 {
    10_000
}

/// A field of the configuration a check failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Endpoint,
    SecurityMode,
    PublishingInterval,
    Reconnect,
    Node(usize, NodeField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeField {
    Node,
    Point,
    Scale,
}

impl Field {
    fn path(self) -> String {
        match self {
            Field::Endpoint => "endpoint".into(),
            Field::SecurityMode => "security_mode".into(),
            Field::PublishingInterval => "publishing_interval_ms".into(),
            Field::Reconnect => "reconnect_max_ms".into(),
            Field::Node(i, f) => format!(
                "node[{i}].{}",
                match f {
                    NodeField::Node => "node",
                    NodeField::Point => "point",
                    NodeField::Scale => "scale",
                }
            ),
        }
    }
}

/// Spans of the fields the consistency checks name, from a second pass over the file.
#[derive(Deserialize)]
struct Spans {
    endpoint: Option<Spanned<toml::Value>>,
    security_mode: Option<Spanned<toml::Value>>,
    publishing_interval_ms: Option<Spanned<toml::Value>>,
    reconnect_max_ms: Option<Spanned<toml::Value>>,
    #[serde(default)]
    node: Vec<Spanned<NodeSpans>>,
}

#[derive(Deserialize)]
struct NodeSpans {
    node: Option<Spanned<toml::Value>>,
    point: Option<Spanned<toml::Value>>,
    scale: Option<Spanned<toml::Value>>,
}

impl Spans {
    fn of(&self, field: Field) -> Option<std::ops::Range<usize>> {
        let top = |v: &Option<Spanned<toml::Value>>| v.as_ref().map(Spanned::span);
        match field {
            Field::Endpoint => top(&self.endpoint),
            Field::SecurityMode => top(&self.security_mode),
            Field::PublishingInterval => top(&self.publishing_interval_ms),
            Field::Reconnect => top(&self.reconnect_max_ms),
            Field::Node(i, f) => {
                let table = self.node.get(i)?;
                let inner = table.get_ref();
                let v = match f {
                    NodeField::Node => &inner.node,
                    NodeField::Point => &inner.point,
                    NodeField::Scale => &inner.scale,
                };
                top(v).or_else(|| Some(table.span()))
            }
        }
    }
}

impl GatewayConfig {
    /// A configuration for `endpoint` with no security, anonymous, the PKI folder
    /// `pki_dir`, the defaults above and no nodes.
    pub fn new(endpoint: impl Into<String>, pki_dir: impl Into<PathBuf>) -> GatewayConfig {
        GatewayConfig {
            endpoint: endpoint.into(),
            security_policy: SecurityPolicy::None,
            security_mode: SecurityMode::None,
            user: None,
            pki_dir: pki_dir.into(),
            trust_server_certs: false,
            application_uri: default_application_uri(),
            publishing_interval_ms: default_publishing_interval_ms(),
            reconnect_initial_ms: default_reconnect_initial_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            keep_alive_ms: default_keep_alive_ms(),
            timeout_ms: default_timeout_ms(),
            nodes: Vec::new(),
        }
    }

    /// With this node mapping added.
    pub fn with_node(mut self, mapping: NodeMapping) -> GatewayConfig {
        self.nodes.push(mapping);
        self
    }

    /// Loads a TOML file (the shape above).
    ///
    /// ```
    /// use opcua_bridge::client::{Error, GatewayConfig};
    ///
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let path = dir.path().join("gateway.toml");
    /// std::fs::write(&path, "endpoint = \"opc.tcp://10.0.0.5:4840/\"\npki_dir = \"pki\"\ncolour = 1\n")
    ///     .map_err(|e| e.to_string())?;
    /// match GatewayConfig::from_toml_file(&path) {
    ///     Err(e @ Error::InvalidFile { .. }) => {
    ///         // "/tmp/.../gateway.toml:3:1: colour: unknown field `colour`, expected one of ..."
    ///         assert!(e.to_string().contains("gateway.toml:3:1: colour: unknown field"), "{e}");
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; [`Error::InvalidFile`] with file, line, column
    /// and field when it is malformed or inconsistent.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<GatewayConfig, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        GatewayConfig::from_toml_str(path, &text)
    }

    /// Loads TOML text; `file` names it in errors.
    ///
    /// ```
    /// use opcua_bridge::client::{Error, GatewayConfig, SecurityMode};
    /// use opcua_bridge::Unit;
    ///
    /// let text = r#"
    /// endpoint = "opc.tcp://127.0.0.1:4840/"
    /// pki_dir = "pki"
    /// [[node]]
    /// node = "ns=2;s=Meter.E"
    /// point = "main/e_import"
    /// unit = "kWh"
    /// scale = 0.001
    /// "#;
    /// let config = GatewayConfig::from_toml_str("gateway.toml", text)?;
    /// assert_eq!(config.security_mode, SecurityMode::None);
    /// assert_eq!(config.nodes[0].unit, Some(Unit::KWh));
    ///
    /// let bad = text.replace("main/e_import", "e_import");
    /// match GatewayConfig::from_toml_str("gateway.toml", &bad) {
    ///     Err(Error::InvalidFile { line, field, .. }) => {
    ///         assert_eq!((line, field.as_str()), (6, "node[0].point"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidFile`] with file, line, column and field.
    pub fn from_toml_str(file: impl AsRef<Path>, text: &str) -> Result<GatewayConfig, Error> {
        let src = Source::new(file.as_ref(), text);
        let config: GatewayConfig = src.parse()?;
        if let Err((field, message)) = config.check() {
            let spans: Spans = src.parse()?;
            let span = spans.of(field).unwrap_or(0..0);
            return Err(src.at(span, field.path(), message).into());
        }
        Ok(config)
    }

    /// Checks what serde cannot: the endpoint URL, the security policy and mode together,
    /// node ids and browse paths, point names (`device/service`, each once) and scales.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        self.check()
            .map_err(|(field, message)| Error::InvalidConfig {
                field: field.path(),
                message,
            })
    }

    fn check(&self) -> Result<(), (Field, String)> {
        let rest = self.endpoint.strip_prefix("opc.tcp://").ok_or_else(|| {
            (
                Field::Endpoint,
                format!(
                    "expected an opc.tcp://HOST:PORT/ URL, found {:?}",
                    self.endpoint
                ),
            )
        })?;
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with(':') {
            return Err((Field::Endpoint, format!("no host in {:?}", self.endpoint)));
        }
        let none_policy = self.security_policy == SecurityPolicy::None;
        let none_mode = self.security_mode == SecurityMode::None;
        if none_policy != none_mode {
            return Err((
                Field::SecurityMode,
                format!(
                    "security policy {} goes with mode {}, found {:?}",
                    self.security_policy.as_str(),
                    if none_policy {
                        "none"
                    } else {
                        "sign or sign_and_encrypt"
                    },
                    self.security_mode
                ),
            ));
        }
        if self.publishing_interval_ms == 0 {
            return Err((
                Field::PublishingInterval,
                "expected a positive number of milliseconds, found 0".into(),
            ));
        }
        if self.reconnect_max_ms < self.reconnect_initial_ms {
            return Err((
                Field::Reconnect,
                format!(
                    "must not be below reconnect_initial_ms ({})",
                    self.reconnect_initial_ms
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.nodes.iter().enumerate() {
            NodeRef::parse(&m.node).map_err(|e| (Field::Node(i, NodeField::Node), e))?;
            check_point_name(&m.point).map_err(|e| (Field::Node(i, NodeField::Point), e))?;
            if !seen.insert(m.point.as_str()) {
                return Err((
                    Field::Node(i, NodeField::Point),
                    format!("point {:?} is fed by two nodes", m.point),
                ));
            }
            if let Some(s) = m.scale
                && !(s.is_finite() && s != 0.0)
            {
                return Err((
                    Field::Node(i, NodeField::Scale),
                    format!("expected a finite, non-zero factor, found {s}"),
                ));
            }
        }
        Ok(())
    }
}

/// `device/service`, both parts non-empty, without `#`, control characters or space at
/// either end (the point model's rule for names).
fn check_point_name(name: &str) -> Result<(), String> {
    let ok_part = |p: &str| {
        !p.is_empty() && !p.contains('#') && !p.chars().any(char::is_control) && p.trim() == p
    };
    match name.split_once('/') {
        Some((d, s)) if ok_part(d) && ok_part(s) && !s.contains('/') => Ok(()),
        _ => Err(format!(
            "expected a point name `device/service`, found {name:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
endpoint = "opc.tcp://plc.local:4840/"
security_policy = "Basic256Sha256"
security_mode = "sign_and_encrypt"
pki_dir = "/var/lib/emkit/pki"
publishing_interval_ms = 500

[user]
name = "emkit"
password = "secret"

[[node]]
node = "ns=2;s=Boiler.T"
point = "boiler/t"

[[node]]
node = "/Objects/2:Meter/2:Energy"
point = "main/e"
unit = "kWh"
scale = 0.001
"#;

    fn invalid(text: &str) -> (usize, usize, String, String) {
        match GatewayConfig::from_toml_str("gw.toml", text) {
            Err(Error::InvalidFile {
                file,
                line,
                column,
                field,
                message,
            }) => {
                assert_eq!(file, PathBuf::from("gw.toml"));
                (line, column, field, message)
            }
            other => panic!("expected InvalidFile, got {other:?}"),
        }
    }

    #[test]
    fn loads_a_full_file() -> Result<(), Error> {
        let c = GatewayConfig::from_toml_str("gw.toml", GOOD)?;
        assert_eq!(c.security_policy, SecurityPolicy::Basic256Sha256);
        assert_eq!(c.security_mode, SecurityMode::SignAndEncrypt);
        assert_eq!(c.user.as_ref().map(|u| u.name.as_str()), Some("emkit"));
        assert!(!format!("{:?}", c.user).contains("secret"));
        assert_eq!(c.publishing_interval_ms, 500);
        assert_eq!(c.reconnect_initial_ms, 500, "default");
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(c.nodes[0].unit, None);
        assert_eq!(c.nodes[1].unit, Some(Unit::KWh));
        assert_eq!(c.nodes[1].scale, Some(0.001));
        assert_eq!(
            NodeRef::parse(&c.nodes[1].node),
            Ok(NodeRef::Path(vec![
                (0, "Objects".into()),
                (2, "Meter".into()),
                (2, "Energy".into())
            ]))
        );
        assert_eq!(
            NodeRef::parse(&c.nodes[0].node),
            Ok(NodeRef::Id(NodeId::new(2, "Boiler.T")))
        );
        Ok(())
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        // an unknown unit symbol: serde's error, at the value
        let (line, column, field, message) =
            invalid(&GOOD.replace("unit = \"kWh\"", "unit = \"kWatt\""));
        assert_eq!((line, column, field.as_str()), (19, 8, "node[1].unit"));
        assert!(message.contains("kWatt"), "{message}");
        // an unknown field
        let (line, _, field, message) = invalid(&GOOD.replace("scale =", "factor ="));
        assert_eq!((line, field.as_str()), (20, "node[1].factor"));
        assert!(message.contains("factor"), "{message}");
        // a missing field
        let (_, _, field, message) =
            invalid(&GOOD.replace("pki_dir = \"/var/lib/emkit/pki\"\n", ""));
        assert_eq!(field, "(file)");
        assert!(message.contains("pki_dir"), "{message}");
        // consistency checks point at the field
        let (line, column, field, message) =
            invalid(&GOOD.replace("ns=2;s=Boiler.T", "ns=two;s=Boiler.T"));
        assert_eq!((line, column, field.as_str()), (13, 8, "node[0].node"));
        assert!(message.contains("ns=two"), "{message}");
        let (line, _, field, _) = invalid(&GOOD.replace("\"boiler/t\"", "\"boiler\""));
        assert_eq!((line, field.as_str()), (14, "node[0].point"));
        let (line, _, field, message) = invalid(&GOOD.replace("\"boiler/t\"", "\"main/e\""));
        assert_eq!((line, field.as_str()), (18, "node[1].point"));
        assert!(message.contains("two nodes"), "{message}");
        let (line, _, field, _) = invalid(&GOOD.replace("scale = 0.001", "scale = 0.0"));
        assert_eq!((line, field.as_str()), (20, "node[1].scale"));
        let (line, _, field, _) = invalid(&GOOD.replace("\"sign_and_encrypt\"", "\"none\""));
        assert_eq!((line, field.as_str()), (4, "security_mode"));
        let (line, _, field, _) = invalid(&GOOD.replace("opc.tcp://plc", "http://plc"));
        assert_eq!((line, field.as_str()), (2, "endpoint"));
        let (_, _, field, _) = invalid(&GOOD.replace("/2:Meter/", "/2:Meter//"));
        assert_eq!(field, "node[1].node");
    }

    #[test]
    fn loads_files_and_names_them() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, GOOD)?;
        let c = GatewayConfig::from_toml_file(&path)?;
        assert_eq!(c.endpoint, "opc.tcp://plc.local:4840/");
        std::fs::write(
            &path,
            GOOD.replace("publishing_interval_ms = 500", "publishing_interval_ms = 0"),
        )?;
        match GatewayConfig::from_toml_file(&path) {
            Err(Error::InvalidFile {
                file, line, field, ..
            }) => {
                assert_eq!(
                    (file, line, field.as_str()),
                    (path.clone(), 6, "publishing_interval_ms")
                );
            }
            other => panic!("{other:?}"),
        }
        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            GatewayConfig::from_toml_file(&missing),
            Err(Error::Io { file, .. }) if file == missing
        ));
        Ok(())
    }

    #[test]
    fn validate_checks_configs_built_in_code() {
        let c = GatewayConfig::new("opc.tcp://127.0.0.1:4840/", "pki")
            .with_node(NodeMapping::new("ns=2;s=A", "dev/a"));
        assert_eq!(c.validate(), Ok(()));
        let bad = c.clone().with_node(NodeMapping::new("ns=2;s=B", "dev/a"));
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidConfig { field, .. }) if field == "node[1].point"
        ));
        let bad = c.with_node(NodeMapping::new("x", "dev/b").with_scale(f64::NAN));
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidConfig { field, .. }) if field == "node[1].node"
        ));
    }

    #[test]
    fn point_names() {
        assert!(check_point_name("a/b").is_ok());
        for bad in ["a", "/b", "a/", "a/b/c", "#a/b", " a/b", "a/b\n"] {
            assert!(check_point_name(bad).is_err(), "{bad:?}");
        }
    }
}
