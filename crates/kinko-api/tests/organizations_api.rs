//! The Organizations service through `kinko_api::organizations::handle`, over an in-memory SQLite
//! store: the implicit organization, CreateAccount (with the access role in the new account), the
//! account and status lookups, paging, and what member accounts and outsiders may do.

use std::sync::Arc;

use kinko_api::organizations::handle;
use kinko_api::{Keyring, RequestContext, Services};
use kinko_core::principal::Principal;
use kinko_core::store::{Account, Store};
use kinko_core::{Clock, ManualClock, Timestamp};
use kinko_store_sqlite::SqliteStore;
use kinko_wire::WireError;
use serde_json::{Value, json};

const MANAGEMENT: &str = "222222222222";
const NOW_MS: i64 = 1_700_000_000_000;

async fn services() -> Services {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().expect("in-memory store"));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp(NOW_MS)));
    let root = kinko_crypto::RootKey::generate().expect("root key");
    let keyring = Arc::new(Keyring::new(store.clone(), clock.clone(), root));
    // The account kinko bootstraps.
    store
        .put_account(Account {
            account_id: MANAGEMENT.into(),
            name: "management".into(),
            email: "root@222222222222.kinko.local".into(),
            created_date: Timestamp(NOW_MS - 1000),
        })
        .await
        .expect("account");
    Services::new(store, clock, keyring)
}

fn rc(account: &str) -> RequestContext {
    RequestContext::new(Principal::root(account), "us-east-1", "req-1")
}

async fn call(s: &Services, account: &str, op: &str, body: Value) -> Result<Value, WireError> {
    let out = handle(s, &rc(account), op, body.to_string().as_bytes()).await?;
    Ok(serde_json::from_slice(&out).expect("JSON answer"))
}

async fn ok(s: &Services, op: &str, body: Value) -> Value {
    call(s, MANAGEMENT, op, body)
        .await
        .unwrap_or_else(|e| panic!("{op} failed: {e:?}"))
}

async fn err(s: &Services, account: &str, op: &str, body: Value) -> WireError {
    match call(s, account, op, body).await {
        Ok(v) => panic!("{op} succeeded: {v}"),
        Err(e) => e,
    }
}

fn assert_err(e: &WireError, code: &str, message: &str) {
    assert_eq!(
        (e.code, e.status, e.message.as_str()),
        (code, 400, message),
        "{e:?}"
    );
    assert!(e.capital_message, "modeled errors use `Message`");
}

#[tokio::test]
async fn the_organization_is_created_on_first_use() {
    let s = services().await;
    assert!(s.store.organization().await.unwrap().is_none());
    let v = ok(&s, "DescribeOrganization", json!({})).await;
    let org = &v["Organization"];
    let id = org["Id"].as_str().unwrap();
    assert!(id.starts_with("o-") && id.len() == 12, "{id}");
    assert!(
        id[2..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(org["MasterAccountId"], MANAGEMENT);
    assert_eq!(org["MasterAccountEmail"], "root@222222222222.kinko.local");
    assert_eq!(org["FeatureSet"], "ALL");
    assert_eq!(
        org["Arn"],
        format!("arn:aws:organizations::{MANAGEMENT}:organization/{id}")
    );
    assert_eq!(
        org["MasterAccountArn"],
        format!("arn:aws:organizations::{MANAGEMENT}:account/{id}/{MANAGEMENT}")
    );
    // The same organization afterwards; an empty body is fine too.
    let out = handle(&s, &rc(MANAGEMENT), "DescribeOrganization", b"")
        .await
        .unwrap();
    let again: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(again["Organization"]["Id"], id);

    let v = ok(&s, "ListRoots", json!({})).await;
    let root = &v["Roots"][0];
    let root_id = root["Id"].as_str().unwrap();
    assert!(root_id.starts_with("r-") && root_id.len() == 6, "{root_id}");
    assert_eq!(root["Name"], "Root");
    assert_eq!(
        root["Arn"],
        format!("arn:aws:organizations::{MANAGEMENT}:root/{id}/{root_id}")
    );

    let v = ok(&s, "ListAccounts", json!({})).await;
    let accounts = v["Accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["Id"], MANAGEMENT);
    assert_eq!(accounts[0]["Status"], "ACTIVE");
    assert_eq!(accounts[0]["JoinedMethod"], "INVITED");
    // Timestamps are epoch seconds.
    assert_eq!(accounts[0]["JoinedTimestamp"].as_f64(), Some(1_699_999_999.0));
    assert!(v.get("NextToken").is_none());
}

#[tokio::test]
async fn create_account() {
    let s = services().await;
    let v = ok(
        &s,
        "CreateAccount",
        json!({"Email": "dev@example.com", "AccountName": "dev", "Tags": [{"Key": "env", "Value": "dev"}]}),
    )
    .await;
    let status = &v["CreateAccountStatus"];
    assert_eq!(status["State"], "SUCCEEDED");
    assert_eq!(status["AccountName"], "dev");
    assert_eq!(status["RequestedTimestamp"].as_f64(), Some(1_700_000_000.0));
    assert_eq!(status["CompletedTimestamp"].as_f64(), Some(1_700_000_000.0));
    let request_id = status["Id"].as_str().unwrap().to_owned();
    assert!(
        request_id.starts_with("car-") && request_id.len() == 36,
        "{request_id}"
    );
    let account_id = status["AccountId"].as_str().unwrap().to_owned();
    assert!(account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit()));

    // The account exists, with the role the management account assumes to administer it.
    let account = s.store.account(&account_id).await.unwrap().expect("account");
    assert_eq!(
        (account.name.as_str(), account.email.as_str()),
        ("dev", "dev@example.com")
    );
    let iam = s.store.iam_state(&account_id).await.unwrap();
    let role = iam.role("OrganizationAccountAccessRole").expect("access role");
    assert_eq!(role.path, "/");
    assert_eq!(
        role.arn,
        format!("arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole")
    );
    assert!(role.role_id.starts_with("AROA") && role.role_id.len() == 21);
    assert_eq!(role.max_session_duration, 3600);
    let trust: Value = serde_json::from_str(&role.assume_role_policy_document).unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{MANAGEMENT}:root")
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    assert_eq!(trust["Statement"][0]["Effect"], "Allow");
    assert_eq!(role.inline_policies.len(), 1);
    assert_eq!(role.inline_policies[0].name, "AdministratorAccess");
    let admin: Value = serde_json::from_str(&role.inline_policies[0].document).unwrap();
    assert_eq!(admin["Statement"][0]["Action"], "*");
    assert_eq!(admin["Statement"][0]["Resource"], "*");
    // The trust policy is one IAM itself accepts.
    kinko_api::iam::validate_policy_document(
        &role.assume_role_policy_document,
        kinko_api::iam::DocumentKind::Trust,
    )
    .expect("valid trust policy");

    let v = ok(&s, "DescribeAccount", json!({"AccountId": account_id})).await;
    assert_eq!(v["Account"]["Name"], "dev");
    assert_eq!(v["Account"]["Email"], "dev@example.com");
    assert_eq!(v["Account"]["JoinedMethod"], "CREATED");
    assert_eq!(v["Account"]["Status"], "ACTIVE");
    let org_id = s.store.organization().await.unwrap().unwrap().id;
    assert_eq!(
        v["Account"]["Arn"],
        format!("arn:aws:organizations::{MANAGEMENT}:account/{org_id}/{account_id}")
    );

    let v = ok(
        &s,
        "DescribeCreateAccountStatus",
        json!({"CreateAccountRequestId": request_id}),
    )
    .await;
    assert_eq!(v["CreateAccountStatus"]["AccountId"], account_id.as_str());

    // Another account with its own role name; then one with an email already in use.
    let v = ok(
        &s,
        "CreateAccount",
        json!({"Email": "ops@example.com", "AccountName": "ops", "RoleName": "Admin"}),
    )
    .await;
    let ops_id = v["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_owned();
    let iam = s.store.iam_state(&ops_id).await.unwrap();
    assert!(iam.role("Admin").is_some() && iam.role("OrganizationAccountAccessRole").is_none());

    let v = ok(
        &s,
        "CreateAccount",
        json!({"Email": "DEV@example.com", "AccountName": "dev again"}),
    )
    .await;
    assert_eq!(v["CreateAccountStatus"]["State"], "FAILED");
    assert_eq!(v["CreateAccountStatus"]["FailureReason"], "EMAIL_ALREADY_EXISTS");
    assert!(v["CreateAccountStatus"].get("AccountId").is_none());

    let v = ok(&s, "ListAccounts", json!({})).await;
    let ids: Vec<&str> = v["Accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![MANAGEMENT, account_id.as_str(), ops_id.as_str()]);

    let v = ok(&s, "ListCreateAccountStatus", json!({})).await;
    assert_eq!(v["CreateAccountStatuses"].as_array().unwrap().len(), 3);
    let v = ok(&s, "ListCreateAccountStatus", json!({"States": ["FAILED"]})).await;
    let failed = v["CreateAccountStatuses"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["AccountName"], "dev again");

    // Paging.
    let v = ok(&s, "ListAccounts", json!({"MaxResults": 2})).await;
    assert_eq!(v["Accounts"].as_array().unwrap().len(), 2);
    let token = v["NextToken"].as_str().unwrap();
    let v = ok(&s, "ListAccounts", json!({"MaxResults": 2, "NextToken": token})).await;
    assert_eq!(v["Accounts"][0]["Id"], ops_id.as_str());
    assert!(v.get("NextToken").is_none());
}

#[tokio::test]
async fn errors() {
    let s = services().await;
    let e = err(
        &s,
        MANAGEMENT,
        "DescribeAccount",
        json!({"AccountId": "999999999999"}),
    )
    .await;
    assert_err(
        &e,
        "AccountNotFoundException",
        "You specified an account that doesn't exist.",
    );
    let e = err(&s, MANAGEMENT, "DescribeAccount", json!({"AccountId": "12"})).await;
    assert_eq!(e.code, "InvalidInputException");
    let e = err(&s, MANAGEMENT, "DescribeAccount", json!({})).await;
    assert_eq!(e.code, "InvalidInputException");
    assert!(e.message.contains("Value null at 'accountId'"), "{}", e.message);
    let e = err(
        &s,
        MANAGEMENT,
        "DescribeCreateAccountStatus",
        json!({"CreateAccountRequestId": "car-0123456789abcdef0123456789abcdef"}),
    )
    .await;
    assert_err(
        &e,
        "CreateAccountStatusNotFoundException",
        "We can't find an create account request with the CreateAccountRequestId that you specified.",
    );
    let e = err(
        &s,
        MANAGEMENT,
        "CreateAccount",
        json!({"Email": "not-an-email", "AccountName": "x"}),
    )
    .await;
    assert_eq!(e.code, "InvalidInputException");
    assert!(e.message.contains("at 'email'"), "{}", e.message);
    let e = err(&s, MANAGEMENT, "CreateAccount", json!({"AccountName": "x"})).await;
    assert_eq!(e.code, "InvalidInputException");
    let e = err(
        &s,
        MANAGEMENT,
        "CreateAccount",
        json!({"Email": "a@b.co", "AccountName": "x", "RoleName": "bad role"}),
    )
    .await;
    assert_eq!(e.code, "InvalidInputException");
    let e = err(&s, MANAGEMENT, "ListAccounts", json!({"MaxResults": 21})).await;
    assert_eq!(e.code, "InvalidInputException");
    let e = err(&s, MANAGEMENT, "ListAccounts", json!({"NextToken": "zzz"})).await;
    assert_eq!(e.code, "InvalidInputException");
    let e = err(&s, MANAGEMENT, "CreateAccount", json!({"Email": 5})).await;
    assert_eq!((e.code, e.status), ("SerializationException", 400));
    let e = handle(&s, &rc(MANAGEMENT), "ListAccounts", b"{")
        .await
        .unwrap_err();
    assert_eq!(e.code, "SerializationException");
    let e = handle(&s, &rc(MANAGEMENT), "LeaveOrganization", b"{}")
        .await
        .unwrap_err();
    assert_eq!((e.code, e.status), ("UnknownOperationException", 400));
}

#[tokio::test]
async fn member_accounts_and_outsiders() {
    let s = services().await;
    let v = ok(
        &s,
        "CreateAccount",
        json!({"Email": "m@example.com", "AccountName": "member"}),
    )
    .await;
    let member = v["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_owned();

    // A member account may describe its organization, but not manage it.
    let v = call(&s, &member, "DescribeOrganization", json!({}))
        .await
        .unwrap();
    assert_eq!(v["Organization"]["MasterAccountId"], MANAGEMENT);
    for (op, body) in [
        ("ListAccounts", json!({})),
        (
            "CreateAccount",
            json!({"Email": "x@example.com", "AccountName": "x"}),
        ),
        ("DescribeAccount", json!({"AccountId": MANAGEMENT})),
        ("ListCreateAccountStatus", json!({})),
        ("ListRoots", json!({})),
    ] {
        let e = err(&s, &member, op, body).await;
        assert_err(
            &e,
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        );
    }

    // An account outside the organization.
    let e = err(&s, "333333333333", "DescribeOrganization", json!({})).await;
    assert_err(
        &e,
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    );

    // IAM users of the management account need permission.
    let user = Principal {
        account_id: MANAGEMENT.into(),
        arn: format!("arn:aws:iam::{MANAGEMENT}:user/nobody"),
        kind: kinko_core::principal::PrincipalKind::User {
            name: "nobody".into(),
            user_id: "AIDAEXAMPLEEXAMPLE123".into(),
        },
    };
    let rc = RequestContext::new(user, "us-east-1", "req-2");
    let e = handle(&s, &rc, "ListAccounts", b"{}").await.unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(
        e.message
            .contains("is not authorized to perform: organizations:ListAccounts"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn concurrent_creates() {
    let s = services().await;
    ok(&s, "DescribeOrganization", json!({})).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            call(
                &s,
                MANAGEMENT,
                "CreateAccount",
                json!({"Email": format!("a{i}@example.com"), "AccountName": format!("a{i}")}),
            )
            .await
        }));
    }
    for t in tasks {
        let v = t.await.unwrap().unwrap();
        assert_eq!(v["CreateAccountStatus"]["State"], "SUCCEEDED");
    }
    let org = s.store.organization().await.unwrap().unwrap();
    assert_eq!(org.accounts.len(), 7);
    assert_eq!(s.store.list_accounts().await.unwrap().len(), 7);
}
