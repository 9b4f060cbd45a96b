//! Checks on the policy documents IAM stores: the grammar (through `kinko-policy`, the parser the
//! authorizer evaluates them with, so IAM never stores a policy that would silently grant nothing)
//! and IAM's size quotas, counted in characters without whitespace.

use kinko_policy::{Policy, PolicyKind};

use super::error::IamError;

/// What a document is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A user, group or role policy, inline or managed (also used as a permissions boundary).
    Identity,
    /// A role's `AssumeRolePolicyDocument`.
    Trust,
}

/// Largest managed policy document.
pub const MANAGED_POLICY_SIZE: usize = 6144;
/// Largest role trust policy (`ACLSizePerRole`).
pub const TRUST_POLICY_SIZE: usize = 2048;

/// Validates a document's grammar; the error is IAM's `MalformedPolicyDocument` message.
pub fn validate_policy_document(doc: &str, kind: DocumentKind) -> Result<(), String> {
    let parsed = match kind {
        DocumentKind::Identity => Policy::parse_iam(doc),
        DocumentKind::Trust => Policy::parse(doc, PolicyKind::Trust),
    };
    parsed.map(|_| ()).map_err(|e| e.to_string())
}

/// The size IAM counts against its policy quotas.
pub fn size(doc: &str) -> usize {
    kinko_policy::document_size_without_whitespace(doc)
}

/// Validates a managed policy version's document (grammar, then `PolicySize`).
pub fn check_managed(doc: &str) -> Result<(), IamError> {
    validate_policy_document(doc, DocumentKind::Identity).map_err(IamError::MalformedPolicyDocument)?;
    if size(doc) > MANAGED_POLICY_SIZE {
        return Err(IamError::quota("PolicySize", MANAGED_POLICY_SIZE));
    }
    Ok(())
}

/// Validates a role trust policy (grammar, then `ACLSizePerRole`).
pub fn check_trust(doc: &str) -> Result<(), IamError> {
    validate_policy_document(doc, DocumentKind::Trust).map_err(IamError::MalformedPolicyDocument)?;
    if size(doc) > TRUST_POLICY_SIZE {
        return Err(IamError::quota("ACLSizePerRole", TRUST_POLICY_SIZE));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let ok =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(validate_policy_document(ok, DocumentKind::Identity), Ok(()));
        assert_eq!(
            validate_policy_document("{", DocumentKind::Identity).unwrap_err(),
            "This policy contains invalid Json"
        );
        let principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
        assert_eq!(
            validate_policy_document(principal, DocumentKind::Identity).unwrap_err(),
            "Policy document should not specify a principal."
        );
        let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(validate_policy_document(trust, DocumentKind::Trust), Ok(()));
        let with_resource = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole","Resource":"*"}}"#;
        assert_eq!(
            validate_policy_document(with_resource, DocumentKind::Trust).unwrap_err(),
            "Has prohibited field Resource."
        );
    }

    #[test]
    fn iam_order_of_checks() {
        // IAM wants the 2012-10-17 language for a permission policy before reading its statements.
        let unversioned = r#"{"Statement":{"Effect":"Allow","Action":"s3","Resource":"bucket"}}"#;
        assert_eq!(
            validate_policy_document(unversioned, DocumentKind::Identity).unwrap_err(),
            "Policy document must be version 2012-10-17 or greater."
        );
        // Trust policies keep their own rules.
        let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(validate_policy_document(trust, DocumentKind::Trust), Ok(()));
    }

    #[test]
    fn sizes() {
        assert_eq!(size(" { \"a\" :\n 1 } "), 7);
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{}"}}}}"#,
            "a".repeat(6200)
        );
        assert_eq!(check_managed(&big), Err(IamError::quota("PolicySize", 6144)));
    }
}
