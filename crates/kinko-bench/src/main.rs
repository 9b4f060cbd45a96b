//! `kinko-bench`: the load benchmark behind kinko's published figures.
//!
//! It starts `kinko server` on a fresh temporary data directory (durable
//! SQLite), seeds secrets with `CreateSecret`, then drives a closed-loop load
//! of `GetSecretValue`, `PutSecretValue`, `DescribeSecret` and `ListSecrets`
//! at several concurrency levels; on request also KMS `Encrypt`, `Decrypt`
//! and `GenerateDataKey` on a customer managed key with a conditional key
//! policy, and `GetSecretValue` of secrets under such a key. Each concurrent client owns one HTTP/1.1
//! keep-alive connection and signs every request with SigV4 exactly as an
//! AWS SDK does. As a ceiling, the same signed `GetSecretValue` load is sent
//! to `kinko-bench bare`, a server that answers byte-identical responses
//! without doing any work. Results are printed as a markdown table.
//!
//! ```text
//! kinko-bench --secrets 10000 --duration 10 --concurrency 1,16,64
//! kinko-bench --ops encrypt,decrypt,generate-data-key,get,get-cmk --concurrency 64
//! kinko-bench --endpoint http://127.0.0.1:4566 --access-key-id AK --secret-access-key SK --no-seed
//! kinko-bench bare --listen 127.0.0.1:0 --body-file response.json
//! kinko-bench agent --concurrency 64 --aws-agent /path/to/aws_secretsmanager_agent
//! kinko-bench audit-index --records 10000000
//! kinko-bench exec --runs 200
//! kinko-bench functions --runs 1000 --cold-runs 30
//! kinko-bench console --secrets 1000 --runs 100
//! kinko-bench instructions --baseline crates/kinko-bench/instructions.json
//! ```
//!
//! `kinko-bench agent` loads cache hits through `kinko agent` (and AWS's agent, side by side).

mod agent;
mod audit_index;
mod bare;
mod bench;
mod child;
mod cli;
mod client;
mod console;
mod cpu;
mod exec;
mod functions;
mod instructions;
mod load;
mod ops;
mod role;
mod setup;
mod signing;
mod stats;

use std::process::ExitCode;

use clap::Parser;

use crate::bench::Outcome;
use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Bare(args)) => runtime.block_on(bare::serve(args)).map(|()| Outcome::Clean),
        Some(Command::Agent(args)) => runtime.block_on(agent::run(args)),
        Some(Command::AuditIndex(args)) => audit_index::run(&args).map(|()| Outcome::Clean),
        Some(Command::Exec(args)) => runtime.block_on(exec::run(args)).map(|()| Outcome::Clean),
        Some(Command::Functions(args)) => runtime.block_on(functions::run(args)).map(|()| Outcome::Clean),
        Some(Command::Console(args)) => runtime.block_on(console::run(args)),
        Some(Command::Instructions(args)) => {
            instructions::run(&args).map(|ok| if ok { Outcome::Clean } else { Outcome::HadErrors })
        }
        None => runtime.block_on(bench::run(cli.bench)),
    };
    // Don't wait for tasks still blocked on sockets of stopped servers.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::HadErrors) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
