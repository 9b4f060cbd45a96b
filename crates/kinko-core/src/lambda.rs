//! Lambda functions as the store keeps them: one aggregate per function (its `$LATEST`
//! configuration, its published versions, its resource policy and tags), read whole and written
//! back with an optimistic revision check like a secret. The deployment packages (zip bytes) are
//! kept beside it, one per distinct `CodeSha256` of the function, and read only when a function
//! instance starts.
//!
//! Neither the code nor the environment variables are sealed: as in Lambda they are configuration,
//! readable by whoever may call GetFunction; secrets belong in Secrets Manager, read by the function
//! under its execution role.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::principal::BoundPrincipal;

/// The version name of a function's unpublished, editable configuration.
pub const LATEST: &str = "$LATEST";

/// One configuration of a function: `$LATEST` or a published version (which never changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    /// `$LATEST` or the version number.
    pub version: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    /// Seconds.
    pub timeout: u32,
    /// MB.
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the deployment package.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: Timestamp,
    /// Changes with every change of this configuration (`RevisionId`).
    pub revision_id: String,
}

/// A function's resource policy: its statements (each one an AddPermission), and the IAM
/// principals they name bound to their unique ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionPolicy {
    /// The statements, as JSON objects, in the order they were added.
    pub statements: Vec<serde_json::Value>,
    pub principals: Vec<BoundPrincipal>,
    /// Changes with every change of the policy (GetPolicy's `RevisionId`).
    pub revision_id: String,
}

impl FunctionPolicy {
    /// The policy document (`{"Version":"2012-10-17","Id":"default","Statement":[...]}`).
    pub fn document(&self) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": self.statements,
        })
        .to_string()
    }
}

/// One function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// The unqualified ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
    pub arn: String,
    pub account_id: String,
    pub region: String,
    pub name: String,
    pub latest: FunctionConfig,
    /// Published versions, oldest first.
    pub versions: Vec<FunctionConfig>,
    /// The number of the last version published (numbers are never reused, even after a version
    /// is deleted).
    pub last_version: u32,
    pub policy: Option<FunctionPolicy>,
    pub tags: BTreeMap<String, String>,
    pub created: Timestamp,
    /// The store's optimistic-concurrency revision (1 after create, set by the store on read).
    #[serde(default)]
    pub revision: i64,
}

impl Function {
    /// The configuration of `qualifier` (`None` and `$LATEST` name `$LATEST`).
    pub fn config(&self, qualifier: Option<&str>) -> Option<&FunctionConfig> {
        match qualifier {
            None | Some(LATEST) => Some(&self.latest),
            Some(q) => self.versions.iter().find(|v| v.version == q),
        }
    }

    /// The SHA-256 of every deployment package a configuration of the function uses.
    pub fn code_in_use(&self) -> Vec<&str> {
        let mut all: Vec<&str> = std::iter::once(&self.latest)
            .chain(&self.versions)
            .map(|c| c.code_sha256.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The unqualified ARN of a function.
pub fn function_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account_id}:function:{name}")
}

/// One transactional change to a function.
#[derive(Debug, Clone)]
pub enum FunctionWrite {
    /// A new function and its deployment package; `Conflict` when its ARN is taken.
    Create { function: Function, code: Vec<u8> },
    /// Replaces the function, based on `function.revision`; adds `code` (a new package, stored under
    /// its SHA-256) and drops the packages no configuration uses any more.
    Update {
        function: Function,
        code: Option<Vec<u8>>,
    },
    /// Removes the function and its packages, based on `revision`.
    Delete { arn: String, revision: i64 },
}
