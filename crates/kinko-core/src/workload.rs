//! Workload attachments: what lets a program get role credentials from the server with no key on
//! its machine, as an EC2 instance's or an ECS task's programs do. An operator creates them and
//! can revoke them; the server's instance metadata and container credentials endpoints look them
//! up on every request, through the store, so a revocation is seen at once by every node.
//!
//! - An *instance attachment* binds an instance profile to a port of the instance metadata
//!   endpoint: whoever reaches that port gets the credentials of the profile's role, as any
//!   process on an EC2 instance does. A port, not a secret in the URL: aws-sdk-js v3 drops the
//!   path of `AWS_EC2_METADATA_SERVICE_ENDPOINT` (it sends `/latest/...` to the host and port
//!   alone), so a per-attachment path would not reach every SDK.
//! - A *container credentials token* is bound to one role (optionally a session name and session
//!   tags); the workload presents it as `AWS_CONTAINER_AUTHORIZATION_TOKEN`. Only its SHA-256 is
//!   stored: the token is 256 random bits, so a hash without salt or stretching is as strong as
//!   the token itself, and it lets the endpoint find the record by the token alone.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What an attachment binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachmentKind {
    /// An instance profile, served on its own port of the instance metadata endpoint.
    Instance {
        instance_profile_name: String,
        port: u16,
    },
    /// A role, served on the container credentials endpoint to the holder of a token.
    Container {
        role_arn: String,
        /// SHA-256 of the token, hex.
        token_sha256: String,
    },
}

/// One instance attachment or container credentials token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `ia-` or `cct-` and 24 hex digits.
    pub id: String,
    pub account_id: String,
    pub kind: AttachmentKind,
    /// The role session name of the credentials served (default: the attachment id).
    pub session_name: Option<String>,
    /// Session tags of the credentials served.
    pub session_tags: Vec<(String, String)>,
    /// Who created it (an ARN).
    pub created_by: String,
    pub created_date: Timestamp,
}

impl Attachment {
    /// Its ARN: `arn:aws:kinko::ACCOUNT:instance-attachment/ID` or
    /// `arn:aws:kinko::ACCOUNT:container-credentials-token/ID`.
    pub fn arn(&self) -> String {
        arn(&self.account_id, self.resource_type(), &self.id)
    }

    /// The resource type in its ARN.
    pub fn resource_type(&self) -> &'static str {
        match self.kind {
            AttachmentKind::Instance { .. } => INSTANCE_ATTACHMENT,
            AttachmentKind::Container { .. } => CONTAINER_CREDENTIALS_TOKEN,
        }
    }

    /// The port of an instance attachment.
    pub fn port(&self) -> Option<u16> {
        match self.kind {
            AttachmentKind::Instance { port, .. } => Some(port),
            AttachmentKind::Container { .. } => None,
        }
    }

    /// The token hash of a container credentials token.
    pub fn token_sha256(&self) -> Option<&str> {
        match &self.kind {
            AttachmentKind::Container { token_sha256, .. } => Some(token_sha256),
            AttachmentKind::Instance { .. } => None,
        }
    }
}

pub const INSTANCE_ATTACHMENT: &str = "instance-attachment";
pub const CONTAINER_CREDENTIALS_TOKEN: &str = "container-credentials-token";

/// The ARN of an attachment of `resource_type` (`*` for `id` names them all).
pub fn arn(account_id: &str, resource_type: &str, id: &str) -> String {
    format!("arn:aws:kinko::{account_id}:{resource_type}/{id}")
}
