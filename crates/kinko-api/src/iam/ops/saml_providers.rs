//! CreateSAMLProvider, GetSAMLProvider, ListSAMLProviders, UpdateSAMLProvider, DeleteSAMLProvider
//! (TagSAMLProvider, UntagSAMLProvider and ListSAMLProviderTags are in `tags`).
//!
//! A provider is named by the caller (`arn:aws:iam::<account>:saml-provider/<name>`) and holds the
//! identity provider's SAML metadata document. The document must be SAML 2.0 metadata for an
//! identity provider (an `EntityDescriptor` with an `IDPSSODescriptor`); it is kept whole and as
//! given, since the signing certificates AssumeRoleWithSAML verifies assertions against are in it.
//!
//! Encrypted assertions are not supported: `AssertionEncryptionMode=Required` and the private keys
//! of `AddPrivateKey`/`RemovePrivateKey` are refused with InvalidInput rather than accepted and
//! then not honoured; `AssertionEncryptionMode=Allowed` (plain assertions accepted) is what kinko
//! does anyway, so it is accepted.

use kinko_core::Timestamp;
use kinko_core::iam::{IamState, SamlProvider};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::by_name;
use crate::iam::error::IamError;
use crate::iam::input::{Reader, check_tags};
use crate::iam::output::{self, members};
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// SAML providers per account (IAM User Guide, "IAM and AWS STS quotas").
const PROVIDERS: usize = 100;
/// `SAMLMetadataDocument`'s length bounds (IAM API Reference, CreateSAMLProvider).
const DOCUMENT_LENGTH: (usize, usize) = (1000, 10_000_000);
/// The SAML 2.0 metadata namespace.
const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// How long a provider whose metadata names no `validUntil` is shown as valid.
const DEFAULT_VALIDITY_DAYS: i64 = 100 * 365;

/// IAM's answer to a provider ARN it doesn't hold.
pub(crate) fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Manifest not found for arn {arn}"))
}

pub(crate) fn get<'s>(state: &'s IamState, arn: &str) -> Result<&'s SamlProvider, IamError> {
    state.saml_provider(arn).ok_or_else(|| not_found(arn))
}

pub(crate) fn get_mut<'s>(state: &'s mut IamState, arn: &str) -> Result<&'s mut SamlProvider, IamError> {
    state.saml_provider_mut(arn).ok_or_else(|| not_found(arn))
}

/// What an action on a provider is authorized on: its ARN (in the ARN's account), with its tags.
pub(crate) fn target(cx: &Cx<'_>, state: &IamState, arn: &str) -> Target {
    match kinko_core::arn::Arn::parse(arn)
        .filter(|a| a.service == "iam" && a.resource.starts_with("saml-provider/"))
    {
        Some(parsed) => Target::Arn {
            arn: arn.to_owned(),
            account: if parsed.account_id.is_empty() {
                cx.account().to_owned()
            } else {
                parsed.account_id.to_owned()
            },
            tags: state
                .saml_provider(arn)
                .map(|p| p.tags.clone())
                .unwrap_or_default(),
            boundary: None,
        },
        None => Target::Unresolved(arn.to_owned()),
    }
}

/// `SAMLProviderArn`.
pub(crate) fn read_arn(r: &mut Reader<'_>) -> String {
    r.req_arn("SAMLProviderArn")
}

/// What the metadata document says that IAM shows: when it stops being valid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    pub valid_until: Option<Timestamp>,
}

fn unparsable() -> IamError {
    IamError::InvalidInput("Could not parse metadata".into())
}

/// Checks that `doc` is SAML 2.0 metadata of an identity provider: an `EntityDescriptor` (in the
/// metadata namespace) with an `IDPSSODescriptor`. DTDs are refused (roxmltree's default), so no
/// entity is expanded.
pub(crate) fn parse_metadata(doc: &str) -> Result<Metadata, IamError> {
    let xml = roxmltree::Document::parse(doc).map_err(|_| unparsable())?;
    let root = xml.root_element();
    let is = |n: &roxmltree::Node<'_, '_>, name: &str| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(METADATA_NS)
    };
    if !is(&root, "EntityDescriptor") {
        return Err(unparsable());
    }
    let Some(idp) = root.children().find(|c| is(c, "IDPSSODescriptor")) else {
        return Err(unparsable());
    };
    // The earlier of the two when both say (a role descriptor can't outlive its entity).
    let mut valid_until: Option<Timestamp> = None;
    for node in [root, idp] {
        if let Some(v) = node.attribute("validUntil") {
            let t = time::OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339)
                .map_err(|_| unparsable())?;
            let t = Timestamp::from_millis(
                i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| unparsable())?,
            );
            valid_until = Some(valid_until.map_or(t, |u| u.min(t)));
        }
    }
    Ok(Metadata { valid_until })
}

/// The document of CreateSAMLProvider and UpdateSAMLProvider, with its length checked.
fn read_document(r: &mut Reader<'_>) -> String {
    r.bounded("SAMLMetadataDocument", true, DOCUMENT_LENGTH)
        .unwrap_or_default()
}

/// Refuses what would ask kinko to decrypt assertions (see the module's documentation).
fn refuse_encryption(p: &Params) -> Result<(), IamError> {
    if p.get("AssertionEncryptionMode") == Some("Required")
        || p.get("AddPrivateKey").is_some()
        || p.get("RemovePrivateKey").is_some()
    {
        return Err(IamError::InvalidInput(
            "Encrypted SAML assertions are not supported: AssertionEncryptionMode must be Allowed and no private key may be given".into(),
        ));
    }
    Ok(())
}

fn valid_until(metadata: &Metadata, created: Timestamp) -> Timestamp {
    metadata
        .valid_until
        .unwrap_or_else(|| created.plus_days(DEFAULT_VALIDITY_DAYS))
}

pub(crate) struct CreateSAMLProvider;

pub(crate) struct CreateInput {
    name: String,
    document: String,
    tags: Vec<Tag>,
}

impl FromRequest<Iam> for CreateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.saml_provider_name();
        let document = read_document(&mut r);
        r.one_of("AssertionEncryptionMode", &["Required", "Allowed"], false);
        let tags = r.tags("Tags", false);
        r.finish()?;
        refuse_encryption(p)?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(CreateInput { name, document, tags })
    }
}

impl Operation for CreateSAMLProvider {
    type Service = Iam;
    const NAME: &'static str = "CreateSAMLProvider";
    type Input = CreateInput;
    type Output = QueryReply;
    type Resolved = (Found, String);

    async fn resolve(cx: &Cx<'_>, i: &CreateInput) -> Result<(Found, String), IamError> {
        let arn = format!("arn:aws:iam::{}:saml-provider/{}", cx.account(), i.name);
        let found = Found::read(cx, |_| Ok(Target::new_arn(cx, arn.clone()))).await?;
        Ok((found, arn))
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateInput,
        (found, _): &'a (Found, String),
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found.check(cx).request_tags(request_tags(&i.tags)),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        i: &CreateInput,
        (found, arn): (Found, String),
    ) -> Result<QueryReply, IamError> {
        let metadata = parse_metadata(&i.document)?;
        let mut state = found.state;
        // Names are unique case-insensitively, as other IAM names.
        if state
            .saml_providers
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(&i.name))
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "SAMLProvider {} already exists",
                i.name
            )));
        }
        if state.saml_providers.len() >= PROVIDERS {
            return Err(IamError::quota("SamlProvidersPerAccount", PROVIDERS));
        }
        let now = cx.now();
        state.saml_providers.push(SamlProvider {
            name: i.name.clone(),
            arn: arn.clone(),
            metadata_document: i.document.clone(),
            create_date: now,
            valid_until: valid_until(&metadata, now),
            tags: i.tags.clone(),
        });
        save(cx, state).await?;
        let mut x = cx.xml::<Iam>();
        x.elem("SAMLProviderArn", &arn);
        if !i.tags.is_empty() {
            output::tags(&mut x, &i.tags);
        }
        Ok(QueryReply::Result(x))
    }
}

/// A provider by ARN.
pub(crate) struct ArnInput {
    arn: String,
}

impl FromRequest<Iam> for ArnInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = read_arn(&mut r);
        r.finish()?;
        Ok(ArnInput { arn })
    }
}

async fn resolve_provider(cx: &Cx<'_>, arn: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(target(cx, state, arn))).await
}

pub(crate) struct GetSAMLProvider;

impl Operation for GetSAMLProvider {
    type Service = Iam;
    const NAME: &'static str = "GetSAMLProvider";
    type Input = ArnInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ArnInput) -> Result<Found, IamError> {
        resolve_provider(cx, &i.arn).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ArnInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ArnInput, found: Found) -> Result<QueryReply, IamError> {
        let p = get(&found.state, &i.arn)?;
        let mut x = cx.xml::<Iam>();
        x.elem("SAMLMetadataDocument", &p.metadata_document);
        x.elem("CreateDate", &output::ts(p.create_date));
        x.elem("ValidUntil", &output::ts(p.valid_until));
        if !p.tags.is_empty() {
            output::tags(&mut x, &p.tags);
        }
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListSAMLProviders;

pub(crate) struct NoInput;

impl FromRequest<Iam> for NoInput {
    fn from_request(_: &Params) -> Result<Self, IamError> {
        Ok(NoInput)
    }
}

impl Operation for ListSAMLProviders {
    type Service = Iam;
    const NAME: &'static str = "ListSAMLProviders";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// No resource type (Service Authorization Reference): authorized on `*`.
    async fn resolve(cx: &Cx<'_>, _: &NoInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(Target::Any)).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NoInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, _: &NoInput, found: Found) -> Result<QueryReply, IamError> {
        let mut providers: Vec<&SamlProvider> = found.state.saml_providers.iter().collect();
        by_name(&mut providers, |p| &p.arn);
        let mut x = cx.xml::<Iam>();
        members(&mut x, "SAMLProviderList", providers, |x, p| {
            x.elem("Arn", &p.arn);
            x.elem("ValidUntil", &output::ts(p.valid_until));
            x.elem("CreateDate", &output::ts(p.create_date));
        });
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateSAMLProvider;

pub(crate) struct UpdateInput {
    arn: String,
    document: Option<String>,
}

impl FromRequest<Iam> for UpdateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = read_arn(&mut r);
        // Optional since AWS added the assertion encryption settings, which may be changed alone.
        let document = r.bounded("SAMLMetadataDocument", false, DOCUMENT_LENGTH);
        r.one_of("AssertionEncryptionMode", &["Required", "Allowed"], false);
        r.finish()?;
        refuse_encryption(p)?;
        Ok(UpdateInput { arn, document })
    }
}

impl Operation for UpdateSAMLProvider {
    type Service = Iam;
    const NAME: &'static str = "UpdateSAMLProvider";
    type Input = UpdateInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateInput) -> Result<Found, IamError> {
        resolve_provider(cx, &i.arn).await
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
        let provider = get_mut(&mut state, &i.arn)?;
        if let Some(document) = &i.document {
            let metadata = parse_metadata(document)?;
            provider.valid_until = valid_until(&metadata, cx.now());
            provider.metadata_document.clone_from(document);
        }
        let arn = provider.arn.clone();
        save(cx, state).await?;
        let mut x = cx.xml::<Iam>();
        x.elem("SAMLProviderArn", &arn);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct DeleteSAMLProvider;

impl Operation for DeleteSAMLProvider {
    type Service = Iam;
    const NAME: &'static str = "DeleteSAMLProvider";
    type Input = ArnInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ArnInput) -> Result<Found, IamError> {
        resolve_provider(cx, &i.arn).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ArnInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ArnInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        get(&state, &i.arn)?;
        state.saml_providers.retain(|p| p.arn != i.arn);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(root: &str, role: &str, valid_until: &str) -> String {
        format!(
            r#"<md:{root} xmlns:md="{METADATA_NS}" entityID="https://idp.example.com/" {valid_until}><md:{role} protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:{root}>"#
        )
    }

    #[test]
    fn identity_provider_metadata_is_accepted() {
        assert_eq!(
            parse_metadata(&doc("EntityDescriptor", "IDPSSODescriptor", "")),
            Ok(Metadata { valid_until: None })
        );
        let m = parse_metadata(&doc(
            "EntityDescriptor",
            "IDPSSODescriptor",
            r#"validUntil="2030-01-02T03:04:05Z""#,
        ))
        .unwrap();
        assert_eq!(m.valid_until, Some(Timestamp::from_millis(1_893_553_445_000)));
    }

    #[test]
    fn other_documents_are_refused() {
        for bad in [
            "a".repeat(1024),
            doc("EntityDescriptor", "SPSSODescriptor", ""),
            doc("EntitiesDescriptor", "IDPSSODescriptor", ""),
            doc("EntityDescriptor", "IDPSSODescriptor", r#"validUntil="soon""#),
            r#"<EntityDescriptor><IDPSSODescriptor/></EntityDescriptor>"#.into(),
            r#"<!DOCTYPE x [<!ENTITY e "e">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:IDPSSODescriptor/></md:EntityDescriptor>"#.into(),
        ] {
            assert_eq!(parse_metadata(&bad), Err(unparsable()), "{bad}");
        }
    }
}
