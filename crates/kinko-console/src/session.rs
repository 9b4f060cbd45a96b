//! Server-side console sessions: the cookie holds a random id only; who is signed in, the CSRF
//! token and the timestamps live here. A session ends at sign-out, after `idle` without a request,
//! or `absolute` after sign-in, whichever comes first; a sign-in always makes a new id.
//!
//! Sessions are kept in the node's memory, bounded: at most [`MAX_ANONYMOUS`] that nobody signed in
//! to (each sign-in page made one, for its CSRF token), the oldest dropped first, so that a flood of
//! page loads never pushes out signed-in users; and at most [`MAX_SESSIONS`] in all, the least
//! recently used dropped first. With several nodes behind one address, route a browser to the same node
//! (sticky sessions), or it is asked to sign in again on another. A restart signs everyone out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use kinko_core::principal::Principal;

/// Most sessions kept at once (signed in or signing in); the least recently used go first.
pub const MAX_SESSIONS: usize = 100_000;
/// Most sessions nobody has signed in to; the oldest go first.
pub const MAX_ANONYMOUS: usize = 10_000;

/// Who a session is signed in as.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub principal: Principal,
    /// The session the principal's requests carry: `None` for a user or the root user signed in
    /// with a password; a role session after "switch role".
    pub session: Option<kinko_api::Session>,
    /// The account the user signed in to, as typed (an id or an alias), shown in the header.
    pub account_label: String,
    /// The identity that signed in, kept across "switch role" to switch back.
    pub signed_in_as: Principal,
    /// The user must set a new password (ChangePassword) before anything else: an administrator
    /// asked for it (`PasswordResetRequired`) or the password is older than the policy allows.
    pub must_change_password: bool,
    /// When the user proved an MFA code at sign-in: their requests then carry
    /// `aws:MultiFactorAuthPresent` and `aws:MultiFactorAuthAge`, as AWS console sessions do.
    pub mfa_authenticated: Option<kinko_core::Timestamp>,
}

/// A sign-in whose password was right, waiting for the user's MFA code.
#[derive(Debug, Clone)]
pub struct PendingMfa {
    /// Who signs in once the code is proved.
    pub who: SignedIn,
    /// The rate limiter's key of the account and user name as typed.
    pub user_key: String,
    /// When the password was accepted: the code must follow within [`PENDING_MFA`].
    pub since: Instant,
}

/// How long a sign-in waits for its MFA code after the password.
pub const PENDING_MFA: Duration = Duration::from_secs(5 * 60);

/// A virtual MFA device being assigned on a user's page: made (CreateVirtualMFADevice), not yet
/// enabled. Its QR code and secret key are shown again until it is, and only to this session.
#[derive(Clone)]
pub struct MfaSetup {
    /// The user it is for; `None`: the signed-in root user itself.
    pub user_name: Option<String>,
    pub serial_number: String,
    pub base32_seed: zeroize::Zeroizing<String>,
    pub qr_png: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for MfaSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaSetup")
            .field("user_name", &self.user_name)
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

/// One browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The synchronizer token every form of the session carries.
    pub csrf: String,
    pub signed_in: Option<SignedIn>,
    /// A message for the next page (after a redirect): (is an error, text).
    pub flash: Option<(bool, String)>,
    /// A sign-in waiting for its MFA code.
    pub pending_mfa: Option<PendingMfa>,
    /// An MFA device being assigned.
    pub mfa_setup: Option<MfaSetup>,
    created: Instant,
    last_seen: Instant,
}

/// The sessions of this node.
pub struct Sessions {
    inner: Mutex<Inner>,
    idle: Duration,
    absolute: Duration,
    max_anonymous: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<[u8; 32], Session>,
    /// The sessions made, oldest first, at most `max_anonymous`: those still nobody's are dropped
    /// from the front when more come.
    made: VecDeque<[u8; 32]>,
}

/// A new random id (256 bits), as the cookie carries it.
fn new_id() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    B64URL.encode(bytes)
}

/// A session is found by the SHA-256 of its id: the map never holds what the cookie does.
fn key(id: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl Sessions {
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        Self::with_anonymous_limit(idle, absolute, MAX_ANONYMOUS)
    }

    fn with_anonymous_limit(idle: Duration, absolute: Duration, max_anonymous: usize) -> Self {
        Sessions {
            inner: Mutex::new(Inner::default()),
            idle,
            absolute,
            max_anonymous,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session (nobody signed in yet); its id.
    pub fn create(&self) -> (String, Session) {
        let now = Instant::now();
        let session = Session {
            csrf: new_id(),
            signed_in: None,
            flash: None,
            pending_mfa: None,
            mfa_setup: None,
            created: now,
            last_seen: now,
        };
        let id = new_id();
        let k = key(&id);
        let mut inner = self.lock();
        inner.made.push_back(k);
        while inner.made.len() > self.max_anonymous {
            if let Some(old) = inner.made.pop_front()
                && inner.map.get(&old).is_some_and(|s| s.signed_in.is_none())
            {
                inner.map.remove(&old);
            }
        }
        let map = &mut inner.map;
        if map.len() >= MAX_SESSIONS {
            let (idle, absolute) = (self.idle, self.absolute);
            map.retain(|_, s| !expired(s, now, idle, absolute));
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        map.insert(k, session.clone());
        (id, session)
    }

    /// The live session `id` names, touched (its idle time starts again); an expired one is
    /// removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let k = key(id);
        let mut inner = self.lock();
        let session = inner.map.get_mut(&k)?;
        if expired(session, now, self.idle, self.absolute) {
            inner.map.remove(&k);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Changes the session `id` with `f`; false when it is gone.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Session)) -> bool {
        match self.lock().map.get_mut(&key(id)) {
            Some(session) => {
                f(session);
                true
            }
            None => false,
        }
    }

    /// Signs `who` in: the old session (if any) ends and a new one, with a new id and CSRF token,
    /// starts; its id.
    pub fn sign_in(&self, old: Option<&str>, who: SignedIn) -> String {
        if let Some(old) = old {
            self.end(old);
        }
        let (id, _) = self.create();
        self.update(&id, |s| s.signed_in = Some(who));
        id
    }

    /// Ends the session `id`.
    pub fn end(&self, id: &str) {
        self.lock().map.remove(&key(id));
    }

    /// The message left for the next page, taken.
    pub fn take_flash(&self, id: &str) -> Option<(bool, String)> {
        let mut flash = None;
        self.update(id, |s| flash = s.flash.take());
        flash
    }
}

fn expired(s: &Session, now: Instant, idle: Duration, absolute: Duration) -> bool {
    now.duration_since(s.last_seen) > idle || now.duration_since(s.created) > absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_too_long() {
        let sessions = Sessions::new(Duration::from_millis(30), Duration::from_secs(60));
        let (id, _) = sessions.create();
        assert!(sessions.get(&id).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn a_session_ends_at_its_absolute_limit_even_when_used() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_millis(50));
        let (id, _) = sessions.create();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(20));
            let _ = sessions.get(&id);
        }
        std::thread::sleep(Duration::from_millis(30));
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn a_flood_of_sign_in_pages_drops_the_oldest_anonymous_sessions_never_a_signed_in_one() {
        let sessions = Sessions::with_anonymous_limit(Duration::from_secs(60), Duration::from_secs(60), 5);
        let who = SignedIn {
            principal: Principal::root("123456789012"),
            session: None,
            account_label: "123456789012".into(),
            signed_in_as: Principal::root("123456789012"),
            must_change_password: false,
            mfa_authenticated: None,
        };
        let (first, _) = sessions.create();
        let signed_in = sessions.sign_in(None, who);
        let made: Vec<String> = (0..20).map(|_| sessions.create().0).collect();
        assert!(
            sessions.get(&signed_in).is_some(),
            "a signed-in session was dropped"
        );
        assert!(sessions.get(&first).is_none());
        assert!(sessions.get(&made[0]).is_none());
        assert!(made[15..].iter().all(|id| sessions.get(id).is_some()));
    }

    #[test]
    fn signing_in_makes_a_new_id_and_ends_the_old_one() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(60));
        let (old, before) = sessions.create();
        let who = SignedIn {
            principal: Principal::root("123456789012"),
            session: None,
            account_label: "123456789012".into(),
            signed_in_as: Principal::root("123456789012"),
            must_change_password: false,
            mfa_authenticated: None,
        };
        let new = sessions.sign_in(Some(&old), who);
        assert_ne!(old, new);
        assert!(sessions.get(&old).is_none());
        let after = sessions.get(&new).expect("the new session");
        assert_ne!(after.csrf, before.csrf);
        assert!(after.signed_in.is_some());
    }
}
