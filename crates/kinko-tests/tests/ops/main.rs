//! Operability, over HTTP as operators' tools use it: `/metrics` scraped after real SDK calls
//! (requests, latency, the store cache, audit writes, background jobs), where it is served
//! (`--metrics-listen`), `/health` and `/ready`; HTTPS (`--tls-cert`, `--tls-key`).
//!
//! Every test counts on exact figures, so each runs a server of its own.

mod health;
mod metrics;
mod tls;
