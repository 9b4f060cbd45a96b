//! GetAccessKeyInfo: the account an access key id belongs to.
//!
//! AWS answers from the key id alone: since 2019 its access key ids (long-term `AKIA` and
//! temporary `ASIA` alike) carry the account id in their first 48 bits after the four-character
//! prefix (base32), and GetAccessKeyInfo decodes it, for keys active, inactive or deleted, without
//! telling whether the key exists. kinko's choice, to answer as AWS does:
//! - a long-term key kinko keeps (an IAM user's or an account root's) answers with its owner's
//!   account, read from the store (kinko's long-term key ids are random and encode nothing);
//! - temporary key ids kinko issues encode the account of the session in AWS's layout
//!   ([`temporary_access_key_id`]), so GetAccessKeyInfo decodes them as AWS does: no record of
//!   sessions is kept;
//! - any other key id (a deleted key, a real AWS key) is decoded with AWS's layout, so an AWS key
//!   id answers with the account AWS would name. A key id that is not base32 after its prefix
//!   (AWS's model allows any `[\w]*` of 16-128 characters) has no account encoded, and AWS does
//!   not document that case: kinko answers `InvalidParameterValue` rather than invent an account.

use kinko_wire::query::Params;
use kinko_wire::validate::Violations;
use rand::Rng;

use super::{Sts, StsError};
use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The bits of the first 48 (after the prefix) that hold the account id: 40 bits, shifted by 7.
const ACCOUNT_MASK: u64 = 0x7fff_ffff_ff80;

/// A temporary access key id of `account`: `ASIA` + 16 base32 characters whose bits are random but
/// for the account id, placed as AWS places it.
pub(crate) fn temporary_access_key_id(account: &str) -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill(&mut bytes[..]);
    if let Ok(id) = account.parse::<u64>() {
        let mut head = [0u8; 8];
        head[2..].copy_from_slice(&bytes[..6]);
        let random = u64::from_be_bytes(head);
        let head = (random & !ACCOUNT_MASK & 0xffff_ffff_ffff) | ((id << 7) & ACCOUNT_MASK);
        bytes[..6].copy_from_slice(&head.to_be_bytes()[2..]);
    }
    let mut out = String::from("ASIA");
    // 80 bits, 5 to a character.
    for i in 0..16 {
        let bit = i * 5;
        let mut v: u16 = 0;
        for b in bit..bit + 5 {
            v = (v << 1) | u16::from((bytes[b / 8] >> (7 - b % 8)) & 1);
        }
        out.push(char::from(B32[usize::from(v)]));
    }
    out
}

/// The account id AWS's layout encodes in `access_key_id`, if its characters after the prefix
/// are base32.
pub(crate) fn encoded_account(access_key_id: &str) -> Option<String> {
    let tail = access_key_id.get(4..)?;
    if tail.len() < 10 {
        return None;
    }
    // The first 48 bits are in the first 10 characters (50 bits).
    let mut bits: u64 = 0;
    for c in tail[..10].bytes() {
        let v = B32.iter().position(|&b| b == c)?;
        bits = (bits << 5) | v as u64;
    }
    let head = bits >> 2;
    Some(format!("{:012}", (head & ACCOUNT_MASK) >> 7))
}

pub(crate) struct GetAccessKeyInfo;

pub(crate) struct GetAccessKeyInfoInput {
    access_key_id: String,
}

impl FromRequest<Sts> for GetAccessKeyInfoInput {
    fn from_request(params: &Params) -> Result<Self, StsError> {
        let id = params.get("AccessKeyId").map(str::to_owned);
        let mut v = Violations::new();
        v.required("accessKeyId", &id);
        v.length("accessKeyId", id.as_deref(), 16, 128, false);
        if let Some(id) = &id {
            let ok = id.chars().all(|c| c.is_alphanumeric() || c == '_');
            v.pattern("accessKeyId", Some(id), r"[\w]*", ok);
        }
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        Ok(GetAccessKeyInfoInput {
            access_key_id: id.unwrap_or_default(),
        })
    }
}

impl Operation for GetAccessKeyInfo {
    type Service = Sts;
    const NAME: &'static str = "GetAccessKeyInfo";
    const READ_ONLY: bool = true;
    type Input = GetAccessKeyInfoInput;
    type Output = QueryReply;
    type Resolved = ();

    async fn resolve(_: &Cx<'_>, _: &GetAccessKeyInfoInput) -> Result<(), StsError> {
        Ok(())
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a GetAccessKeyInfoInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, StsError> {
        // sts:GetAccessKeyInfo has no resource type (Service Authorization Reference).
        Ok(Authorization::of(Check::new(
            "sts:GetAccessKeyInfo",
            Resource::Any,
        )))
    }

    async fn run(cx: &Cx<'_>, i: &GetAccessKeyInfoInput, _: ()) -> Result<QueryReply, StsError> {
        let account = match cx.services.store.access_key(&i.access_key_id).await? {
            Some(record) => record.principal.account_id,
            None => encoded_account(&i.access_key_id).ok_or_else(|| {
                StsError::InvalidParameterValue(format!(
                    "The access key ID {} is not valid.",
                    i.access_key_id
                ))
            })?,
        };
        let mut x = cx.xml::<Sts>();
        x.elem("Account", &account);
        Ok(QueryReply::Result(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_aws_layout() {
        // AWS's documented example key id and the account its layout encodes.
        assert_eq!(
            encoded_account("AKIAIOSFODNN7EXAMPLE").as_deref(),
            Some("581039954779")
        );
    }

    #[test]
    fn temporary_ids_carry_their_account() {
        for account in ["000000000000", "123456789012", "999999999999", "000000000001"] {
            let id = temporary_access_key_id(account);
            assert_eq!(id.len(), 20);
            assert!(id.starts_with("ASIA"), "{id}");
            assert_eq!(encoded_account(&id).as_deref(), Some(account), "{id}");
        }
    }
}
