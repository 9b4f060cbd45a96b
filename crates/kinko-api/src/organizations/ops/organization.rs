//! DescribeOrganization, ListRoots.

use serde::Serialize;

use crate::authz::Resource;
use crate::organizations::model::{OrganizationShape, PageInput, RootShape};
use crate::organizations::{Cx, OrgError, decode, encode};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOrganizationOutput {
    organization: OrganizationShape,
}

/// Any account of the organization may describe it.
pub(crate) async fn describe_organization(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, OrgError> {
    let _: serde_json::Value = decode(body)?;
    cx.authorize(Resource::Any, &[]).await?;
    let org = cx.organization().await?;
    encode(&DescribeOrganizationOutput {
        organization: OrganizationShape::from(&org),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListRootsOutput {
    roots: Vec<RootShape>,
}

pub(crate) async fn list_roots(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, OrgError> {
    let input: PageInput = decode(body)?;
    cx.authorize(Resource::Any, &[]).await?;
    let org = cx.as_management().await?;
    let root = RootShape {
        id: org.root_id.clone(),
        arn: org.root_arn(),
        name: "Root".into(),
        policy_types: vec![],
    };
    let (roots, _) = super::page(vec![root], &input)?;
    encode(&ListRootsOutput { roots })
}
