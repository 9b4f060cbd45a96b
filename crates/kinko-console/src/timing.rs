//! The API calls of one console request, for its `Server-Timing` header: after the page's own
//! `app` entry, one entry per operation with how many calls it made and their summed time
//! (concurrent calls overlap, so the sum may exceed `app`). The browser's developer tools show
//! them; `kinko-bench console` reads only `app`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    /// Per operation: how many calls and their summed time, in call order.
    static CALLS: RefCell<Vec<(String, u32, Duration)>>;
}

/// Runs one console request, keeping the time of its calls.
pub(crate) async fn scope<F: Future>(f: F) -> (F::Output, String) {
    CALLS
        .scope(RefCell::new(Vec::new()), async {
            let out = f.await;
            (out, entries())
        })
        .await
}

/// Counts one call of `operation` that took `took` (nothing outside a console request).
pub(crate) fn record(operation: &str, took: Duration) {
    let _ = CALLS.try_with(|calls| {
        let mut calls = calls.borrow_mut();
        match calls.iter_mut().find(|(op, _, _)| op == operation) {
            Some((_, n, total)) => {
                *n += 1;
                *total += took;
            }
            None => calls.push((operation.to_owned(), 1, took)),
        }
    });
}

/// The entries after `app`, each starting with `, ` (operation names are tokens, as metric
/// names must be).
fn entries() -> String {
    CALLS
        .try_with(|calls| {
            let mut out = String::new();
            for (op, n, total) in calls.borrow().iter() {
                let plural = if *n == 1 { "call" } else { "calls" };
                let ms = total.as_secs_f64() * 1000.0;
                let _ = write!(out, ", {op};desc=\"{n} {plural}\";dur={ms:.1}");
            }
            out
        })
        .unwrap_or_default()
}
