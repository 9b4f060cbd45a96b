//! CloudFormation stacks as kinko stores them: the stack, the template body it was deployed
//! with (dynamic references never resolved in it), its parameters, resources, events and change
//! sets. One record per stack, written with optimistic concurrency (`revision`).
//!
//! No secret is kept in it in plaintext: NoEcho parameter values and secret resource attributes
//! (an access key's `SecretAccessKey`) are sealed under the root key by the API layer
//! ([`Sealed`]; this crate never sees them open), and re-wrapped with the other root-sealed values
//! when the root key is rotated ([`Stack::visit_sealed`]).

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// One stack, deleted ones included (`ListStacks` shows them as `DELETE_COMPLETE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// `arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID`.
    pub stack_id: String,
    pub name: String,
    pub account_id: String,
    pub region: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub creation_time: Timestamp,
    #[serde(default)]
    pub last_updated_time: Option<Timestamp>,
    #[serde(default)]
    pub deletion_time: Option<Timestamp>,
    /// The template as the caller wrote it.
    pub template_body: String,
    #[serde(default)]
    pub parameters: Vec<StackParameter>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub resources: Vec<StackResource>,
    /// Newest last.
    #[serde(default)]
    pub events: Vec<StackEvent>,
    #[serde(default)]
    pub change_sets: Vec<ChangeSet>,
    #[serde(default)]
    pub outputs: Vec<StackOutput>,
    #[serde(default)]
    pub disable_rollback: bool,
    /// The export names the stack's template imports (`Fn::ImportValue`), as of its last
    /// operation: what `ListImports` lists and what keeps another stack from deleting or changing
    /// those exports. While an update runs, those of both templates.
    #[serde(default)]
    pub imports: Vec<String>,
    /// The operation running on the stack (while its status is `*_IN_PROGRESS`): what another
    /// node needs to finish it as the same caller when the node running it is gone.
    #[serde(default)]
    pub operation: Option<StackOperation>,
    /// Set by the store: 0 for a stack not yet written.
    #[serde(skip)]
    pub revision: i64,
}

impl Stack {
    /// The resource with this logical id.
    pub fn resource(&self, logical_id: &str) -> Option<&StackResource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// The resource with this logical id, to change.
    pub fn resource_mut(&mut self, logical_id: &str) -> Option<&mut StackResource> {
        self.resources.iter_mut().find(|r| r.logical_id == logical_id)
    }

    /// Whether the stack is deleted (kept for `ListStacks`, gone by name).
    pub fn is_deleted(&self) -> bool {
        self.status == "DELETE_COMPLETE"
    }

    /// Passes every value of the stack sealed under the root key to `f` with its name (what its
    /// associated data binds besides the stack id, see [`sealed_name`]): the stack's and its change
    /// sets' NoEcho parameters, its resources' secret attributes, and those of the deployment an
    /// update started from. `f` may replace the value (root key rotation).
    pub fn visit_sealed<E>(
        &mut self,
        f: &mut impl FnMut(&str, &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        for p in &mut self.parameters {
            p.visit_sealed(f)?;
        }
        for c in &mut self.change_sets {
            for p in &mut c.parameters {
                p.visit_sealed(f)?;
            }
        }
        for r in &mut self.resources {
            for (name, sealed) in &mut r.sealed_attributes {
                f(&sealed_name::attribute(&r.logical_id, name), &mut sealed.0)?;
            }
        }
        if let Some(previous) = self.operation.as_mut().and_then(|o| o.previous.as_mut()) {
            previous.visit_sealed(f)?;
        }
        Ok(())
    }
}

/// The names of a stack's sealed values: with the stack id, what each is sealed to (its
/// associated data), so a value moved to another place or stack does not open.
pub mod sealed_name {
    /// A NoEcho parameter's value.
    pub fn parameter(key: &str) -> String {
        format!("parameter/{key}")
    }

    /// A resource's secret attribute.
    pub fn attribute(logical_id: &str, attribute: &str) -> String {
        format!("resource/{logical_id}/{attribute}")
    }
}

/// Bytes sealed under the root key, stored as hex in the stack's JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ciphertext, but it stays out of logs all the same.
        f.write_str("Sealed([redacted])")
    }
}

impl Serialize for Sealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            out.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&out)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(serde::de::Error::custom("sealed value: odd hex length"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("sealed value: not hex"))
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Sealed)
    }
}

/// An operation in progress on a stack, as stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackOperation {
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub kind: String,
    /// Who the operation acts as: the caller's principal and request context (session, source
    /// address, access key id), as JSON the API layer reads back; never a secret credential.
    pub caller: String,
    /// For an update: the stack as it was deployed before (without events, change sets or
    /// operation), which a rollback restores.
    #[serde(default)]
    pub previous: Option<Box<Stack>>,
}

/// A parameter value as the stack holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackParameter {
    pub key: String,
    pub value: String,
    /// Shown as `****` in every answer.
    #[serde(default)]
    pub no_echo: bool,
    /// A NoEcho parameter's value, sealed under the root key (its `value` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
}

impl StackParameter {
    fn visit_sealed<E>(&mut self, f: &mut impl FnMut(&str, &mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        match &mut self.sealed {
            Some(sealed) => f(&sealed_name::parameter(&self.key), &mut sealed.0),
            None => Ok(()),
        }
    }
}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackResource {
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub last_updated: Timestamp,
    /// What `Fn::GetAtt` returns for it, by attribute name (never a secret value).
    #[serde(default)]
    pub attributes: Vec<(String, String)>,
    /// The attributes that are secrets (an access key's `SecretAccessKey`), sealed under the root
    /// key, by attribute name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_attributes: Vec<(String, Sealed)>,
    /// The properties it was created with, evaluated, as JSON (to tell an update from no change);
    /// dynamic references left unresolved.
    #[serde(default)]
    pub properties: String,
    /// What its deletion needs besides its physical id (inline policy names, ...).
    #[serde(default)]
    pub cleanup: Vec<String>,
}

impl StackResource {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One stack event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackEvent {
    pub event_id: String,
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub timestamp: Timestamp,
}

/// A change set of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// `arn:aws:cloudformation:REGION:ACCOUNT:changeSet/NAME/UUID`.
    pub id: String,
    pub name: String,
    /// `CREATE` or `UPDATE`.
    pub change_set_type: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub execution_status: String,
    pub creation_time: Timestamp,
    #[serde(default)]
    pub description: Option<String>,
    pub template_body: String,
    #[serde(default)]
    pub parameters: Vec<StackParameter>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub changes: Vec<ResourceChange>,
}

/// One change of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// `Add`, `Modify` or `Remove`.
    pub action: String,
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// For `Modify`: `True`, `False` or `Conditional`.
    #[serde(default)]
    pub replacement: Option<String>,
}

/// One output of a stack, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackOutput {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub export_name: Option<String>,
}
