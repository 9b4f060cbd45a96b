//! AWS Organizations (JSON 1.1, `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`).
//!
//! kinko runs one organization. It is created implicitly on the first Organizations call, with the
//! calling account (the one kinko bootstrapped; no other account exists before the organization
//! does) as its management account. The management account creates member accounts with
//! CreateAccount; each gets the `OrganizationAccountAccessRole` role, which the management account
//! assumes to administer it.
//!
//! [`handle`] decodes the input, authorizes `organizations:<Operation>`, checks the caller's place
//! in the organization and runs the operation; a lost optimistic-concurrency race is retried.

mod error;
mod model;
mod ops;

use kinko_core::organizations::{OrgAccount, Organization};
use kinko_wire::WireError;
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::authz::{self, Check, Resource};
use crate::{RequestContext, Services};

pub use error::OrgError;

/// Attempts at an operation whose write lost an optimistic-concurrency race.
pub(crate) const MAX_ATTEMPTS: usize = 16;

/// Per-request context an operation runs with.
pub(crate) struct Cx<'a> {
    pub services: &'a Services,
    pub rc: &'a RequestContext,
    pub operation: &'a str,
}

impl Cx<'_> {
    pub fn account(&self) -> &str {
        &self.rc.principal.account_id
    }

    /// Authorizes `organizations:<operation>` on `resource`, with the tags the request sets.
    pub async fn authorize(
        &self,
        resource: Resource<'_>,
        request_tags: &[(String, String)],
    ) -> Result<(), OrgError> {
        let action = format!("organizations:{}", self.operation);
        let check = Check {
            request_tags,
            ..Check::new(&action, resource)
        };
        authz::check(self.services, self.rc, &check)
            .await
            .map_err(|d| OrgError::AccessDenied(d.message))
    }

    /// The organization the caller's account belongs to, creating it (with the caller as the
    /// management account) if there is none yet.
    pub async fn organization(&self) -> Result<Organization, OrgError> {
        for _ in 0..MAX_ATTEMPTS {
            if let Some(org) = self.services.store.organization().await? {
                return if org.account(self.account()).is_some() {
                    Ok(org)
                } else {
                    Err(OrgError::NotInUse)
                };
            }
            let org = self.new_organization().await?;
            match self.services.store.write_organization(org.clone()).await {
                // Read it back (with its stored revision), or the one a concurrent call created.
                Ok(()) | Err(kinko_core::store::StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OrgError::Internal(
            "too many conflicting concurrent changes".into(),
        ))
    }

    /// The organization, if the caller is its management account.
    pub async fn as_management(&self) -> Result<Organization, OrgError> {
        let org = self.organization().await?;
        if org.is_management_account(self.account()) {
            Ok(org)
        } else {
            Err(OrgError::AccessDenied(error::NOT_MANAGEMENT.into()))
        }
    }

    async fn new_organization(&self) -> Result<Organization, OrgError> {
        let master = self.account().to_owned();
        let (name, email, created) = match self.services.store.account(&master).await? {
            Some(a) => (a.name, a.email, a.created_date),
            None => (
                master.clone(),
                format!("root@{master}.kinko.local"),
                self.services.clock.now(),
            ),
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
    let cx = Cx {
        services,
        rc,
        operation,
    };
    let result = match operation {
        "DescribeOrganization" => ops::describe_organization(&cx, body).await,
        "ListRoots" => ops::list_roots(&cx, body).await,
        "ListAccounts" => ops::list_accounts(&cx, body).await,
        "DescribeAccount" => ops::describe_account(&cx, body).await,
        "CreateAccount" => ops::create_account(&cx, body).await,
        "DescribeCreateAccountStatus" => ops::describe_create_account_status(&cx, body).await,
        "ListCreateAccountStatus" => ops::list_create_account_status(&cx, body).await,
        _ => {
            return Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {operation} is not supported by this service."),
            ));
        }
    };
    result.map_err(|e| {
        if let OrgError::Internal(detail) = &e {
            tracing::error!(request_id = %rc.request_id, operation, detail = %detail, "internal error");
        }
        e.to_wire()
    })
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, OrgError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        OrgError::Serialization(if e.is_data() {
            "Failed to deserialize the request: a member has the wrong type or an invalid value.".into()
        } else {
            "Failed to parse the request body as a JSON object.".into()
        })
    })
}

pub(crate) fn encode<T: Serialize>(out: &T) -> Result<Vec<u8>, OrgError> {
    serde_json::to_vec(out).map_err(|e| OrgError::Internal(e.to_string()))
}
