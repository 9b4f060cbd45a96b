//! Dynamic references in strings: `{{resolve:secretsmanager:...}}`, `{{resolve:ssm:...}}` and
//! `{{resolve:ssm-secure:...}}`.
//!
//! They are found and parsed here and resolved through the caller's
//! [`crate::eval::Resolver`], only when a resource's properties are resolved, so the secret never
//! becomes part of the stored template, its parameters or its events.
//!
//! The Secrets Manager form is
//! `{{resolve:secretsmanager:secret-id:secret-string:json-key:version-stage:version-id}}`, where
//! the secret id is a name or a whole ARN (whose own colons are part of it), `secret-string` is
//! `SecretString` (the only value AWS accepts, and the default), and the last three may each be
//! empty or left out.

use crate::error::{Result, TemplateError};

/// A parsed dynamic reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DynamicReference {
    /// `{{resolve:secretsmanager:...}}`.
    SecretsManager {
        /// A secret name or ARN.
        secret_id: String,
        /// The key whose value to take from a JSON secret string; the whole string if absent.
        json_key: Option<String>,
        /// The staging label (`AWSCURRENT` when neither this nor `version_id` is given).
        version_stage: Option<String>,
        /// The version id.
        version_id: Option<String>,
    },
    /// `{{resolve:ssm:name:version}}`: a plain SSM parameter.
    Ssm {
        /// The parameter name.
        name: String,
        /// The version, if given.
        version: Option<String>,
    },
    /// `{{resolve:ssm-secure:name:version}}`: a SecureString SSM parameter.
    SsmSecure {
        /// The parameter name.
        name: String,
        /// The version, if given.
        version: Option<String>,
    },
}

const OPEN: &str = "{{resolve:";

fn bad(reference: &str, why: &str) -> TemplateError {
    // [unverified wording]: AWS's text for a malformed reference was not found.
    TemplateError::validation(format!(
        "Invalid dynamic reference {{{{resolve:{reference}}}}}: {why}"
    ))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Parses the inside of one reference (`service:...`, without `{{resolve:` and `}}`).
pub fn parse_reference(inner: &str) -> Result<DynamicReference> {
    let (service, rest) = inner.split_once(':').ok_or_else(|| bad(inner, "no service"))?;
    match service {
        "secretsmanager" => {
            // An ARN's own parts (arn:partition:secretsmanager:region:account:secret:name)
            // belong to the secret id.
            let parts: Vec<&str> = rest.split(':').collect();
            let id_parts = if rest.starts_with("arn:") { 7 } else { 1 };
            if parts.len() < id_parts || parts[..id_parts].iter().any(|p| p.is_empty()) {
                return Err(bad(inner, "the secret id is missing"));
            }
            let secret_id = parts[..id_parts].join(":");
            let rest = &parts[id_parts..];
            if rest.len() > 4 {
                return Err(bad(inner, "too many segments"));
            }
            if let Some(s) = rest.first()
                && !s.is_empty()
                && *s != "SecretString"
            {
                return Err(bad(
                    inner,
                    "the only supported secret-string value is SecretString",
                ));
            }
            let json_key = non_empty(rest.get(1).copied());
            let version_stage = non_empty(rest.get(2).copied());
            let version_id = non_empty(rest.get(3).copied());
            if version_stage.is_some() && version_id.is_some() {
                return Err(bad(
                    inner,
                    "specify either a version stage or a version id, not both",
                ));
            }
            Ok(DynamicReference::SecretsManager {
                secret_id,
                json_key,
                version_stage,
                version_id,
            })
        }
        "ssm" | "ssm-secure" => {
            let (name, version) = match rest.rsplit_once(':') {
                // A name may itself be an ARN with colons; a trailing all-digit part is the
                // version.
                Some((n, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    (n.to_owned(), Some(v.to_owned()))
                }
                _ => (rest.to_owned(), None),
            };
            if name.is_empty() {
                return Err(bad(inner, "the parameter name is missing"));
            }
            Ok(if service == "ssm" {
                DynamicReference::Ssm { name, version }
            } else {
                DynamicReference::SsmSecure { name, version }
            })
        }
        _ => Err(bad(inner, "unsupported service")),
    }
}

/// The dynamic references in `s`, with their byte ranges.
pub fn find(s: &str) -> Result<Vec<(std::ops::Range<usize>, DynamicReference)>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = s[from..].find(OPEN).map(|i| i + from) {
        let inner_start = start + OPEN.len();
        let Some(end) = s[inner_start..].find("}}").map(|i| i + inner_start) else {
            break;
        };
        found.push((start..end + 2, parse_reference(&s[inner_start..end])?));
        from = end + 2;
    }
    Ok(found)
}

/// Replaces every dynamic reference in `s` with what `resolve` gives for it.
pub fn substitute(s: &str, resolve: &mut dyn FnMut(&DynamicReference) -> Result<String>) -> Result<String> {
    let found = find(s)?;
    if found.is_empty() {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (range, reference) in found {
        out.push_str(&s[last..range.start]);
        out.push_str(&resolve(&reference)?);
        last = range.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sm(id: &str, key: Option<&str>, stage: Option<&str>, vid: Option<&str>) -> DynamicReference {
        DynamicReference::SecretsManager {
            secret_id: id.into(),
            json_key: key.map(Into::into),
            version_stage: stage.map(Into::into),
            version_id: vid.map(Into::into),
        }
    }

    #[test]
    fn secrets_manager_forms() {
        assert_eq!(
            parse_reference("secretsmanager:MySecret").unwrap(),
            sm("MySecret", None, None, None)
        );
        assert_eq!(
            parse_reference("secretsmanager:MySecret:SecretString:password").unwrap(),
            sm("MySecret", Some("password"), None, None)
        );
        assert_eq!(
            parse_reference("secretsmanager:MySecret:SecretString:password:AWSPREVIOUS").unwrap(),
            sm("MySecret", Some("password"), Some("AWSPREVIOUS"), None)
        );
        assert_eq!(
            parse_reference("secretsmanager:MySecret:SecretString:::0a1b2c").unwrap(),
            sm("MySecret", None, None, Some("0a1b2c"))
        );
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:MySecret-a1b2c3";
        assert_eq!(
            parse_reference(&format!("secretsmanager:{arn}:SecretString:username")).unwrap(),
            sm(arn, Some("username"), None, None)
        );
        assert_eq!(
            parse_reference(&format!("secretsmanager:{arn}")).unwrap(),
            sm(arn, None, None, None)
        );
        assert!(parse_reference("secretsmanager:S:SecretBinary").is_err());
        assert!(parse_reference("secretsmanager:S:SecretString:k:AWSCURRENT:v1").is_err());
        assert!(parse_reference("secretsmanager:").is_err());
        assert!(parse_reference("secretsmanager:arn:aws:secretsmanager:us-east-1").is_err());
    }

    #[test]
    fn ssm_forms() {
        assert_eq!(
            parse_reference("ssm:/app/db/host:3").unwrap(),
            DynamicReference::Ssm {
                name: "/app/db/host".into(),
                version: Some("3".into())
            }
        );
        assert_eq!(
            parse_reference("ssm-secure:pw").unwrap(),
            DynamicReference::SsmSecure {
                name: "pw".into(),
                version: None
            }
        );
        assert!(parse_reference("s3:bucket").is_err());
    }

    #[test]
    fn substitution_in_text() {
        let s = "user={{resolve:secretsmanager:Db:SecretString:username}};pw={{resolve:secretsmanager:Db:SecretString:password}}!";
        let out = substitute(s, &mut |r| match r {
            DynamicReference::SecretsManager { json_key, .. } => {
                Ok(format!("<{}>", json_key.as_deref().unwrap_or("")))
            }
            _ => Err(TemplateError::validation("no")),
        })
        .unwrap();
        assert_eq!(out, "user=<username>;pw=<password>!");
        assert_eq!(find("plain {{text}}").unwrap(), vec![]);
    }
}
