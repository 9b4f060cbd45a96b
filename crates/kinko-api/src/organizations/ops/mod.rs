//! Organizations operations, one file per family; paging shared by the list operations.

mod accounts;
mod create_account;
mod organization;

use kinko_wire::validate::Violations;

pub(crate) use accounts::{DescribeAccount, ListAccounts, is_account_id};
pub(crate) use create_account::{CreateAccount, DescribeCreateAccountStatus, ListCreateAccountStatus};
pub(crate) use organization::{DescribeOrganization, ListRoots};

use super::OrgError;
use super::model::PageInput;

/// List operations return at most 20 items per call unless `MaxResults` says fewer.
const MAX_RESULTS: i64 = 20;

/// Model constraint violations, reported as `InvalidInputException`.
pub(crate) fn violations(v: Violations) -> Result<(), OrgError> {
    match v.message() {
        Some(m) => Err(OrgError::InvalidInput(m)),
        None => Ok(()),
    }
}

/// The page of `items` a `NextToken`/`MaxResults` pair asks for, and the next token.
pub(crate) fn page<T>(items: Vec<T>, input: &PageInput) -> Result<(Vec<T>, Option<String>), OrgError> {
    let mut v = Violations::new();
    v.range("maxResults", input.max_results, 1, MAX_RESULTS);
    violations(v)?;
    let start = match &input.next_token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| OrgError::InvalidInput("The specified NextToken is not valid.".into()))?,
    };
    let max = usize::try_from(input.max_results.unwrap_or(MAX_RESULTS)).unwrap_or(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = start.saturating_add(max);
    Ok((page, (next < total).then(|| next.to_string())))
}
