//! Physical names CloudFormation generates for resources the template leaves unnamed, and the
//! capabilities (`CAPABILITY_IAM`, `CAPABILITY_NAMED_IAM`, `CAPABILITY_AUTO_EXPAND`) a template
//! needs acknowledged.

use crate::error::{Result, TemplateError};
use crate::model::Template;

/// The length of the random suffix of generated names (AWS uses 12 or 13 upper-case
/// alphanumerics; 13 is what current IAM role and Lambda function names show).
pub const SUFFIX_LEN: usize = 13;

const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A random suffix drawn from `bytes` (the caller's random source, so this stays pure): upper-case
/// letters and digits, each byte mapped without bias (bytes at or above 252 are skipped).
/// Returns `None` if `bytes` ran out first.
pub fn random_suffix(bytes: impl IntoIterator<Item = u8>) -> Option<String> {
    let suffix: String = bytes
        .into_iter()
        .filter(|b| *b < 252)
        .take(SUFFIX_LEN)
        .map(|b| char::from(ALPHABET[usize::from(b % 36)]))
        .collect();
    (suffix.len() == SUFFIX_LEN).then_some(suffix)
}

/// `STACK-LOGICALID-SUFFIX`, shortened to at most `max_len` characters the way CloudFormation
/// does: the suffix is kept whole, and when stack name and logical id do not both fit, the stack
/// name is cut first, down to half the room, then the logical id. (AWS's own example:
/// `MyStackDev-MyNestedApplicatio-MyLambdaFunctionName-1U44TLUZ7OR55` for a 64-character limit.)
/// A limit too small for even the suffix gives the suffix cut to the limit.
pub fn physical_name(stack_name: &str, logical_id: &str, suffix: &str, max_len: usize) -> String {
    let full = format!("{stack_name}-{logical_id}-{suffix}");
    if full.chars().count() <= max_len {
        return full;
    }
    let Some(room) = max_len.checked_sub(suffix.chars().count() + 2) else {
        return suffix.chars().take(max_len).collect();
    };
    let stack_len = stack_name.chars().count();
    let logical_len = logical_id.chars().count();
    let stack_keep = stack_len.min(room.saturating_sub(logical_len).max(room / 2));
    let logical_keep = logical_len.min(room - stack_keep);
    let stack: String = stack_name.chars().take(stack_keep).collect();
    let logical: String = logical_id.chars().take(logical_keep).collect();
    format!("{stack}-{logical}-{suffix}")
}

/// A capability a template may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// `CAPABILITY_IAM`.
    Iam,
    /// `CAPABILITY_NAMED_IAM`.
    NamedIam,
    /// `CAPABILITY_AUTO_EXPAND`.
    AutoExpand,
}

impl Capability {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Iam => "CAPABILITY_IAM",
            Capability::NamedIam => "CAPABILITY_NAMED_IAM",
            Capability::AutoExpand => "CAPABILITY_AUTO_EXPAND",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CAPABILITY_IAM" => Capability::Iam,
            "CAPABILITY_NAMED_IAM" => Capability::NamedIam,
            "CAPABILITY_AUTO_EXPAND" => Capability::AutoExpand,
            _ => return None,
        })
    }
}

/// The IAM resource types that need `CAPABILITY_IAM`, and the property that names each (given a
/// value, the resource needs `CAPABILITY_NAMED_IAM` instead).
const IAM_TYPES: [(&str, Option<&str>); 8] = [
    ("AWS::IAM::AccessKey", None),
    ("AWS::IAM::Group", Some("GroupName")),
    ("AWS::IAM::InstanceProfile", Some("InstanceProfileName")),
    ("AWS::IAM::ManagedPolicy", Some("ManagedPolicyName")),
    ("AWS::IAM::Policy", None),
    ("AWS::IAM::Role", Some("RoleName")),
    ("AWS::IAM::User", Some("UserName")),
    ("AWS::IAM::UserToGroupAddition", None),
];

/// What a template requires, as `ValidateTemplate` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequiredCapabilities {
    /// The capabilities (`CAPABILITY_NAMED_IAM` alone when a named IAM resource is present).
    pub capabilities: Vec<Capability>,
    /// `CapabilitiesReason`: `The following resource(s) require capabilities: [AWS::IAM::Role]`.
    pub reason: Option<String>,
}

impl Template {
    /// The capabilities the template needs, from its resources (every resource, whatever its
    /// `Condition`, as CloudFormation checks before evaluating conditions) and `Transform`.
    pub fn required_capabilities(&self) -> RequiredCapabilities {
        let mut types: Vec<&str> = Vec::new();
        let mut named = false;
        for r in &self.resources {
            let Some((t, name_property)) = IAM_TYPES.iter().find(|(t, _)| *t == r.resource_type) else {
                continue;
            };
            if !types.contains(t) {
                types.push(t);
            }
            if name_property.is_some_and(|p| r.properties.contains_key(p)) {
                named = true;
            }
        }
        let mut capabilities = Vec::new();
        if !types.is_empty() {
            capabilities.push(if named {
                Capability::NamedIam
            } else {
                Capability::Iam
            });
        }
        if !self.transform.is_empty() {
            capabilities.push(Capability::AutoExpand);
        }
        let reason = (!types.is_empty()).then(|| {
            format!(
                "The following resource(s) require capabilities: [{}]",
                types.join(", ")
            )
        });
        RequiredCapabilities { capabilities, reason }
    }

    /// Checks that `acknowledged` covers what the template needs, with CloudFormation's
    /// `InsufficientCapabilities` text (`Requires capabilities : [CAPABILITY_IAM]`).
    /// `CAPABILITY_NAMED_IAM` also covers unnamed IAM resources. `CAPABILITY_AUTO_EXPAND` is
    /// only asked of a stack created or updated directly (`through_change_set` false): AWS
    /// documents it for templates with macros processed "without first reviewing the resulting
    /// changes in a change set", which is why `aws cloudformation deploy` of a transformed
    /// template works without it.
    pub fn check_capabilities(&self, acknowledged: &[Capability], through_change_set: bool) -> Result<()> {
        let required = self.required_capabilities();
        for c in required.capabilities {
            let ok = acknowledged.contains(&c)
                || (c == Capability::Iam && acknowledged.contains(&Capability::NamedIam))
                || (c == Capability::AutoExpand && through_change_set);
            if !ok {
                return Err(TemplateError::InsufficientCapabilities(format!(
                    "Requires capabilities : [{}]",
                    c.as_str()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_is_thirteen_upper_alphanumerics() {
        let s = random_suffix((0u8..=255).cycle().skip(7)).unwrap();
        assert_eq!(s.len(), SUFFIX_LEN);
        assert!(s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(random_suffix([0u8; 5]), None);
        // Bytes that would bias the alphabet are skipped.
        assert_eq!(
            random_suffix([255u8, 252, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 35]).unwrap(),
            "ABCDEFGHIJKLM"
        );
    }

    #[test]
    fn names_that_fit_are_whole() {
        assert_eq!(
            physical_name(
                "SecretsManager",
                "AuthorizedLambdaExecutionRole",
                "1U44TLUZ7OR55",
                64
            ),
            "SecretsManager-AuthorizedLambdaExecutionRole-1U44TLUZ7OR55"
        );
    }

    #[test]
    fn long_stack_names_are_cut_first() {
        let name = physical_name(
            "MyStackDev-MyNestedApplication-1ABCDEFGHIJK",
            "MyLambdaFunctionName",
            "1U44TLUZ7OR55",
            64,
        );
        assert_eq!(
            name,
            "MyStackDev-MyNestedApplicatio-MyLambdaFunctionName-1U44TLUZ7OR55"
        );
        assert_eq!(name.len(), 64);
    }

    #[test]
    fn both_parts_are_cut_when_both_are_long() {
        let stack = "S".repeat(60);
        let logical = "L".repeat(60);
        let name = physical_name(&stack, &logical, "ABCDEFGHIJKLM", 64);
        assert_eq!(name.len(), 64);
        assert_eq!(
            name,
            format!("{}-{}-ABCDEFGHIJKLM", "S".repeat(24), "L".repeat(25))
        );
        let name = physical_name("short", &"L".repeat(80), "ABCDEFGHIJKLM", 64);
        assert_eq!(name, format!("short-{}-ABCDEFGHIJKLM", "L".repeat(44)));
        assert_eq!(physical_name("a", "b", "ABCDEFGHIJKLM", 5), "ABCDE");
    }
}
