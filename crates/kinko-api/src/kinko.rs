//! kinko's own service (JSON 1.1, `X-Amz-Target: Kinko.<Operation>`, SigV4 service `kinko`): the
//! workload attachments an operator creates and revokes ([`kinko_core::workload`]).
//!
//! AWS has no API for them: on AWS the binding is an instance's profile (EC2
//! `AssociateIamInstanceProfile`) or a task definition's role (ECS), and the token between the
//! agent and the workload is AWS's own. kinko names its actions `kinko:<Operation>` on ARNs
//! `arn:aws:kinko::ACCOUNT:instance-attachment/ID` and `...:container-credentials-token/ID`, so
//! they are granted and denied in IAM policies like any other action. Handing a role to a
//! workload is passing it to a service, so creating either also needs `iam:PassRole` on the role
//! with `iam:PassedToService` `ec2.amazonaws.com` or `ecs-tasks.amazonaws.com`, as EC2 and ECS
//! check it; and the role's trust policy must allow that service, checked when credentials are
//! served (as EC2 and ECS find out when they assume the role).
//!
//! Operations: CreateInstanceAttachment, ListInstanceAttachments, DeleteInstanceAttachment,
//! CreateContainerCredentialsToken, ListContainerCredentialsTokens,
//! DeleteContainerCredentialsToken. A token is shown once, in CreateContainerCredentialsToken's
//! answer, and stored only as its SHA-256. Lists are not paged.
//!
//! ListSecretReaders answers who may read a secret ([`crate::access`]).
//!
//! And, on a `--dev` server only, AdvanceClock (see [`AdvanceClock`]).

use kinko_core::iam::IamState;
use kinko_core::store::StoreError;
use kinko_core::workload::{self, Attachment, AttachmentKind};
use kinko_wire::WireError;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, Json, Operation, Service, execute, finish, json_service};
use crate::{RequestContext, Services};

/// The service principal that serves instance attachments (as EC2 does instance profiles).
pub const EC2_SERVICE: &str = "ec2.amazonaws.com";
/// The service principal that serves container credentials tokens (as ECS does task roles).
pub const ECS_TASKS_SERVICE: &str = "ecs-tasks.amazonaws.com";

/// kinko's own service, as the one operation contract sees it.
pub struct Kinko;

impl Service for Kinko {
    const PREFIX: &'static str = "kinko";
    const EVENT_SOURCE: &'static str = "kinko.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // The token is shown once and never recorded.
        omitted: &["Token"],
        hidden: &[],
        verbatim: &[],
        numbers: &["Port"],
        booleans: &[],
    };
    type Protocol = Json;
    type Error = KinkoError;
}

json_service!(Kinko);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KinkoError {
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceExists(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("internal failure: {0}")]
    Internal(String),
    #[error("conflict")]
    Conflict,
}

impl KinkoError {
    pub fn code(&self) -> &'static str {
        match self {
            KinkoError::AccessDenied(_) => "AccessDeniedException",
            KinkoError::Validation(_) => "ValidationException",
            KinkoError::ResourceNotFound(_) => "ResourceNotFoundException",
            KinkoError::ResourceExists(_) => "ResourceExistsException",
            KinkoError::Serialization(_) => "SerializationException",
            KinkoError::UnknownOperation(_) => "UnknownOperationException",
            KinkoError::Internal(_) | KinkoError::Conflict => "InternalFailure",
        }
    }

    pub fn to_wire(&self) -> WireError {
        match self {
            KinkoError::Internal(_) | KinkoError::Conflict => {
                WireError::new(self.code(), 500, "An internal error occurred.")
            }
            other => WireError::modeled(other.code(), 400, other.to_string()),
        }
    }
}

impl From<crate::authz::AuthzError> for KinkoError {
    fn from(e: crate::authz::AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl From<StoreError> for KinkoError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => KinkoError::Conflict,
            StoreError::Backend(m) => KinkoError::Internal(m),
        }
    }
}

impl crate::operation::ServiceError for KinkoError {
    fn access_denied(message: String) -> Self {
        KinkoError::AccessDenied(message)
    }

    fn refused(refusal: crate::authz::Refusal) -> Self {
        KinkoError::AccessDenied(refusal.message())
    }

    fn internal(detail: String) -> Self {
        KinkoError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        KinkoError::Serialization(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, KinkoError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            KinkoError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        KinkoError::to_wire(self)
    }
}

/// Runs one operation and returns the JSON response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let result = match operation {
        "CreateInstanceAttachment" => execute::<CreateInstanceAttachment>(services, rc, body).await,
        "ListInstanceAttachments" => execute::<ListInstanceAttachments>(services, rc, body).await,
        "DeleteInstanceAttachment" => execute::<DeleteInstanceAttachment>(services, rc, body).await,
        "CreateContainerCredentialsToken" => {
            execute::<CreateContainerCredentialsToken>(services, rc, body).await
        }
        "ListContainerCredentialsTokens" => {
            execute::<ListContainerCredentialsTokens>(services, rc, body).await
        }
        "DeleteContainerCredentialsToken" => {
            execute::<DeleteContainerCredentialsToken>(services, rc, body).await
        }
        "AdvanceClock" => execute::<AdvanceClock>(services, rc, body).await,
        "ListSecretReaders" => execute::<crate::access::ListSecretReaders>(services, rc, body).await,
        other => Err(KinkoError::UnknownOperation(format!(
            "The operation {other} is not supported by this server."
        ))),
    };
    finish(rc, operation, result)
}

fn valid_session_name(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

fn check_session_name(v: &mut Violations, name: Option<&str>) {
    v.length("roleSessionName", name, 2, 64, false);
    if let Some(n) = name {
        v.pattern("roleSessionName", Some(n), r"[\w+=,.@-]*", valid_session_name(n));
    }
}

/// A new attachment id: its prefix and 96 random bits.
fn new_id(prefix: &str) -> Result<String, KinkoError> {
    let bytes = kinko_crypto::random_bytes(12).map_err(|e| KinkoError::Internal(e.to_string()))?;
    Ok(format!("{prefix}-{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seconds(t: kinko_core::Timestamp) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "epoch milliseconds fit an f64 exactly")]
    let s = t.millis() as f64 / 1000.0;
    s
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagShape {
    key: String,
    value: String,
}

// --- instance attachments ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInstanceAttachmentInput {
    instance_profile_name: Option<String>,
    port: Option<i64>,
    role_session_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InstanceAttachmentShape {
    attachment_id: String,
    arn: String,
    instance_profile_name: String,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_session_name: Option<String>,
    created_date: f64,
    created_by: String,
}

fn instance_shape(a: &Attachment) -> Option<InstanceAttachmentShape> {
    let AttachmentKind::Instance {
        instance_profile_name,
        port,
    } = &a.kind
    else {
        return None;
    };
    Some(InstanceAttachmentShape {
        attachment_id: a.id.clone(),
        arn: a.arn(),
        instance_profile_name: instance_profile_name.clone(),
        port: *port,
        role_session_name: a.session_name.clone(),
        created_date: seconds(a.created_date),
        created_by: a.created_by.clone(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInstanceAttachmentOutput {
    instance_attachment: InstanceAttachmentShape,
}

/// The attachment to be, and the role its instance profile holds.
pub(crate) struct NewAttachment {
    id: String,
    arn: String,
    iam: IamState,
    role_arn: Option<String>,
}

pub(crate) struct CreateInstanceAttachment;

impl Operation for CreateInstanceAttachment {
    type Service = Kinko;
    const NAME: &'static str = "CreateInstanceAttachment";
    type Input = CreateInstanceAttachmentInput;
    type Output = CreateInstanceAttachmentOutput;
    type Resolved = NewAttachment;

    fn validate(i: &CreateInstanceAttachmentInput) -> Result<(), KinkoError> {
        let mut v = Violations::new();
        v.required("instanceProfileName", &i.instance_profile_name);
        v.length(
            "instanceProfileName",
            i.instance_profile_name.as_deref(),
            1,
            128,
            false,
        );
        v.required("port", &i.port);
        // Ports below 1024 need privileges the server should not have.
        v.range("port", i.port, 1024, 65535);
        check_session_name(&mut v, i.role_session_name.as_deref());
        match v.message() {
            Some(m) => Err(KinkoError::Validation(m)),
            None => Ok(()),
        }
    }

    async fn resolve(cx: &Cx<'_>, i: &CreateInstanceAttachmentInput) -> Result<NewAttachment, KinkoError> {
        let id = new_id("ia")?;
        let iam = cx.services.store.iam_state(cx.account()).await?;
        let role_arn = iam
            .instance_profile(i.instance_profile_name.as_deref().unwrap_or_default())
            .and_then(|p| p.roles.first())
            .and_then(|r| iam.role(r))
            .map(|r| r.arn.clone());
        Ok(NewAttachment {
            arn: workload::arn(cx.account(), workload::INSTANCE_ATTACHMENT, &id),
            id,
            iam,
            role_arn,
        })
    }

    /// The new attachment, and `iam:PassRole` on the profile's role for EC2.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a CreateInstanceAttachmentInput,
        n: &'a NewAttachment,
    ) -> Result<Authorization<'a>, KinkoError> {
        let account_id = cx.account();
        let mut a = Authorization::of(Check::new(
            "kinko:CreateInstanceAttachment",
            Resource::Arn {
                arn: &n.arn,
                account_id,
            },
        ));
        if let Some(role) = &n.role_arn {
            a = a.and(
                Check::new(
                    "iam:PassRole",
                    Resource::Arn {
                        arn: role,
                        account_id,
                    },
                )
                .condition("iam:PassedToService", EC2_SERVICE),
            );
        }
        Ok(a)
    }

    async fn run(
        cx: &Cx<'_>,
        i: &CreateInstanceAttachmentInput,
        n: NewAttachment,
    ) -> Result<CreateInstanceAttachmentOutput, KinkoError> {
        let name = i.instance_profile_name.clone().unwrap_or_default();
        let Some(profile) = n.iam.instance_profile(&name) else {
            return Err(KinkoError::ResourceNotFound(format!(
                "Instance profile {name} cannot be found."
            )));
        };
        if n.role_arn.is_none() {
            return Err(KinkoError::Validation(format!(
                "Instance profile {name} has no role."
            )));
        }
        let port = u16::try_from(i.port.unwrap_or_default())
            .map_err(|_| KinkoError::Validation("Port is out of range.".into()))?;
        let attachment = Attachment {
            id: n.id,
            account_id: cx.account().to_owned(),
            kind: AttachmentKind::Instance {
                instance_profile_name: profile.name.clone(),
                port,
            },
            session_name: i.role_session_name.clone(),
            session_tags: vec![],
            created_by: cx.rc.principal.arn.clone(),
            created_date: cx.now(),
        };
        match cx.services.store.create_attachment(attachment.clone()).await {
            Ok(()) => {}
            // The id is random: a conflict is the port, taken by another attachment.
            Err(StoreError::Conflict) => {
                return Err(KinkoError::ResourceExists(format!(
                    "Port {port} is already served for another instance attachment."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let instance_attachment = instance_shape(&attachment)
            .ok_or_else(|| KinkoError::Internal("an instance attachment of another kind".into()))?;
        Ok(CreateInstanceAttachmentOutput { instance_attachment })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInstanceAttachmentsOutput {
    instance_attachments: Vec<InstanceAttachmentShape>,
}

pub(crate) struct ListInstanceAttachments;

impl Operation for ListInstanceAttachments {
    type Service = Kinko;
    const NAME: &'static str = "ListInstanceAttachments";
    type Input = ListInput;
    type Output = ListInstanceAttachmentsOutput;
    type Resolved = ();

    async fn resolve(_: &Cx<'_>, _: &ListInput) -> Result<(), KinkoError> {
        Ok(())
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a ListInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, KinkoError> {
        Ok(Authorization::of(Check::new(
            "kinko:ListInstanceAttachments",
            Resource::Any,
        )))
    }

    async fn run(cx: &Cx<'_>, _: &ListInput, _: ()) -> Result<ListInstanceAttachmentsOutput, KinkoError> {
        let all = cx.services.store.list_attachments(Some(cx.account())).await?;
        Ok(ListInstanceAttachmentsOutput {
            instance_attachments: all.iter().filter_map(instance_shape).collect(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInstanceAttachmentInput {
    attachment_id: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

/// The ARN of the attachment a delete names.
pub(crate) struct Named {
    arn: String,
}

pub(crate) struct DeleteInstanceAttachment;

impl Operation for DeleteInstanceAttachment {
    type Service = Kinko;
    const NAME: &'static str = "DeleteInstanceAttachment";
    type Input = DeleteInstanceAttachmentInput;
    type Output = Empty;
    type Resolved = Named;

    fn validate(i: &DeleteInstanceAttachmentInput) -> Result<(), KinkoError> {
        let mut v = Violations::new();
        v.required("attachmentId", &i.attachment_id);
        v.length("attachmentId", i.attachment_id.as_deref(), 1, 64, false);
        match v.message() {
            Some(m) => Err(KinkoError::Validation(m)),
            None => Ok(()),
        }
    }

    async fn resolve(cx: &Cx<'_>, i: &DeleteInstanceAttachmentInput) -> Result<Named, KinkoError> {
        Ok(Named {
            arn: workload::arn(
                cx.account(),
                workload::INSTANCE_ATTACHMENT,
                i.attachment_id.as_deref().unwrap_or_default(),
            ),
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteInstanceAttachmentInput,
        n: &'a Named,
    ) -> Result<Authorization<'a>, KinkoError> {
        Ok(Authorization::of(Check::new(
            "kinko:DeleteInstanceAttachment",
            Resource::Arn {
                arn: &n.arn,
                account_id: cx.account(),
            },
        )))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteInstanceAttachmentInput, _: Named) -> Result<Empty, KinkoError> {
        let id = i.attachment_id.as_deref().unwrap_or_default();
        delete(cx, id, workload::INSTANCE_ATTACHMENT, "Instance attachment").await
    }
}

/// Revokes an attachment of the caller's account, if it is of `resource_type`.
async fn delete(cx: &Cx<'_>, id: &str, resource_type: &str, what: &str) -> Result<Empty, KinkoError> {
    let not_found = || KinkoError::ResourceNotFound(format!("{what} {id} cannot be found."));
    let found = cx
        .services
        .store
        .list_attachments(Some(cx.account()))
        .await?
        .into_iter()
        .any(|a| a.id == id && a.resource_type() == resource_type);
    if !found || !cx.services.store.delete_attachment(cx.account(), id).await? {
        return Err(not_found());
    }
    Ok(Empty {})
}

// --- container credentials tokens ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateContainerCredentialsTokenInput {
    role_arn: Option<String>,
    role_session_name: Option<String>,
    #[serde(default)]
    tags: Vec<TagShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerCredentialsTokenShape {
    token_id: String,
    arn: String,
    role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_session_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagShape>,
    created_date: f64,
    created_by: String,
}

fn container_shape(a: &Attachment) -> Option<ContainerCredentialsTokenShape> {
    let AttachmentKind::Container { role_arn, .. } = &a.kind else {
        return None;
    };
    Some(ContainerCredentialsTokenShape {
        token_id: a.id.clone(),
        arn: a.arn(),
        role_arn: role_arn.clone(),
        role_session_name: a.session_name.clone(),
        tags: a
            .session_tags
            .iter()
            .map(|(key, value)| TagShape {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        created_date: seconds(a.created_date),
        created_by: a.created_by.clone(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateContainerCredentialsTokenOutput {
    container_credentials_token: ContainerCredentialsTokenShape,
    /// The token, shown this once.
    token: String,
}

/// The token to be, and whether its role exists in the caller's account.
pub(crate) struct NewToken {
    id: String,
    arn: String,
    role_exists: bool,
    tags: Vec<(String, String)>,
}

pub(crate) struct CreateContainerCredentialsToken;

impl Operation for CreateContainerCredentialsToken {
    type Service = Kinko;
    const NAME: &'static str = "CreateContainerCredentialsToken";
    type Input = CreateContainerCredentialsTokenInput;
    type Output = CreateContainerCredentialsTokenOutput;
    type Resolved = NewToken;

    fn validate(i: &CreateContainerCredentialsTokenInput) -> Result<(), KinkoError> {
        let mut v = Violations::new();
        v.required("roleArn", &i.role_arn);
        v.length("roleArn", i.role_arn.as_deref(), 20, 2048, false);
        check_session_name(&mut v, i.role_session_name.as_deref());
        v.tags(
            "tags",
            i.tags
                .iter()
                .map(|t| (Some(t.key.as_str()), Some(t.value.as_str()))),
            &kinko_wire::validate::IAM_TAGS,
        );
        if let Some(m) = v.message() {
            return Err(KinkoError::Validation(m));
        }
        if i.tags.len() > 50 {
            return Err(KinkoError::Validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
            ));
        }
        if i.tags
            .iter()
            .any(|t| kinko_wire::validate::is_reserved_tag_key(&t.key))
        {
            return Err(KinkoError::Validation(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
            ));
        }
        let mut keys: Vec<String> = i.tags.iter().map(|t| t.key.to_lowercase()).collect();
        keys.sort();
        keys.dedup();
        if keys.len() != i.tags.len() {
            return Err(KinkoError::Validation(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &CreateContainerCredentialsTokenInput) -> Result<NewToken, KinkoError> {
        let role_arn = i.role_arn.as_deref().unwrap_or_default();
        let iam = cx.services.store.iam_state(cx.account()).await?;
        let role_exists = iam.roles.iter().any(|r| r.arn == role_arn);
        let id = new_id("cct")?;
        Ok(NewToken {
            arn: workload::arn(cx.account(), workload::CONTAINER_CREDENTIALS_TOKEN, &id),
            id,
            role_exists,
            tags: i.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
        })
    }

    /// The new token, and `iam:PassRole` on its role for ECS tasks.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateContainerCredentialsTokenInput,
        n: &'a NewToken,
    ) -> Result<Authorization<'a>, KinkoError> {
        let account_id = cx.account();
        let role = i.role_arn.as_deref().unwrap_or_default();
        Ok(Authorization::of(
            Check::new(
                "kinko:CreateContainerCredentialsToken",
                Resource::Arn {
                    arn: &n.arn,
                    account_id,
                },
            )
            .request_tags(n.tags.as_slice()),
        )
        .and(
            Check::new(
                "iam:PassRole",
                Resource::Arn {
                    arn: role,
                    account_id,
                },
            )
            .condition("iam:PassedToService", ECS_TASKS_SERVICE),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        i: &CreateContainerCredentialsTokenInput,
        n: NewToken,
    ) -> Result<CreateContainerCredentialsTokenOutput, KinkoError> {
        let role_arn = i.role_arn.clone().unwrap_or_default();
        if !n.role_exists {
            return Err(KinkoError::ResourceNotFound(format!(
                "Role {role_arn} cannot be found."
            )));
        }
        let token = Zeroizing::new(hex(
            &kinko_crypto::random_bytes(32).map_err(|e| KinkoError::Internal(e.to_string()))?
        ));
        let attachment = Attachment {
            id: n.id,
            account_id: cx.account().to_owned(),
            kind: AttachmentKind::Container {
                role_arn,
                token_sha256: kinko_crypto::sha256_hex(token.as_bytes()),
            },
            session_name: i.role_session_name.clone(),
            session_tags: n.tags,
            created_by: cx.rc.principal.arn.clone(),
            created_date: cx.now(),
        };
        cx.services.store.create_attachment(attachment.clone()).await?;
        let container_credentials_token = container_shape(&attachment)
            .ok_or_else(|| KinkoError::Internal("a token of another kind".into()))?;
        Ok(CreateContainerCredentialsTokenOutput {
            container_credentials_token,
            token: token.to_string(),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListContainerCredentialsTokensOutput {
    container_credentials_tokens: Vec<ContainerCredentialsTokenShape>,
}

pub(crate) struct ListContainerCredentialsTokens;

impl Operation for ListContainerCredentialsTokens {
    type Service = Kinko;
    const NAME: &'static str = "ListContainerCredentialsTokens";
    type Input = ListInput;
    type Output = ListContainerCredentialsTokensOutput;
    type Resolved = ();

    async fn resolve(_: &Cx<'_>, _: &ListInput) -> Result<(), KinkoError> {
        Ok(())
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a ListInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, KinkoError> {
        Ok(Authorization::of(Check::new(
            "kinko:ListContainerCredentialsTokens",
            Resource::Any,
        )))
    }

    async fn run(
        cx: &Cx<'_>,
        _: &ListInput,
        _: (),
    ) -> Result<ListContainerCredentialsTokensOutput, KinkoError> {
        let all = cx.services.store.list_attachments(Some(cx.account())).await?;
        Ok(ListContainerCredentialsTokensOutput {
            container_credentials_tokens: all.iter().filter_map(container_shape).collect(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteContainerCredentialsTokenInput {
    token_id: Option<String>,
}

pub(crate) struct DeleteContainerCredentialsToken;

impl Operation for DeleteContainerCredentialsToken {
    type Service = Kinko;
    const NAME: &'static str = "DeleteContainerCredentialsToken";
    type Input = DeleteContainerCredentialsTokenInput;
    type Output = Empty;
    type Resolved = Named;

    fn validate(i: &DeleteContainerCredentialsTokenInput) -> Result<(), KinkoError> {
        let mut v = Violations::new();
        v.required("tokenId", &i.token_id);
        v.length("tokenId", i.token_id.as_deref(), 1, 64, false);
        match v.message() {
            Some(m) => Err(KinkoError::Validation(m)),
            None => Ok(()),
        }
    }

    async fn resolve(cx: &Cx<'_>, i: &DeleteContainerCredentialsTokenInput) -> Result<Named, KinkoError> {
        Ok(Named {
            arn: workload::arn(
                cx.account(),
                workload::CONTAINER_CREDENTIALS_TOKEN,
                i.token_id.as_deref().unwrap_or_default(),
            ),
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteContainerCredentialsTokenInput,
        n: &'a Named,
    ) -> Result<Authorization<'a>, KinkoError> {
        Ok(Authorization::of(Check::new(
            "kinko:DeleteContainerCredentialsToken",
            Resource::Arn {
                arn: &n.arn,
                account_id: cx.account(),
            },
        )))
    }

    async fn run(
        cx: &Cx<'_>,
        i: &DeleteContainerCredentialsTokenInput,
        _: Named,
    ) -> Result<Empty, KinkoError> {
        let id = i.token_id.as_deref().unwrap_or_default();
        delete(
            cx,
            id,
            workload::CONTAINER_CREDENTIALS_TOKEN,
            "Container credentials token",
        )
        .await
    }
}

// --- the dev server's clock ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AdvanceClockInput {
    duration: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AdvanceClockOutput {
    /// The server's time after the move (epoch seconds).
    now: f64,
    /// How far ahead of the system's time the server's clock now is, in seconds.
    offset_seconds: i64,
}

/// The message of AdvanceClock on a server not in `--dev` mode.
pub const CLOCK_NOT_MOVABLE: &str =
    "The clock of this server cannot be moved: only a server in --dev mode has a movable clock.";

/// AdvanceClock (`{"Duration": "7d"}`, also `36h`, `90m`, `30s`): moves a `--dev` server's clock
/// forward, so recovery windows, rotation schedules, key deletions and credential expiry can be
/// tried in seconds (`kinko dev clock advance`). Beyond AWS, for people testing their own code.
///
/// How it is reached, by choice: as one more operation of kinko's own service on the main
/// listener, so it goes through the same SigV4 authentication, authorization
/// (`kinko:AdvanceClock`) and audit record as every call, and works where a dev server has no data
/// dir (nothing for an admin socket to live in). Only the account's root user may call it (any
/// other caller is AccessDeniedException even when a policy allows the action: moving time
/// changes every account's expiries), and only on a `--dev` server (else ValidationException,
/// [`CLOCK_NOT_MOVABLE`]): elsewhere the clock is the system's and nothing can move it. The
/// clock never moves back; the background jobs see the new time at their next run.
pub(crate) struct AdvanceClock;

impl Operation for AdvanceClock {
    type Service = Kinko;
    const NAME: &'static str = "AdvanceClock";
    type Input = AdvanceClockInput;
    type Output = AdvanceClockOutput;
    type Resolved = ();

    fn validate(i: &AdvanceClockInput) -> Result<(), KinkoError> {
        let mut v = Violations::new();
        v.length("duration", i.duration.as_deref(), 2, 32, false);
        if let Some(message) = v.message() {
            return Err(KinkoError::Validation(message));
        }
        kinko_core::clock::parse_duration(i.duration.as_deref().unwrap_or_default())
            .map(|_| ())
            .map_err(|e| KinkoError::Validation(e.to_string()))
    }

    async fn resolve(_: &Cx<'_>, _: &AdvanceClockInput) -> Result<(), KinkoError> {
        Ok(())
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a AdvanceClockInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, KinkoError> {
        Ok(Authorization::of(Check::new("kinko:AdvanceClock", Resource::Any)))
    }

    async fn run(cx: &Cx<'_>, i: &AdvanceClockInput, _: ()) -> Result<AdvanceClockOutput, KinkoError> {
        if !cx.rc.principal.is_root() {
            return Err(KinkoError::AccessDenied(format!(
                "User: {} is not authorized to perform: kinko:AdvanceClock: only the account's root user may move the server's clock",
                cx.rc.principal.arn
            )));
        }
        let Some(clock) = cx.services.clock.dev_clock() else {
            return Err(KinkoError::Validation(CLOCK_NOT_MOVABLE.to_owned()));
        };
        let ms = kinko_core::clock::parse_duration(i.duration.as_deref().unwrap_or_default())
            .map_err(|e| KinkoError::Validation(e.to_string()))?;
        let offset = clock.advance(ms);
        let now = cx.services.clock.now();
        tracing::warn!(
            offset_ms = offset,
            advanced_ms = ms,
            "the dev server's clock was moved forward"
        );
        Ok(AdvanceClockOutput {
            now: seconds(now),
            offset_seconds: offset / 1000,
        })
    }
}
