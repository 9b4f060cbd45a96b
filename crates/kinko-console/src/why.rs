//! "Why denied?": under an AccessDenied answer, which policy and statement decided it.
//!
//! The API answers AWS's exact AccessDenied text and nothing more: the policies that decided may
//! be ones the caller can't read, and AWS never names them through the API. The console runs
//! every action as the signed-in principal, so an explanation it shows is always about the
//! principal's own request: it names the kind of policy (identity-based — a managed policy's ARN
//! or an inline policy's name and its user, group or role —, resource-based, key policy, trust
//! policy, permissions boundary, session policy), the statement's index and `Sid`; never a
//! policy's document.
//!
//! The channel: authorization notes each policy denial of a request, with what decided it, in
//! the request's [`kinko_api::authz::DenialNote`] (never read by the HTTP layer, so the wire
//! answer doesn't change). The console's calls ([`crate::call`] and its siblings) read it when
//! the answer is an AccessDenied and keep the explanation, worded in the page's language, for the
//! rest of the console request ([`scope`], set up once for every request by the router). Where
//! the page shows that error ([`crate::pages::error_box`]) or leaves it as the message of an
//! action ([`crate::outcome`]), the explanation of that very answer (matched by its text) goes
//! under it. A task-local keeps every page's existing error plumbing (`WireError`) as it is.

use std::cell::RefCell;
use std::future::Future;

use kinko_api::RequestContext;
use kinko_api::authz::{Decided, ImplicitDenyReason, Owner, PolicySource, Why};
use kinko_wire::WireError;
use maud::{Markup, html};

use crate::Lang;

tokio::task_local! {
    /// The explanations of the AccessDenied answers this console request got: (message, lines).
    static EXPLAINED: RefCell<Vec<(String, Vec<String>)>>;
}

/// Runs one console request with room for the explanations of its calls' denials.
pub(crate) async fn scope<F: Future>(f: F) -> F::Output {
    EXPLAINED.scope(RefCell::new(Vec::new()), f).await
}

/// Keeps the explanation of `e` when it is an AccessDenied of a call made with `rc`.
pub(crate) fn note(lang: Lang, rc: &RequestContext, e: &WireError) {
    if !e.code.starts_with("AccessDenied") {
        return;
    }
    let Some(why) = rc.denials.explain(&e.message) else {
        return;
    };
    let lines = words(lang, &why);
    // Outside a console request (no scope) there is no page to show it on.
    let _ = EXPLAINED.try_with(|v| v.borrow_mut().push((e.message.clone(), lines)));
}

/// The explanation kept for the answer `e`, as lines of text (none when there is none).
pub(crate) fn lines(e: &WireError) -> Vec<String> {
    EXPLAINED
        .try_with(|v| {
            v.borrow()
                .iter()
                .rev()
                .find(|(message, _)| *message == e.message)
                .map(|(_, lines)| lines.clone())
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The explanation of `e`, to go under its error box.
pub(crate) fn markup(e: &WireError) -> Markup {
    let lines = lines(e);
    block(lines.iter().map(String::as_str))
}

/// Explanation lines (a title, then the rest) as the block under an error; nothing without any.
pub(crate) fn block<'a>(mut lines: impl Iterator<Item = &'a str>) -> Markup {
    let Some(title) = lines.next() else {
        return html! {};
    };
    html! {
        div.why {
            strong { (title) }
            @for line in lines { br; (line) }
        }
    }
}

/// A policy, as the explanation names it.
fn policy_name(lang: Lang, p: &PolicySource, resource: Option<&str>) -> String {
    let t = |k| lang.t(k);
    let on = resource.unwrap_or("*");
    match p {
        PolicySource::Managed { arn, via_group: None } => t("why_managed").replace("{arn}", arn),
        PolicySource::Managed {
            arn,
            via_group: Some(group),
        } => t("why_managed_group")
            .replace("{arn}", arn)
            .replace("{group}", group),
        PolicySource::Inline { owner, policy_name } => {
            let (key, name) = match owner {
                Owner::User(n) => ("why_inline_user", n),
                Owner::Group(n) => ("why_inline_group", n),
                Owner::Role(n) => ("why_inline_role", n),
            };
            t(key).replace("{policy}", policy_name).replace("{owner}", name)
        }
        PolicySource::PasswordPolicy => t("why_password_policy").to_owned(),
        PolicySource::ResourcePolicy => t("why_resource_policy").replace("{resource}", on),
        PolicySource::KeyPolicy => t("why_key_policy").replace("{resource}", on),
        PolicySource::TrustPolicy => t("why_trust_policy").replace("{resource}", on),
        PolicySource::PermissionsBoundary { arn } => t("why_boundary").replace("{arn}", arn),
        PolicySource::SessionPolicy { index } => {
            t("why_session_policy").replace("{n}", &(index + 1).to_string())
        }
    }
}

/// The explanation in `lang`: a title, what decided, and the check it was about.
pub(crate) fn words(lang: Lang, why: &Why) -> Vec<String> {
    let t = |k| lang.t(k);
    let resource = why.resource.as_deref();
    let action = why.action.as_str();
    let decided = match &why.decided {
        Decided::ExplicitDeny {
            policy,
            statement_index,
            sid,
        } => {
            let sid = match sid {
                Some(sid) => t("why_sid").replace("{sid}", sid),
                None => t("why_no_sid").to_owned(),
            };
            t("why_explicit")
                .replace("{policy}", &policy_name(lang, policy, resource))
                .replace("{index}", &statement_index.to_string())
                .replace("{sid}", &sid)
        }
        Decided::ImplicitDeny { missing, policy } => {
            let named = match policy {
                // The boundary by its ARN: the text already says what it is.
                Some(PolicySource::PermissionsBoundary { arn }) => Some(arn.clone()),
                Some(p) => Some(policy_name(lang, p, resource)),
                None => None,
            };
            let key = match (missing, &named) {
                (ImplicitDenyReason::NoIdentityPolicy, _) => "why_no_identity",
                (ImplicitDenyReason::NoPermissionsBoundary, _) => "why_no_boundary",
                (ImplicitDenyReason::NoSessionPolicy, _) => "why_no_session",
                (ImplicitDenyReason::NoServiceControlPolicy, _) => "why_no_scp",
                (ImplicitDenyReason::NoResourcePolicy | ImplicitDenyReason::NoRoleTrustPolicy, Some(_)) => {
                    "why_no_named"
                }
                (ImplicitDenyReason::NoResourcePolicy, None) => "why_no_resource",
                (ImplicitDenyReason::NoRoleTrustPolicy, None) => "why_no_trust",
            };
            t(key)
                .replace("{policy}", named.as_deref().unwrap_or_default())
                .replace("{action}", action)
        }
    };
    let about = match resource {
        Some(r) => t("why_check_on")
            .replace("{action}", action)
            .replace("{resource}", r),
        None => t("why_check").replace("{action}", action),
    };
    vec![t("why_title").to_owned(), decided, about]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_deny_names_policy_statement_and_sid() {
        let why = Why {
            action: "secretsmanager:GetSecretValue".into(),
            resource: Some("MySecret".into()),
            decided: Decided::ExplicitDeny {
                policy: PolicySource::Managed {
                    arn: "arn:aws:iam::111122223333:policy/NoSecrets".into(),
                    via_group: Some("devs".into()),
                },
                statement_index: 1,
                sid: Some("DenyAll".into()),
            },
        };
        let en = words(Lang::En, &why).join("\n");
        assert!(en.contains("arn:aws:iam::111122223333:policy/NoSecrets"), "{en}");
        assert!(
            en.contains("devs") && en.contains("DenyAll") && en.contains('1'),
            "{en}"
        );
        let ja = words(Lang::Ja, &why).join("\n");
        assert!(ja.contains("DenyAll") && ja != en, "{ja}");
    }

    #[test]
    fn an_implicit_deny_names_the_missing_kind() {
        let why = Why {
            action: "kms:Decrypt".into(),
            resource: None,
            decided: Decided::ImplicitDeny {
                missing: ImplicitDenyReason::NoPermissionsBoundary,
                policy: Some(PolicySource::PermissionsBoundary {
                    arn: "arn:aws:iam::111122223333:policy/Fence".into(),
                }),
            },
        };
        let en = words(Lang::En, &why).join("\n");
        assert!(
            en.contains("arn:aws:iam::111122223333:policy/Fence") && en.contains("kms:Decrypt"),
            "{en}"
        );
    }
}
