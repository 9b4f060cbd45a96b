//! ListAccounts, DescribeAccount: management account only.

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::{page, violations};
use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, Operation};
use crate::organizations::model::{AccountShape, PageInput};
use crate::organizations::{OrgError, OrgFound, Organizations, resolve_organization};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAccountsOutput {
    accounts: Vec<AccountShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) struct ListAccounts;

impl Operation for ListAccounts {
    type Service = Organizations;
    const NAME: &'static str = "ListAccounts";
    type Input = PageInput;
    type Output = ListAccountsOutput;
    type Resolved = OrgFound;

    async fn resolve(cx: &Cx<'_>, _: &PageInput) -> Result<OrgFound, OrgError> {
        resolve_organization(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a PageInput,
        found: &'a OrgFound,
    ) -> Result<Authorization<'a>, OrgError> {
        Ok(Authorization::of(
            Check::new(cx.action, Resource::Any).facts(found.facts(cx)),
        ))
    }

    async fn run(cx: &Cx<'_>, input: &PageInput, found: OrgFound) -> Result<ListAccountsOutput, OrgError> {
        let org = found.member(cx).await?;
        let (accounts, next_token) = page(org.accounts.iter().map(AccountShape::from).collect(), input)?;
        Ok(ListAccountsOutput { accounts, next_token })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAccountInput {
    #[serde(default)]
    account_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAccountOutput {
    account: AccountShape,
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// DescribeAccount: the account's ARN lives in the management account, whether or not the account
/// exists.
pub(crate) struct DescribeAccount;

/// The organization, and the ARN the described account has (or would have) in it.
pub(crate) struct AccountFound {
    found: OrgFound,
    arn: String,
}

impl Operation for DescribeAccount {
    type Service = Organizations;
    const NAME: &'static str = "DescribeAccount";
    type Input = DescribeAccountInput;
    type Output = DescribeAccountOutput;
    type Resolved = AccountFound;

    fn validate(input: &DescribeAccountInput) -> Result<(), OrgError> {
        let mut v = Violations::new();
        v.required("accountId", &input.account_id);
        let id = input.account_id.as_deref().unwrap_or_default();
        v.length("accountId", Some(id), 0, 12, false);
        v.pattern("accountId", Some(id), r"^\d{12}$", is_account_id(id));
        violations(v)
    }

    async fn resolve(cx: &Cx<'_>, input: &DescribeAccountInput) -> Result<AccountFound, OrgError> {
        let found = resolve_organization(cx).await?;
        let arn = found
            .org
            .account_arn(input.account_id.as_deref().unwrap_or_default());
        Ok(AccountFound { found, arn })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DescribeAccountInput,
        a: &'a AccountFound,
    ) -> Result<Authorization<'a>, OrgError> {
        let resource = Resource::Arn {
            arn: &a.arn,
            account_id: &a.found.org.master_account_id,
        };
        Ok(Authorization::of(
            Check::new(cx.action, resource).facts(a.found.facts(cx)),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        input: &DescribeAccountInput,
        a: AccountFound,
    ) -> Result<DescribeAccountOutput, OrgError> {
        let org = a.found.member(cx).await?;
        let account = org
            .account(input.account_id.as_deref().unwrap_or_default())
            .ok_or(OrgError::AccountNotFound)?;
        Ok(DescribeAccountOutput {
            account: AccountShape::from(account),
        })
    }
}
