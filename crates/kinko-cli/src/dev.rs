//! `kinko dev`: tools for a server in `--dev` mode, for people testing their own code against it.
//!
//! `kinko dev clock advance DURATION` (`7d`, `36h`, `90m`, `30s`) moves the running dev server's
//! clock forward, so recovery windows, rotation schedules, key deletions and credential expiry
//! can be tried in seconds. It is the server's `Kinko.AdvanceClock` operation on its main
//! listener, signed with the caller's credentials from the default chain (environment, profile):
//! the server accepts it from the account's root user only, and refuses it unless it runs with
//! `--dev` (a dev server may have no data dir, so no admin socket; see `kinko_api::kinko`).

use std::process::ExitCode;

use serde_json::json;

#[derive(clap::Args)]
pub struct DevArgs {
    /// The kinko endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:8780).
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// Region to sign for (default: the caller's configured region, else us-east-1).
    #[arg(long, global = true)]
    region: Option<String>,
    #[command(subcommand)]
    command: DevCommand,
}

#[derive(clap::Subcommand)]
enum DevCommand {
    /// The dev server's clock.
    #[command(subcommand)]
    Clock(ClockCommand),
}

#[derive(clap::Subcommand)]
enum ClockCommand {
    /// Move the clock forward by DURATION: a whole number and d, h, m or s (7d, 36h, 90m). It
    /// never moves back; background jobs (purges, rotations) see the new time at their next run.
    Advance { duration: String },
}

pub async fn run(args: DevArgs) -> ExitCode {
    match args.command {
        DevCommand::Clock(ClockCommand::Advance { duration }) => {
            crate::attachment::call_kinko(
                args.endpoint.as_deref(),
                args.region.as_deref(),
                "AdvanceClock",
                &json!({"Duration": duration}),
            )
            .await
        }
    }
}
