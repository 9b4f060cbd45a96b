//! The organization: the management account and its member accounts, kept as one aggregate.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::secret::Tag;

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
    #[serde(default)]
    pub tags: Vec<Tag>,
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

impl Organization {
    /// `arn:aws:organizations::<management account>:organization/<org id>`.
    pub fn organization_arn(master_account_id: &str, org_id: &str) -> String {
        format!("arn:aws:organizations::{master_account_id}:organization/{org_id}")
    }

    /// `arn:aws:organizations::<management account>:account/<org id>/<account id>`.
    pub fn account_arn(&self, account_id: &str) -> String {
        format!(
            "arn:aws:organizations::{}:account/{}/{account_id}",
            self.master_account_id, self.id
        )
    }

    /// `arn:aws:organizations::<management account>:root/<org id>/<root id>`.
    pub fn root_arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:root/{}/{}",
            self.master_account_id, self.id, self.root_id
        )
    }

    pub fn account(&self, account_id: &str) -> Option<&OrgAccount> {
        self.accounts.iter().find(|a| a.id == account_id)
    }

    pub fn is_management_account(&self, account_id: &str) -> bool {
        self.master_account_id == account_id
    }

    pub fn create_account_request(&self, id: &str) -> Option<&CreateAccountRequest> {
        self.create_account_requests.iter().find(|r| r.id == id)
    }
}
