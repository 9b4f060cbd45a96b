//! Property tests: parsing and evaluation never panic, whatever the input.

use kinko_policy::{
    ConditionContext, Policy, PolicyKind, PolicySet, PrincipalCtx, Request, access_denied_message, evaluate,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

const KINDS: [PolicyKind; 6] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Boundary,
    PolicyKind::Session,
    PolicyKind::KeyPolicy,
];

/// Strings that steer documents into the validator's deeper branches.
const WORDS: &[&str] = &[
    "Version",
    "2012-10-17",
    "2008-10-17",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "StringEquals",
    "StringNotLikeIfExists",
    "ForAllValues:StringLike",
    "ForAnyValue:ArnLike",
    "NumericLessThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "Null",
    "*",
    "?",
    "secretsmanager:Get*",
    "kms:*",
    "sts:AssumeRole",
    "aws:username",
    "aws:PrincipalTag/team",
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:TagKeys",
    "arn:aws:iam::111111111111:root",
    "111111111111",
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:role/r",
    "arn:aws:sts::111111111111:assumed-role/r/s",
    "arn:aws:secretsmanager:*:111111111111:secret:${aws:username}/*",
    "${aws:PrincipalTag/team, 'x'}",
    "${*}",
    "${",
    "arn:aws:secretsmanager:us-east-1:111111111111:secret:app/db-AbCdEf",
    "10.0.0.0/8",
    "::/0",
    "2024-01-01T00:00:00Z",
    "1700000000",
    "true",
    "false",
    "QUJD",
    "",
    "arn:",
    "a:b:c",
    "${aws:userid}${?}${$}",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => ".{0,24}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(items).prop_map(str::to_owned)
}

/// Mostly valid values from `items`, sometimes anything.
fn element_value(items: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => pick(items).prop_map(Value::String),
        3 => prop::collection::vec(pick(items).prop_map(Value::String), 1..4).prop_map(Value::Array),
        1 => word().prop_map(Value::String),
        1 => json(),
    ]
}

const ACTIONS: &[&str] = &[
    "*",
    "secretsmanager:*",
    "secretsmanager:Get*",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "s3:?et*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:secretsmanager:*:111111111111:secret:*",
    "arn:aws:secretsmanager:*:111111111111:secret:${aws:username}/*",
    "arn:aws:secretsmanager:us-east-1:111111111111:secret:app/db-??????",
    "arn:aws:*",
];
const AWS_PRINCIPALS: &[&str] = &[
    "*",
    "111111111111",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::111111111111:role/r",
    "arn:aws:sts::111111111111:assumed-role/r/s",
    "arn:aws:iam::111111111111:user/alice",
];
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotLikeIfExists",
    "ForAllValues:StringLike",
    "ForAnyValue:StringNotEquals",
    "ArnLike",
    "NumericLessThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "Null",
    "StringEqualsIgnoreCase",
];
const KEYS: &[&str] = &[
    "aws:username",
    "aws:PrincipalTag/team",
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:TagKeys",
    "aws:PrincipalArn",
];
const VALUES: &[&str] = &[
    "payments",
    "${aws:PrincipalTag/team}",
    "pay*",
    "10.0.0.0/8",
    "2024-01-01T00:00:00Z",
    "1700000000",
    "true",
    "QUJD",
    "arn:aws:iam::*:role/*",
    "team",
    "${aws:username, 'x'}",
];

fn principal_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::from("*")),
        1 => (proptest::sample::select(&["AWS", "Service", "Federated", "CanonicalUser"][..]), element_value(AWS_PRINCIPALS))
            .prop_map(|(k, v)| Value::Object(std::iter::once((k.to_owned(), v)).collect())),
        3 => element_value(AWS_PRINCIPALS).prop_map(|v| Value::Object(std::iter::once(("AWS".to_owned(), v)).collect())),
        1 => json(),
    ]
}

fn condition_value() -> impl Strategy<Value = Value> {
    let op = prop_oneof![4 => pick(OPERATORS), 1 => word()];
    let key = prop_oneof![4 => pick(KEYS), 1 => word()];
    prop::collection::vec(
        (op, prop::collection::vec((key, element_value(VALUES)), 1..3)),
        1..3,
    )
    .prop_map(|ops| {
        Value::Object(
            ops.into_iter()
                .map(|(op, keys)| (op, Value::Object(keys.into_iter().collect())))
                .collect(),
        )
    })
}

/// Documents shaped like policies, so that many reach statement and condition validation and some
/// parse and get evaluated.
fn policy_like() -> impl Strategy<Value = Value> {
    let statement = (
        proptest::sample::select(&["Allow", "Deny"][..]),
        proptest::sample::select(&["Action", "NotAction"][..]),
        element_value(ACTIONS),
        prop::option::of((
            proptest::sample::select(&["Resource", "NotResource"][..]),
            element_value(RESOURCES),
        )),
        prop::option::weighted(
            0.3,
            (
                proptest::sample::select(&["Principal", "NotPrincipal"][..]),
                principal_value(),
            ),
        ),
        prop::option::weighted(0.6, condition_value()),
    )
        .prop_map(|(effect, action_key, action, resource, principal, condition)| {
            let mut m = Map::new();
            m.insert("Effect".into(), Value::from(effect));
            m.insert(action_key.into(), action);
            if let Some((k, v)) = resource {
                m.insert(k.into(), v);
            }
            if let Some((k, v)) = principal {
                m.insert(k.into(), v);
            }
            if let Some(c) = condition {
                m.insert("Condition".into(), c);
            }
            Value::Object(m)
        });
    (
        prop::option::of(proptest::sample::select(&["2012-10-17", "2008-10-17"][..])),
        prop::collection::vec(statement, 1..4),
    )
        .prop_map(|(version, statements)| {
            let mut m = Map::new();
            if let Some(v) = version {
                m.insert("Version".into(), Value::from(v));
            }
            m.insert("Statement".into(), Value::Array(statements));
            Value::Object(m)
        })
}

fn exercise(doc: &str) {
    let principal =
        PrincipalCtx::assumed_role("arn:aws:iam::111111111111:role/r", "s", "AROAEXAMPLEEXAMPLE01")
            .with_tags([("team", "payments")]);
    let mut ctx = ConditionContext::for_request(&principal, time::OffsetDateTime::UNIX_EPOCH);
    ctx.insert("aws:TagKeys", "team").insert("aws:TagKeys", "env");
    for kind in KINDS {
        let Ok(policy) = Policy::parse(doc, kind) else {
            continue;
        };
        let req = Request {
            principal: &principal,
            action: "secretsmanager:GetSecretValue",
            resource: "arn:aws:secretsmanager:us-east-1:111111111111:secret:app/db-AbCdEf",
            resource_account: None,
            context: &ctx,
        };
        for set in [
            PolicySet {
                identity: &[&policy],
                ..PolicySet::default()
            },
            PolicySet {
                resource: Some(&policy),
                ..PolicySet::default()
            },
            PolicySet {
                boundary: Some(&policy),
                session: &[&policy],
                scp: &[&policy],
                ..PolicySet::default()
            },
        ] {
            let d = evaluate(&req, &set);
            let _ = access_denied_message(&principal.arn, req.action, Some(req.resource), &d);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_json(v in json()) {
        exercise(&v.to_string());
    }

    #[test]
    fn parse_never_panics_on_policy_like_json(v in policy_like()) {
        exercise(&v.to_string());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
        exercise(&s);
    }
}

#[test]
fn policy_like_generator_reaches_evaluation() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = policy_like();
    let parsed = (0..500)
        .filter(|_| {
            let doc = strategy
                .new_tree(&mut runner)
                .map(|t| t.current().to_string())
                .unwrap_or_default();
            KINDS.iter().any(|k| Policy::parse(&doc, *k).is_ok())
        })
        .count();
    assert!(parsed >= 25, "only {parsed} of 500 generated documents parse");
}
