//! ARNs as AWS writes them, and how a Secrets Manager `SecretId` is resolved.
//! See the Secrets Manager reference, §2 "Identifiers".

use rand::Rng;

pub const PARTITION: &str = "aws";

/// `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random alphanumerics>`.
pub fn secret_arn(region: &str, account_id: &str, name: &str, suffix: &str) -> String {
    format!("arn:{PARTITION}:secretsmanager:{region}:{account_id}:secret:{name}-{suffix}")
}

/// The 6-character mixed-case alphanumeric suffix AWS appends to a secret's name in its ARN.
/// A secret re-created under the same name gets a new suffix.
pub fn random_secret_suffix() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
        .collect()
}

/// A parsed `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account_id: parts.next()?,
            resource: parts.next()?,
        })
    }
}

/// How a `SecretId` names a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A plain name in the caller's account and region.
    Name(String),
    /// A full ARN (ends in `-XXXXXX`): must match a secret's ARN exactly, no fallback.
    FullArn {
        arn: String,
        account_id: String,
        region: String,
    },
    /// An ARN without the random suffix: the secret name in that account and region.
    PartialArn {
        name: String,
        account_id: String,
        region: String,
    },
}

impl SecretRef {
    /// Classifies a `SecretId`. Returns `None` for a string that starts with `arn:` but is not a
    /// Secrets Manager secret ARN; AWS answers those with "can't find the specified secret".
    pub fn parse(secret_id: &str) -> Option<SecretRef> {
        if !secret_id.starts_with("arn:") {
            return Some(SecretRef::Name(secret_id.to_owned()));
        }
        let arn = Arn::parse(secret_id)?;
        if arn.service != "secretsmanager" || arn.account_id.is_empty() || arn.region.is_empty() {
            return None;
        }
        let name = arn.resource.strip_prefix("secret:")?;
        if name.is_empty() {
            return None;
        }
        if has_random_suffix(name) {
            Some(SecretRef::FullArn {
                arn: secret_id.to_owned(),
                account_id: arn.account_id.to_owned(),
                region: arn.region.to_owned(),
            })
        } else {
            Some(SecretRef::PartialArn {
                name: name.to_owned(),
                account_id: arn.account_id.to_owned(),
                region: arn.region.to_owned(),
            })
        }
    }
}

/// True when `name` ends with `-` followed by exactly six ASCII alphanumerics (and has something
/// before the hyphen): AWS then treats the ARN as a complete ARN.
fn has_random_suffix(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 7 && b[b.len() - 7] == b'-' && b[b.len() - 6..].iter().all(u8::is_ascii_alphanumeric)
}

/// Whether a secret name uses only the characters AWS allows: ASCII letters, digits and `/_+=.@-`.
pub fn is_valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/_+=.@-".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_round_trip() {
        let arn = secret_arn("us-east-1", "123456789012", "a/b", "AbC123");
        assert_eq!(
            arn,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:a/b-AbC123"
        );
        assert!(matches!(SecretRef::parse(&arn), Some(SecretRef::FullArn { .. })));
    }

    #[test]
    fn partial_arns() {
        let p = "arn:aws:secretsmanager:us-east-1:123456789012:secret:MySecret";
        assert_eq!(
            SecretRef::parse(p),
            Some(SecretRef::PartialArn {
                name: "MySecret".into(),
                account_id: "123456789012".into(),
                region: "us-east-1".into()
            })
        );
        // `...-a1b2` (4 chars) and a trailing hyphen are partial, as in AWS.
        for name in ["Valid/_+=.@-Name-a1b2", "x-a1b2c3-"] {
            let s = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}");
            assert!(
                matches!(SecretRef::parse(&s), Some(SecretRef::PartialArn { .. })),
                "{name}"
            );
        }
        assert_eq!(SecretRef::parse("arn:aws:kms:us-east-1:1:key/x"), None);
        assert_eq!(SecretRef::parse("arn:nope"), None);
        assert_eq!(SecretRef::parse("plain"), Some(SecretRef::Name("plain".into())));
    }

    #[test]
    fn suffix_shape() {
        for _ in 0..100 {
            let s = random_secret_suffix();
            assert_eq!(s.len(), 6);
            assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn names() {
        assert!(is_valid_secret_name("Valid/_+=.@-Name"));
        for bad in ["", "a b", "a*", "a?", "a]", "a\\b", "é"] {
            assert!(!is_valid_secret_name(bad), "{bad:?}");
        }
    }
}
