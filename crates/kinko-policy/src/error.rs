//! Policy document validation errors.
//!
//! Every variant displays the message IAM (or the owning service) returns with the
//! `MalformedPolicyDocument` error code for the same problem, so a service can put
//! `err.to_string()` straight into its error body. This module is pure: no I/O.

use thiserror::Error;

/// Why a policy document was rejected.
///
/// All variants map to the AWS error code [`PolicyError::CODE`] (`MalformedPolicyDocument`,
/// HTTP 400); services whose error is spelled differently (KMS and Secrets Manager use
/// `MalformedPolicyDocumentException`) keep the message and change the code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The document is not JSON (or has trailing garbage, or nests too deeply).
    #[error("This policy contains invalid Json")]
    InvalidJson,
    /// Structurally wrong: unknown or duplicated element, wrong JSON type, unknown condition
    /// operator, invalid condition value, empty statement list, unsupported `Version`.
    #[error("Syntax errors in policy.")]
    Syntax,
    /// `Effect` missing or not exactly `Allow` / `Deny` (IAM reports these through its legacy
    /// parser fallback).
    #[error("The policy failed legacy parsing")]
    LegacyParsing,
    /// `Principal` / `NotPrincipal` in an identity-based policy, permissions boundary or
    /// session policy.
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    /// A role trust policy statement without `Principal` / `NotPrincipal`.
    #[error(
        "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: \
         The passed in policy has a statement with no principals!"
    )]
    TrustStatementWithoutPrincipal,
    /// A resource-based or key policy statement without `Principal` / `NotPrincipal`.
    #[error("Missing required field Principal")]
    MissingPrincipal,
    /// A principal value that is not an account id, a supported ARN, a unique id or `*`.
    #[error("Invalid principal in policy: \"{key}\":\"{value}\"")]
    InvalidPrincipal {
        /// The principal type (`AWS`, `Service`, `Federated`, `CanonicalUser`).
        key: String,
        /// The offending value as written.
        value: String,
    },
    /// `Resource` / `NotResource` in a role trust policy.
    #[error("Has prohibited field Resource.")]
    ResourceNotAllowed,
    /// A statement without `Action` / `NotAction`, or with an empty list.
    #[error("Policy statement must contain actions.")]
    MissingActions,
    /// A statement without `Resource` / `NotResource` (or an empty list) where one is required.
    #[error("Policy statement must contain resources.")]
    MissingResources,
    /// An action or condition key without a `vendor:` prefix.
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    MissingVendor,
    /// An action with more than one colon.
    #[error("Actions/Condition can contain only one colon.")]
    TooManyColons,
    /// A resource that is neither `*` nor an ARN.
    #[error("Resource {0} must be in ARN format or \"*\".")]
    InvalidResource(String),
    /// Two statements share a `Sid` (IAM-stored policies only).
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid,
    /// A `Sid` with characters other than `[0-9A-Za-z]` (IAM-stored policies only).
    #[error(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular \
         expression [0-9A-Za-z]*"
    )]
    InvalidSid,
    /// An IAM permission policy without `"Version": "2012-10-17"`.
    #[error("Policy document must be version 2012-10-17 or greater.")]
    VersionTooOld,
    /// An action whose vendor has characters other than letters, digits, `-` and `.`.
    #[error("Vendor {0} is not valid")]
    InvalidVendor(String),
    /// A resource whose partition is not an AWS partition (nor `*`). `resource` is the ARN as
    /// IAM rewrites it: the partition, then four more segments with `*` for missing ones.
    #[error("Partition \"{partition}\" is not valid for resource \"{resource}\".")]
    InvalidPartition {
        /// The second segment of the resource.
        partition: String,
        /// The ARN IAM reports.
        resource: String,
    },
    /// A resource that stops after its partition.
    #[error("Resource vendor must be fully qualified and cannot contain regexes.")]
    ResourceVendorNotQualified,
    /// An `iam` resource with a region.
    #[error("IAM resource {0} cannot contain region information.")]
    IamResourceRegion(String),
    /// An `s3` resource with a region (other than an access point).
    #[error("Resource {0} can not contain region information.")]
    ResourceRegion(String),
    /// An `iam` resource whose resource part is not one of IAM's resource types.
    #[error(
        "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, \
         instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, \
         oidc-provider/, report/, access-report/."
    )]
    IamResourcePath,
}

impl PolicyError {
    /// The AWS error code IAM and STS use for every variant.
    pub const CODE: &'static str = "MalformedPolicyDocument";
}
