//! The `kinko` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use kinko_server::Config;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "kinko",
    version,
    about = "A self-hosted secrets manager that speaks the AWS APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Server(ServerArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8780")]
    listen: SocketAddr,
    /// Directory holding the database and, by default, the root key.
    #[arg(long, default_value = "kinko-data")]
    data_dir: PathBuf,
    /// Keep nothing on disk; account 000000000000, root credentials test / test.
    #[arg(long)]
    dev: bool,
    /// Root key file (default DATA_DIR/root.key). Created with a new data dir if absent.
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// Audit log file, JSON lines (default DATA_DIR/audit.log; none in --dev). `-` for stdout.
    #[arg(long)]
    audit_log: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn run_server(args: ServerArgs) -> ExitCode {
    let config = Config {
        listen: args.listen,
        data_dir: args.data_dir,
        dev: args.dev,
        root_key_file: args.root_key_file,
        root_key_base64: env("KINKO_ROOT_KEY").map(Zeroizing::new),
        account_id: env("KINKO_ACCOUNT_ID"),
        root_access_key_id: env("KINKO_ROOT_ACCESS_KEY_ID"),
        root_secret_access_key: env("KINKO_ROOT_SECRET_ACCESS_KEY").map(Zeroizing::new),
        audit_log: args.audit_log,
        ..Config::default()
    };
    let dev = config.dev;
    let generated_creds = !dev && config.root_access_key_id.is_none();
    let data_dir = config.data_dir.clone();
    let running = match kinko_server::start(config, Arc::new(kinko_core::SystemClock)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko: {e}");
            return ExitCode::FAILURE;
        }
    };
    let creds = running.root_credentials();
    if dev {
        println!(
            "kinko dev mode: nothing is kept on disk. Account {}, root credentials: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
            running.account_id(),
            creds.access_key_id,
            creds.secret_access_key.as_str()
        );
    } else if creds.known && generated_creds {
        println!(
            "kinko created data dir {} for account {}. Root credentials (shown once, also in {}):\n  AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}",
            data_dir.display(),
            running.account_id(),
            data_dir.join("root-credentials").display(),
            creds.access_key_id,
            creds.secret_access_key.as_str()
        );
    }
    println!("kinko listening on http://{}", running.local_addr());
    wait_for_signal().await;
    tracing::info!("shutting down");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kinko: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINKO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Server(args) => runtime.block_on(run_server(args)),
    }
}
