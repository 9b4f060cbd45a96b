//! ListAccounts, DescribeAccount: management account only.

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::{page, violations};
use crate::authz::Resource;
use crate::organizations::model::{AccountShape, PageInput};
use crate::organizations::{Cx, OrgError, decode, encode};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAccountsOutput {
    accounts: Vec<AccountShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_accounts(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, OrgError> {
    let input: PageInput = decode(body)?;
    cx.authorize(Resource::Any, &[]).await?;
    let org = cx.as_management().await?;
    let (accounts, next_token) = page(org.accounts.iter().map(AccountShape::from).collect(), &input)?;
    encode(&ListAccountsOutput { accounts, next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAccountInput {
    #[serde(default)]
    account_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAccountOutput {
    account: AccountShape,
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) async fn describe_account(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, OrgError> {
    let input: DescribeAccountInput = decode(body)?;
    let mut v = Violations::new();
    v.required("accountId", &input.account_id);
    let id = input.account_id.unwrap_or_default();
    v.length("accountId", Some(&id), 0, 12, false);
    v.pattern("accountId", Some(&id), r"^\d{12}$", is_account_id(&id));
    violations(v)?;
    let org = cx.as_management().await?;
    // The account's ARN lives in the management account, whether or not the account exists.
    let arn = org.account_arn(&id);
    cx.authorize(
        Resource::Arn {
            arn: &arn,
            account_id: &org.master_account_id,
        },
        &[],
    )
    .await?;
    let account = org.account(&id).ok_or(OrgError::AccountNotFound)?;
    encode(&DescribeAccountOutput {
        account: AccountShape::from(account),
    })
}
