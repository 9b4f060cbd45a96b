//! The IAM service through `kinko_api::iam::handle`, over an in-memory SQLite store: every operation,
//! its XML answer and its errors (codes, HTTP statuses and AWS's messages), the delete conflicts,
//! quotas, case-insensitive names, paging, policy versions and authorization of IAM users.

mod common;
use common::{enc, services};

use std::sync::Arc;

use kinko_api::iam::handle;
use kinko_api::{RequestContext, Services};
use kinko_core::principal::{AccessKeyStatus, Principal, PrincipalKind};
use kinko_wire::WireError;
use kinko_wire::query::Params;

const ACCOUNT: &str = "111111111111";
const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const READ_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;

/// The decoded form body of a call (a repeated parameter is refused as the server refuses it).
fn params(action: &str, ps: &[(&str, &str)]) -> Result<Params, WireError> {
    let mut body = format!("Action={action}&Version=2010-05-08");
    for (k, v) in ps {
        body.push_str(&format!("&{k}={}", enc(v)));
    }
    Params::parse(body.as_bytes())
}

/// Percent-decoding, as SDKs undo IAM's encoding of policy documents.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// The text of the first `<name>` element.
fn text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    texts(xml, name).into_iter().next()
}

/// The texts of every `<name>` element (elements without nested ones).
fn texts<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

struct Caller {
    services: Services,
    rc: RequestContext,
}

impl Caller {
    fn root(services: &Services) -> Caller {
        Caller {
            services: services.clone(),
            rc: RequestContext::new(Principal::root(ACCOUNT), "us-east-1", "req-1"),
        }
    }

    fn user(services: &Services, name: &str, user_id: &str) -> Caller {
        let principal = Principal {
            account_id: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            kind: PrincipalKind::User {
                name: name.into(),
                user_id: user_id.into(),
            },
        };
        Caller {
            services: services.clone(),
            rc: RequestContext::new(principal, "us-east-1", "req-2"),
        }
    }

    fn role_session(services: &Services) -> Caller {
        let principal = Principal {
            account_id: ACCOUNT.into(),
            arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/admin/s1"),
            kind: PrincipalKind::AssumedRole {
                role_name: "admin".into(),
                role_id: "AROAEXAMPLEEXAMPLE12".into(),
                session_name: "s1".into(),
            },
        };
        Caller {
            services: services.clone(),
            rc: RequestContext::new(principal, "us-east-1", "req-3"),
        }
    }

    async fn call(&self, action: &str, ps: &[(&str, &str)]) -> Result<String, WireError> {
        handle(&self.services, &self.rc, &params(action, ps)?).await
    }

    async fn ok(&self, action: &str, ps: &[(&str, &str)]) -> String {
        match self.call(action, ps).await {
            Ok(xml) => {
                assert!(
                    xml.starts_with(&format!(
                        "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                    )),
                    "{xml}"
                );
                assert!(xml.contains("<RequestId>"), "{xml}");
                xml
            }
            Err(e) => panic!("{action} failed: {e:?}"),
        }
    }

    async fn err(&self, action: &str, ps: &[(&str, &str)]) -> WireError {
        match self.call(action, ps).await {
            Ok(xml) => panic!("{action} succeeded: {xml}"),
            Err(e) => e,
        }
    }
}

fn assert_err(e: &WireError, code: &str, status: u16, message: &str) {
    assert_eq!(
        (e.code, e.status, e.message.as_str()),
        (code, status, message),
        "{e:?}"
    );
}

#[tokio::test]
async fn protocol_errors() {
    let s = services();
    let root = Caller::root(&s);
    let e = handle(&s, &root.rc, &Params::parse(b"Version=2010-05-08").unwrap())
        .await
        .unwrap_err();
    assert_err(&e, "MissingAction", 400, "Missing Action");
    let e = root.err("Frobnicate", &[]).await;
    assert_err(
        &e,
        "InvalidAction",
        400,
        "Could not find operation Frobnicate for version 2010-05-08",
    );
    let e = handle(
        &s,
        &root.rc,
        &Params::parse(b"Action=ListUsers&Version=2011-06-15").unwrap(),
    )
    .await
    .unwrap_err();
    assert_err(
        &e,
        "InvalidAction",
        400,
        "Could not find operation ListUsers for version 2011-06-15",
    );
    let e = root.err("CreateUser", &[]).await;
    assert_err(
        &e,
        "ValidationError",
        400,
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null",
    );
    let e = root.err("CreateUser", &[("UserName", "bad name")]).await;
    assert_eq!(e.code, "ValidationError");
    assert!(
        e.message.contains(r"Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"),
        "{}",
        e.message
    );
    let e = root
        .err("CreateUser", &[("UserName", &"a".repeat(65)), ("Path", "nope")])
        .await;
    assert!(
        e.message.starts_with("2 validation errors detected: "),
        "{}",
        e.message
    );
    let e = root.err("ListUsers", &[("MaxItems", "0")]).await;
    assert!(
        e.message.contains("Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn users() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root
        .ok(
            "CreateUser",
            &[
                ("UserName", "Bob"),
                ("Path", "/division/"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "payments"),
            ],
        )
        .await;
    assert_eq!(text(&xml, "UserName"), Some("Bob"));
    assert_eq!(text(&xml, "Path"), Some("/division/"));
    assert_eq!(
        text(&xml, "Arn"),
        Some("arn:aws:iam::111111111111:user/division/Bob")
    );
    let id = text(&xml, "UserId").unwrap();
    assert!(id.starts_with("AIDA") && id.len() == 21, "{id}");
    assert_eq!(text(&xml, "CreateDate"), Some("2023-11-14T22:13:20.000Z"));
    assert_eq!(text(&xml, "Key"), Some("team"));

    // Names are unique case-insensitively.
    let e = root.err("CreateUser", &[("UserName", "BOB")]).await;
    assert_err(
        &e,
        "EntityAlreadyExists",
        409,
        "User with name BOB already exists.",
    );

    let xml = root.ok("GetUser", &[("UserName", "bob")]).await;
    assert_eq!(text(&xml, "UserName"), Some("Bob"));
    assert_eq!(text(&xml, "Value"), Some("payments"));
    let e = root.err("GetUser", &[("UserName", "nobody")]).await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The user with name nobody cannot be found.",
    );

    root.ok("CreateUser", &[("UserName", "alice")]).await;
    let xml = root.ok("ListUsers", &[]).await;
    assert_eq!(texts(&xml, "UserName"), vec!["alice", "Bob"]);
    assert_eq!(text(&xml, "IsTruncated"), Some("false"));
    // Listed users don't show their tags.
    assert!(!xml.contains("<Tags>"), "{xml}");
    let xml = root.ok("ListUsers", &[("PathPrefix", "/division")]).await;
    assert_eq!(texts(&xml, "UserName"), vec!["Bob"]);

    // Rename and move.
    let e = root
        .err("UpdateUser", &[("UserName", "bob"), ("NewUserName", "ALICE")])
        .await;
    assert_err(
        &e,
        "EntityAlreadyExists",
        409,
        "User with name ALICE already exists.",
    );
    let xml = root
        .ok(
            "UpdateUser",
            &[("UserName", "bob"), ("NewUserName", "robert"), ("NewPath", "/x/")],
        )
        .await;
    assert!(!xml.contains("UpdateUserResult"), "{xml}");
    let e = root.err("GetUser", &[("UserName", "Bob")]).await;
    assert_eq!(e.code, "NoSuchEntity");
    let xml = root.ok("GetUser", &[("UserName", "robert")]).await;
    assert_eq!(text(&xml, "Arn"), Some("arn:aws:iam::111111111111:user/x/robert"));
    assert_eq!(text(&xml, "UserId"), Some(id), "the id survives a rename");

    root.ok("DeleteUser", &[("UserName", "ROBERT")]).await;
    let e = root.err("DeleteUser", &[("UserName", "robert")]).await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The user with name robert cannot be found.",
    );

    // Tags.
    root.ok(
        "TagUser",
        &[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "1"),
            ("Tags.member.2.Key", "b"),
            ("Tags.member.2.Value", "2"),
        ],
    )
    .await;
    root.ok(
        "TagUser",
        &[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "A"),
            ("Tags.member.1.Value", "3"),
        ],
    )
    .await;
    let xml = root.ok("ListUserTags", &[("UserName", "alice")]).await;
    assert_eq!(texts(&xml, "Key"), vec!["A", "b"]);
    assert_eq!(texts(&xml, "Value"), vec!["3", "2"]);
    root.ok("UntagUser", &[("UserName", "alice"), ("TagKeys.member.1", "a")])
        .await;
    let xml = root.ok("ListUserTags", &[("UserName", "alice")]).await;
    assert_eq!(texts(&xml, "Key"), vec!["b"]);
    let e = root
        .err(
            "TagUser",
            &[
                ("UserName", "alice"),
                ("Tags.member.1.Key", "k"),
                ("Tags.member.1.Value", "1"),
                ("Tags.member.2.Key", "K"),
                ("Tags.member.2.Value", "2"),
            ],
        )
        .await;
    assert_err(
        &e,
        "InvalidInput",
        400,
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    );
    let mut many: Vec<(String, String)> = Vec::new();
    for i in 1..=50 {
        many.push((format!("Tags.member.{i}.Key"), format!("k{i}")));
        many.push((format!("Tags.member.{i}.Value"), "v".into()));
    }
    let mut ps: Vec<(&str, &str)> = vec![("UserName", "alice")];
    ps.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let e = root.err("TagUser", &ps).await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for TagsPerUser: 50",
    );
}

#[tokio::test]
async fn get_user_without_name() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root.ok("GetUser", &[]).await;
    assert_eq!(text(&xml, "UserId"), Some(ACCOUNT));
    assert_eq!(text(&xml, "Arn"), Some("arn:aws:iam::111111111111:root"));
    assert!(text(&xml, "UserName").is_none());

    let xml = root.ok("CreateUser", &[("UserName", "carol")]).await;
    let id = text(&xml, "UserId").unwrap().to_owned();
    let carol = Caller::user(&s, "carol", &id);
    // Users need permission even to describe themselves.
    let e = carol.err("GetUser", &[]).await;
    assert_eq!(e.code, "AccessDenied");
    let own = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::111111111111:user/${aws:username}"}]}"#;
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "carol"),
            ("PolicyName", "self"),
            ("PolicyDocument", own),
        ],
    )
    .await;
    let xml = carol.ok("GetUser", &[]).await;
    assert_eq!(text(&xml, "UserName"), Some("carol"));

    let session = Caller::role_session(&s);
    let e = session.err("GetUser", &[]).await;
    assert_err(
        &e,
        "ValidationError",
        400,
        "Must specify userName when calling with non-User credentials",
    );
}

#[tokio::test]
async fn paging() {
    let s = services();
    let root = Caller::root(&s);
    for name in ["u5", "u3", "u1", "u4", "u2"] {
        root.ok("CreateUser", &[("UserName", name)]).await;
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut ps = vec![("MaxItems", "2")];
        if let Some(m) = &marker {
            ps.push(("Marker", m));
        }
        let xml = root.ok("ListUsers", &ps).await;
        seen.extend(texts(&xml, "UserName").into_iter().map(str::to_owned));
        if text(&xml, "IsTruncated") == Some("true") {
            marker = Some(text(&xml, "Marker").expect("marker").to_owned());
        } else {
            assert!(text(&xml, "Marker").is_none());
            break;
        }
    }
    assert_eq!(seen, vec!["u1", "u2", "u3", "u4", "u5"]);
    let e = root.err("ListUsers", &[("Marker", "garbage")]).await;
    assert_eq!(e.code, "ValidationError");
}

#[tokio::test]
async fn delete_user_conflicts() {
    let s = services();
    let root = Caller::root(&s);
    root.ok("CreateUser", &[("UserName", "dave")]).await;
    root.ok("CreateGroup", &[("GroupName", "devs")]).await;
    let xml = root.ok("CreateAccessKey", &[("UserName", "dave")]).await;
    let key = text(&xml, "AccessKeyId").unwrap().to_owned();
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "dave"),
            ("PolicyName", "p"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await;
    root.ok(
        "AttachUserPolicy",
        &[
            ("UserName", "dave"),
            ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ],
    )
    .await;
    root.ok("AddUserToGroup", &[("GroupName", "devs"), ("UserName", "dave")])
        .await;

    let e = root.err("DeleteUser", &[("UserName", "dave")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete access keys first.",
    );
    root.ok("DeleteAccessKey", &[("UserName", "dave"), ("AccessKeyId", &key)])
        .await;

    let e = root.err("DeleteUser", &[("UserName", "dave")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    );
    root.ok("DeleteUserPolicy", &[("UserName", "dave"), ("PolicyName", "p")])
        .await;

    let e = root.err("DeleteUser", &[("UserName", "dave")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    );
    root.ok(
        "DetachUserPolicy",
        &[
            ("UserName", "dave"),
            ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ],
    )
    .await;

    let e = root.err("DeleteUser", &[("UserName", "dave")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    );
    root.ok(
        "RemoveUserFromGroup",
        &[("GroupName", "devs"), ("UserName", "dave")],
    )
    .await;
    root.ok("DeleteUser", &[("UserName", "dave")]).await;
    root.ok("DeleteGroup", &[("GroupName", "devs")]).await;
}

#[tokio::test]
async fn access_keys() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root.ok("CreateUser", &[("UserName", "erin")]).await;
    let user_id = text(&xml, "UserId").unwrap().to_owned();

    let xml = root.ok("CreateAccessKey", &[("UserName", "ERIN")]).await;
    assert_eq!(text(&xml, "UserName"), Some("erin"));
    assert_eq!(text(&xml, "Status"), Some("Active"));
    let key1 = text(&xml, "AccessKeyId").unwrap().to_owned();
    let secret = text(&xml, "SecretAccessKey").unwrap().to_owned();
    assert!(key1.starts_with("AKIA") && key1.len() == 20, "{key1}");
    assert_eq!(secret.len(), 40);
    // Stored sealed under the root key, bound to the key id, for the user.
    let record = s.store.access_key(&key1).await.unwrap().expect("stored");
    let opened = s
        .keyring
        .root()
        .open(&record.sealed_secret, key1.as_bytes())
        .expect("unseals");
    assert_eq!(opened.as_slice(), secret.as_bytes());
    assert_eq!(
        record.principal.kind,
        PrincipalKind::User {
            name: "erin".into(),
            user_id: user_id.clone()
        }
    );
    assert_eq!(record.principal.arn, "arn:aws:iam::111111111111:user/erin");

    let xml = root.ok("CreateAccessKey", &[("UserName", "erin")]).await;
    let key2 = text(&xml, "AccessKeyId").unwrap().to_owned();
    let e = root.err("CreateAccessKey", &[("UserName", "erin")]).await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for AccessKeysPerUser: 2",
    );

    let xml = root.ok("ListAccessKeys", &[("UserName", "erin")]).await;
    let mut listed = texts(&xml, "AccessKeyId");
    listed.sort_unstable();
    let mut expected = vec![key1.as_str(), key2.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert!(!xml.contains("SecretAccessKey"));

    root.ok(
        "UpdateAccessKey",
        &[
            ("UserName", "erin"),
            ("AccessKeyId", &key1),
            ("Status", "Inactive"),
        ],
    )
    .await;
    let record = s.store.access_key(&key1).await.unwrap().unwrap();
    assert_eq!(record.status, AccessKeyStatus::Inactive);
    let e = root
        .err(
            "UpdateAccessKey",
            &[("UserName", "erin"), ("AccessKeyId", &key1), ("Status", "Bogus")],
        )
        .await;
    assert_eq!(e.code, "ValidationError");

    // A key of another user (or none) is not found.
    root.ok("CreateUser", &[("UserName", "frank")]).await;
    let e = root
        .err(
            "DeleteAccessKey",
            &[("UserName", "frank"), ("AccessKeyId", &key1)],
        )
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        &format!("The Access Key with id {key1} cannot be found."),
    );

    let xml = root.ok("GetAccessKeyLastUsed", &[("AccessKeyId", &key2)]).await;
    assert_eq!(text(&xml, "UserName"), Some("erin"));
    assert_eq!(text(&xml, "ServiceName"), Some("N/A"));
    let e = root
        .err("GetAccessKeyLastUsed", &[("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA")])
        .await;
    assert_eq!(e.code, "NoSuchEntity");

    // Without UserName: the calling user's own keys.
    let erin = Caller::user(&s, "erin", &user_id);
    root.ok(
        "AttachUserPolicy",
        &[
            ("UserName", "erin"),
            ("PolicyArn", "arn:aws:iam::aws:policy/IAMFullAccess"),
        ],
    )
    .await;
    root.ok("DeleteAccessKey", &[("UserName", "erin"), ("AccessKeyId", &key1)])
        .await;
    let xml = erin.ok("CreateAccessKey", &[]).await;
    assert_eq!(text(&xml, "UserName"), Some("erin"));
    let xml = erin.ok("ListAccessKeys", &[]).await;
    assert_eq!(texts(&xml, "AccessKeyId").len(), 2);
    let session = Caller::role_session(&s);
    let e = session.err("ListAccessKeys", &[]).await;
    assert_eq!(e.code, "ValidationError");

    // The root user manages its own keys the same way.
    let xml = root.ok("CreateAccessKey", &[]).await;
    assert!(text(&xml, "UserName").is_none());
    let root_key = text(&xml, "AccessKeyId").unwrap().to_owned();
    assert!(
        s.store
            .access_key(&root_key)
            .await
            .unwrap()
            .unwrap()
            .principal
            .is_root()
    );
    let xml = root.ok("ListAccessKeys", &[]).await;
    assert_eq!(texts(&xml, "AccessKeyId"), vec![root_key.as_str()]);

    // Renaming a user moves its keys to the new name and ARN.
    root.ok("UpdateUser", &[("UserName", "erin"), ("NewUserName", "erin2")])
        .await;
    let xml = root.ok("ListAccessKeys", &[("UserName", "erin2")]).await;
    assert_eq!(texts(&xml, "AccessKeyId").len(), 2);
    assert_eq!(texts(&xml, "UserName"), vec!["erin2", "erin2"]);
    let record = s.store.access_key(&key2).await.unwrap().unwrap();
    assert_eq!(record.principal.arn, "arn:aws:iam::111111111111:user/erin2");
}

#[tokio::test]
async fn groups() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root
        .ok("CreateGroup", &[("GroupName", "Admins"), ("Path", "/ops/")])
        .await;
    assert_eq!(
        text(&xml, "Arn"),
        Some("arn:aws:iam::111111111111:group/ops/Admins")
    );
    assert!(text(&xml, "GroupId").unwrap().starts_with("AGPA"));
    let e = root.err("CreateGroup", &[("GroupName", "admins")]).await;
    assert_err(
        &e,
        "EntityAlreadyExists",
        409,
        "Group with name admins already exists.",
    );
    root.ok("CreateGroup", &[("GroupName", "readers")]).await;

    for u in ["gina", "hal"] {
        root.ok("CreateUser", &[("UserName", u)]).await;
        root.ok("AddUserToGroup", &[("GroupName", "admins"), ("UserName", u)])
            .await;
    }
    // Adding twice is harmless.
    root.ok("AddUserToGroup", &[("GroupName", "ADMINS"), ("UserName", "gina")])
        .await;
    root.ok(
        "AddUserToGroup",
        &[("GroupName", "readers"), ("UserName", "gina")],
    )
    .await;
    let e = root
        .err("AddUserToGroup", &[("GroupName", "nope"), ("UserName", "gina")])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The group with name nope cannot be found.",
    );

    let xml = root.ok("GetGroup", &[("GroupName", "admins")]).await;
    assert_eq!(text(&xml, "GroupName"), Some("Admins"));
    assert_eq!(texts(&xml, "UserName"), vec!["gina", "hal"]);
    let xml = root
        .ok("GetGroup", &[("GroupName", "admins"), ("MaxItems", "1")])
        .await;
    assert_eq!(texts(&xml, "UserName"), vec!["gina"]);
    assert_eq!(text(&xml, "IsTruncated"), Some("true"));

    let xml = root.ok("ListGroupsForUser", &[("UserName", "gina")]).await;
    assert_eq!(texts(&xml, "GroupName"), vec!["Admins", "readers"]);
    let xml = root.ok("ListGroups", &[("PathPrefix", "/ops/")]).await;
    assert_eq!(texts(&xml, "GroupName"), vec!["Admins"]);

    root.ok(
        "UpdateGroup",
        &[("GroupName", "admins"), ("NewGroupName", "operators")],
    )
    .await;
    let xml = root.ok("ListGroupsForUser", &[("UserName", "hal")]).await;
    assert_eq!(texts(&xml, "GroupName"), vec!["operators"]);

    let e = root.err("DeleteGroup", &[("GroupName", "operators")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    );
    root.ok(
        "RemoveUserFromGroup",
        &[("GroupName", "operators"), ("UserName", "gina")],
    )
    .await;
    root.ok(
        "RemoveUserFromGroup",
        &[("GroupName", "operators"), ("UserName", "hal")],
    )
    .await;
    let e = root
        .err(
            "RemoveUserFromGroup",
            &[("GroupName", "operators"), ("UserName", "hal")],
        )
        .await;
    assert_eq!(e.code, "NoSuchEntity");

    root.ok(
        "PutGroupPolicy",
        &[
            ("GroupName", "operators"),
            ("PolicyName", "p"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await;
    let xml = root.ok("ListGroupPolicies", &[("GroupName", "operators")]).await;
    assert_eq!(texts(&xml, "member"), vec!["p"]);
    let e = root.err("DeleteGroup", &[("GroupName", "operators")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    );
    root.ok(
        "DeleteGroupPolicy",
        &[("GroupName", "operators"), ("PolicyName", "p")],
    )
    .await;
    root.ok(
        "AttachGroupPolicy",
        &[
            ("GroupName", "operators"),
            ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ],
    )
    .await;
    let e = root.err("DeleteGroup", &[("GroupName", "operators")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    );
    root.ok(
        "DetachGroupPolicy",
        &[
            ("GroupName", "operators"),
            ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ],
    )
    .await;
    root.ok("DeleteGroup", &[("GroupName", "operators")]).await;

    // A user is in at most 10 groups.
    for i in 0..10 {
        let g = format!("g{i}");
        root.ok("CreateGroup", &[("GroupName", &g)]).await;
        root.ok("AddUserToGroup", &[("GroupName", &g), ("UserName", "hal")])
            .await;
    }
    let e = root
        .err("AddUserToGroup", &[("GroupName", "readers"), ("UserName", "hal")])
        .await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for GroupsPerUser: 10",
    );
}

#[tokio::test]
async fn roles() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root
        .ok(
            "CreateRole",
            &[
                ("RoleName", "Deployer"),
                ("Path", "/ci/"),
                ("AssumeRolePolicyDocument", TRUST),
                ("Description", "deploys things"),
                ("Tags.member.1.Key", "env"),
                ("Tags.member.1.Value", "prod"),
            ],
        )
        .await;
    assert_eq!(
        text(&xml, "Arn"),
        Some("arn:aws:iam::111111111111:role/ci/Deployer")
    );
    assert!(text(&xml, "RoleId").unwrap().starts_with("AROA"));
    assert_eq!(text(&xml, "MaxSessionDuration"), Some("3600"));
    let encoded = text(&xml, "AssumeRolePolicyDocument").unwrap();
    assert!(
        encoded.starts_with("%7B%22Version%22%3A%222012-10-17%22"),
        "{encoded}"
    );
    assert_eq!(decode(encoded), TRUST);

    let e = root
        .err(
            "CreateRole",
            &[("RoleName", "deployer"), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await;
    assert_err(
        &e,
        "EntityAlreadyExists",
        409,
        "Role with name deployer already exists.",
    );
    let e = root
        .err(
            "CreateRole",
            &[
                ("RoleName", "r2"),
                ("AssumeRolePolicyDocument", TRUST),
                ("MaxSessionDuration", "3599"),
            ],
        )
        .await;
    assert_err(
        &e,
        "ValidationError",
        400,
        "1 validation error detected: Value '3599' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    );
    let e = root
        .err(
            "CreateRole",
            &[("RoleName", "r2"), ("AssumeRolePolicyDocument", "{not json")],
        )
        .await;
    assert_err(
        &e,
        "MalformedPolicyDocument",
        400,
        "This policy contains invalid Json",
    );
    let with_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let e = root
        .err(
            "CreateRole",
            &[("RoleName", "r2"), ("AssumeRolePolicyDocument", with_resource)],
        )
        .await;
    assert_err(
        &e,
        "MalformedPolicyDocument",
        400,
        "Has prohibited field Resource.",
    );
    let no_principal =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#;
    let e = root
        .err(
            "CreateRole",
            &[("RoleName", "r2"), ("AssumeRolePolicyDocument", no_principal)],
        )
        .await;
    assert_eq!(e.code, "MalformedPolicyDocument");
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Principal":{{"AWS":"111111111111"}},"Action":"sts:AssumeRole"}}]}}"#,
        "A".repeat(2000)
    );
    let e = root
        .err(
            "CreateRole",
            &[("RoleName", "r2"), ("AssumeRolePolicyDocument", &big)],
        )
        .await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for ACLSizePerRole: 2048",
    );

    let xml = root.ok("GetRole", &[("RoleName", "DEPLOYER")]).await;
    assert_eq!(text(&xml, "Description"), Some("deploys things"));
    assert_eq!(text(&xml, "Key"), Some("env"));
    assert!(xml.contains("<RoleLastUsed></RoleLastUsed>"));
    let e = root.err("GetRole", &[("RoleName", "nope")]).await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The role with name nope cannot be found.",
    );

    let xml = root
        .ok(
            "UpdateRole",
            &[
                ("RoleName", "deployer"),
                ("MaxSessionDuration", "43200"),
                ("Description", "new"),
            ],
        )
        .await;
    assert!(xml.contains("<UpdateRoleResult></UpdateRoleResult>"), "{xml}");
    let xml = root.ok("ListRoles", &[]).await;
    assert_eq!(text(&xml, "MaxSessionDuration"), Some("43200"));
    assert_eq!(text(&xml, "Description"), Some("new"));
    assert!(!xml.contains("<Tags>"));
    let xml = root
        .ok(
            "UpdateRoleDescription",
            &[("RoleName", "deployer"), ("Description", "again")],
        )
        .await;
    assert_eq!(text(&xml, "Description"), Some("again"));

    let new_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    root.ok(
        "UpdateAssumeRolePolicy",
        &[("RoleName", "deployer"), ("PolicyDocument", new_trust)],
    )
    .await;
    let xml = root.ok("GetRole", &[("RoleName", "deployer")]).await;
    assert_eq!(decode(text(&xml, "AssumeRolePolicyDocument").unwrap()), new_trust);

    root.ok(
        "TagRole",
        &[
            ("RoleName", "deployer"),
            ("Tags.member.1.Key", "x"),
            ("Tags.member.1.Value", ""),
        ],
    )
    .await;
    let xml = root.ok("ListRoleTags", &[("RoleName", "deployer")]).await;
    assert_eq!(texts(&xml, "Key"), vec!["env", "x"]);
    root.ok(
        "UntagRole",
        &[("RoleName", "deployer"), ("TagKeys.member.1", "ENV")],
    )
    .await;
    let xml = root.ok("ListRoleTags", &[("RoleName", "deployer")]).await;
    assert_eq!(texts(&xml, "Key"), vec!["x"]);

    root.ok(
        "PutRolePolicy",
        &[
            ("RoleName", "deployer"),
            ("PolicyName", "inline"),
            ("PolicyDocument", ADMIN),
        ],
    )
    .await;
    let e = root.err("DeleteRole", &[("RoleName", "deployer")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    );
    root.ok(
        "DeleteRolePolicy",
        &[("RoleName", "deployer"), ("PolicyName", "inline")],
    )
    .await;
    root.ok(
        "AttachRolePolicy",
        &[
            ("RoleName", "deployer"),
            ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ],
    )
    .await;
    let e = root.err("DeleteRole", &[("RoleName", "deployer")]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    );
    root.ok(
        "DetachRolePolicy",
        &[
            ("RoleName", "deployer"),
            ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ],
    )
    .await;
    root.ok("DeleteRole", &[("RoleName", "deployer")]).await;
    let xml = root.ok("ListRoles", &[]).await;
    assert!(texts(&xml, "RoleName").is_empty());
}

#[tokio::test]
async fn inline_policies() {
    let s = services();
    let root = Caller::root(&s);
    root.ok("CreateUser", &[("UserName", "ivy")]).await;
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "s3"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await;
    let xml = root
        .ok("GetUserPolicy", &[("UserName", "IVY"), ("PolicyName", "s3")])
        .await;
    assert_eq!(text(&xml, "UserName"), Some("ivy"));
    assert_eq!(text(&xml, "PolicyName"), Some("s3"));
    assert_eq!(decode(text(&xml, "PolicyDocument").unwrap()), READ_S3);
    // Put again replaces.
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "s3"),
            ("PolicyDocument", ADMIN),
        ],
    )
    .await;
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "a"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await;
    let xml = root.ok("ListUserPolicies", &[("UserName", "ivy")]).await;
    assert_eq!(texts(&xml, "member"), vec!["a", "s3"]);
    let xml = root
        .ok("GetUserPolicy", &[("UserName", "ivy"), ("PolicyName", "s3")])
        .await;
    assert_eq!(decode(text(&xml, "PolicyDocument").unwrap()), ADMIN);

    let e = root
        .err("GetUserPolicy", &[("UserName", "ivy"), ("PolicyName", "zz")])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The user policy with name zz cannot be found.",
    );
    let e = root
        .err("GetRolePolicy", &[("RoleName", "nope"), ("PolicyName", "zz")])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The role with name nope cannot be found.",
    );
    let e = root
        .err(
            "PutUserPolicy",
            &[
                ("UserName", "ivy"),
                ("PolicyName", "bad"),
                ("PolicyDocument", "[1,2"),
            ],
        )
        .await;
    assert_err(
        &e,
        "MalformedPolicyDocument",
        400,
        "This policy contains invalid Json",
    );
    let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
    let e = root
        .err(
            "PutUserPolicy",
            &[
                ("UserName", "ivy"),
                ("PolicyName", "bad"),
                ("PolicyDocument", with_principal),
            ],
        )
        .await;
    assert_err(
        &e,
        "MalformedPolicyDocument",
        400,
        "Policy document should not specify a principal.",
    );
    let no_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#;
    let e = root
        .err(
            "PutUserPolicy",
            &[
                ("UserName", "ivy"),
                ("PolicyName", "bad"),
                ("PolicyDocument", no_resource),
            ],
        )
        .await;
    assert_err(
        &e,
        "MalformedPolicyDocument",
        400,
        "Policy statement must contain resources.",
    );

    // The aggregate of a user's inline policies is limited to 2,048 characters (no whitespace).
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "b".repeat(1900)
    );
    let e = root
        .err(
            "PutUserPolicy",
            &[
                ("UserName", "ivy"),
                ("PolicyName", "big"),
                ("PolicyDocument", &big),
            ],
        )
        .await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Maximum policy size of 2048 bytes exceeded for user ivy",
    );
    // Roles allow 10,240.
    root.ok(
        "CreateRole",
        &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    root.ok(
        "PutRolePolicy",
        &[("RoleName", "r"), ("PolicyName", "big"), ("PolicyDocument", &big)],
    )
    .await;

    root.ok("DeleteUserPolicy", &[("UserName", "ivy"), ("PolicyName", "a")])
        .await;
    let e = root
        .err("DeleteUserPolicy", &[("UserName", "ivy"), ("PolicyName", "a")])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The user policy with name a cannot be found.",
    );
}

#[tokio::test]
async fn managed_policies_and_versions() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root
        .ok(
            "CreatePolicy",
            &[
                ("PolicyName", "ReadS3"),
                ("Path", "/team/"),
                ("PolicyDocument", READ_S3),
                ("Description", "read s3"),
            ],
        )
        .await;
    let arn = "arn:aws:iam::111111111111:policy/team/ReadS3";
    assert_eq!(text(&xml, "Arn"), Some(arn));
    assert!(text(&xml, "PolicyId").unwrap().starts_with("ANPA"));
    assert_eq!(text(&xml, "DefaultVersionId"), Some("v1"));
    assert_eq!(text(&xml, "AttachmentCount"), Some("0"));
    assert_eq!(text(&xml, "IsAttachable"), Some("true"));

    let e = root
        .err(
            "CreatePolicy",
            &[("PolicyName", "reads3"), ("PolicyDocument", READ_S3)],
        )
        .await;
    assert_err(
        &e,
        "EntityAlreadyExists",
        409,
        "A policy called reads3 already exists. Duplicate names are not allowed.",
    );
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "b".repeat(6100)
    );
    let e = root
        .err("CreatePolicy", &[("PolicyName", "big"), ("PolicyDocument", &big)])
        .await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for PolicySize: 6144",
    );
    let e = root
        .err(
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", READ_S3), ("Path", "/a")],
        )
        .await;
    assert_eq!(e.code, "ValidationError");

    let xml = root.ok("GetPolicy", &[("PolicyArn", arn)]).await;
    assert_eq!(text(&xml, "Description"), Some("read s3"));
    let e = root
        .err(
            "GetPolicy",
            &[("PolicyArn", "arn:aws:iam::111111111111:policy/nope")],
        )
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "Policy arn:aws:iam::111111111111:policy/nope was not found.",
    );
    let e = root
        .err("GetPolicy", &[("PolicyArn", "not-an-arn-at-all-really")])
        .await;
    assert_err(
        &e,
        "InvalidInput",
        400,
        "ARN not-an-arn-at-all-really is not valid.",
    );

    // Versions: up to five, ids never reused, the default can't be deleted.
    let xml = root
        .ok(
            "CreatePolicyVersion",
            &[
                ("PolicyArn", arn),
                ("PolicyDocument", ADMIN),
                ("SetAsDefault", "true"),
            ],
        )
        .await;
    assert_eq!(text(&xml, "VersionId"), Some("v2"));
    assert_eq!(text(&xml, "IsDefaultVersion"), Some("true"));
    for v in ["v3", "v4", "v5"] {
        let xml = root
            .ok(
                "CreatePolicyVersion",
                &[("PolicyArn", arn), ("PolicyDocument", READ_S3)],
            )
            .await;
        assert_eq!(text(&xml, "VersionId"), Some(v));
        assert_eq!(text(&xml, "IsDefaultVersion"), Some("false"));
    }
    let e = root
        .err(
            "CreatePolicyVersion",
            &[("PolicyArn", arn), ("PolicyDocument", READ_S3)],
        )
        .await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
    );
    let xml = root.ok("ListPolicyVersions", &[("PolicyArn", arn)]).await;
    assert_eq!(texts(&xml, "VersionId"), vec!["v5", "v4", "v3", "v2", "v1"]);
    let xml = root.ok("GetPolicy", &[("PolicyArn", arn)]).await;
    assert_eq!(text(&xml, "DefaultVersionId"), Some("v2"));
    let xml = root
        .ok("GetPolicyVersion", &[("PolicyArn", arn), ("VersionId", "v2")])
        .await;
    assert_eq!(decode(text(&xml, "Document").unwrap()), ADMIN);
    let e = root
        .err("GetPolicyVersion", &[("PolicyArn", arn), ("VersionId", "v9")])
        .await;
    assert_eq!((e.code, e.status), ("NoSuchEntity", 404));
    let e = root
        .err("GetPolicyVersion", &[("PolicyArn", arn), ("VersionId", "2")])
        .await;
    assert_eq!(e.code, "ValidationError");

    let e = root
        .err("DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", "v2")])
        .await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    );
    root.ok("DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", "v5")])
        .await;
    let xml = root
        .ok(
            "CreatePolicyVersion",
            &[("PolicyArn", arn), ("PolicyDocument", READ_S3)],
        )
        .await;
    assert_eq!(text(&xml, "VersionId"), Some("v6"));
    root.ok(
        "SetDefaultPolicyVersion",
        &[("PolicyArn", arn), ("VersionId", "v6")],
    )
    .await;
    let e = root
        .err(
            "SetDefaultPolicyVersion",
            &[("PolicyArn", arn), ("VersionId", "v5")],
        )
        .await;
    assert_eq!(e.code, "NoSuchEntity");

    let e = root.err("DeletePolicy", &[("PolicyArn", arn)]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
    );
    for v in ["v1", "v2", "v3", "v4"] {
        root.ok("DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", v)])
            .await;
    }
    root.ok("CreateUser", &[("UserName", "jo")]).await;
    root.ok("AttachUserPolicy", &[("UserName", "jo"), ("PolicyArn", arn)])
        .await;
    let xml = root.ok("GetPolicy", &[("PolicyArn", arn)]).await;
    assert_eq!(text(&xml, "AttachmentCount"), Some("1"));
    let e = root.err("DeletePolicy", &[("PolicyArn", arn)]).await;
    assert_err(
        &e,
        "DeleteConflict",
        409,
        "Cannot delete a policy attached to entities.",
    );
    root.ok("DetachUserPolicy", &[("UserName", "jo"), ("PolicyArn", arn)])
        .await;
    root.ok("DeletePolicy", &[("PolicyArn", arn)]).await;
    let e = root.err("GetPolicy", &[("PolicyArn", arn)]).await;
    assert_eq!(e.code, "NoSuchEntity");

    // Policy tags.
    root.ok(
        "CreatePolicy",
        &[("PolicyName", "tagged"), ("PolicyDocument", READ_S3)],
    )
    .await;
    let tagged = "arn:aws:iam::111111111111:policy/tagged";
    root.ok(
        "TagPolicy",
        &[
            ("PolicyArn", tagged),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ],
    )
    .await;
    let xml = root.ok("ListPolicyTags", &[("PolicyArn", tagged)]).await;
    assert_eq!(texts(&xml, "Key"), vec!["k"]);
    root.ok("UntagPolicy", &[("PolicyArn", tagged), ("TagKeys.member.1", "k")])
        .await;
    let xml = root.ok("ListPolicyTags", &[("PolicyArn", tagged)]).await;
    assert!(texts(&xml, "Key").is_empty());
}

#[tokio::test]
async fn aws_managed_policies() {
    let s = services();
    let root = Caller::root(&s);
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let xml = root.ok("GetPolicy", &[("PolicyArn", admin)]).await;
    assert_eq!(text(&xml, "PolicyId"), Some("ANPAIWMBCKSKIEE64ZLYK"));
    assert_eq!(text(&xml, "Path"), Some("/"));
    assert_eq!(text(&xml, "DefaultVersionId"), Some("v1"));
    let xml = root
        .ok("GetPolicyVersion", &[("PolicyArn", admin), ("VersionId", "v1")])
        .await;
    let doc: serde_json::Value = serde_json::from_str(&decode(text(&xml, "Document").unwrap())).unwrap();
    assert_eq!(doc["Statement"][0]["Action"], "*");

    let xml = root.ok("ListPolicies", &[("Scope", "AWS")]).await;
    let names = texts(&xml, "PolicyName");
    for name in [
        "AdministratorAccess",
        "ReadOnlyAccess",
        "SecretsManagerReadWrite",
        "IAMFullAccess",
        "IAMReadOnlyAccess",
        "AWSKeyManagementServicePowerUser",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let xml = root.ok("ListPolicies", &[("Scope", "Local")]).await;
    assert!(texts(&xml, "PolicyName").is_empty());
    root.ok(
        "CreatePolicy",
        &[("PolicyName", "mine"), ("PolicyDocument", READ_S3)],
    )
    .await;
    let xml = root.ok("ListPolicies", &[("Scope", "Local")]).await;
    assert_eq!(texts(&xml, "PolicyName"), vec!["mine"]);
    let xml = root.ok("ListPolicies", &[]).await;
    assert_eq!(texts(&xml, "PolicyName").len(), names.len() + 1);

    root.ok("CreateUser", &[("UserName", "kim")]).await;
    root.ok("AttachUserPolicy", &[("UserName", "kim"), ("PolicyArn", admin)])
        .await;
    // Attaching again changes nothing.
    root.ok("AttachUserPolicy", &[("UserName", "kim"), ("PolicyArn", admin)])
        .await;
    let xml = root.ok("ListPolicies", &[("OnlyAttached", "true")]).await;
    assert_eq!(texts(&xml, "PolicyName"), vec!["AdministratorAccess"]);
    assert_eq!(text(&xml, "AttachmentCount"), Some("1"));

    // Nobody can change an AWS managed policy.
    let e = root
        .err(
            "CreatePolicyVersion",
            &[("PolicyArn", admin), ("PolicyDocument", READ_S3)],
        )
        .await;
    assert_eq!((e.code, e.status), ("AccessDenied", 403));
    let e = root.err("DeletePolicy", &[("PolicyArn", admin)]).await;
    assert_eq!((e.code, e.status), ("AccessDenied", 403));
}

#[tokio::test]
async fn attachments() {
    let s = services();
    let root = Caller::root(&s);
    root.ok("CreateUser", &[("UserName", "lee")]).await;
    root.ok("CreateGroup", &[("GroupName", "g")]).await;
    root.ok(
        "CreateRole",
        &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    root.ok(
        "CreatePolicy",
        &[("PolicyName", "p"), ("Path", "/x/"), ("PolicyDocument", READ_S3)],
    )
    .await;
    let p = "arn:aws:iam::111111111111:policy/x/p";
    let ro = "arn:aws:iam::aws:policy/ReadOnlyAccess";

    let missing = "arn:aws:iam::111111111111:policy/missing";
    let e = root
        .err("AttachUserPolicy", &[("UserName", "lee"), ("PolicyArn", missing)])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "Policy arn:aws:iam::111111111111:policy/missing does not exist or is not attachable.",
    );
    let e = root
        .err(
            "AttachUserPolicy",
            &[
                ("UserName", "lee"),
                ("PolicyArn", "arn:aws:iam::aws:policy/NoSuchPolicy"),
            ],
        )
        .await;
    assert_eq!(e.code, "NoSuchEntity");
    let e = root
        .err("AttachUserPolicy", &[("UserName", "nobody"), ("PolicyArn", p)])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "The user with name nobody cannot be found.",
    );

    root.ok("AttachUserPolicy", &[("UserName", "lee"), ("PolicyArn", p)])
        .await;
    root.ok("AttachUserPolicy", &[("UserName", "lee"), ("PolicyArn", ro)])
        .await;
    root.ok("AttachGroupPolicy", &[("GroupName", "g"), ("PolicyArn", p)])
        .await;
    root.ok("AttachRolePolicy", &[("RoleName", "r"), ("PolicyArn", p)])
        .await;

    let xml = root.ok("ListAttachedUserPolicies", &[("UserName", "lee")]).await;
    assert_eq!(texts(&xml, "PolicyName"), vec!["p", "ReadOnlyAccess"]);
    assert_eq!(texts(&xml, "PolicyArn"), vec![p, ro]);
    let xml = root
        .ok(
            "ListAttachedUserPolicies",
            &[("UserName", "lee"), ("PathPrefix", "/x/")],
        )
        .await;
    assert_eq!(texts(&xml, "PolicyName"), vec!["p"]);
    let xml = root.ok("ListAttachedGroupPolicies", &[("GroupName", "g")]).await;
    assert_eq!(texts(&xml, "PolicyArn"), vec![p]);
    let xml = root.ok("ListAttachedRolePolicies", &[("RoleName", "r")]).await;
    assert_eq!(texts(&xml, "PolicyArn"), vec![p]);

    let xml = root.ok("ListEntitiesForPolicy", &[("PolicyArn", p)]).await;
    assert_eq!(texts(&xml, "UserName"), vec!["lee"]);
    assert_eq!(texts(&xml, "GroupName"), vec!["g"]);
    assert_eq!(texts(&xml, "RoleName"), vec!["r"]);
    let xml = root
        .ok(
            "ListEntitiesForPolicy",
            &[("PolicyArn", p), ("EntityFilter", "Role")],
        )
        .await;
    assert!(texts(&xml, "UserName").is_empty());
    assert_eq!(texts(&xml, "RoleName"), vec!["r"]);
    let xml = root.ok("GetPolicy", &[("PolicyArn", p)]).await;
    assert_eq!(text(&xml, "AttachmentCount"), Some("3"));

    let e = root
        .err("DetachUserPolicy", &[("UserName", "lee"), ("PolicyArn", missing)])
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "Policy arn:aws:iam::111111111111:policy/missing was not found.",
    );

    // At most 10 managed policies per user.
    for i in 0..8 {
        let name = format!("q{i}");
        root.ok(
            "CreatePolicy",
            &[("PolicyName", &name), ("PolicyDocument", READ_S3)],
        )
        .await;
        let arn = format!("arn:aws:iam::111111111111:policy/{name}");
        root.ok("AttachUserPolicy", &[("UserName", "lee"), ("PolicyArn", &arn)])
            .await;
    }
    let e = root
        .err(
            "AttachUserPolicy",
            &[
                ("UserName", "lee"),
                ("PolicyArn", "arn:aws:iam::aws:policy/IAMFullAccess"),
            ],
        )
        .await;
    assert_err(
        &e,
        "LimitExceeded",
        409,
        "Cannot exceed quota for PoliciesPerUser: 10",
    );
    let xml = root
        .ok(
            "ListAttachedUserPolicies",
            &[("UserName", "lee"), ("MaxItems", "4")],
        )
        .await;
    assert_eq!(texts(&xml, "PolicyName").len(), 4);
    assert_eq!(text(&xml, "IsTruncated"), Some("true"));
}

#[tokio::test]
async fn permissions_boundaries() {
    let s = services();
    let root = Caller::root(&s);
    let ro = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let e = root
        .err(
            "CreateUser",
            &[
                ("UserName", "mo"),
                ("PermissionsBoundary", "arn:aws:iam::111111111111:policy/none"),
            ],
        )
        .await;
    assert_err(
        &e,
        "NoSuchEntity",
        404,
        "Scope ARN: arn:aws:iam::111111111111:policy/none does not exist or is not attachable.",
    );
    let xml = root
        .ok("CreateUser", &[("UserName", "mo"), ("PermissionsBoundary", ro)])
        .await;
    assert_eq!(text(&xml, "PermissionsBoundaryArn"), Some(ro));
    assert_eq!(
        text(&xml, "PermissionsBoundaryType"),
        Some("PermissionsBoundaryPolicy")
    );
    let xml = root.ok("GetPolicy", &[("PolicyArn", ro)]).await;
    assert_eq!(text(&xml, "PermissionsBoundaryUsageCount"), Some("1"));
    let xml = root
        .ok(
            "ListEntitiesForPolicy",
            &[("PolicyArn", ro), ("PolicyUsageFilter", "PermissionsBoundary")],
        )
        .await;
    assert_eq!(texts(&xml, "UserName"), vec!["mo"]);
    let xml = root
        .ok(
            "ListEntitiesForPolicy",
            &[("PolicyArn", ro), ("PolicyUsageFilter", "PermissionsPolicy")],
        )
        .await;
    assert!(texts(&xml, "UserName").is_empty());
    let xml = root
        .ok("ListPolicies", &[("PolicyUsageFilter", "PermissionsBoundary")])
        .await;
    assert_eq!(texts(&xml, "PolicyName"), vec!["ReadOnlyAccess"]);

    root.ok("DeleteUserPermissionsBoundary", &[("UserName", "mo")])
        .await;
    let xml = root.ok("GetUser", &[("UserName", "mo")]).await;
    assert!(!xml.contains("PermissionsBoundary"));
    root.ok("DeleteUserPermissionsBoundary", &[("UserName", "mo")])
        .await;

    root.ok(
        "CreateRole",
        &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    root.ok(
        "PutRolePermissionsBoundary",
        &[("RoleName", "r"), ("PermissionsBoundary", ro)],
    )
    .await;
    let xml = root.ok("GetRole", &[("RoleName", "r")]).await;
    assert_eq!(text(&xml, "PermissionsBoundaryArn"), Some(ro));
    let e = root
        .err(
            "PutRolePermissionsBoundary",
            &[("RoleName", "nope"), ("PermissionsBoundary", ro)],
        )
        .await;
    assert_eq!(e.code, "NoSuchEntity");
    root.ok("DeleteRolePermissionsBoundary", &[("RoleName", "r")])
        .await;
    let xml = root.ok("GetRole", &[("RoleName", "r")]).await;
    assert!(!xml.contains("PermissionsBoundary"));
}

#[tokio::test]
async fn account_authorization_details() {
    let s = services();
    let root = Caller::root(&s);
    root.ok("CreateUser", &[("UserName", "ned")]).await;
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "ned"),
            ("PolicyName", "inline"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await;
    root.ok("CreateGroup", &[("GroupName", "grp")]).await;
    root.ok("AddUserToGroup", &[("GroupName", "grp"), ("UserName", "ned")])
        .await;
    root.ok(
        "CreateRole",
        &[("RoleName", "role"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    root.ok(
        "CreatePolicy",
        &[("PolicyName", "local"), ("PolicyDocument", READ_S3)],
    )
    .await;
    root.ok(
        "AttachRolePolicy",
        &[
            ("RoleName", "role"),
            ("PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"),
        ],
    )
    .await;

    let xml = root.ok("GetAccountAuthorizationDetails", &[]).await;
    assert_eq!(text(&xml, "UserName"), Some("ned"));
    assert_eq!(decode(text(&xml, "PolicyDocument").unwrap()), READ_S3);
    assert!(
        xml.contains("<GroupList><member>grp</member></GroupList>"),
        "{xml}"
    );
    assert_eq!(texts(&xml, "RoleName"), vec!["role"]);
    assert_eq!(decode(text(&xml, "AssumeRolePolicyDocument").unwrap()), TRUST);
    // The account's policies and the AWS managed ones in use, with their versions.
    let policies = &xml[xml.find("<Policies>").unwrap()..];
    let names = texts(policies, "PolicyName");
    assert_eq!(names, vec!["IAMReadOnlyAccess", "local"]);
    assert_eq!(texts(policies, "VersionId"), vec!["v1", "v1"]);
    assert_eq!(text(&xml, "IsTruncated"), Some("false"));

    let xml = root
        .ok("GetAccountAuthorizationDetails", &[("Filter.member.1", "Role")])
        .await;
    assert!(xml.contains("<UserDetailList></UserDetailList>"), "{xml}");
    assert_eq!(texts(&xml, "RoleName"), vec!["role"]);
    let e = root
        .err("GetAccountAuthorizationDetails", &[("Filter.member.1", "Nope")])
        .await;
    assert_eq!(e.code, "ValidationError");

    // Paged across all entity types.
    let xml = root
        .ok("GetAccountAuthorizationDetails", &[("MaxItems", "2")])
        .await;
    assert_eq!(text(&xml, "IsTruncated"), Some("true"));
    let marker = text(&xml, "Marker").unwrap().to_owned();
    let xml = root
        .ok(
            "GetAccountAuthorizationDetails",
            &[("MaxItems", "2"), ("Marker", &marker)],
        )
        .await;
    assert_eq!(texts(&xml, "RoleName"), vec!["role"]);
}

#[tokio::test]
async fn users_are_authorized_by_their_policies() {
    let s = services();
    let root = Caller::root(&s);
    let xml = root.ok("CreateUser", &[("UserName", "olga")]).await;
    let olga = Caller::user(&s, "olga", text(&xml, "UserId").unwrap());

    let e = olga.err("ListUsers", &[]).await;
    assert_err(
        &e,
        "AccessDenied",
        403,
        "User: arn:aws:iam::111111111111:user/olga is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::111111111111:user/ because no identity-based policy allows the iam:ListUsers action",
    );
    // Authorization comes before existence: no probing for names.
    let e = olga.err("GetUser", &[("UserName", "ghost")]).await;
    assert_eq!(e.code, "AccessDenied");
    assert!(
        e.message
            .contains("on resource: arn:aws:iam::111111111111:user/ghost"),
        "{}",
        e.message
    );

    root.ok(
        "AttachUserPolicy",
        &[
            ("UserName", "olga"),
            ("PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"),
        ],
    )
    .await;
    olga.ok("ListUsers", &[]).await;
    let e = olga.err("GetUser", &[("UserName", "ghost")]).await;
    assert_eq!(e.code, "NoSuchEntity");
    let e = olga.err("CreateUser", &[("UserName", "mallory")]).await;
    assert_eq!((e.code, e.status), ("AccessDenied", 403));
    assert!(
        e.message
            .contains("iam:CreateUser on resource: arn:aws:iam::111111111111:user/mallory")
    );

    // A policy scoped to one path.
    let scoped = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::111111111111:user/contractors/*"}]}"#;
    root.ok(
        "PutUserPolicy",
        &[
            ("UserName", "olga"),
            ("PolicyName", "scoped"),
            ("PolicyDocument", scoped),
        ],
    )
    .await;
    olga.ok("CreateUser", &[("UserName", "c1"), ("Path", "/contractors/")])
        .await;
    let e = olga.err("CreateUser", &[("UserName", "c2")]).await;
    assert_eq!(e.code, "AccessDenied");
}

#[tokio::test]
async fn concurrent_changes_are_retried() {
    let s = services();
    let root = Arc::new(Caller::root(&s));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let root = root.clone();
        tasks.push(tokio::spawn(async move {
            root.call("CreateUser", &[("UserName", &format!("user{i}"))])
                .await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("CreateUser");
    }
    let xml = root.ok("ListUsers", &[]).await;
    assert_eq!(texts(&xml, "UserName").len(), 12);
}

/// Odd input never makes IAM fail on the server side (or panic): every error is a client error.
#[test]
fn odd_input_gives_client_errors() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    const ACTIONS: &[&str] = &[
        "CreateUser",
        "GetUser",
        "ListUsers",
        "UpdateUser",
        "DeleteUser",
        "TagUser",
        "UntagUser",
        "ListUserTags",
        "CreateAccessKey",
        "ListAccessKeys",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "GetAccessKeyLastUsed",
        "CreateGroup",
        "GetGroup",
        "ListGroups",
        "UpdateGroup",
        "DeleteGroup",
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "ListGroupsForUser",
        "CreateRole",
        "GetRole",
        "ListRoles",
        "UpdateRole",
        "UpdateRoleDescription",
        "UpdateAssumeRolePolicy",
        "DeleteRole",
        "TagRole",
        "UntagRole",
        "ListRoleTags",
        "PutUserPolicy",
        "GetUserPolicy",
        "ListUserPolicies",
        "DeleteUserPolicy",
        "PutGroupPolicy",
        "PutRolePolicy",
        "GetRolePolicy",
        "CreatePolicy",
        "GetPolicy",
        "ListPolicies",
        "DeletePolicy",
        "TagPolicy",
        "UntagPolicy",
        "ListPolicyTags",
        "CreatePolicyVersion",
        "GetPolicyVersion",
        "ListPolicyVersions",
        "DeletePolicyVersion",
        "SetDefaultPolicyVersion",
        "AttachUserPolicy",
        "DetachUserPolicy",
        "ListAttachedUserPolicies",
        "AttachRolePolicy",
        "AttachGroupPolicy",
        "ListEntitiesForPolicy",
        "PutUserPermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "GetAccountAuthorizationDetails",
        "CreateInstanceProfile",
        "GetInstanceProfile",
        "ListInstanceProfiles",
        "ListInstanceProfilesForRole",
        "AddRoleToInstanceProfile",
        "RemoveRoleFromInstanceProfile",
        "DeleteInstanceProfile",
        "TagInstanceProfile",
        "UntagInstanceProfile",
        "ListInstanceProfileTags",
    ];
    const NAMES: &[&str] = &[
        "InstanceProfileName",
        "UserName",
        "GroupName",
        "RoleName",
        "PolicyName",
        "PolicyArn",
        "PolicyDocument",
        "Path",
        "PathPrefix",
        "NewUserName",
        "NewPath",
        "NewGroupName",
        "AssumeRolePolicyDocument",
        "VersionId",
        "AccessKeyId",
        "Status",
        "MaxItems",
        "Marker",
        "Scope",
        "OnlyAttached",
        "SetAsDefault",
        "MaxSessionDuration",
        "Description",
        "PermissionsBoundary",
        "Tags.member.1.Key",
        "Tags.member.1.Value",
        "TagKeys.member.1",
        "Filter.member.1",
        "EntityFilter",
    ];
    const VALUES: &[&str] = &[
        "",
        "a",
        "bob",
        "/",
        "/x/",
        "//",
        "v1",
        "v0",
        "0",
        "-1",
        "99999999999999999999",
        "true",
        "Active",
        "Inactive",
        "Expired",
        "AKIAAAAAAAAAAAAAAAAA",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::111111111111:policy/p",
        "arn:aws:iam::aws:policy/",
        "arn:aws:iam::111111111111:policyx",
        "{",
        "{}",
        "[]",
        "null",
        ADMIN,
        TRUST,
        READ_S3,
        "é\u{0}\u{ffff}",
        "aws:x",
        "Local",
        "User",
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s = services();
    let root = Caller::root(&s);
    rt.block_on(async {
        root.ok("CreateUser", &[("UserName", "bob")]).await;
        root.ok(
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", READ_S3)],
        )
        .await;
    });
    let strategy = (
        0..ACTIONS.len(),
        proptest::collection::vec((0..NAMES.len(), 0..VALUES.len(), any::<bool>()), 0..6),
    );
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(action, ps)| {
            let long = "x".repeat(3000);
            let ps: Vec<(&str, &str)> = ps
                .iter()
                .map(|&(n, v, huge)| (NAMES[n], if huge { long.as_str() } else { VALUES[v] }))
                .collect();
            if let Err(e) = rt.block_on(root.call(ACTIONS[action], &ps)) {
                prop_assert!(
                    (400..500).contains(&e.status),
                    "{} {ps:?}: {e:?}",
                    ACTIONS[action]
                );
            }
            Ok(())
        })
        .expect("no server errors");
}
