//! A typical `GetSecretValue` authorization: a role session with five attached identity-based
//! policies (20 statements, most with conditions) and a secret resource policy.
//!
//! Run with `cargo bench -p kinko-policy -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kinko_policy::{ConditionContext, Policy, PolicyKind, PolicySet, PrincipalCtx, Request, evaluate};

const IDENTITY: [&str; 5] = [
    // 1: KMS use, only through Secrets Manager.
    r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"KmsViaSm","Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],
         "Resource":"arn:aws:kms:*:111111111111:key/*","Condition":{"StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}}},
        {"Sid":"KmsDescribe","Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"},
        {"Sid":"NoKeyAdmin","Effect":"Deny","Action":["kms:ScheduleKeyDeletion","kms:PutKeyPolicy","kms:DisableKey"],"Resource":"*"},
        {"Sid":"KmsTls","Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    // 2: guard rails.
    r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DenyOutsideNetwork","Effect":"Deny","Action":"*","Resource":"*",
         "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24","2001:db8::/32"]},"BoolIfExists":{"aws:ViaAWSService":"false"}}},
        {"Sid":"DenyOtherRegions","Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*",
         "Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]}}},
        {"Sid":"DenyPrevious","Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*",
         "Condition":{"StringEquals":{"secretsmanager:VersionStage":"AWSPREVIOUS"}}},
        {"Sid":"DenyAfterExpiry","Effect":"Deny","Action":"*","Resource":"*",
         "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}"#,
    // 3: tagging rules.
    r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"CreateTagged","Effect":"Allow","Action":"secretsmanager:CreateSecret","Resource":"*",
         "Condition":{"StringEquals":{"aws:RequestTag/team":"${aws:PrincipalTag/team}"},"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}},
        {"Sid":"TagOwn","Effect":"Allow","Action":["secretsmanager:TagResource","secretsmanager:UntagResource"],"Resource":"*",
         "Condition":{"StringEquals":{"secretsmanager:ResourceTag/team":"${aws:PrincipalTag/team}"}}},
        {"Sid":"NoReservedTags","Effect":"Deny","Action":"secretsmanager:TagResource","Resource":"*",
         "Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"aws:*"}}},
        {"Sid":"ListAll","Effect":"Allow","Action":["secretsmanager:ListSecrets","secretsmanager:GetRandomPassword"],"Resource":"*"}]}"#,
    // 4: other services.
    r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Logs","Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:*:111111111111:log-group:/app/*"},
        {"Sid":"Params","Effect":"Allow","Action":"ssm:GetParameter*","Resource":"arn:aws:ssm:*:111111111111:parameter/app/${aws:PrincipalTag/env}/*"},
        {"Sid":"Bucket","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::app-data/${aws:PrincipalTag/team}/*",
         "Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
        {"Sid":"Queue","Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:111111111111:app-*",
         "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/service/*"}}}]}"#,
    // 5: the secrets this role reads (the allowing statement is the last one).
    r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DescribeOwn","Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:ListSecretVersionIds"],
         "Resource":"arn:aws:secretsmanager:*:111111111111:secret:${aws:PrincipalTag/team}/*"},
        {"Sid":"RotateOwn","Effect":"Allow","Action":"secretsmanager:RotateSecret","Resource":"*",
         "Condition":{"ArnLike":{"secretsmanager:RotationLambdaARN":"arn:aws:lambda:*:111111111111:function:rotate-*"}}},
        {"Sid":"NoForceDelete","Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*",
         "Condition":{"Bool":{"secretsmanager:ForceDeleteWithoutRecovery":"true"}}},
        {"Sid":"ReadTeamSecrets","Effect":"Allow","Action":"secretsmanager:GetSecretValue",
         "Resource":"arn:aws:secretsmanager:*:111111111111:secret:*",
         "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}","aws:PrincipalTag/env":["prod","staging"]},
                      "StringEqualsIfExists":{"secretsmanager:VersionStage":"AWSCURRENT"},"Bool":{"aws:SecureTransport":"true"}}}]}"#,
];

const RESOURCE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*",
     "Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-exampleorg1"}}},
    {"Sid":"AuditRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/audit"},
     "Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue"],"Resource":"*"}]}"#;

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111111111111:secret:payments/stripe-AbCdEf";

fn principal() -> PrincipalCtx {
    PrincipalCtx::assumed_role(
        "arn:aws:iam::111111111111:role/service/app-role",
        "task-1",
        "AROAAPPROLEEXAMPLE001",
    )
    .with_tags([("team", "payments"), ("env", "prod")])
    .with_org("o-exampleorg1")
}

fn context(p: &PrincipalCtx) -> ConditionContext {
    let now = time::macros::datetime!(2024-06-01 12:00 UTC);
    let mut ctx = ConditionContext::for_request(p, now);
    ctx.set_secure_transport(true)
        .set_source_ip("10.1.2.3".parse().expect("ip"))
        .insert("aws:RequestedRegion", "us-east-1")
        .insert("secretsmanager:SecretId", SECRET)
        .add_resource_tags(Some("secretsmanager"), [("team", "payments"), ("env", "prod")]);
    ctx
}

fn bench(c: &mut Criterion) {
    let identity: Vec<Policy> = IDENTITY
        .iter()
        .map(|d| Policy::parse(d, PolicyKind::Identity).expect("identity policy"))
        .collect();
    assert_eq!(identity.iter().map(|p| p.statements().len()).sum::<usize>(), 20);
    let resource = Policy::parse(RESOURCE_POLICY, PolicyKind::Resource).expect("resource policy");
    let identity_refs: Vec<&Policy> = identity.iter().collect();
    let set = PolicySet {
        identity: &identity_refs,
        resource: Some(&resource),
        ..PolicySet::default()
    };
    let p = principal();
    let ctx = context(&p);
    let req = Request {
        principal: &p,
        action: "secretsmanager:GetSecretValue",
        resource: SECRET,
        resource_account: None,
        context: &ctx,
    };
    assert!(evaluate(&req, &set).is_allowed());

    c.bench_function(
        "evaluate GetSecretValue (5 identity policies, 20 statements, resource policy)",
        |b| b.iter(|| evaluate(black_box(&req), black_box(&set))),
    );
    c.bench_function("build context + evaluate GetSecretValue", |b| {
        b.iter(|| {
            let ctx = context(black_box(&p));
            let req = Request { context: &ctx, ..req };
            evaluate(&req, black_box(&set))
        })
    });
    c.bench_function("parse 5 identity policies + resource policy", |b| {
        b.iter(|| {
            for d in IDENTITY {
                black_box(Policy::parse(black_box(d), PolicyKind::Identity).expect("identity policy"));
            }
            black_box(
                Policy::parse(black_box(RESOURCE_POLICY), PolicyKind::Resource).expect("resource policy"),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
