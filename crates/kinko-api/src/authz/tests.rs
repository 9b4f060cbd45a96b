//! The request context [`request_context`] builds: which condition keys are present, per service
//! and action, for the root user, an IAM user and a role session (IAM User Guide, "AWS global
//! condition context keys").

use std::net::{IpAddr, Ipv4Addr};

use kinko_core::Timestamp;
use kinko_core::principal::{Principal, PrincipalKind};
use kinko_policy::{ConditionContext, PrincipalCtx};

use super::{Check, Resource, request_context};
use crate::{RequestContext, Session, SessionKind};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ROLE: &str = "arn:aws:iam::111122223333:role/app";
const ISSUED: Timestamp = Timestamp(1_700_000_000_000);
const NOW: Timestamp = Timestamp(1_700_000_600_000);

/// The keys every request has, whoever makes it.
const EVERY_REQUEST: &[&str] = &[
    "aws:currenttime",
    "aws:epochtime",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principaltype",
    "aws:requestedregion",
    "aws:securetransport",
    "aws:sourceip",
    "aws:userid",
    "aws:viaawsservice",
];

/// A caller: its request, its principal as the evaluator sees it, and the keys only it has.
struct Caller {
    name: &'static str,
    rc: RequestContext,
    principal: PrincipalCtx,
    keys: &'static [&'static str],
}

fn request(principal: Principal) -> RequestContext {
    let mut rc = RequestContext::new(principal, REGION, "request-id");
    rc.source_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    rc
}

fn callers() -> Vec<Caller> {
    let user_arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let user = Principal {
        account_id: ACCOUNT.into(),
        arn: user_arn.clone(),
        kind: PrincipalKind::User {
            name: "alice".into(),
            user_id: "AIDAEXAMPLEALICE0000".into(),
        },
    };
    let session = Principal {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/s1"),
        kind: PrincipalKind::AssumedRole {
            role_name: "app".into(),
            role_id: "AROAEXAMPLEAPP000000".into(),
            session_name: "s1".into(),
        },
    };
    let mut session_rc = request(session);
    session_rc.session = Some(Session {
        kind: SessionKind::AssumedRole,
        policies: vec![],
        tags: vec![("team".into(), "blue".into())],
        transitive_tag_keys: vec![],
        issued: ISSUED,
        expiration: ISSUED.plus_millis(3_600_000),
        source_identity: Some("alice".into()),
        mfa_authenticated: None,
    });
    vec![
        Caller {
            name: "root",
            rc: request(Principal::root(ACCOUNT)),
            principal: PrincipalCtx::root(ACCOUNT),
            keys: &[],
        },
        Caller {
            name: "user",
            rc: request(user),
            principal: PrincipalCtx::user(&user_arn, "AIDAEXAMPLEALICE0000"),
            keys: &["aws:username"],
        },
        Caller {
            name: "role session",
            rc: session_rc,
            principal: PrincipalCtx::assumed_role(ROLE, "s1", "AROAEXAMPLEAPP000000")
                .with_tags([("team", "blue")]),
            keys: &[
                "aws:multifactorauthpresent",
                "aws:principaltag/team",
                "aws:sourceidentity",
                "aws:tokenissuetime",
            ],
        },
    ]
}

/// The checks the services make, as they make them, and the keys each adds to those of every
/// request and of the caller.
fn checks() -> Vec<(&'static str, Check<'static>, &'static [&'static str])> {
    vec![
        (
            "Secrets Manager GetSecretValue",
            Check::new("secretsmanager:GetSecretValue", Resource::of_arn(SECRET))
                .condition("secretsmanager:SecretId", SECRET),
            &["aws:resourceaccount", "secretsmanager:secretid"],
        ),
        (
            "KMS Encrypt",
            Check::new("kms:Encrypt", Resource::of_arn(KEY))
                .condition("kms:CallerAccount", ACCOUNT)
                .condition("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"),
            &[
                "aws:resourceaccount",
                "kms:calleraccount",
                "kms:encryptionalgorithm",
            ],
        ),
        (
            "KMS Decrypt via Secrets Manager",
            Check::new("kms:Decrypt", Resource::of_arn(KEY))
                .condition("kms:CallerAccount", ACCOUNT)
                .condition("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
                .condition("kms:ViaService", "secretsmanager.eu-west-1.amazonaws.com")
                .called_via("secretsmanager.amazonaws.com"),
            &[
                "aws:calledvia",
                "aws:calledviafirst",
                "aws:calledvialast",
                "aws:resourceaccount",
                "kms:calleraccount",
                "kms:encryptionalgorithm",
                "kms:viaservice",
            ],
        ),
        ("IAM ListUsers", Check::new("iam:ListUsers", Resource::Any), &[]),
        (
            "STS AssumeRole",
            Check::new("sts:AssumeRole", Resource::of_arn(ROLE)).condition("sts:RoleSessionName", "s2"),
            &["aws:resourceaccount", "sts:rolesessionname"],
        ),
        (
            "Organizations DescribeOrganization",
            Check::new("organizations:DescribeOrganization", Resource::Any),
            &[],
        ),
    ]
}

fn keys(ctx: &ConditionContext) -> Vec<&str> {
    let mut keys: Vec<&str> = ctx.keys().collect();
    keys.sort_unstable();
    keys
}

fn value(ctx: &ConditionContext, key: &str) -> Vec<String> {
    ctx.get(key)
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_str().into_owned())
        .collect()
}

/// The keys present in the request context of each service's check, for each caller: the keys of
/// every request, the caller's (`aws:username` for users; `aws:TokenIssueTime`,
/// `aws:MultiFactorAuthPresent`, `aws:SourceIdentity` and the session tags for role sessions) and
/// the check's — and no other (no `aws:MultiFactorAuthAge` without MFA, no `aws:CalledVia*` on a
/// direct request, no `aws:ResourceAccount` without a resource).
#[test]
fn request_context_keys_per_service_action_and_caller() {
    for caller in callers() {
        for (row, check, check_keys) in checks() {
            let ctx = request_context(&caller.rc, &caller.principal, &check, NOW);
            let mut expected: Vec<&str> = EVERY_REQUEST
                .iter()
                .chain(caller.keys)
                .chain(check_keys)
                .copied()
                .collect();
            expected.sort_unstable();
            assert_eq!(keys(&ctx), expected, "{row}, {}", caller.name);
        }
    }
}

/// The values of the keys that depend on the request.
#[test]
fn request_context_values() {
    let callers = callers();
    let checks = checks();
    let session = &callers[2];
    let of =
        |caller: &Caller, row: usize| request_context(&caller.rc, &caller.principal, &checks[row].1, NOW);
    let via = of(session, 2);
    assert_eq!(value(&via, "aws:ViaAWSService"), ["true"]);
    assert_eq!(value(&via, "aws:CalledVia"), ["secretsmanager.amazonaws.com"]);
    assert_eq!(
        value(&via, "aws:CalledViaFirst"),
        ["secretsmanager.amazonaws.com"]
    );
    assert_eq!(value(&via, "aws:CalledViaLast"), ["secretsmanager.amazonaws.com"]);
    assert_eq!(value(&via, "aws:TokenIssueTime"), ["2023-11-14T22:13:20Z"]);
    assert_eq!(value(&via, "aws:MultiFactorAuthPresent"), ["false"]);
    assert_eq!(value(&via, "aws:SourceIdentity"), ["alice"]);
    assert_eq!(value(&via, "aws:ResourceAccount"), [ACCOUNT]);
    assert_eq!(value(&via, "aws:PrincipalIsAWSService"), ["false"]);
    assert_eq!(value(&via, "aws:SecureTransport"), ["false"]);
    let direct = of(session, 1);
    assert_eq!(value(&direct, "aws:ViaAWSService"), ["false"]);
    // The region called: the signing region, and us-east-1 for IAM and Organizations.
    for (row, region) in [
        (0, REGION),
        (1, REGION),
        (2, REGION),
        (3, "us-east-1"),
        (4, REGION),
        (5, "us-east-1"),
    ] {
        let ctx = of(&callers[0], row);
        assert_eq!(value(&ctx, "aws:RequestedRegion"), [region], "{}", checks[row].0);
    }
}

/// AllowUsersToChangePassword grants each user iam:ChangePassword on their own ARN, nothing more.
#[test]
fn allow_users_to_change_password_grants_each_user_their_own() {
    use kinko_core::iam::IamState;
    use kinko_core::login::PasswordPolicy;

    let alice = format!("arn:aws:iam::{ACCOUNT}:user/team/alice");
    let mut iam = IamState::new(ACCOUNT);
    assert_eq!(super::own_password_change(&iam, &alice), None);
    iam.password_policy = Some(PasswordPolicy::default());
    assert_eq!(super::own_password_change(&iam, &alice), None);
    iam.password_policy = Some(PasswordPolicy {
        allow_users_to_change_password: true,
        ..PasswordPolicy::default()
    });
    let doc = super::own_password_change(&iam, &alice).expect("a grant");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert_eq!(
        doc["Statement"],
        serde_json::json!([{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": alice}])
    );
}
