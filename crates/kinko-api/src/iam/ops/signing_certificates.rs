//! UploadSigningCertificate, ListSigningCertificates, UpdateSigningCertificate,
//! DeleteSigningCertificate.
//!
//! A signing certificate is an X.509 certificate kept for an IAM user (or, without `UserName`,
//! for the caller: an IAM user or the root user), at most two per user. An IAM user's
//! certificates are kept with the user in the account's IAM state, the root user's in the state
//! itself. Each action is authorized on the user, like the access-key actions. The credential
//! report shows them in its `cert_*` columns.

use kinko_core::iam::{IamState, SigningCertificate, User};
use kinko_wire::query::{Params, Xml};

use super::{Entity, KeyOwner, quota};
use crate::iam::certificates;
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::{Found, Iam, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

fn certificate_not_found(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Certificate with id {id} cannot be found."))
}

fn status_str(c: &SigningCertificate) -> &'static str {
    if c.active { "Active" } else { "Inactive" }
}

/// The owner's certificates.
fn certificates_of<'s>(state: &'s IamState, owner: &KeyOwner) -> Result<&'s [SigningCertificate], IamError> {
    match owner {
        KeyOwner::User(name) => Ok(&User::get(state, name)?.signing_certificates),
        KeyOwner::Root => Ok(&state.root_signing_certificates),
    }
}

fn certificates_mut<'s>(
    state: &'s mut IamState,
    owner: &KeyOwner,
) -> Result<&'s mut Vec<SigningCertificate>, IamError> {
    match owner {
        KeyOwner::User(name) => Ok(&mut User::get_mut(state, name)?.signing_certificates),
        KeyOwner::Root => Ok(&mut state.root_signing_certificates),
    }
}

/// A `Certificate`'s members.
fn certificate(x: &mut Xml, owner: &KeyOwner, c: &SigningCertificate) {
    if let KeyOwner::User(name) = owner {
        x.elem("UserName", name);
    }
    x.elem("CertificateId", &c.certificate_id)
        .elem("CertificateBody", &c.certificate_body)
        .elem("Status", status_str(c))
        .elem("UploadDate", &output::ts(c.upload_date));
}

fn read_user_name(r: &mut Reader<'_>) -> Option<String> {
    r.name("UserName", 128)
}

/// The user (or root) whose certificates an action manages: what it is authorized on.
async fn resolve_owner(cx: &Cx<'_>, user_name: Option<&str>) -> Result<Found, IamError> {
    Found::read(cx, |state| KeyOwner::target(cx, state, user_name)).await
}

pub(crate) struct UploadSigningCertificate;

pub(crate) struct UploadInput {
    name: Option<String>,
    body: String,
}

impl FromRequest<Iam> for UploadInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let body = r.certificate_text("CertificateBody", true, 16384);
        r.finish()?;
        Ok(UploadInput {
            name,
            body: body.unwrap_or_default(),
        })
    }
}

impl Operation for UploadSigningCertificate {
    type Service = Iam;
    const NAME: &'static str = "UploadSigningCertificate";
    type Input = UploadInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UploadInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
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
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        let cert = certificates::certificate(&i.body)?;
        // The same certificate may belong to one user of the account only.
        let uploaded = state
            .users
            .iter()
            .flat_map(|u| &u.signing_certificates)
            .chain(&state.root_signing_certificates)
            .any(|c| certificates::certificate(&c.certificate_body).is_ok_and(|d| d.der == cert.der));
        if uploaded {
            return Err(IamError::DuplicateCertificate(
                "The request was rejected because the same certificate is associated with an IAM user in the account.".into(),
            ));
        }
        let certs = certificates_mut(&mut state, &owner)?;
        if certs.len() >= quota::CERTIFICATES_PER_USER {
            return Err(IamError::quota(
                "CertificatesPerUser",
                quota::CERTIFICATES_PER_USER,
            ));
        }
        let c = SigningCertificate {
            certificate_id: output::certificate_id(),
            certificate_body: i.body.clone(),
            active: true,
            upload_date: cx.now(),
        };
        let mut x = cx.xml::<Iam>();
        x.open("Certificate");
        certificate(&mut x, &owner, &c);
        x.close("Certificate");
        certs.push(c);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListSigningCertificates;

pub(crate) struct ListInput {
    name: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(ListInput { name, page })
    }
}

impl Operation for ListSigningCertificates {
    type Service = Iam;
    const NAME: &'static str = "ListSigningCertificates";
    type Input = ListInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = KeyOwner::resolve(cx, &found.state, i.name.as_deref())?;
        let certs: Vec<&SigningCertificate> = certificates_of(&found.state, &owner)?.iter().collect();
        let (page, next) = i.page.apply(certs)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "Certificates", page, |x, c| certificate(x, &owner, c));
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateSigningCertificate;

pub(crate) struct UpdateInput {
    name: Option<String>,
    id: String,
    active: bool,
}

impl FromRequest<Iam> for UpdateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let id = r.certificate_id();
        let status = r.one_of("Status", &["Active", "Inactive", "Expired"], true);
        r.finish()?;
        let active = match status.as_deref() {
            Some("Active") => true,
            Some("Inactive") => false,
            _ => {
                return Err(IamError::InvalidInput(
                    "The status of a signing certificate can only be set to Active or Inactive.".into(),
                ));
            }
        };
        Ok(UpdateInput { name, id, active })
    }
}

impl Operation for UpdateSigningCertificate {
    type Service = Iam;
    const NAME: &'static str = "UpdateSigningCertificate";
    type Input = UpdateInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
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
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        let c = certificates_mut(&mut state, &owner)?
            .iter_mut()
            .find(|c| c.certificate_id == i.id)
            .ok_or_else(|| certificate_not_found(&i.id))?;
        c.active = i.active;
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteSigningCertificate;

pub(crate) struct DeleteInput {
    name: Option<String>,
    id: String,
}

impl FromRequest<Iam> for DeleteInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let id = r.certificate_id();
        r.finish()?;
        Ok(DeleteInput { name, id })
    }
}

impl Operation for DeleteSigningCertificate {
    type Service = Iam;
    const NAME: &'static str = "DeleteSigningCertificate";
    type Input = DeleteInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeleteInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
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
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        let certs = certificates_mut(&mut state, &owner)?;
        let before = certs.len();
        certs.retain(|c| c.certificate_id != i.id);
        if certs.len() == before {
            return Err(certificate_not_found(&i.id));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
