//! Callers: the root user, IAM users with a policy, role sessions, member accounts of the
//! organization, each with clients for every service.
//!
//! ```no_run
//! # use kinko_tests::*;
//! # async fn example() {
//! let server = TestServer::start();
//! let policy = allow(&["secretsmanager:GetSecretValue"], &["*"]);
//! let reader = server.user("reader", Some(&policy)).await;
//! let value = reader.sm().value("app/db").await;
//! let trust = trust_policy(&[&server.root().arn]);
//! let role = server.role(&format!("app-{}", short_id()), &trust, None).await;
//! let session = server.assumer(&role).await.assume(&role, "s1").await;
//! assert!(session.arn.ends_with("/s1"));
//! # }
//! ```
//!
//! A [`Principal`] dereferences to its [`TestCredentials`], so `server.client_as(&user)` works too.

use std::ops::Deref;

use aws_sdk_organizations::types::CreateAccountState;

use crate::errors::ok;
use crate::policy::{allow, root_arn};
use crate::{DEV_ACCOUNT, TestCredentials, TestServer, short_id};

/// Someone who signs requests to a server.
#[derive(Clone, Debug)]
pub struct Principal<'s> {
    pub server: &'s TestServer,
    /// The ARN AWS names the caller by in its messages: `...:root`, `...:user/<name>` or
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// The user name of an IAM user, the session name of a role session, `root` for root.
    pub name: String,
    pub creds: TestCredentials,
}

impl Deref for Principal<'_> {
    type Target = TestCredentials;

    fn deref(&self) -> &TestCredentials {
        &self.creds
    }
}

impl<'s> Principal<'s> {
    /// A Secrets Manager client signing as this principal.
    pub fn sm(&self) -> aws_sdk_secretsmanager::Client {
        self.server.client_as(&self.creds)
    }

    /// A KMS client signing as this principal.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        self.server.kms_client_as(&self.creds)
    }

    /// An IAM client signing as this principal.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.server.iam_client_as(&self.creds)
    }

    /// An STS client signing as this principal.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        self.server.sts_client_as(&self.creds)
    }

    /// An Organizations client signing as this principal.
    pub fn org(&self) -> aws_sdk_organizations::Client {
        self.server.org_client_as(&self.creds)
    }

    /// Creates, as this principal, an IAM user `<prefix>-<short id>` in its account, with `policy`
    /// as its one inline policy (named `inline`) when given, and an access key.
    pub async fn new_user(&self, prefix: &str, policy: Option<&str>) -> Principal<'s> {
        self.new_user_named(&format!("{prefix}-{}", short_id()), policy)
            .await
    }

    /// [`Principal::new_user`] with exactly this user name.
    pub async fn new_user_named(&self, name: &str, policy: Option<&str>) -> Principal<'s> {
        let (arn, creds) = create_user_with_key(&self.iam(), name, policy).await;
        Principal {
            server: self.server,
            arn,
            name: name.to_owned(),
            creds,
        }
    }

    /// Creates, as this principal, the role `name` trusting as `trust` says, with `policy` as its
    /// one inline policy (named `inline`) when given; returns the role's ARN.
    pub async fn new_role(&self, name: &str, trust: &str, policy: Option<&str>) -> String {
        create_role_with_policy(&self.iam(), name, trust, policy).await
    }

    /// Assumes `role_arn` as this principal (which must be allowed to); returns the session.
    pub async fn assume(&self, role_arn: &str, session: &str) -> Principal<'s> {
        let (creds, arn) = assume_role(&self.sts(), role_arn, session).await;
        Principal {
            server: self.server,
            arn,
            name: session.to_owned(),
            creds,
        }
    }
}

impl TestServer {
    /// The management account's root user.
    pub fn root(&self) -> Principal<'_> {
        Principal {
            server: self,
            arn: root_arn(self.account_id()),
            name: "root".to_owned(),
            creds: self.root_credentials(),
        }
    }

    /// A new IAM user `<prefix>-<short id>` of the management account (see
    /// [`Principal::new_user`]).
    pub async fn user(&self, prefix: &str, policy: Option<&str>) -> Principal<'_> {
        self.root().new_user(prefix, policy).await
    }

    /// A new IAM user of the management account with exactly this name.
    pub async fn user_named(&self, name: &str, policy: Option<&str>) -> Principal<'_> {
        self.root().new_user_named(name, policy).await
    }

    /// A new role of the management account (see [`Principal::new_role`]); returns its ARN.
    pub async fn role(&self, name: &str, trust: &str, policy: Option<&str>) -> String {
        self.root().new_role(name, trust, policy).await
    }

    /// A new user of the management account allowed `sts:AssumeRole` on `role_arn` and nothing
    /// else.
    pub async fn assumer(&self, role_arn: &str) -> Principal<'_> {
        self.user("assumer", Some(&allow(&["sts:AssumeRole"], &[role_arn])))
            .await
    }
}

/// Creates an IAM user with one inline policy (when `policy` is given) and an access key; returns
/// the user's ARN and the key.
pub async fn create_user_with_key(
    iam: &aws_sdk_iam::Client,
    name: &str,
    policy: Option<&str>,
) -> (String, TestCredentials) {
    let user = ok(iam.create_user().user_name(name).send().await).user;
    let user = user.expect("CreateUser returns the user");
    if let Some(doc) = policy {
        let req = iam.put_user_policy().user_name(name).policy_name("inline");
        ok(req.policy_document(doc).send().await);
    }
    let key = ok(iam.create_access_key().user_name(name).send().await).access_key;
    let key = key.expect("CreateAccessKey returns the key");
    (user.arn, TestCredentials::from(&key))
}

/// Creates a role with `trust` as its trust policy and one inline policy (when given); returns
/// the role's ARN.
pub async fn create_role_with_policy(
    iam: &aws_sdk_iam::Client,
    name: &str,
    trust: &str,
    policy: Option<&str>,
) -> String {
    let req = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust);
    let role = ok(req.send().await).role.expect("CreateRole returns the role");
    if let Some(doc) = policy {
        let req = iam.put_role_policy().role_name(name).policy_name("inline");
        ok(req.policy_document(doc).send().await);
    }
    role.arn
}

/// Assumes `role_arn` with `sts` and returns the session's credentials and its assumed-role ARN.
pub async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
) -> (TestCredentials, String) {
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .send()
        .await
        .expect("AssumeRole");
    let creds = TestCredentials::from(out.credentials.as_ref().expect("AssumeRole credentials"));
    let arn = out.assumed_role_user.expect("AssumedRoleUser").arn;
    (creds, arn)
}

/// The role Organizations CreateAccount makes in a new member account.
pub const ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

/// Creates a member account of the organization; returns its id.
pub async fn create_member_account(server: &TestServer) -> String {
    let org = server.org_client();
    let p = short_id();
    let mut status = org
        .create_account()
        .email(format!("member-{p}@example.com"))
        .account_name(format!("member-{p}"))
        .send()
        .await
        .expect("CreateAccount")
        .create_account_status
        .expect("CreateAccountStatus");
    let request_id = status.id.clone().expect("CreateAccountRequestId");
    // AWS creates accounts in the background; follow the request until it is final (bounded).
    for _ in 0..50 {
        match &status.state {
            Some(CreateAccountState::Succeeded) => {
                let id = status
                    .account_id
                    .clone()
                    .expect("AccountId of a succeeded request");
                assert_eq!(id.len(), 12, "{id}");
                assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
                assert_ne!(id, DEV_ACCOUNT);
                return id;
            }
            Some(CreateAccountState::InProgress) => {
                status = org
                    .describe_create_account_status()
                    .create_account_request_id(&request_id)
                    .send()
                    .await
                    .expect("DescribeCreateAccountStatus")
                    .create_account_status
                    .expect("CreateAccountStatus");
            }
            _ => panic!("CreateAccount did not succeed: {status:?}"),
        }
    }
    panic!("CreateAccount did not finish: {status:?}");
}

/// A management-account IAM user allowed to assume any role in `member`.
pub async fn management_operator(server: &TestServer, member: &str) -> (String, TestCredentials) {
    let p = operator_of(server, member).await;
    (p.arn, p.creds)
}

async fn operator_of<'s>(server: &'s TestServer, member: &str) -> Principal<'s> {
    let roles = format!("arn:aws:iam::{member}:role/*");
    server
        .user("operator", Some(&allow(&["sts:AssumeRole"], &[&roles])))
        .await
}

/// A member account, and administrator credentials in it.
#[derive(Clone, Debug)]
pub struct Member<'s> {
    pub id: String,
    /// A management-account user allowed to assume any role of the member account.
    pub operator: Principal<'s>,
    /// A session `admin` of the member's [`ACCESS_ROLE`], assumed by the operator.
    pub admin: Principal<'s>,
}

/// A new member account of the organization, its operator and administrator.
pub async fn member(server: &TestServer) -> Member<'_> {
    let id = create_member_account(server).await;
    let operator = operator_of(server, &id).await;
    let admin = operator
        .assume(&format!("arn:aws:iam::{id}:role/{ACCESS_ROLE}"), "admin")
        .await;
    assert_eq!(
        admin.arn,
        format!("arn:aws:sts::{id}:assumed-role/{ACCESS_ROLE}/admin")
    );
    Member { id, operator, admin }
}
