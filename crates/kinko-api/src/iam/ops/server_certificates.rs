//! UploadServerCertificate, GetServerCertificate, ListServerCertificates,
//! UpdateServerCertificate, DeleteServerCertificate (tags are in `tags`).
//!
//! A server certificate is named like an entity
//! (`arn:aws:iam::<account>:server-certificate/<path/>name`) and kept in the account's IAM state:
//! its certificate and chain as uploaded, its expiration (the certificate's `notAfter`), and its
//! private key, which must be the certificate's and is sealed under the root key (bound to the
//! certificate's id) at once. No action ever returns the private key.

use kinko_core::iam::{self, IamState, ServerCertificate};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;
use kinko_wire::query::Xml;
use zeroize::Zeroizing;

use super::{by_name, path_target, quota};
use crate::iam::certificates;
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output::{self, members};
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

pub(crate) fn not_found(name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The Server Certificate with name {name} cannot be found."
    ))
}

/// The certificate the request names, or IAM's not-found error.
pub(crate) fn get<'s>(state: &'s IamState, name: &str) -> Result<&'s ServerCertificate, IamError> {
    state.server_certificate(name).ok_or_else(|| not_found(name))
}

pub(crate) fn get_mut<'s>(
    state: &'s mut IamState,
    name: &str,
) -> Result<&'s mut ServerCertificate, IamError> {
    state.server_certificate_mut(name).ok_or_else(|| not_found(name))
}

fn arn_of(account: &str, path: &str, name: &str) -> String {
    iam::entity_arn(account, "server-certificate", path, name)
}

/// What an action on the named certificate is authorized on: its ARN (with its path) and tags
/// if it exists, otherwise the ARN it would have at `/`.
pub(crate) fn target(cx: &Cx<'_>, state: &IamState, name: &str) -> Target {
    match state.server_certificate(name) {
        Some(c) => Target::Arn {
            arn: c.arn.clone(),
            account: cx.account().to_owned(),
            tags: c.tags.clone(),
            boundary: None,
        },
        None => Target::new_arn(cx, arn_of(cx.account(), "/", name)),
    }
}

pub(crate) fn read_name(r: &mut Reader<'_>) -> String {
    r.req_name("ServerCertificateName", 128)
}

/// `ServerCertificateMetadata`'s members.
fn metadata(x: &mut Xml, c: &ServerCertificate) {
    x.elem("Path", &c.path)
        .elem("ServerCertificateName", &c.name)
        .elem("ServerCertificateId", &c.server_certificate_id)
        .elem("Arn", &c.arn)
        .elem("UploadDate", &output::ts(c.upload_date))
        .elem("Expiration", &output::ts(c.expiration));
}

pub(crate) struct UploadServerCertificate;

pub(crate) struct UploadInput {
    name: String,
    path: String,
    body: String,
    private_key: Zeroizing<String>,
    chain: Option<String>,
    tags: Vec<Tag>,
}

impl FromRequest<Iam> for UploadInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let path = r.path("Path");
        let name = read_name(&mut r);
        let body = r.certificate_text("CertificateBody", true, 16384);
        let private_key = r.private_key();
        let chain = r.certificate_text("CertificateChain", false, 2_097_152);
        let tags = r.tags("Tags", false);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(UploadInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
            body: body.unwrap_or_default(),
            private_key,
            chain,
            tags,
        })
    }
}

impl Operation for UploadServerCertificate {
    type Service = Iam;
    const NAME: &'static str = "UploadServerCertificate";
    type Input = UploadInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UploadInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(cx, arn_of(cx.account(), &i.path, &i.name)))
        })
        .await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a UploadInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found.check(cx).request_tags(request_tags(&i.tags)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &UploadInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if state.server_certificate(&i.name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "The Server Certificate with name {} already exists.",
                i.name
            )));
        }
        if state.server_certificates.len() >= quota::SERVER_CERTIFICATES {
            return Err(IamError::quota(
                "ServerCertificatesPerAccount",
                quota::SERVER_CERTIFICATES,
            ));
        }
        let cert = certificates::certificate(&i.body)?;
        if let Some(chain) = &i.chain {
            certificates::chain(chain)?;
        }
        certificates::check_private_key(&cert, &i.private_key)?;
        let server_certificate_id = output::unique_id("ASCA");
        let sealed_private_key = cx
            .services
            .keyring
            .root()
            .seal(i.private_key.as_bytes(), server_certificate_id.as_bytes())
            .map_err(|e| IamError::Internal(format!("sealing a server certificate's private key: {e}")))?;
        let c = ServerCertificate {
            name: i.name.clone(),
            path: i.path.clone(),
            server_certificate_id,
            arn: arn_of(cx.account(), &i.path, &i.name),
            certificate_body: i.body.clone(),
            certificate_chain: i.chain.clone(),
            sealed_private_key,
            upload_date: cx.now(),
            expiration: cert.expiration,
            tags: i.tags.clone(),
        };
        let mut x = cx.xml::<Iam>();
        x.open("ServerCertificateMetadata");
        metadata(&mut x, &c);
        x.close("ServerCertificateMetadata");
        if !c.tags.is_empty() {
            output::tags(&mut x, &c.tags);
        }
        state.server_certificates.push(c);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

/// A server certificate by name.
pub(crate) struct NameInput {
    name: String,
}

impl FromRequest<Iam> for NameInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_name(&mut r);
        r.finish()?;
        Ok(NameInput { name })
    }
}

async fn resolve_certificate(cx: &Cx<'_>, name: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(target(cx, state, name))).await
}

pub(crate) struct GetServerCertificate;

impl Operation for GetServerCertificate {
    type Service = Iam;
    const NAME: &'static str = "GetServerCertificate";
    type Input = NameInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &NameInput) -> Result<Found, IamError> {
        resolve_certificate(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NameInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &NameInput, found: Found) -> Result<QueryReply, IamError> {
        let c = get(&found.state, &i.name)?;
        let mut x = cx.xml::<Iam>();
        x.open("ServerCertificate").open("ServerCertificateMetadata");
        metadata(&mut x, c);
        x.close("ServerCertificateMetadata")
            .elem("CertificateBody", &c.certificate_body)
            .opt("CertificateChain", c.certificate_chain.as_deref());
        if !c.tags.is_empty() {
            output::tags(&mut x, &c.tags);
        }
        x.close("ServerCertificate");
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListServerCertificates;

pub(crate) struct ListInput {
    path_prefix: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let path_prefix = r.path_prefix();
        let page = r.page();
        r.finish()?;
        Ok(ListInput { path_prefix, page })
    }
}

impl Operation for ListServerCertificates {
    type Service = Iam;
    const NAME: &'static str = "ListServerCertificates";
    type Input = ListInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// Authorized on the path prefix, like the other List actions without a resource type.
    async fn resolve(cx: &Cx<'_>, i: &ListInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(path_target(cx, "server-certificate", i.path_prefix.as_deref()))
        })
        .await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput, found: Found) -> Result<QueryReply, IamError> {
        let prefix = i.path_prefix.as_deref().unwrap_or("/");
        let mut certs: Vec<&ServerCertificate> = found
            .state
            .server_certificates
            .iter()
            .filter(|c| c.path.starts_with(prefix))
            .collect();
        by_name(&mut certs, |c| &c.name);
        let (page, next) = i.page.apply(certs)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "ServerCertificateMetadataList", page, |x, c| {
            metadata(x, c)
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

/// UpdateServerCertificate: a new name or path. AWS requires permission on both: "the principal
/// must have permission to change the server certificate with the old name and the new name"
/// (IAM API Reference, UpdateServerCertificate).
pub(crate) struct UpdateServerCertificate;

pub(crate) struct UpdateInput {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

impl FromRequest<Iam> for UpdateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_name(&mut r);
        let new_path = r.path("NewPath");
        let new_name = r.name("NewServerCertificateName", 128);
        r.finish()?;
        Ok(UpdateInput {
            name,
            new_name,
            new_path,
        })
    }
}

/// The certificate, and the target under its new name or path when they change its ARN.
pub(crate) struct Renaming {
    found: Found,
    renamed: Option<Target>,
}

impl Operation for UpdateServerCertificate {
    type Service = Iam;
    const NAME: &'static str = "UpdateServerCertificate";
    type Input = UpdateInput;
    type Output = QueryReply;
    type Resolved = Renaming;

    async fn resolve(cx: &Cx<'_>, i: &UpdateInput) -> Result<Renaming, IamError> {
        let found = resolve_certificate(cx, &i.name).await?;
        let renamed = found.state.server_certificate(&i.name).and_then(|c| {
            let arn = arn_of(
                cx.account(),
                i.new_path.as_deref().unwrap_or(&c.path),
                i.new_name.as_deref().unwrap_or(&c.name),
            );
            (arn != c.arn).then(|| Target::new_arn(cx, arn))
        });
        Ok(Renaming { found, renamed })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateInput,
        r: &'a Renaming,
    ) -> Result<Authorization<'a>, IamError> {
        let authorization = Authorization::of(r.found.check(cx));
        Ok(match &r.renamed {
            Some(to) => authorization.and(to.check(cx)),
            None => authorization,
        })
    }

    async fn run(cx: &Cx<'_>, i: &UpdateInput, r: Renaming) -> Result<QueryReply, IamError> {
        let mut state = r.found.state;
        let current = get(&state, &i.name)?.name.clone();
        if let Some(new_name) = &i.new_name
            && !new_name.eq_ignore_ascii_case(&current)
            && state.server_certificate(new_name).is_some()
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "The Server Certificate with name {new_name} already exists."
            )));
        }
        let c = get_mut(&mut state, &i.name)?;
        if let Some(new_name) = &i.new_name {
            c.name.clone_from(new_name);
        }
        if let Some(new_path) = &i.new_path {
            c.path.clone_from(new_path);
        }
        c.arn = arn_of(cx.account(), &c.path, &c.name);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteServerCertificate;

impl Operation for DeleteServerCertificate {
    type Service = Iam;
    const NAME: &'static str = "DeleteServerCertificate";
    type Input = NameInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &NameInput) -> Result<Found, IamError> {
        resolve_certificate(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NameInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &NameInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let arn = get(&state, &i.name)?.arn.clone();
        state.server_certificates.retain(|c| c.arn != arn);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
