//! UploadSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys, UpdateSSHPublicKey, DeleteSSHPublicKey.
//!
//! An IAM user's SSH public keys are RSA keys of at least 2048 bits, uploaded in OpenSSH
//! (`ssh-rsa AAAA...`) or PEM (`-----BEGIN PUBLIC KEY-----`, or PKCS#1 `RSA PUBLIC KEY`) form, at
//! most five per user (IAM API Reference, UploadSSHPublicKey; "IAM and AWS STS quotas"). A key is
//! kept as uploaded and given back in either form (GetSSHPublicKey's `Encoding`); its fingerprint
//! is the MD5 of its OpenSSH wire form, as `ssh-keygen -E md5 -l` and IAM show it. Key parsing is
//! the `ssh-key` crate's (OpenSSH) and the RustCrypto `der`/`spki`/`pkcs1` crates' (PEM).

use der::{Decode, Encode};
use kinko_core::iam::{IamState, SshPublicKey, User};
use kinko_wire::query::Params;
use md5::{Digest, Md5};
use ssh_key::Mpint;
use ssh_key::public::{KeyData, RsaPublicKey};

use super::{Entity, KeyOwner};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::{Found, Iam, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// SSH public keys per user (IAM User Guide, "IAM and AWS STS quotas").
const KEYS_PER_USER: usize = 5;
/// The shortest RSA modulus IAM accepts.
const MIN_BITS: usize = 2048;
const USER_NAME: usize = 64;
const STATUSES: &[&str] = &["Active", "Inactive"];
const ENCODINGS: &[&str] = &["SSH", "PEM"];
/// `rsaEncryption` (RFC 8017, appendix A.1).
const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn invalid() -> IamError {
    IamError::InvalidPublicKey("The SSH public key is invalid.".into())
}

fn unrecognized() -> IamError {
    IamError::UnrecognizedPublicKeyEncoding(
        "The SSH public key's encoding is not recognized; upload an ssh-rsa key in OpenSSH or PEM form."
            .into(),
    )
}

fn key_not_found(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The SSH public key with id {id} cannot be found."))
}

/// An RSA public key, its modulus and exponent big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaKey {
    /// Reads an uploaded body: OpenSSH `ssh-rsa`, or PEM (SubjectPublicKeyInfo or PKCS#1).
    pub fn parse(body: &str) -> Result<RsaKey, IamError> {
        let body = body.trim();
        let key = if body.starts_with("-----BEGIN ") {
            Self::from_pem(body)?
        } else {
            Self::from_openssh(body)?
        };
        if key.bits() < MIN_BITS {
            return Err(invalid());
        }
        Ok(key)
    }

    fn from_openssh(body: &str) -> Result<RsaKey, IamError> {
        let algorithm = body.split_whitespace().next().unwrap_or_default();
        if algorithm != "ssh-rsa" {
            return Err(unrecognized());
        }
        let key = ssh_key::PublicKey::from_openssh(body).map_err(|_| invalid())?;
        let rsa = key.key_data().rsa().ok_or_else(invalid)?;
        Self::from_parts(&rsa.n, &rsa.e)
    }

    fn from_parts(n: &Mpint, e: &Mpint) -> Result<RsaKey, IamError> {
        let n = n.as_positive_bytes().ok_or_else(invalid)?;
        let e = e.as_positive_bytes().ok_or_else(invalid)?;
        Ok(RsaKey {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    fn from_pem(body: &str) -> Result<RsaKey, IamError> {
        let label = body
            .lines()
            .next()
            .and_then(|l| l.trim().strip_prefix("-----BEGIN "))
            .and_then(|l| l.strip_suffix("-----"));
        if !matches!(label, Some("PUBLIC KEY" | "RSA PUBLIC KEY")) {
            return Err(unrecognized());
        }
        let (label, der) = der::pem::decode_vec(body.as_bytes()).map_err(|_| invalid())?;
        let pkcs1 = match label {
            "PUBLIC KEY" => {
                let spki = spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|_| invalid())?;
                if spki.algorithm.oid != RSA_ENCRYPTION {
                    return Err(unrecognized());
                }
                spki.subject_public_key.as_bytes().ok_or_else(invalid)?.to_vec()
            }
            "RSA PUBLIC KEY" => der,
            _ => return Err(unrecognized()),
        };
        let key = pkcs1::RsaPublicKey::from_der(&pkcs1).map_err(|_| invalid())?;
        Ok(RsaKey {
            n: key.modulus.as_bytes().to_vec(),
            e: key.public_exponent.as_bytes().to_vec(),
        })
    }

    fn bits(&self) -> usize {
        match self.n.iter().position(|b| *b != 0) {
            Some(i) => (self.n.len() - i) * 8 - self.n[i].leading_zeros() as usize,
            None => 0,
        }
    }

    fn openssh_key(&self) -> Result<ssh_key::PublicKey, IamError> {
        let n = Mpint::from_positive_bytes(&self.n).map_err(|_| invalid())?;
        let e = Mpint::from_positive_bytes(&self.e).map_err(|_| invalid())?;
        Ok(ssh_key::PublicKey::from(KeyData::Rsa(RsaPublicKey { e, n })))
    }

    /// `ssh-rsa AAAA...`.
    pub fn to_openssh(&self) -> Result<String, IamError> {
        self.openssh_key()?
            .to_openssh()
            .map_err(|e| IamError::Internal(format!("encoding an SSH public key: {e}")))
    }

    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo).
    pub fn to_pem(&self) -> Result<String, IamError> {
        let internal = |e: der::Error| IamError::Internal(format!("encoding an SSH public key as PEM: {e}"));
        let pkcs1 = pkcs1::RsaPublicKey {
            modulus: der::asn1::UintRef::new(&self.n).map_err(internal)?,
            public_exponent: der::asn1::UintRef::new(&self.e).map_err(internal)?,
        }
        .to_der()
        .map_err(internal)?;
        let spki = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(der::asn1::AnyRef::NULL),
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(&pkcs1).map_err(internal)?,
        }
        .to_der()
        .map_err(internal)?;
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &spki).map_err(|e| internal(e.into()))
    }

    /// The MD5 of the key's OpenSSH wire form, as colon-separated lower-case hex.
    pub fn fingerprint(&self) -> Result<String, IamError> {
        let blob = self
            .openssh_key()?
            .to_bytes()
            .map_err(|e| IamError::Internal(format!("encoding an SSH public key: {e}")))?;
        let digest = Md5::digest(&blob);
        Ok(digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"))
    }
}

/// The key as `encoding` asks: the uploaded body when it already is in that form.
fn body_in(key: &SshPublicKey, encoding: &str) -> Result<String, IamError> {
    let is_pem = key.body.trim_start().starts_with("-----BEGIN ");
    if (encoding == "PEM") == is_pem {
        return Ok(key.body.clone());
    }
    let rsa = RsaKey::parse(&key.body)?;
    if encoding == "PEM" {
        rsa.to_pem()
    } else {
        rsa.to_openssh()
    }
}

fn write_key(x: &mut kinko_wire::query::Xml, user: &str, key: &SshPublicKey, body: &str) {
    x.open("SSHPublicKey")
        .elem("UserName", user)
        .elem("SSHPublicKeyId", &key.ssh_public_key_id)
        .elem("Fingerprint", &key.fingerprint)
        .elem("SSHPublicKeyBody", body)
        .elem("Status", &key.status)
        .elem("UploadDate", &output::ts(key.upload_date))
        .close("SSHPublicKey");
}

/// Resolves the named user as the target of the operation.
async fn resolve_user(cx: &Cx<'_>, name: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(User::target(cx, state, name))).await
}

fn key_of<'s>(state: &'s IamState, user: &str, id: &str) -> Result<(&'s User, &'s SshPublicKey), IamError> {
    let user = User::get(state, user)?;
    let key = user
        .ssh_public_keys
        .iter()
        .find(|k| k.ssh_public_key_id == id)
        .ok_or_else(|| key_not_found(id))?;
    Ok((user, key))
}

pub(crate) struct UploadSSHPublicKey;

pub(crate) struct UploadInput {
    user_name: String,
    body: String,
}

impl FromRequest<Iam> for UploadInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        let body = r.ssh_public_key_body();
        r.finish()?;
        Ok(UploadInput { user_name, body })
    }
}

impl Operation for UploadSSHPublicKey {
    type Service = Iam;
    const NAME: &'static str = "UploadSSHPublicKey";
    type Input = UploadInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UploadInput) -> Result<Found, IamError> {
        resolve_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UploadInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UploadInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let user = User::get_mut(&mut state, &i.user_name)?;
        let rsa = RsaKey::parse(&i.body)?;
        let fingerprint = rsa.fingerprint()?;
        if user.ssh_public_keys.iter().any(|k| k.fingerprint == fingerprint) {
            return Err(IamError::DuplicateSSHPublicKey(
                "The SSH public key is already associated with this user.".into(),
            ));
        }
        if user.ssh_public_keys.len() >= KEYS_PER_USER {
            return Err(IamError::quota("SSHPublicKeysPerUser", KEYS_PER_USER));
        }
        let key = SshPublicKey {
            ssh_public_key_id: output::ssh_public_key_id(),
            body: i.body.clone(),
            fingerprint,
            status: "Active".into(),
            upload_date: cx.now(),
        };
        user.ssh_public_keys.push(key.clone());
        let name = user.name.clone();
        save(cx, state).await?;
        let mut x = cx.xml::<Iam>();
        write_key(&mut x, &name, &key, &key.body);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct GetSSHPublicKey;

pub(crate) struct GetInput {
    user_name: String,
    id: String,
    encoding: String,
}

impl FromRequest<Iam> for GetInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        let id = r.ssh_public_key_id();
        let encoding = r.one_of("Encoding", ENCODINGS, true);
        r.finish()?;
        Ok(GetInput {
            user_name,
            id,
            encoding: encoding.unwrap_or_default(),
        })
    }
}

impl Operation for GetSSHPublicKey {
    type Service = Iam;
    const NAME: &'static str = "GetSSHPublicKey";
    type Input = GetInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &GetInput) -> Result<Found, IamError> {
        resolve_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a GetInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &GetInput, found: Found) -> Result<QueryReply, IamError> {
        let (user, key) = key_of(&found.state, &i.user_name, &i.id)?;
        let body = body_in(key, &i.encoding)?;
        let mut x = cx.xml::<Iam>();
        write_key(&mut x, &user.name, key, &body);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListSSHPublicKeys;

pub(crate) struct ListInput {
    user_name: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.name("UserName", USER_NAME);
        let page = r.page();
        r.finish()?;
        Ok(ListInput { user_name, page })
    }
}

impl Operation for ListSSHPublicKeys {
    type Service = Iam;
    const NAME: &'static str = "ListSSHPublicKeys";
    type Input = ListInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// Without `UserName`, the calling user's keys (the root user has none).
    async fn resolve(cx: &Cx<'_>, i: &ListInput) -> Result<Found, IamError> {
        Found::read(cx, |state| KeyOwner::target(cx, state, i.user_name.as_deref())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput, found: Found) -> Result<QueryReply, IamError> {
        let keys: Vec<(String, SshPublicKey)> =
            match KeyOwner::resolve(cx, &found.state, i.user_name.as_deref())? {
                KeyOwner::User(name) => {
                    let user = User::get(&found.state, &name)?;
                    user.ssh_public_keys
                        .iter()
                        .map(|k| (user.name.clone(), k.clone()))
                        .collect()
                }
                KeyOwner::Root => Vec::new(),
            };
        let (page, next) = i.page.apply(keys)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "SSHPublicKeys", &page, |x, (user, k)| {
            x.elem("UserName", user)
                .elem("SSHPublicKeyId", &k.ssh_public_key_id)
                .elem("Status", &k.status)
                .elem("UploadDate", &output::ts(k.upload_date));
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateSSHPublicKey;

pub(crate) struct UpdateInput {
    user_name: String,
    id: String,
    status: String,
}

impl FromRequest<Iam> for UpdateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        let id = r.ssh_public_key_id();
        let status = r.one_of("Status", STATUSES, true);
        r.finish()?;
        Ok(UpdateInput {
            user_name,
            id,
            status: status.unwrap_or_default(),
        })
    }
}

impl Operation for UpdateSSHPublicKey {
    type Service = Iam;
    const NAME: &'static str = "UpdateSSHPublicKey";
    type Input = UpdateInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateInput) -> Result<Found, IamError> {
        resolve_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let user = User::get_mut(&mut state, &i.user_name)?;
        let key = user
            .ssh_public_keys
            .iter_mut()
            .find(|k| k.ssh_public_key_id == i.id)
            .ok_or_else(|| key_not_found(&i.id))?;
        key.status.clone_from(&i.status);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteSSHPublicKey;

pub(crate) struct DeleteInput {
    user_name: String,
    id: String,
}

impl FromRequest<Iam> for DeleteInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        let id = r.ssh_public_key_id();
        r.finish()?;
        Ok(DeleteInput { user_name, id })
    }
}

impl Operation for DeleteSSHPublicKey {
    type Service = Iam;
    const NAME: &'static str = "DeleteSSHPublicKey";
    type Input = DeleteInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeleteInput) -> Result<Found, IamError> {
        resolve_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        key_of(&state, &i.user_name, &i.id)?;
        User::get_mut(&mut state, &i.user_name)?
            .ssh_public_keys
            .retain(|k| k.ssh_public_key_id != i.id);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit RSA key (`ssh-keygen -t rsa -b 2048`), its PEM form (`ssh-keygen -e -m PKCS8`)
    /// and its MD5 fingerprint (`ssh-keygen -E md5 -l`).
    pub(crate) const OPENSSH: &str = include_str!("../../../testdata/ssh/rsa2048.pub");
    pub(crate) const PEM: &str = include_str!("../../../testdata/ssh/rsa2048.pem");
    pub(crate) const FINGERPRINT: &str = include_str!("../../../testdata/ssh/rsa2048.md5");

    #[test]
    fn both_forms_are_the_same_key() {
        let a = RsaKey::parse(OPENSSH).unwrap();
        let b = RsaKey::parse(PEM).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.bits(), 2048);
        assert_eq!(a.fingerprint().unwrap(), FINGERPRINT.trim());
        assert_eq!(RsaKey::parse(&a.to_pem().unwrap()).unwrap(), a);
        assert_eq!(
            a.to_openssh().unwrap(),
            OPENSSH.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn bad_bodies_are_refused_as_iam_does() {
        let code = |body: &str| RsaKey::parse(body).map(|_| ()).map_err(|e| e.code());
        assert_eq!(
            code("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzvfE+qS09w+okgrO0gY7jryF0lSCxdEO/O0UaUhuZe"),
            Err("UnrecognizedPublicKeyEncoding")
        );
        assert_eq!(code("hello"), Err("UnrecognizedPublicKeyEncoding"));
        assert_eq!(code("ssh-rsa AAAA!!!"), Err("InvalidPublicKey"));
        assert_eq!(
            code("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err("UnrecognizedPublicKeyEncoding")
        );
        assert_eq!(
            code("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"),
            Err("InvalidPublicKey")
        );
    }
}
