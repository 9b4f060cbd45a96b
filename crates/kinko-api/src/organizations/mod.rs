//! AWS Organizations (JSON 1.1, `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`).
//!
//! kinko runs one organization. It is created implicitly on the first Organizations call, with the
//! calling account (the one kinko bootstrapped; no other account exists before the organization
//! does) as its management account. The management account creates member accounts with
//! CreateAccount; each gets the `OrganizationAccountAccessRole` role, which the management account
//! assumes to administer it.
//!
//! Every operation implements the one [`crate::operation::Operation`] contract. `resolve_organization` reads the
//! organization (or the one the first call creates); which calls only the management account may
//! make is an access rule of [`crate::authz::rules`], fed by `OrgFound::facts`.

mod error;
mod model;
mod ops;

use kinko_core::organizations::{OrgAccount, Organization};
use kinko_wire::WireError;
use rand::Rng;

use crate::authz::Facts;
use crate::operation::{Cx, Json, Service, execute, finish, json_service};
use crate::{RequestContext, Services};

pub use error::OrgError;
pub(crate) use ops::is_account_id;

/// Organizations, as the one operation contract sees it.
pub struct Organizations;

impl Service for Organizations {
    const PREFIX: &'static str = "organizations";
    const EVENT_SOURCE: &'static str = "organizations.amazonaws.com";
    // Organizations carries no secrets: every member is recorded.
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        omitted: &[],
        hidden: &[],
        verbatim: &[],
        numbers: &[],
        booleans: &[],
    };
    type Protocol = Json;
    type Error = OrgError;
}

json_service!(Organizations);

/// The organization as an operation finds it.
pub(crate) struct OrgFound {
    pub org: Organization,
    /// Not stored yet: the first Organizations call creates it.
    pub new: bool,
}

impl OrgFound {
    /// What the access rules need: the management account, when the caller's account is in the
    /// organization (otherwise the operation answers that the account is in none).
    pub fn facts(&self, cx: &Cx<'_>) -> Facts<'_> {
        Facts {
            management_account: self
                .org
                .account(cx.account())
                .map(|_| self.org.master_account_id.as_str()),
            ..Facts::default()
        }
    }

    /// The organization the caller's account belongs to, stored first if this call creates it (a
    /// concurrent creation makes the operation retry from a fresh read).
    pub async fn member(self, cx: &Cx<'_>) -> Result<Organization, OrgError> {
        if self.new {
            cx.services.store.write_organization(self.org).await?;
            // Read back with its stored revision on the retry.
            return Err(OrgError::Conflict);
        }
        if self.org.account(cx.account()).is_none() {
            return Err(OrgError::NotInUse);
        }
        Ok(self.org)
    }
}

/// Reads the organization, or makes (without storing) the one this call creates, with the caller
/// as its management account.
pub(crate) async fn resolve_organization(cx: &Cx<'_>) -> Result<OrgFound, OrgError> {
    if let Some(org) = cx.services.store.organization().await? {
        return Ok(OrgFound { org, new: false });
    }
    Ok(OrgFound {
        org: new_organization(cx).await?,
        new: true,
    })
}

async fn new_organization(cx: &Cx<'_>) -> Result<Organization, OrgError> {
    let master = cx.account().to_owned();
    let (name, email, created) = match cx.services.store.account(&master).await? {
        Some(a) => (a.name, a.email, a.created_date),
        None => (master.clone(), format!("root@{master}.kinko.local"), cx.now()),
    };
    let id = format!("o-{}", random_lower_alnum(10));
    let mut org = Organization {
        arn: Organization::organization_arn(&master, &id),
        id,
        master_account_id: master.clone(),
        master_account_email: email.clone(),
        feature_set: "ALL".into(),
        root_id: format!("r-{}", random_lower_alnum(4)),
        accounts: vec![],
        create_account_requests: vec![],
        revision: 0,
    };
    // The management account joined by creating the organization; AWS reports that as INVITED.
    org.accounts.push(OrgAccount {
        arn: org.account_arn(&master),
        id: master,
        name,
        email,
        status: "ACTIVE".into(),
        joined_method: "INVITED".into(),
        joined_timestamp: created,
        tags: vec![],
    });
    Ok(org)
}

pub(crate) fn random_lower_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// Runs one Organizations operation and returns the response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let result = match operation {
        "DescribeOrganization" => execute::<ops::DescribeOrganization>(services, rc, body).await,
        "ListRoots" => execute::<ops::ListRoots>(services, rc, body).await,
        "ListAccounts" => execute::<ops::ListAccounts>(services, rc, body).await,
        "DescribeAccount" => execute::<ops::DescribeAccount>(services, rc, body).await,
        "CreateAccount" => execute::<ops::CreateAccount>(services, rc, body).await,
        "DescribeCreateAccountStatus" => {
            execute::<ops::DescribeCreateAccountStatus>(services, rc, body).await
        }
        "ListCreateAccountStatus" => execute::<ops::ListCreateAccountStatus>(services, rc, body).await,
        _ => {
            return Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {operation} is not supported by this service."),
            ));
        }
    };
    finish(rc, operation, result)
}
