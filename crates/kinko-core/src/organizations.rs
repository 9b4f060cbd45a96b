//! The organization: the management account and its member accounts, kept as one aggregate.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAccount {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub email: String,
    /// `ACTIVE` | `SUSPENDED` | `PENDING_CLOSURE`
    pub status: String,
    /// `CREATED` | `INVITED`
    pub joined_method: String,
    pub joined_timestamp: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAccountRequest {
    /// `car-` + 32 lowercase alphanumerics.
    pub id: String,
    pub account_name: String,
    /// `IN_PROGRESS` | `SUCCEEDED` | `FAILED`
    pub state: String,
    pub requested_timestamp: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `o-` + 10 lowercase alphanumerics.
    pub id: String,
    pub arn: String,
    pub master_account_id: String,
    pub master_account_email: String,
    /// `ALL`
    pub feature_set: String,
    /// `r-` + 4 lowercase alphanumerics.
    pub root_id: String,
    pub accounts: Vec<OrgAccount>,
    #[serde(default)]
    pub create_account_requests: Vec<CreateAccountRequest>,
    #[serde(skip)]
    pub revision: i64,
}
