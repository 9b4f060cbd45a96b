//! Organizations response shapes (botocore's `organizations` model), timestamps as epoch seconds.

use kinko_core::organizations::{CreateAccountRequest, OrgAccount, Organization};
use kinko_wire::json::{ser_opt_timestamp, ser_timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationShape {
    pub id: String,
    pub arn: String,
    pub feature_set: String,
    pub master_account_arn: String,
    pub master_account_id: String,
    pub master_account_email: String,
    /// Deprecated by AWS in favour of ListRoots; no policy types are enabled.
    pub available_policy_types: Vec<PolicyTypeSummary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyTypeSummary {
    pub r#type: String,
    pub status: String,
}

impl From<&Organization> for OrganizationShape {
    fn from(o: &Organization) -> Self {
        OrganizationShape {
            id: o.id.clone(),
            arn: o.arn.clone(),
            feature_set: o.feature_set.clone(),
            master_account_arn: o.account_arn(&o.master_account_id),
            master_account_id: o.master_account_id.clone(),
            master_account_email: o.master_account_email.clone(),
            available_policy_types: vec![],
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootShape {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub policy_types: Vec<PolicyTypeSummary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountShape {
    pub id: String,
    pub arn: String,
    pub email: String,
    pub name: String,
    pub status: String,
    pub state: String,
    pub joined_method: String,
    #[serde(serialize_with = "ser_timestamp")]
    pub joined_timestamp: i64,
}

impl From<&OrgAccount> for AccountShape {
    fn from(a: &OrgAccount) -> Self {
        AccountShape {
            id: a.id.clone(),
            arn: a.arn.clone(),
            email: a.email.clone(),
            name: a.name.clone(),
            status: a.status.clone(),
            state: a.status.clone(),
            joined_method: a.joined_method.clone(),
            joined_timestamp: a.joined_timestamp.millis(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccountStatusShape {
    pub id: String,
    pub account_name: String,
    pub state: String,
    #[serde(serialize_with = "ser_timestamp")]
    pub requested_timestamp: i64,
    #[serde(serialize_with = "ser_opt_timestamp", skip_serializing_if = "Option::is_none")]
    pub completed_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

impl From<&CreateAccountRequest> for CreateAccountStatusShape {
    fn from(r: &CreateAccountRequest) -> Self {
        CreateAccountStatusShape {
            id: r.id.clone(),
            account_name: r.account_name.clone(),
            state: r.state.clone(),
            requested_timestamp: r.requested_timestamp.millis(),
            completed_timestamp: r.completed_timestamp.map(|t| t.millis()),
            account_id: r.account_id.clone(),
            failure_reason: r.failure_reason.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// `NextToken` / `MaxResults` of list operations; tokens carry the offset of the next item.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageInput {
    #[serde(default)]
    pub next_token: Option<String>,
    #[serde(default)]
    pub max_results: Option<i64>,
}
