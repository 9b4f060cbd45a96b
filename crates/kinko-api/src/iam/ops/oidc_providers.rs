//! CreateOpenIDConnectProvider, GetOpenIDConnectProvider, ListOpenIDConnectProviders,
//! DeleteOpenIDConnectProvider, UpdateOpenIDConnectProviderThumbprint,
//! AddClientIDToOpenIDConnectProvider, RemoveClientIDFromOpenIDConnectProvider (tags are in `tags`).
//!
//! A provider is named by its issuer without `https://`
//! (`arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com`); its client ids are
//! the audiences AssumeRoleWithWebIdentity accepts in its tokens. Thumbprints are kept as given:
//! kinko verifies tokens with the issuer's key set configured on the server, not by TLS.

use kinko_core::iam::{IamState, OpenIdConnectProvider};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::by_name;
use crate::iam::error::IamError;
use crate::iam::input::{Reader, check_tags};
use crate::iam::output::{self, members, string_members};
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// OpenID Connect providers per account (IAM User Guide, "IAM and AWS STS quotas").
const PROVIDERS: usize = 100;
const CLIENT_IDS: usize = 100;
const THUMBPRINTS: usize = 5;

pub(crate) fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

/// The provider the request names, or IAM's not-found error.
pub(crate) fn get<'s>(state: &'s IamState, arn: &str) -> Result<&'s OpenIdConnectProvider, IamError> {
    state.oidc_provider(arn).ok_or_else(|| not_found(arn))
}

pub(crate) fn get_mut<'s>(
    state: &'s mut IamState,
    arn: &str,
) -> Result<&'s mut OpenIdConnectProvider, IamError> {
    state.oidc_provider_mut(arn).ok_or_else(|| not_found(arn))
}

/// What an action on a provider is authorized on: its ARN (in the ARN's account), with its tags.
pub(crate) fn target(cx: &Cx<'_>, state: &IamState, arn: &str) -> Target {
    match kinko_core::arn::Arn::parse(arn)
        .filter(|a| a.service == "iam" && a.resource.starts_with("oidc-provider/"))
    {
        Some(parsed) => Target::Arn {
            arn: arn.to_owned(),
            account: if parsed.account_id.is_empty() {
                cx.account().to_owned()
            } else {
                parsed.account_id.to_owned()
            },
            tags: state
                .oidc_provider(arn)
                .map(|p| p.tags.clone())
                .unwrap_or_default(),
            boundary: None,
        },
        None => Target::Unresolved(arn.to_owned()),
    }
}

fn read_arn(r: &mut Reader<'_>) -> String {
    r.req_arn("OpenIDConnectProviderArn")
}

/// A list of strings each `min..=max` long, at most `most` of them.
fn check_list(name: &str, items: &[String], (min, max): (usize, usize), most: usize) -> Result<(), IamError> {
    if items.len() > most {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for {name}: {most}"
        )));
    }
    if let Some(bad) = items.iter().find(|i| i.len() < min || i.len() > max) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{bad}' at '{name}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    Ok(())
}

fn check_thumbprints(t: &[String]) -> Result<(), IamError> {
    check_list("ThumbprintsPerOpenIdConnectProvider", t, (40, 40), THUMBPRINTS)
}

fn check_client_ids(c: &[String]) -> Result<(), IamError> {
    check_list("ClientIdsPerOpenIdConnectProvider", c, (1, 255), CLIENT_IDS)
}

pub(crate) struct CreateOpenIDConnectProvider;

pub(crate) struct CreateInput {
    url: String,
    client_ids: Vec<String>,
    thumbprints: Vec<String>,
    tags: Vec<Tag>,
}

impl FromRequest<Iam> for CreateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let url = r.opt("Url");
        let client_ids = r.list("ClientIDList", false).unwrap_or_default();
        let thumbprints = r.list("ThumbprintList", false).unwrap_or_default();
        let tags = r.tags("Tags", false);
        r.finish()?;
        let Some(url) = url.filter(|u| !u.is_empty() && u.len() <= 255) else {
            return Err(IamError::Validation(
                "1 validation error detected: Value at 'url' failed to satisfy constraint: Member must have length between 1 and 255".into(),
            ));
        };
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        check_client_ids(&client_ids)?;
        check_thumbprints(&thumbprints)?;
        Ok(CreateInput {
            url,
            client_ids,
            thumbprints,
            tags,
        })
    }
}

/// The provider's name: the issuer URL without `https://`; only https issuers are accepted, as
/// in IAM.
fn provider_name(url: &str) -> Result<String, IamError> {
    let name = url
        .strip_prefix("https://")
        .map(|n| n.strip_suffix('/').unwrap_or(n))
        .filter(|n| !n.is_empty() && !n.contains(['?', '#', ' ']))
        .ok_or_else(|| IamError::Validation("Invalid Open ID Connect Provider URL".into()))?;
    Ok(name.to_owned())
}

impl Operation for CreateOpenIDConnectProvider {
    type Service = Iam;
    const NAME: &'static str = "CreateOpenIDConnectProvider";
    type Input = CreateInput;
    type Output = QueryReply;
    type Resolved = (Found, String);

    fn validate(i: &CreateInput) -> Result<(), IamError> {
        provider_name(&i.url).map(|_| ())
    }

    async fn resolve(cx: &Cx<'_>, i: &CreateInput) -> Result<(Found, String), IamError> {
        let arn = format!(
            "arn:aws:iam::{}:oidc-provider/{}",
            cx.account(),
            provider_name(&i.url)?
        );
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
        let mut state = found.state;
        if state.oidc_provider(&arn).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Provider with url {} already exists.",
                i.url
            )));
        }
        if state.oidc_providers.len() >= PROVIDERS {
            return Err(IamError::quota("OpenIdConnectProvidersPerAccount", PROVIDERS));
        }
        let mut client_ids: Vec<String> = Vec::new();
        for c in &i.client_ids {
            if !client_ids.contains(c) {
                client_ids.push(c.clone());
            }
        }
        state.oidc_providers.push(OpenIdConnectProvider {
            url: provider_name(&i.url)?,
            arn: arn.clone(),
            client_ids,
            thumbprints: i.thumbprints.clone(),
            create_date: cx.now(),
            tags: i.tags.clone(),
        });
        save(cx, state).await?;
        let mut x = cx.xml::<Iam>();
        x.elem("OpenIDConnectProviderArn", &arn);
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

pub(crate) struct GetOpenIDConnectProvider;

impl Operation for GetOpenIDConnectProvider {
    type Service = Iam;
    const NAME: &'static str = "GetOpenIDConnectProvider";
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
        x.elem("Url", &p.url);
        string_members(&mut x, "ClientIDList", p.client_ids.iter().map(String::as_str));
        string_members(&mut x, "ThumbprintList", p.thumbprints.iter().map(String::as_str));
        x.elem("CreateDate", &output::ts(p.create_date));
        if !p.tags.is_empty() {
            output::tags(&mut x, &p.tags);
        }
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListOpenIDConnectProviders;

pub(crate) struct NoInput;

impl FromRequest<Iam> for NoInput {
    fn from_request(_: &Params) -> Result<Self, IamError> {
        Ok(NoInput)
    }
}

impl Operation for ListOpenIDConnectProviders {
    type Service = Iam;
    const NAME: &'static str = "ListOpenIDConnectProviders";
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
        let mut providers: Vec<&OpenIdConnectProvider> = found.state.oidc_providers.iter().collect();
        by_name(&mut providers, |p| &p.arn);
        let mut x = cx.xml::<Iam>();
        members(&mut x, "OpenIDConnectProviderList", providers, |x, p| {
            x.elem("Arn", &p.arn);
        });
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct DeleteOpenIDConnectProvider;

impl Operation for DeleteOpenIDConnectProvider {
    type Service = Iam;
    const NAME: &'static str = "DeleteOpenIDConnectProvider";
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

    /// Idempotent: a provider that doesn't exist (any more) is no error (API Reference,
    /// DeleteOpenIDConnectProvider: "it does not fail or return an error if you call the
    /// operation for a provider that does not exist").
    async fn run(cx: &Cx<'_>, i: &ArnInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if state.oidc_provider(&i.arn).is_none() {
            return Ok(QueryReply::Empty);
        }
        state.oidc_providers.retain(|p| p.arn != i.arn);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// UpdateOpenIDConnectProviderThumbprint, AddClientIDToOpenIDConnectProvider,
/// RemoveClientIDFromOpenIDConnectProvider: a change to one provider.
pub(crate) struct ChangeInput {
    arn: String,
    values: Vec<String>,
}

pub(crate) struct UpdateOpenIDConnectProviderThumbprint;

impl FromRequest<Iam> for ChangeInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = read_arn(&mut r);
        let values = match p.get("ClientID") {
            Some(c) => vec![c.to_owned()],
            None => r.list("ThumbprintList", false).unwrap_or_default(),
        };
        r.finish()?;
        Ok(ChangeInput { arn, values })
    }
}

macro_rules! provider_change {
    ($op:ident, $name:literal, |$p:ident, $values:ident| $body:block) => {
        impl Operation for $op {
            type Service = Iam;
            const NAME: &'static str = $name;
            type Input = ChangeInput;
            type Output = QueryReply;
            type Resolved = Found;

            async fn resolve(cx: &Cx<'_>, i: &ChangeInput) -> Result<Found, IamError> {
                resolve_provider(cx, &i.arn).await
            }

            fn authorization<'a>(
                cx: &'a Cx<'_>,
                _: &'a ChangeInput,
                found: &'a Found,
            ) -> Result<Authorization<'a>, IamError> {
                Ok(Authorization::of(found.check(cx)))
            }

            async fn run(cx: &Cx<'_>, i: &ChangeInput, found: Found) -> Result<QueryReply, IamError> {
                let mut state = found.state;
                {
                    let $p = get_mut(&mut state, &i.arn)?;
                    let $values = &i.values;
                    $body
                }
                save(cx, state).await?;
                Ok(QueryReply::Empty)
            }
        }
    };
}

provider_change!(
    UpdateOpenIDConnectProviderThumbprint,
    "UpdateOpenIDConnectProviderThumbprint",
    |p, values| {
        check_thumbprints(values)?;
        p.thumbprints.clone_from(values);
    }
);

pub(crate) struct AddClientIDToOpenIDConnectProvider;

provider_change!(
    AddClientIDToOpenIDConnectProvider,
    "AddClientIDToOpenIDConnectProvider",
    |p, values| {
        check_client_ids(values)?;
        for c in values {
            if !p.client_ids.contains(c) {
                p.client_ids.push(c.clone());
            }
        }
        check_client_ids(&p.client_ids)?;
    }
);

pub(crate) struct RemoveClientIDFromOpenIDConnectProvider;

provider_change!(
    RemoveClientIDFromOpenIDConnectProvider,
    "RemoveClientIDFromOpenIDConnectProvider",
    |p, values| {
        p.client_ids.retain(|c| !values.contains(c));
    }
);
