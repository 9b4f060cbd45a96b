//! DescribeOrganization, ListRoots.

use serde::Serialize;

use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, Operation};
use crate::organizations::model::{OrganizationShape, PageInput, RootShape};
use crate::organizations::{OrgError, OrgFound, Organizations, resolve_organization};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOrganizationOutput {
    organization: OrganizationShape,
}

/// Any account of the organization may describe it.
pub(crate) struct DescribeOrganization;

impl Operation for DescribeOrganization {
    type Service = Organizations;
    const NAME: &'static str = "DescribeOrganization";
    type Input = serde_json::Value;
    type Output = DescribeOrganizationOutput;
    type Resolved = OrgFound;

    async fn resolve(cx: &Cx<'_>, _: &serde_json::Value) -> Result<OrgFound, OrgError> {
        resolve_organization(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a serde_json::Value,
        found: &'a OrgFound,
    ) -> Result<Authorization<'a>, OrgError> {
        Ok(Authorization::of(
            Check::new(cx.action, Resource::Any).facts(found.facts(cx)),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        _: &serde_json::Value,
        found: OrgFound,
    ) -> Result<DescribeOrganizationOutput, OrgError> {
        let org = found.member(cx).await?;
        Ok(DescribeOrganizationOutput {
            organization: OrganizationShape::from(&org),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRootsOutput {
    roots: Vec<RootShape>,
}

/// The management account lists the organization's one root.
pub(crate) struct ListRoots;

impl Operation for ListRoots {
    type Service = Organizations;
    const NAME: &'static str = "ListRoots";
    type Input = PageInput;
    type Output = ListRootsOutput;
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

    async fn run(cx: &Cx<'_>, input: &PageInput, found: OrgFound) -> Result<ListRootsOutput, OrgError> {
        let org = found.member(cx).await?;
        let root = RootShape {
            id: org.root_id.clone(),
            arn: org.root_arn(),
            name: "Root".into(),
            policy_types: vec![],
        };
        let (roots, _) = super::page(vec![root], input)?;
        Ok(ListRootsOutput { roots })
    }
}
