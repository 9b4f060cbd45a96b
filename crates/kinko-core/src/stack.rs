//! CloudFormation stacks as kinko stores them: the stack, the template body it was deployed
//! with (dynamic references never resolved in it), its parameters, resources, events and change
//! sets. One record per stack, written with optimistic concurrency (`revision`).

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
}

/// A parameter value as the stack holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackParameter {
    pub key: String,
    pub value: String,
    /// Shown as `****` in every answer.
    #[serde(default)]
    pub no_echo: bool,
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
