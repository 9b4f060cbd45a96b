//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ops::Op;

/// Closed-loop load benchmark for kinko, the AWS Secrets Manager compatible server.
///
/// By default it starts `kinko server` on a fresh temporary data directory,
/// seeds secrets, loads every operation at every concurrency level and
/// compares GetSecretValue with a bare HTTP server that verifies the SigV4
/// signature and answers the same bytes without doing any other work.
#[derive(Debug, Parser)]
#[command(name = "kinko-bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a canned response to every request whose SigV4 signature verifies (the floor of
    /// any authenticated API; without a secret access key, to every request).
    Bare(BareArgs),
    /// Cache hits through `kinko agent`, and through the AWS Secrets Manager Agent side by side.
    Agent(AgentArgs),
    /// Time LookupEvents' index over a generated audit trail of N records.
    AuditIndex(crate::audit_index::AuditIndexArgs),
    /// Time `kinko exec --role ROLE -- true` against plain `true` on a warm server: what
    /// `kinko exec` adds to a command's start.
    Exec(ExecArgs),
    /// Time Lambda invocations of trivial Python and Node functions, warm and cold.
    Functions(FunctionsArgs),
    /// Time every page type of the web console (server time from `Server-Timing`, and wall
    /// time) with many secrets and users; fails when a page's p99 server time is over budget.
    Console(ConsoleArgs),
    /// Count instructions per GetSecretValue, PutSecretValue, Decrypt and AssumeRole with
    /// valgrind's callgrind, in process; with --baseline, fail on more than --tolerance percent
    /// above the committed figures.
    Instructions(crate::instructions::InstructionsArgs),
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Path of the kinko binary to start.
    #[arg(long, default_value = "target/release/kinko")]
    pub kinko: PathBuf,

    /// Secrets to create before the pages are requested.
    #[arg(long, default_value_t = 1000)]
    pub secrets: usize,

    /// IAM users to create (each with a policy attached; a policy per two users).
    #[arg(long, default_value_t = 100)]
    pub users: usize,

    /// Measured requests of each page type.
    #[arg(long, default_value_t = 100)]
    pub runs: usize,

    /// Unmeasured requests of each page type first.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,

    /// The most a page's p99 server time may be, in milliseconds (exit status 1 beyond it).
    #[arg(long, default_value_t = 20.0)]
    pub budget_ms: f64,

    /// Also print each page's last `Server-Timing` header (its API calls and their times).
    #[arg(long)]
    pub show_timing: bool,
}

#[derive(Debug, Args)]
pub struct FunctionsArgs {
    /// Path of the kinko binary to start.
    #[arg(long, default_value = "target/release/kinko")]
    pub kinko: PathBuf,

    /// Measured warm invocations of each function.
    #[arg(long, default_value_t = 1000)]
    pub runs: usize,

    /// Unmeasured warm invocations of each function first.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,

    /// Measured cold invocations of each function (each after a configuration change).
    #[arg(long, default_value_t = 30)]
    pub cold_runs: usize,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Path of the kinko binary to start and to run `kinko exec` with.
    #[arg(long, default_value = "target/release/kinko")]
    pub kinko: PathBuf,

    /// Measured runs of each command (alternating).
    #[arg(long, default_value_t = 200)]
    pub runs: usize,

    /// Unmeasured runs of each command first.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Path of the kinko binary to start.
    #[arg(long, default_value = "target/release/kinko")]
    pub kinko: PathBuf,

    /// Number of secrets to seed (named bench-0 .. bench-N-1, under aws/secretsmanager).
    #[arg(long, default_value_t = 10_000)]
    pub secrets: usize,

    /// Number of secrets get-cmk reads (named bench-cmk-0 .., under the customer managed key
    /// alias/kinko-bench-secrets); default: as many as --secrets, so that get-cmk and get compare
    /// like for like. Seeded only when get-cmk is among --ops.
    #[arg(long)]
    pub cmk_secrets: Option<usize>,

    /// Measured seconds per (operation, concurrency) run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Unmeasured warm-up seconds before each run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,

    /// Concurrency levels: number of keep-alive connections, one request in flight each.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,

    /// Operations to load, in this order. Besides the default ones: encrypt, decrypt,
    /// generate-data-key (KMS, on the customer managed key alias/kinko-bench) and get-cmk.
    #[arg(long, value_delimiter = ',', default_value = "get,put,describe,list")]
    pub ops: Vec<Op>,

    /// Region used in the SigV4 credential scope.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// Keep the temporary directory (data dir, server logs) instead of removing it.
    #[arg(long)]
    pub keep: bool,

    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Before the runs, read every secret that get or get-cmk reads once (GetSecretValue), so
    /// that the runs measure repeated reads: the first read of a secret each day also notes
    /// its LastAccessedDate (written in the background within --access-date-delay).
    #[arg(long)]
    pub pre_read: bool,

    /// Seed each secret with the tag `team` = `team-{index % 1000}` (what list-tag filters on).
    #[arg(long)]
    pub seed_tags: bool,

    /// Who signs the loads' requests: the root user (the bootstrap credentials), or a session
    /// of an IAM role with five attached policies allowing GetSecretValue on conditions
    /// (assumed by an IAM user the benchmark creates; seeding is done as the root user). The
    /// bare server then checks the session's signatures.
    #[arg(long, value_enum, default_value_t = Caller::Root, conflicts_with = "endpoint")]
    pub caller: Caller,

    /// Concurrent CreateSecret requests while seeding.
    #[arg(long, default_value_t = 64)]
    pub seed_concurrency: usize,

    /// Also start a second kinko whose audit records are buffered (`--audit-durability
    /// buffered`, written every 50 ms without fsync), seed it alike, and run GetSecretValue
    /// against it after each durable run: the report compares durable with buffered audit.
    #[arg(long, conflicts_with = "endpoint")]
    pub compare_audit: bool,

    /// Also start kinko on PostgreSQL, one node and then two nodes sharing one database, seed each
    /// alike and run every operation against them beside the SQLite server: the two nodes share
    /// the load (half the connections each) and their CPU is summed. The database is --postgres.
    #[arg(long, conflicts_with = "endpoint")]
    pub compare_stores: bool,

    /// The PostgreSQL database for --compare-stores (default: KINKO_TEST_POSTGRES_URL). Each
    /// deployment works in a scratch schema of its own, dropped at the end.
    #[arg(
        long,
        env = "KINKO_BENCH_POSTGRES_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub postgres: Option<String>,

    /// Connections each PostgreSQL node may open (the URL's pool_size); PostgreSQL's
    /// max_connections is shared with whatever else uses the database.
    #[arg(long, default_value_t = 16)]
    pub postgres_pool_size: usize,

    /// Skip the bare-server ceiling runs.
    #[arg(long)]
    pub no_bare: bool,

    /// Load an already running server instead of starting one (http://HOST:PORT).
    #[arg(long, requires_all = ["access_key_id", "secret_access_key"])]
    pub endpoint: Option<String>,

    /// Access key id for --endpoint.
    #[arg(long, requires = "endpoint")]
    pub access_key_id: Option<String>,

    /// Secret access key for --endpoint.
    #[arg(long, requires = "endpoint")]
    pub secret_access_key: Option<String>,

    /// Session token for --endpoint (temporary credentials).
    #[arg(long, requires = "endpoint")]
    pub session_token: Option<String>,

    /// With --endpoint: the server's process id on this machine, to report its CPU use.
    #[arg(long, requires = "endpoint")]
    pub server_pid: Option<u32>,

    /// With --endpoint: don't seed, the secrets bench-0 .. bench-N-1 (and for get-cmk
    /// bench-cmk-0 ..) and the keys alias/kinko-bench and alias/kinko-bench-secrets already exist.
    #[arg(long, requires = "endpoint")]
    pub no_seed: bool,
}

/// Who signs the loads' requests (`--caller`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Caller {
    /// The account's root user.
    Root,
    /// A session of an IAM role with five attached policies.
    Role,
}

impl BenchArgs {
    /// The database for --compare-stores: --postgres (or KINKO_BENCH_POSTGRES_URL), else
    /// KINKO_TEST_POSTGRES_URL.
    pub fn postgres_url(&self) -> Option<String> {
        self.postgres
            .clone()
            .or_else(|| std::env::var("KINKO_TEST_POSTGRES_URL").ok())
            .filter(|url| !url.is_empty())
    }

    /// Number of secrets under the customer managed key (`--cmk-secrets`, else `--secrets`).
    pub fn cmk_secrets(&self) -> usize {
        self.cmk_secrets.unwrap_or(self.secrets)
    }
}

#[derive(Debug, Args)]
pub struct BareArgs {
    /// Loopback address to listen on (port 0 lets the OS pick one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// File whose content is the body of every response.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<PathBuf>,

    /// Value of the x-amzn-RequestId response header.
    #[arg(long)]
    pub request_id: Option<String>,

    /// Verify every request's SigV4 signature as made with this access key, whose secret is in
    /// the environment variable KINKO_BENCH_BARE_SECRET_ACCESS_KEY.
    #[arg(long, value_name = "AKID")]
    pub access_key_id: Option<String>,

    /// Exit when standard input reaches end of file (set when started by the benchmark).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Path of the kinko binary (its server and its agent are started).
    #[arg(long, default_value = "target/release/kinko")]
    pub kinko: PathBuf,

    /// The AWS Secrets Manager Agent's binary (`aws_secretsmanager_agent`, built from its source),
    /// loaded side by side in the same run.
    #[arg(long, value_name = "PATH")]
    pub aws_agent: Option<PathBuf>,

    /// Measured seconds per (agent, concurrency) run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Unmeasured warm-up seconds before each run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,

    /// Concurrency levels: number of keep-alive connections, one request in flight each.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pub concurrency: Vec<usize>,
}
