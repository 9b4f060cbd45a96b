//! DecodeAuthorizationMessage: the details of a denial, from the encoded message some AWS services
//! append to it (`Encoded authorization failure message: <message>`).
//!
//! Which kinko denials carry one: none. In AWS only some services' denials carry an encoded
//! message (EC2's `UnauthorizedOperation` and a few others); the AccessDenied answers of Secrets
//! Manager, KMS, IAM, STS, Organizations, Lambda and CloudFormation never do, and kinko answers
//! those services' denials with AWS's exact text. What decided a kinko denial is shown instead by
//! the console, to the principal that was denied ([`crate::authz::DenialNote`]).
//!
//! The format kinko would issue, and the only one it decodes: the message in AWS's decoded shape
//! ([`decoded`]), sealed under the root key with associated data naming the purpose and the
//! account of the denied principal ([`encode`]), in URL-safe base64 without padding (AWS's
//! alphabet). Only a caller of that same account, allowed `sts:DecodeAuthorizationMessage`, reads
//! it (AWS: "the user must be in the same account as the entity that was denied"); rotating the
//! root key ends the messages sealed before. Anything else — a message of another installation,
//! of another account, an AWS message, a message altered by a single character — is
//! `InvalidAuthorizationMessageException`. AWS documents that error but not its text; kinko's is
//! [`INVALID_MESSAGE`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinko_core::principal::Principal;
use kinko_crypto::RootKey;
use kinko_wire::query::Params;
use kinko_wire::validate::Violations;
use serde_json::{Value, json};

use super::{Sts, StsError};
use crate::Services;
use crate::authz::{Check, Decided, Resource, Why};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// kinko's text of `InvalidAuthorizationMessageException` (AWS documents none).
pub const INVALID_MESSAGE: &str = "The message passed to DecodeAuthorizationMessage is not valid.";

/// Binds a sealed message to its purpose and to the account whose principal was denied.
fn aad(account: &str) -> Vec<u8> {
    format!("kinko:sts-authorization-message:v1:{account}").into_bytes()
}

/// The decoded message of a denial of `principal`, in AWS's shape: `allowed`, `explicitDeny`,
/// `matchedStatements` (the deny statement that decided, by its `Sid`, for an explicit deny;
/// none for an implicit one), `failures` and the `context` (principal, action, resource, and the
/// request's condition keys, which a [`Why`] does not keep: their list is empty).
pub fn decoded(principal: &Principal, why: &Why) -> Value {
    let (explicit, matched) = match &why.decided {
        Decided::ExplicitDeny { sid, .. } => (
            true,
            vec![json!({
                "statementId": sid.clone().unwrap_or_default(),
                "effect": "DENY",
            })],
        ),
        Decided::ImplicitDeny { .. } => (false, vec![]),
    };
    json!({
        "allowed": false,
        "explicitDeny": explicit,
        "matchedStatements": {"items": matched},
        "failures": {"items": []},
        "context": {
            "principal": {"id": super::user_id(principal), "arn": principal.arn},
            "action": why.action,
            "resource": why.resource.as_deref().unwrap_or("*"),
            "conditions": {"items": []},
        },
    })
}

/// The encoded message of a denial of `principal` that `why` explains.
pub fn encode(services: &Services, principal: &Principal, why: &Why) -> Result<String, String> {
    seal(
        &services.keyring.root().current(),
        &principal.account_id,
        &decoded(principal, why),
    )
}

fn seal(root: &RootKey, account: &str, message: &Value) -> Result<String, String> {
    let sealed = root
        .seal(message.to_string().as_bytes(), &aad(account))
        .map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// The decoded message of `encoded`, if this installation sealed it for `account` (under the
/// root key, or the other one held around a rotation).
fn open(services: &Services, account: &str, encoded: &str) -> Option<String> {
    let sealed = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let plain = services.keyring.root().open(&sealed, &aad(account)).ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

pub(crate) struct DecodeAuthorizationMessage;

pub(crate) struct Input {
    encoded: String,
}

impl FromRequest<Sts> for Input {
    fn from_request(params: &Params) -> Result<Self, StsError> {
        let encoded = params.get("EncodedMessage").map(str::to_owned);
        let mut v = Violations::new();
        v.required("encodedMessage", &encoded);
        // Shown without its value: a message names who was denied what.
        v.length("encodedMessage", encoded.as_deref(), 1, 10240, true);
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        Ok(Input {
            encoded: encoded.unwrap_or_default(),
        })
    }
}

impl Operation for DecodeAuthorizationMessage {
    type Service = Sts;
    const NAME: &'static str = "DecodeAuthorizationMessage";
    type Input = Input;
    type Output = QueryReply;
    type Resolved = ();

    async fn resolve(_: &Cx<'_>, _: &Input) -> Result<(), StsError> {
        Ok(())
    }

    fn authorization<'a>(_: &'a Cx<'_>, _: &'a Input, _: &'a ()) -> Result<Authorization<'a>, StsError> {
        Ok(Authorization::of(Check::new(
            "sts:DecodeAuthorizationMessage",
            Resource::Any,
        )))
    }

    async fn run(cx: &Cx<'_>, i: &Input, _: ()) -> Result<QueryReply, StsError> {
        let decoded = open(cx.services, cx.account(), &i.encoded)
            .ok_or_else(|| StsError::InvalidAuthorizationMessage(INVALID_MESSAGE.into()))?;
        let mut x = cx.xml::<Sts>();
        x.elem("DecodedMessage", &decoded);
        Ok(QueryReply::Result(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{ImplicitDenyReason, Owner, PolicySource};

    fn why(decided: Decided) -> Why {
        Why {
            action: "secretsmanager:GetSecretValue".into(),
            resource: Some("arn:aws:secretsmanager:us-east-1:111111111111:secret:s-AbCdEf".into()),
            decided,
        }
    }

    #[test]
    fn the_decoded_message_has_aws_shape() {
        let p = Principal::root("111111111111");
        let explicit = decoded(
            &p,
            &why(Decided::ExplicitDeny {
                policy: PolicySource::Inline {
                    owner: Owner::User("u".into()),
                    policy_name: "p".into(),
                },
                statement_index: 1,
                sid: Some("NoSecrets".into()),
            }),
        );
        assert_eq!(explicit["allowed"], false);
        assert_eq!(explicit["explicitDeny"], true);
        assert_eq!(
            explicit["matchedStatements"]["items"][0]["statementId"],
            "NoSecrets"
        );
        assert_eq!(explicit["matchedStatements"]["items"][0]["effect"], "DENY");
        assert_eq!(explicit["context"]["action"], "secretsmanager:GetSecretValue");
        assert_eq!(
            explicit["context"]["principal"]["arn"],
            "arn:aws:iam::111111111111:root"
        );
        assert_eq!(explicit["context"]["principal"]["id"], "111111111111");
        let implicit = decoded(
            &p,
            &why(Decided::ImplicitDeny {
                missing: ImplicitDenyReason::NoIdentityPolicy,
                policy: None,
            }),
        );
        assert_eq!(implicit["explicitDeny"], false);
        assert_eq!(implicit["matchedStatements"]["items"], json!([]));
        assert_eq!(implicit["failures"]["items"], json!([]));
    }

    #[test]
    fn a_message_opens_only_in_its_account_and_unaltered() {
        let root = RootKey::generate().unwrap();
        let m = json!({"allowed": false});
        let sealed = seal(&root, "111111111111", &m).unwrap();
        let back = root.open(&URL_SAFE_NO_PAD.decode(&sealed).unwrap(), &aad("111111111111"));
        assert_eq!(back.unwrap().as_slice(), m.to_string().as_bytes());
        assert!(
            root.open(&URL_SAFE_NO_PAD.decode(&sealed).unwrap(), &aad("222222222222"))
                .is_err()
        );
        assert!(
            RootKey::generate()
                .unwrap()
                .open(&URL_SAFE_NO_PAD.decode(&sealed).unwrap(), &aad("111111111111"))
                .is_err()
        );
    }
}
