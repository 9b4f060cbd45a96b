//! Console sign-in (`kinko_api::iam::sign_in::verify_password`) over an in-memory SQLite store:
//! who signs in, when they must change their password, and that every refusal looks the same.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kinko_api::iam::handle;
use kinko_api::iam::sign_in::{PasswordChange, SignInRefused, verify_password};
use kinko_api::{Keyring, RequestContext, Services};
use kinko_core::principal::{Principal, PrincipalKind};
use kinko_core::store::{Account, Store};
use kinko_core::{Clock, ManualClock, Timestamp};
use kinko_store_sqlite::SqliteStore;
use kinko_wire::query::Params;

const ACCOUNT: &str = "111111111111";
const PASSWORD: &str = "Correct-Horse-7";

struct World {
    services: Services,
    clock: Arc<ManualClock>,
    root: RequestContext,
}

async fn world() -> World {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().expect("in-memory store"));
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let root = kinko_crypto::RootKey::generate().expect("root key");
    let keyring = Arc::new(Keyring::new(store.clone(), dyn_clock.clone(), root));
    store
        .put_account(Account {
            account_id: ACCOUNT.into(),
            name: "main".into(),
            email: "main@example.com".into(),
            created_date: Timestamp(0),
        })
        .await
        .expect("account");
    World {
        services: Services::new(store, dyn_clock, keyring),
        clock,
        root: RequestContext::new(Principal::root(ACCOUNT), "us-east-1", "req-1"),
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl World {
    async fn iam(&self, action: &str, ps: &[(&str, &str)]) -> String {
        let mut body = format!("Action={action}&Version=2010-05-08");
        for (k, v) in ps {
            body.push_str(&format!("&{k}={}", enc(v)));
        }
        let params = Params::parse(body.as_bytes()).expect("params");
        handle(&self.services, &self.root, &params)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e:?}"))
    }

    /// A user `name` at path `/team/` with a login profile.
    async fn user(&self, name: &str, reset_required: bool) -> String {
        let xml = self
            .iam("CreateUser", &[("UserName", name), ("Path", "/team/")])
            .await;
        let reset = if reset_required { "true" } else { "false" };
        self.iam(
            "CreateLoginProfile",
            &[
                ("UserName", name),
                ("Password", PASSWORD),
                ("PasswordResetRequired", reset),
            ],
        )
        .await;
        let start = xml.find("<UserId>").expect("user id") + "<UserId>".len();
        let end = xml.find("</UserId>").expect("user id");
        xml[start..end].to_owned()
    }

    async fn sign_in(
        &self,
        account: &str,
        user: &str,
        password: &str,
    ) -> Result<PasswordChangeOf, SignInRefused> {
        verify_password(&self.services, account, user, password)
            .await
            .map(|s| (s.principal, s.password_change))
    }
}

type PasswordChangeOf = (Principal, Option<PasswordChange>);

#[tokio::test]
async fn a_user_signs_in_by_account_id_or_alias_as_their_access_keys_would() {
    let w = world().await;
    let user_id = w.user("alice", false).await;
    let expected = Principal {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/team/alice"),
        kind: PrincipalKind::User {
            name: "alice".into(),
            user_id,
        },
    };
    assert_eq!(
        w.sign_in(ACCOUNT, "alice", PASSWORD).await,
        Ok((expected.clone(), None))
    );
    // User names are case-insensitive in IAM; the principal carries the name as created.
    assert_eq!(
        w.sign_in(ACCOUNT, "ALICE", PASSWORD).await,
        Ok((expected.clone(), None))
    );

    w.iam("CreateAccountAlias", &[("AccountAlias", "acme")]).await;
    assert_eq!(w.sign_in("acme", "alice", PASSWORD).await, Ok((expected, None)));
}

#[tokio::test]
async fn every_refusal_is_the_same() {
    let w = world().await;
    w.user("alice", false).await;
    w.iam("CreateUser", &[("UserName", "bob")]).await;
    w.iam("CreateAccountAlias", &[("AccountAlias", "acme")]).await;
    for (account, user, password) in [
        (ACCOUNT, "alice", "Wrong-Horse-7"),
        (ACCOUNT, "alice", ""),
        (ACCOUNT, "nobody", PASSWORD),
        (ACCOUNT, "bob", PASSWORD), // no login profile
        ("222222222222", "alice", PASSWORD),
        ("no-such-alias", "alice", PASSWORD),
        ("ACME", "alice", PASSWORD),
    ] {
        assert_eq!(
            w.sign_in(account, user, password).await,
            Err(SignInRefused::Refused),
            "{account} {user}"
        );
    }
    // A deleted login profile lets nobody in.
    w.iam("DeleteLoginProfile", &[("UserName", "alice")]).await;
    assert_eq!(
        w.sign_in(ACCOUNT, "alice", PASSWORD).await,
        Err(SignInRefused::Refused)
    );
}

#[tokio::test]
async fn a_required_reset_or_an_expired_password_must_be_changed() {
    let w = world().await;
    w.user("alice", true).await;
    w.user("bob", false).await;
    let change = |r: Result<PasswordChangeOf, SignInRefused>| r.expect("signed in").1;
    assert_eq!(
        change(w.sign_in(ACCOUNT, "alice", PASSWORD).await),
        Some(PasswordChange::ResetRequired)
    );
    assert_eq!(change(w.sign_in(ACCOUNT, "bob", PASSWORD).await), None);

    w.iam("UpdateAccountPasswordPolicy", &[("MaxPasswordAge", "30")])
        .await;
    w.clock.advance(Duration::from_secs(29 * 86_400));
    assert_eq!(change(w.sign_in(ACCOUNT, "bob", PASSWORD).await), None);
    w.clock.advance(Duration::from_secs(86_400));
    assert_eq!(
        change(w.sign_in(ACCOUNT, "bob", PASSWORD).await),
        Some(PasswordChange::Expired)
    );

    // With HardExpiry only an administrator can let an expired user in again.
    w.iam(
        "UpdateAccountPasswordPolicy",
        &[("MaxPasswordAge", "30"), ("HardExpiry", "true")],
    )
    .await;
    assert_eq!(
        w.sign_in(ACCOUNT, "bob", PASSWORD).await,
        Err(SignInRefused::Refused)
    );
    w.iam(
        "UpdateLoginProfile",
        &[("UserName", "bob"), ("Password", "New-Horse-8")],
    )
    .await;
    assert_eq!(change(w.sign_in(ACCOUNT, "bob", "New-Horse-8").await), None);
    assert_eq!(
        w.sign_in(ACCOUNT, "bob", PASSWORD).await,
        Err(SignInRefused::Refused)
    );
}

/// How long a sign-in takes.
async fn timed(w: &World, user: &str, password: &str) -> Duration {
    let start = Instant::now();
    let _ = w.sign_in(ACCOUNT, user, password).await;
    start.elapsed()
}

#[tokio::test]
async fn an_unknown_user_takes_as_long_as_a_wrong_password() {
    let w = world().await;
    w.user("alice", false).await;
    // The least of several, taken in turns, so that other work on the machine slows both alike.
    let (mut wrong_password, mut no_user) = (Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        wrong_password = wrong_password.min(timed(&w, "alice", "Wrong-Horse-7").await);
        no_user = no_user.min(timed(&w, "nobody", "Wrong-Horse-7").await);
    }
    // Both run one Argon2id verification of the same cost (kinko-crypto checks the dummy hash's
    // parameters); without the dummy one an unknown user would answer in well under a
    // millisecond, a hundred times faster. The bound is loose and one-sided: on a busy machine
    // either side may be slowed, but neither can be much faster than one verification.
    assert!(
        no_user * 4 > wrong_password,
        "unknown user {no_user:?}, wrong password {wrong_password:?}"
    );
}
