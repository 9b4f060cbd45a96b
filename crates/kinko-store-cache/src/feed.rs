//! Shared mode: before serving from the cache, apply every change other processes committed
//! before the read began, read from the backend's change feed ([`Store::changes_since`]).
//!
//! Concurrent readers share feed queries: one query runs at a time, and a reader waits for the
//! first query that *started after it arrived*. A query already running when it arrives may have
//! begun before a change that was committed just before the reader did, so it is not enough; the
//! next one is, since it sees every commit that came before it started. Under load that is one
//! query per round for all readers, each waiting at most for the one in flight and its successor.
//!
//! # Commit wait: reads without a query
//!
//! A query is not needed at all while the latest applied one was *sent* less than `window` ago,
//! because every write through this layer waits `commit_wait` (longer than `window`) after its
//! commit before it returns (see the crate docs). A change acknowledged before a read began was
//! committed at least `commit_wait` before the read; a query sent less than `window` before the
//! read was therefore sent after that commit, and its answer (applied before the read looks at
//! the cache) holds the change. The two durations are measured on different machines' monotonic
//! clocks, so the margin between them covers their rates differing (by far less than the margin);
//! a machine suspended while a query is fresh would break it, as it would any lease.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use kinko_core::store::{ChangedKey, Changes, Store, StoreError};
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Default)]
struct State {
    /// The feed position every change up to which has been applied.
    applied: u64,
    /// Queries started so far; the running one (if any) is number `started`.
    started: u64,
    running: bool,
    /// The number of the latest query that succeeded (its changes are applied).
    succeeded: u64,
    /// When the latest query that succeeded was sent.
    fresh_as_of: Option<Instant>,
}

pub(crate) struct Feed {
    state: Mutex<State>,
    /// How long after an applied query was sent reads may rely on it without a new one.
    window: Duration,
    /// The number of the latest query that ended, successfully or not.
    ended: watch::Sender<u64>,
}

/// What applying a query's result must do to the cache.
pub(crate) enum Apply<'a> {
    Keys(&'a [ChangedKey]),
    ClearAll,
}

enum Step {
    Done,
    Wait(u64),
    Run { number: u64, since: u64 },
}

/// Ends a query's turn even when the reader that ran it goes away mid-query (its future dropped):
/// otherwise the next readers would wait forever.
struct Turn<'a> {
    feed: &'a Feed,
    number: u64,
    sent: Instant,
    outcome: Option<u64>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        {
            let mut st = self.feed.lock();
            st.running = false;
            if let Some(seq) = self.outcome {
                st.applied = st.applied.max(seq);
                st.succeeded = self.number;
                st.fresh_as_of = Some(st.fresh_as_of.map_or(self.sent, |t| t.max(self.sent)));
            }
        }
        self.feed.ended.send_replace(self.number);
    }
}

impl Feed {
    /// `window`: how long an applied query serves reads without a new one (zero: never).
    pub fn new(window: Duration) -> Self {
        Feed {
            state: Mutex::new(State::default()),
            window,
            ended: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once every change committed before the call has been passed to `apply`; `true`
    /// when this call ran the feed query itself.
    pub async fn catch_up<S: Store + ?Sized>(
        &self,
        store: &S,
        apply: impl Fn(Apply<'_>),
    ) -> Result<bool, StoreError> {
        let arrived = Instant::now();
        let needed = {
            let st = self.lock();
            if st
                .fresh_as_of
                .is_some_and(|sent| arrived.saturating_duration_since(sent) < self.window)
            {
                return Ok(false);
            }
            // The first query that can serve this call is the next one to start.
            st.started + 1
        };
        let mut ended = self.ended.subscribe();
        loop {
            let step = {
                let mut st = self.lock();
                if st.succeeded >= needed {
                    Step::Done
                } else if st.running {
                    Step::Wait(st.started)
                } else {
                    st.running = true;
                    st.started += 1;
                    Step::Run {
                        number: st.started,
                        since: st.applied,
                    }
                }
            };
            match step {
                Step::Done => return Ok(false),
                Step::Wait(running) => {
                    // The sender lives as long as `self`: this only ends when the query does.
                    let _ = ended.wait_for(|n| *n >= running).await;
                }
                Step::Run { number, since } => {
                    let mut turn = Turn {
                        feed: self,
                        number,
                        sent: Instant::now(),
                        outcome: None,
                    };
                    let (seq, changes) = store.changes_since(since).await?;
                    match &changes {
                        Changes::Keys(keys) => apply(Apply::Keys(keys)),
                        Changes::Truncated => apply(Apply::ClearAll),
                    }
                    turn.outcome = Some(seq);
                    return Ok(true);
                }
            }
        }
    }
}
