//! Tag keys and values: AWS's character set and lengths, refused as each service refuses them.
//!
//! AWS's tag rule: keys of 1-128 and values of 0-256 characters, each a Unicode letter, separator
//! or number or one of `_ . : / = + - @` (`[\p{L}\p{Z}\p{N}_.:/=+\-@]`). A control character, a bidi
//! override or a symbol is outside it. IAM and STS answer with a `ValidationError` naming their
//! models' patterns, Secrets Manager with a `ValidationException` naming the pattern of AWS's
//! tagging documentation, KMS with a `TagException` (`Invalid tag`, as its CloudTrail records show,
//! crossplane-contrib/provider-upjet-aws#922).

use aws_sdk_iam::types::Tag as IamTag;
use aws_sdk_kms::types::Tag as KmsTag;
use aws_sdk_secretsmanager::types::Tag as SmTag;
use aws_sdk_sts::types::Tag as StsTag;
use kinko_tests::{TestServer, assert_error, create_string_secret, expect_err, short_id, unique_name};

const SM_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$";
const IAM_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
const IAM_VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

/// Keys and values outside AWS's tag character set.
const OUTSIDE: &[&str] = &[
    "a,b",
    "tab\tkey",
    "nul\u{0}",
    "bidi\u{202e}override",
    "isolate\u{2066}",
    "zero\u{200b}width",
    "e\u{301}",
    "Ⓐ",
    "😀",
];

/// Within it: letters of any script, numbers of any kind, separators and the punctuation allowed.
const INSIDE: &[(&str, &str)] = &[
    ("équipe", "日本 東京"),
    ("cost-center_1.2:3/4=5+6@7", ""),
    ("Ⅻ٣", "no\u{a0}break"),
];

fn pattern_error(value: &str, path: &str, pattern: &str) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {pattern}"
    )
}

/// A value as a Query (XML) response can carry it: characters XML 1.0 can't hold become U+FFFD.
fn in_xml(s: &str) -> String {
    s.replace('\u{0}', "\u{fffd}")
}

fn sm_tag(key: &str, value: &str) -> SmTag {
    SmTag::builder().key(key).value(value).build()
}

// Secrets Manager: CreateSecret's Tags and TagResource answer `ValidationException`.
#[tokio::test]
async fn secrets_manager_tags() {
    let server = TestServer::start();
    let sm = server.client();
    let name = unique_name("tags/sm");
    create_string_secret(&sm, &name, "v").await;
    for bad in OUTSIDE {
        let e = expect_err!(
            sm.tag_resource()
                .secret_id(&name)
                .tags(sm_tag(bad, "v"))
                .send()
                .await
        );
        assert_error(
            &e,
            "ValidationException",
            &pattern_error(bad, "tags.1.member.key", SM_PATTERN),
        );
        let e = expect_err!(
            sm.create_secret()
                .name(unique_name("tags/sm-create"))
                .secret_string("v")
                .tags(sm_tag("ok", "v"))
                .tags(sm_tag("ok2", bad))
                .send()
                .await
        );
        assert_error(
            &e,
            "ValidationException",
            &pattern_error(bad, "tags.2.member.value", SM_PATTERN),
        );
    }
    for (key, value) in INSIDE {
        sm.tag_resource()
            .secret_id(&name)
            .tags(sm_tag(key, value))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key:?}={value:?}: {e:?}"));
    }
    let tags = sm
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret")
        .tags;
    assert_eq!(tags.map(|t| t.len()), Some(INSIDE.len()));
}

// KMS: CreateKey's Tags and TagResource answer `TagException` `Invalid tag`.
#[tokio::test]
async fn kms_tags() {
    let server = TestServer::start();
    let kms = server.kms_client();
    let key_id = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
        .key_id;
    let tag = |k: &str, v: &str| KmsTag::builder().tag_key(k).tag_value(v).build().expect("a tag");
    for bad in OUTSIDE {
        let e = expect_err!(
            kms.tag_resource()
                .key_id(&key_id)
                .tags(tag(bad, "v"))
                .send()
                .await
        );
        assert_error(&e, "TagException", "Invalid tag");
        let e = expect_err!(kms.create_key().tags(tag("ok", bad)).send().await);
        assert_error(&e, "TagException", "Invalid tag");
    }
    for (key, value) in INSIDE {
        kms.tag_resource()
            .key_id(&key_id)
            .tags(tag(key, value))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key:?}={value:?}: {e:?}"));
    }
    let tags = kms
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags")
        .tags;
    assert_eq!(tags.map(|t| t.len()), Some(INSIDE.len()));
}

// IAM: CreateUser's Tags and TagUser answer `ValidationError` with the model's patterns.
#[tokio::test]
async fn iam_tags() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let user = format!("tagged-{}", short_id());
    iam.create_user()
        .user_name(&user)
        .send()
        .await
        .expect("CreateUser");
    let tag = |k: &str, v: &str| IamTag::builder().key(k).value(v).build().expect("a tag");
    for bad in OUTSIDE {
        let e = expect_err!(iam.tag_user().user_name(&user).tags(tag(bad, "v")).send().await);
        assert_error(
            &e,
            "ValidationError",
            &pattern_error(&in_xml(bad), "tags.1.member.key", IAM_KEY_PATTERN),
        );
        let e = expect_err!(
            iam.create_user()
                .user_name(format!("untagged-{}", short_id()))
                .tags(tag("ok", bad))
                .send()
                .await
        );
        assert_error(
            &e,
            "ValidationError",
            &pattern_error(&in_xml(bad), "tags.1.member.value", IAM_VALUE_PATTERN),
        );
    }
    for (key, value) in INSIDE {
        iam.tag_user()
            .user_name(&user)
            .tags(tag(key, value))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key:?}={value:?}: {e:?}"));
    }
    let tags = iam
        .list_user_tags()
        .user_name(&user)
        .send()
        .await
        .expect("ListUserTags")
        .tags;
    assert_eq!(tags.len(), INSIDE.len());
}

// STS: AssumeRole's session tags answer `ValidationError` with the model's patterns and lengths,
// before any authorization.
#[tokio::test]
async fn sts_session_tags() {
    let server = TestServer::start();
    let sts = server.sts_client();
    let role_arn = format!("arn:aws:iam::{}:role/whoever", server.account_id());
    let tag = |k: &str, v: &str| StsTag::builder().key(k).value(v).build().expect("a tag");
    for bad in OUTSIDE {
        let e = expect_err!(
            sts.assume_role()
                .role_arn(&role_arn)
                .role_session_name("tags")
                .tags(tag(bad, "v"))
                .send()
                .await
        );
        assert_error(
            &e,
            "ValidationError",
            &pattern_error(&in_xml(bad), "tags.1.member.key", IAM_KEY_PATTERN),
        );
    }
    let long = "k".repeat(129);
    let e = expect_err!(
        sts.assume_role()
            .role_arn(&role_arn)
            .role_session_name("tags")
            .tags(tag(&long, "v"))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationError",
        &format!(
            "1 validation error detected: Value '{long}' at 'tags.1.member.key' failed to satisfy \
             constraint: Member must have length less than or equal to 128"
        ),
    );
}
