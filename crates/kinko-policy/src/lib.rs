//! kinko-policy: IAM policy parsing, validation and evaluation.
//!
//! This crate decides whether an AWS-style request is allowed, the way AWS IAM does, for the
//! Secrets Manager, KMS, IAM and STS APIs kinko speaks:
//!
//! - [`Policy::parse`] validates a policy document for its [`PolicyKind`] (identity-based,
//!   resource-based, role trust, permissions boundary, session, KMS key policy) and returns the
//!   `MalformedPolicyDocument` message IAM gives for a bad one ([`PolicyError`]);
//! - [`evaluate`] combines the identity-based policies, resource policy, permissions boundary,
//!   session policies and SCPs that apply to a [`Request`] into a [`Decision`] — allow, explicit
//!   deny (and where), or implicit deny (and which policy type lacked an allow) — following the
//!   IAM User Guide's policy evaluation logic for single- and cross-account requests, the root
//!   user, role trust policies and KMS key policies;
//! - [`access_denied_message`] renders the `AccessDenied` text AWS sends for a decision;
//! - [`ConditionContext`] carries the request's condition keys, with helpers for the global
//!   `aws:` keys.
//!
//! The crate is pure: no I/O, no clock (callers pass `now` to
//! [`ConditionContext::for_request`]), no global state, and no panics on any input. It depends on
//! nothing in kinko. Its behaviour is pinned by a table-driven corpus in `tests/corpus/`.
//!
//! ```
//! use kinko_policy::*;
//!
//! let role = PrincipalCtx::assumed_role("arn:aws:iam::111122223333:role/app", "task-1", "AROAEXAMPLEID1234567");
//! let mut ctx = ConditionContext::for_request(&role, time::macros::datetime!(2024-05-01 12:00 UTC));
//! ctx.add_resource_tags(Some("secretsmanager"), [("team", "payments")]);
//!
//! let identity = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue",
//!         "Resource":"*","Condition":{"StringEquals":{"secretsmanager:ResourceTag/team":"payments"}}}]}"#,
//!     PolicyKind::Identity,
//! )?;
//! let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
//! let req = Request {
//!     principal: &role,
//!     action: "secretsmanager:GetSecretValue",
//!     resource: secret,
//!     resource_account: None,
//!     context: &ctx,
//! };
//! let decision = evaluate(&req, &PolicySet { identity: &[&identity], ..PolicySet::default() });
//! assert!(decision.is_allowed());
//!
//! let denied = evaluate(&Request { action: "secretsmanager:DeleteSecret", ..req }, &PolicySet {
//!     identity: &[&identity],
//!     ..PolicySet::default()
//! });
//! assert_eq!(
//!     access_denied_message(&role.arn, "secretsmanager:DeleteSecret", Some(secret), &denied),
//!     format!("User: {} is not authorized to perform: secretsmanager:DeleteSecret on resource: {secret} \
//!              because no identity-based policy allows the secretsmanager:DeleteSecret action", role.arn),
//! );
//! # Ok::<(), PolicyError>(())
//! ```

#![warn(missing_docs)]

mod binding;
mod condition;
mod context;
mod error;
mod eval;
mod iam_grammar;
mod json;
mod message;
mod pattern;
mod policy;
mod principal;

pub use binding::{allowed_principals, named_principals, rewrite_principals};
pub use context::{ConditionContext, ContextValue, RequestKeys};
pub use error::PolicyError;
pub use eval::{
    AllowBasis, Decision, ImplicitDenyReason, PolicySet, PolicyType, Request, StatementRef, evaluate,
    evaluate_assuming,
};
pub use message::access_denied_message;
pub use policy::{Effect, Policy, PolicyKind, PolicyVersion, Statement};
pub use principal::{PrincipalCtx, PrincipalKind};

/// The length of a policy document in characters, as quotas such as Secrets Manager's 20,480
/// character resource policy limit or STS's 2,048 character session policy limit count it.
pub fn document_size(doc: &str) -> usize {
    doc.chars().count()
}

/// The length of a policy document in characters not counting whitespace, as IAM counts its
/// managed (6,144) and inline (user 2,048, group 5,120, role 10,240) policy quotas.
pub fn document_size_without_whitespace(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}
