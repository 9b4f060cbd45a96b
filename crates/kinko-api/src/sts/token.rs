//! Temporary credentials: the session token is sealed and self-contained (principal, session,
//! expiry, the temporary secret key), so any node verifies it without a database read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinko_core::principal::Principal;
use kinko_crypto::RootKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Session;

/// Associated data binding sealed tokens to their purpose.
const AAD: &[u8] = b"kinko:sts-session:v1";
/// Tokens start with this, so they are recognisable (AWS's start with `IQo`).
const PREFIX: &str = "KNK1";

/// What a session token holds.
#[derive(Serialize, Deserialize)]
pub struct Claims {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub principal: Principal,
    pub session: Session,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

pub fn seal(root: &RootKey, claims: &Claims) -> Result<String, String> {
    let json = Zeroizing::new(serde_json::to_vec(claims).map_err(|e| e.to_string())?);
    let sealed = root.seal(&json, AAD).map_err(|e| e.to_string())?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed)))
}

/// Opens a token; `None` for anything that isn't a token this installation issued.
pub fn open(root: &RootKey, token: &str) -> Option<Claims> {
    let body = token.strip_prefix(PREFIX)?;
    let sealed = URL_SAFE_NO_PAD.decode(body).ok()?;
    let json = root.open(&sealed, AAD).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionKind;

    #[test]
    fn round_trip_and_tamper() {
        let root = RootKey::generate().unwrap();
        let claims = Claims {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Zeroizing::new("s".repeat(40)),
            principal: Principal::root("123456789012"),
            session: Session {
                kind: SessionKind::SessionToken,
                policies: vec![],
                tags: vec![],
                transitive_tag_keys: vec![],
                issued: kinko_core::Timestamp(0),
                expiration: kinko_core::Timestamp(1),
                source_identity: None,
                mfa_authenticated: None,
            },
        };
        let t = seal(&root, &claims).unwrap();
        let back = open(&root, &t).unwrap();
        assert_eq!(back.access_key_id, "ASIAEXAMPLE");
        assert_eq!(back.principal, claims.principal);
        let mut bad = t.clone().into_bytes();
        let i = bad.len() - 5;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        assert!(open(&root, std::str::from_utf8(&bad).unwrap()).is_none());
        assert!(open(&RootKey::generate().unwrap(), &t).is_none());
        assert!(open(&root, "garbage").is_none());
    }
}
