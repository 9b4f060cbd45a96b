//! CreateServiceLinkedRole, DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus.
//!
//! A service-linked role is a role at `/aws-service-role/<service principal>/` that only the named
//! service may assume (its trust policy names the service principal). Its name is the service's
//! `AWSServiceRoleFor<Service>`, with `_<CustomSuffix>` when one is given (IAM API Reference,
//! CreateServiceLinkedRole; IAM User Guide, "Using service-linked roles"). Such a role is
//! protected: DeleteRole refuses it, DeleteServiceLinkedRole deletes it. kinko's services keep no
//! resources that use these roles, so a deletion succeeds at once.

use kinko_core::iam::{self, Role, SERVICE_LINKED_ROLE_PATH, ServiceLinkedRoleDeletion};
use kinko_wire::query::Params;

use super::{Entity, quota};
use crate::iam::error::IamError;
use crate::iam::input::Reader;
use crate::iam::output::{self, Detail};
use crate::iam::{Found, Iam, Target, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// How long (in seconds) the sessions of a service-linked role may last, as IAM sets it.
const MAX_SESSION: i64 = 3600;
/// How many finished deletion tasks are kept for GetServiceLinkedRoleDeletionStatus.
const DELETIONS_KEPT: usize = 100;

/// The role-name stem of the services whose service-linked role names are not their principal's
/// first label (IAM User Guide, "AWS services that work with IAM", each service's
/// service-linked role page).
const ROLE_NAMES: &[(&str, &str)] = &[
    ("autoscaling.amazonaws.com", "AutoScaling"),
    ("elasticbeanstalk.amazonaws.com", "ElasticBeanstalk"),
    (
        "custom-resource.application-autoscaling.amazonaws.com",
        "ApplicationAutoScaling_CustomResource",
    ),
    ("ecs.amazonaws.com", "ECS"),
    ("rds.amazonaws.com", "RDS"),
    ("elasticloadbalancing.amazonaws.com", "ElasticLoadBalancing"),
    ("organizations.amazonaws.com", "Organizations"),
    ("cloudtrail.amazonaws.com", "CloudTrail"),
    ("config.amazonaws.com", "Config"),
    ("lambda.amazonaws.com", "Lambda"),
    ("secretsmanager.amazonaws.com", "SecretsManager"),
    ("kms.amazonaws.com", "KeyManagementServiceMultiRegionKeys"),
    ("sso.amazonaws.com", "SSO"),
    ("eks.amazonaws.com", "AmazonEKS"),
    ("spot.amazonaws.com", "EC2Spot"),
    ("spotfleet.amazonaws.com", "EC2SpotFleet"),
    ("ec2scheduled.amazonaws.com", "EC2Scheduled"),
    ("es.amazonaws.com", "AmazonElasticsearchService"),
    ("opensearchservice.amazonaws.com", "AmazonOpenSearchService"),
    ("guardduty.amazonaws.com", "AmazonGuardDuty"),
    ("support.amazonaws.com", "Support"),
    ("trustedadvisor.amazonaws.com", "TrustedAdvisor"),
];

/// The name of the service's service-linked role. For a principal kinko has no entry for, the
/// stem is the principal's first label as given (`AWSServiceRoleForother` for
/// `other.amazonaws.com`): AWS's rule for unknown services is not documented, and a tool creating
/// the role for a service kinko doesn't know still gets a role it can name.
fn role_name(service: &str, suffix: Option<&str>) -> String {
    let stem = ROLE_NAMES
        .iter()
        .find(|(s, _)| *s == service)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| service.split('.').next().unwrap_or(service).to_owned());
    match suffix {
        Some(s) => format!("AWSServiceRoleFor{stem}_{s}"),
        None => format!("AWSServiceRoleFor{stem}"),
    }
}

/// The trust policy IAM gives a service-linked role: only the service may assume it.
fn trust_policy(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": [service]},
            "Action": ["sts:AssumeRole"],
        }],
    })
    .to_string()
}

/// Whether the role is a service-linked role (it lives under `/aws-service-role/`).
pub(crate) fn is_service_linked(role: &Role) -> bool {
    role.path.starts_with(SERVICE_LINKED_ROLE_PATH)
}

/// What IAM answers when a service-linked role is changed or deleted other than by its service.
pub(crate) fn protected_role(name: &str) -> IamError {
    IamError::UnmodifiableEntity(format!(
        "Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    ))
}

pub(crate) struct CreateServiceLinkedRole;

pub(crate) struct CreateInput {
    service: String,
    description: Option<String>,
    suffix: Option<String>,
}

impl FromRequest<Iam> for CreateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let service = r.req_name("AWSServiceName", 128);
        let description = r.role_description("Description", false);
        let suffix = r.name("CustomSuffix", 64);
        r.finish()?;
        Ok(CreateInput {
            service,
            description,
            suffix,
        })
    }
}

impl CreateInput {
    fn path(&self) -> String {
        format!("{SERVICE_LINKED_ROLE_PATH}{}/", self.service)
    }

    fn name(&self) -> String {
        role_name(&self.service, self.suffix.as_deref())
    }
}

impl Operation for CreateServiceLinkedRole {
    type Service = Iam;
    const NAME: &'static str = "CreateServiceLinkedRole";
    type Input = CreateInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// A role name longer than IAM allows (a long suffix) is refused as the model refuses it.
    fn validate(i: &CreateInput) -> Result<(), IamError> {
        let name = i.name();
        if name.len() > 64 {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64"
            )));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &CreateInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(
                cx,
                iam::entity_arn(cx.account(), "role", &i.path(), &i.name()),
            ))
        })
        .await
    }

    /// The new role's ARN, with the service as `iam:AWSServiceName` (Service Authorization
    /// Reference).
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found
                .check(cx)
                .condition("iam:AWSServiceName", i.service.as_str()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &CreateInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let name = i.name();
        if state.role(&name).is_some() {
            return Err(IamError::InvalidInput(format!(
                "Service role name {name} has been taken in this account, please try a different suffix."
            )));
        }
        if state.roles.len() >= quota::ROLES {
            return Err(IamError::quota("RolesPerAccount", quota::ROLES));
        }
        let path = i.path();
        let role = Role {
            arn: iam::entity_arn(cx.account(), "role", &path, &name),
            name,
            path,
            role_id: output::unique_id("AROA"),
            create_date: cx.now(),
            assume_role_policy_document: trust_policy(&i.service),
            assume_role_policy_updated: None,
            trust_principals: vec![],
            description: i.description.clone(),
            max_session_duration: MAX_SESSION,
            tags: vec![],
            inline_policies: vec![],
            attached_policies: vec![],
            permissions_boundary: None,
        };
        let mut x = cx.xml::<Iam>();
        output::role(&mut x, &role, Detail::Full);
        state.roles.push(role);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct DeleteServiceLinkedRole;

pub(crate) struct DeleteInput {
    name: String,
}

impl FromRequest<Iam> for DeleteInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("RoleName", 64);
        r.finish()?;
        Ok(DeleteInput { name })
    }
}

impl Operation for DeleteServiceLinkedRole {
    type Service = Iam;
    const NAME: &'static str = "DeleteServiceLinkedRole";
    type Input = DeleteInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeleteInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(Role::target(cx, state, &i.name))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let role = Role::get(&state, &i.name)?;
        if !is_service_linked(role) {
            return Err(IamError::InvalidInput(format!(
                "Role {} is not a service-linked role.",
                role.name
            )));
        }
        let service = role
            .path
            .strip_prefix(SERVICE_LINKED_ROLE_PATH)
            .unwrap_or(&role.path)
            .trim_end_matches('/');
        let task_id = format!(
            "task/aws-service-role/{service}/{}/{}",
            role.name,
            uuid::Uuid::new_v4()
        );
        let (name, arn) = (role.name.clone(), role.arn.clone());
        state.roles.retain(|r| r.name != name);
        state
            .service_linked_role_deletions
            .push(ServiceLinkedRoleDeletion {
                task_id: task_id.clone(),
                role_arn: arn,
                status: "SUCCEEDED".into(),
                create_date: cx.now(),
            });
        let excess = state
            .service_linked_role_deletions
            .len()
            .saturating_sub(DELETIONS_KEPT);
        state.service_linked_role_deletions.drain(..excess);
        save(cx, state).await?;
        let mut x = cx.xml::<Iam>();
        x.elem("DeletionTaskId", &task_id);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct GetServiceLinkedRoleDeletionStatus;

pub(crate) struct StatusInput {
    task_id: String,
}

impl FromRequest<Iam> for StatusInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let task_id = r.deletion_task_id();
        r.finish()?;
        Ok(StatusInput { task_id })
    }
}

/// The ARN of the role a task id names: `task/aws-service-role/<service>/<name>/<uuid>` is the
/// deletion of `role/aws-service-role/<service>/<name>`.
fn task_role_arn(account: &str, task_id: &str) -> Option<String> {
    let rest = task_id.strip_prefix("task/aws-service-role/")?;
    let (role, _uuid) = rest.rsplit_once('/')?;
    let (service, name) = role.rsplit_once('/')?;
    (!service.is_empty() && !name.is_empty()).then(|| {
        iam::entity_arn(
            account,
            "role",
            &format!("{SERVICE_LINKED_ROLE_PATH}{service}/"),
            name,
        )
    })
}

fn task_not_found(task_id: &str) -> IamError {
    IamError::NoSuchEntity(format!("Deletion task {task_id} cannot be found."))
}

impl Operation for GetServiceLinkedRoleDeletionStatus {
    type Service = Iam;
    const NAME: &'static str = "GetServiceLinkedRoleDeletionStatus";
    type Input = StatusInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// Authorized on the role the task deletes (Service Authorization Reference: resource type
    /// `role`); a task id that names no role is refused before any lookup.
    async fn resolve(cx: &Cx<'_>, i: &StatusInput) -> Result<Found, IamError> {
        let arn = task_role_arn(cx.account(), &i.task_id)
            .ok_or_else(|| IamError::InvalidInput(format!("Invalid deletion task id: {}", i.task_id)))?;
        Found::read(cx, |_| Ok(Target::new_arn(cx, arn))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a StatusInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &StatusInput, found: Found) -> Result<QueryReply, IamError> {
        let task = found
            .state
            .service_linked_role_deletions
            .iter()
            .find(|t| t.task_id == i.task_id)
            .ok_or_else(|| task_not_found(&i.task_id))?;
        let mut x = cx.xml::<Iam>();
        x.elem("Status", &task.status);
        Ok(QueryReply::Result(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            role_name("autoscaling.amazonaws.com", None),
            "AWSServiceRoleForAutoScaling"
        );
        assert_eq!(
            role_name("autoscaling.amazonaws.com", Some("suf")),
            "AWSServiceRoleForAutoScaling_suf"
        );
        assert_eq!(role_name("other.amazonaws.com", None), "AWSServiceRoleForother");
    }

    #[test]
    fn task_ids() {
        assert_eq!(
            task_role_arn(
                "123456789012",
                "task/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling/0b8a-1"
            )
            .as_deref(),
            Some(
                "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
            )
        );
        assert_eq!(task_role_arn("123456789012", "task/x"), None);
    }
}
