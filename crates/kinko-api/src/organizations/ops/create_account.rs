//! CreateAccount, DescribeCreateAccountStatus, ListCreateAccountStatus: management account only.
//!
//! AWS creates accounts asynchronously; kinko does the work within the call, so the status
//! CreateAccount returns is already final (`SUCCEEDED`, or `FAILED` with a reason).

use kinko_core::iam::{self, IamState, InlinePolicy, Role};
use kinko_core::organizations::{CreateAccountRequest, OrgAccount};
use kinko_core::secret::Tag;
use kinko_core::store::Account;
use kinko_wire::validate::Violations;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{page, violations};
use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, Operation};
use crate::organizations::model::{CreateAccountStatusShape, PageInput, TagShape};
use crate::organizations::{OrgError, OrgFound, Organizations, random_lower_alnum, resolve_organization};

/// The role CreateAccount makes in a new account unless `RoleName` names another.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

/// The inline policy of that role: full administrator access, as AWS gives it.
const ADMINISTRATOR_ACCESS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateAccountInput {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    account_name: Option<String>,
    #[serde(default)]
    role_name: Option<String>,
    #[serde(default)]
    iam_user_access_to_billing: Option<String>,
    #[serde(default)]
    tags: Option<Vec<TagShape>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatusOutput {
    create_account_status: CreateAccountStatusShape,
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let ok = |part: &str| !part.is_empty() && !part.contains(|c: char| c.is_whitespace() || c == '@');
    match domain.rsplit_once('.') {
        Some((host, tld)) => ok(local) && ok(host) && ok(tld),
        None => false,
    }
}

fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// The model constraints of CreateAccount.
fn validate(i: &CreateAccountInput) -> Result<Vec<Tag>, OrgError> {
    let mut v = Violations::new();
    v.required("email", &i.email);
    v.required("accountName", &i.account_name);
    if let Some(email) = &i.email {
        v.length("email", Some(email), 6, 64, false);
        v.pattern("email", Some(email), r"[^\s@]+@[^\s@]+\.[^\s@]+", is_email(email));
    }
    if let Some(name) = &i.account_name {
        v.length("accountName", Some(name), 1, 50, false);
        v.pattern(
            "accountName",
            Some(name),
            r"[\u0020-\u007E]+",
            name.chars().all(|c| (' '..='~').contains(&c)),
        );
    }
    if let Some(role) = &i.role_name {
        v.length("roleName", Some(role), 0, 64, false);
        v.pattern("roleName", Some(role), r"[\w+=,.@-]{1,64}", is_role_name(role));
    }
    v.one_of(
        "iamUserAccessToBilling",
        i.iam_user_access_to_billing.as_deref(),
        &["ALLOW", "DENY"],
    );
    let mut tags = Vec::new();
    for (n, t) in i.tags.iter().flatten().enumerate() {
        let key_path = format!("tags.{}.member.key", n + 1);
        let value_path = format!("tags.{}.member.value", n + 1);
        v.required(&key_path, &t.key);
        v.required(&value_path, &t.value);
        v.length(&key_path, t.key.as_deref(), 1, 128, false);
        v.length(&value_path, t.value.as_deref(), 0, 256, false);
        tags.push(Tag {
            key: t.key.clone().unwrap_or_default(),
            value: t.value.clone().unwrap_or_default(),
        });
    }
    violations(v)?;
    for (n, t) in tags.iter().enumerate() {
        if tags[..n].iter().any(|o| o.key == t.key) {
            return Err(OrgError::InvalidInput("You provided duplicate tag keys.".into()));
        }
    }
    Ok(tags)
}

fn new_account_id() -> String {
    let mut rng = rand::rng();
    let first = rng.random_range(1..=9u8);
    let rest: String = (0..11)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    format!("{first}{rest}")
}

/// The IAM state a new member account starts with: the access role the management account assumes,
/// trusting the management account's root (so its administrators can be allowed `sts:AssumeRole`),
/// with administrator access.
pub(crate) fn member_iam_state(
    account_id: &str,
    management_account_id: &str,
    role_name: &str,
    now: kinko_core::Timestamp,
) -> IamState {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{management_account_id}:root")},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string();
    let mut state = IamState::new(account_id);
    state.roles.push(Role {
        name: role_name.to_owned(),
        path: "/".into(),
        role_id: crate::iam::unique_id("AROA"),
        arn: iam::entity_arn(account_id, "role", "/", role_name),
        create_date: now,
        assume_role_policy_document: trust,
        assume_role_policy_updated: None,
        trust_principals: vec![],
        description: None,
        max_session_duration: 3600,
        tags: vec![],
        inline_policies: vec![InlinePolicy {
            name: "AdministratorAccess".into(),
            document: ADMINISTRATOR_ACCESS.into(),
        }],
        attached_policies: vec![],
        permissions_boundary: None,
    });
    state
}

/// CreateAccount: management account only.
pub(crate) struct CreateAccount;

impl Operation for CreateAccount {
    type Service = Organizations;
    const NAME: &'static str = "CreateAccount";
    type Input = CreateAccountInput;
    type Output = StatusOutput;
    type Resolved = OrgFound;

    fn validate(input: &CreateAccountInput) -> Result<(), OrgError> {
        validate(input).map(|_| ())
    }

    async fn resolve(cx: &Cx<'_>, _: &CreateAccountInput) -> Result<OrgFound, OrgError> {
        resolve_organization(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        input: &'a CreateAccountInput,
        found: &'a OrgFound,
    ) -> Result<Authorization<'a>, OrgError> {
        let request_tags: Vec<(String, String)> = input
            .tags
            .iter()
            .flatten()
            .map(|t| {
                (
                    t.key.clone().unwrap_or_default(),
                    t.value.clone().unwrap_or_default(),
                )
            })
            .collect();
        Ok(Authorization::of(
            Check::new(cx.action, Resource::Any)
                .request_tags(request_tags)
                .facts(found.facts(cx)),
        ))
    }

    async fn run(cx: &Cx<'_>, input: &CreateAccountInput, found: OrgFound) -> Result<StatusOutput, OrgError> {
        let tags = validate(input)?;
        let email = input.email.clone().unwrap_or_default();
        let name = input.account_name.clone().unwrap_or_default();
        let role_name = input
            .role_name
            .clone()
            .unwrap_or_else(|| DEFAULT_ROLE_NAME.into());
        let store = &cx.services.store;
        let mut org = found.member(cx).await?;
        let now = cx.now();
        let mut request = CreateAccountRequest {
            id: format!("car-{}", random_lower_alnum(32)),
            account_name: name.clone(),
            state: "SUCCEEDED".into(),
            requested_timestamp: now,
            completed_timestamp: Some(now),
            account_id: None,
            failure_reason: None,
        };
        if org.accounts.iter().any(|a| a.email.eq_ignore_ascii_case(&email)) {
            request.state = "FAILED".into();
            request.failure_reason = Some("EMAIL_ALREADY_EXISTS".into());
            org.create_account_requests.push(request.clone());
            store.write_organization(org).await?;
            return Ok(StatusOutput {
                create_account_status: CreateAccountStatusShape::from(&request),
            });
        }
        let mut account_id = new_account_id();
        while org.account(&account_id).is_some() || store.account(&account_id).await?.is_some() {
            account_id = new_account_id();
        }
        request.account_id = Some(account_id.clone());
        org.accounts.push(OrgAccount {
            arn: org.account_arn(&account_id),
            id: account_id.clone(),
            name: name.clone(),
            email: email.clone(),
            status: "ACTIVE".into(),
            joined_method: "CREATED".into(),
            joined_timestamp: now,
            tags: tags.clone(),
        });
        org.create_account_requests.push(request.clone());
        let iam = member_iam_state(&account_id, &org.master_account_id, &role_name, now);
        let account = Account {
            account_id,
            name,
            email,
            created_date: now,
        };
        // A conflict means the organization changed, or the new id was taken: start over.
        store.create_member_account(org, account, iam).await?;
        Ok(StatusOutput {
            create_account_status: CreateAccountStatusShape::from(&request),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeStatusInput {
    #[serde(default)]
    create_account_request_id: Option<String>,
}

fn is_request_id(s: &str) -> bool {
    s.strip_prefix("car-").is_some_and(|rest| {
        (8..=32).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// DescribeCreateAccountStatus: management account only.
pub(crate) struct DescribeCreateAccountStatus;

impl Operation for DescribeCreateAccountStatus {
    type Service = Organizations;
    const NAME: &'static str = "DescribeCreateAccountStatus";
    type Input = DescribeStatusInput;
    type Output = StatusOutput;
    type Resolved = OrgFound;

    fn validate(input: &DescribeStatusInput) -> Result<(), OrgError> {
        let mut v = Violations::new();
        v.required("createAccountRequestId", &input.create_account_request_id);
        let id = input.create_account_request_id.as_deref().unwrap_or_default();
        v.length("createAccountRequestId", Some(id), 0, 36, false);
        v.pattern(
            "createAccountRequestId",
            Some(id),
            r"^car-[a-z0-9]{8,32}$",
            is_request_id(id),
        );
        violations(v)
    }

    async fn resolve(cx: &Cx<'_>, _: &DescribeStatusInput) -> Result<OrgFound, OrgError> {
        resolve_organization(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DescribeStatusInput,
        found: &'a OrgFound,
    ) -> Result<Authorization<'a>, OrgError> {
        Ok(Authorization::of(
            Check::new(cx.action, Resource::Any).facts(found.facts(cx)),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        input: &DescribeStatusInput,
        found: OrgFound,
    ) -> Result<StatusOutput, OrgError> {
        let org = found.member(cx).await?;
        let request = org
            .create_account_request(input.create_account_request_id.as_deref().unwrap_or_default())
            .ok_or(OrgError::CreateAccountStatusNotFound)?;
        Ok(StatusOutput {
            create_account_status: CreateAccountStatusShape::from(request),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListStatusInput {
    #[serde(default)]
    states: Option<Vec<String>>,
    #[serde(flatten)]
    page: PageInput,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListStatusOutput {
    create_account_statuses: Vec<CreateAccountStatusShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListCreateAccountStatus: management account only.
pub(crate) struct ListCreateAccountStatus;

impl Operation for ListCreateAccountStatus {
    type Service = Organizations;
    const NAME: &'static str = "ListCreateAccountStatus";
    type Input = ListStatusInput;
    type Output = ListStatusOutput;
    type Resolved = OrgFound;

    fn validate(input: &ListStatusInput) -> Result<(), OrgError> {
        let mut v = Violations::new();
        for (n, s) in input.states.iter().flatten().enumerate() {
            v.one_of(
                &format!("states.{}.member", n + 1),
                Some(s),
                &["IN_PROGRESS", "SUCCEEDED", "FAILED"],
            );
        }
        violations(v)
    }

    async fn resolve(cx: &Cx<'_>, _: &ListStatusInput) -> Result<OrgFound, OrgError> {
        resolve_organization(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListStatusInput,
        found: &'a OrgFound,
    ) -> Result<Authorization<'a>, OrgError> {
        Ok(Authorization::of(
            Check::new(cx.action, Resource::Any).facts(found.facts(cx)),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        input: &ListStatusInput,
        found: OrgFound,
    ) -> Result<ListStatusOutput, OrgError> {
        let org = found.member(cx).await?;
        let statuses: Vec<CreateAccountStatusShape> = org
            .create_account_requests
            .iter()
            .filter(|r| {
                input
                    .states
                    .as_ref()
                    .is_none_or(|states| states.is_empty() || states.contains(&r.state))
            })
            .map(CreateAccountStatusShape::from)
            .collect();
        let (create_account_statuses, next_token) = page(statuses, &input.page)?;
        Ok(ListStatusOutput {
            create_account_statuses,
            next_token,
        })
    }
}
