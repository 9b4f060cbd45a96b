//! Built-in rotation functions: PostgreSQL and MySQL/MariaDB passwords rotated by kinko itself,
//! for people who would rather not deploy AWS's Python functions.
//!
//! They behave as AWS's published functions do (aws-samples/aws-secrets-manager-rotation-lambdas),
//! step for step: the same secret JSON (`engine`, `host`, `port`, `username`, `password`, `dbname`,
//! `masterarn`, `ssl`), the same checks and error texts, the same calls to Secrets Manager, made
//! through the AWS SDK under the function's execution role (so its policies decide, as for any
//! function), and passwords from GetRandomPassword with the same environment variables
//! (`EXCLUDE_CHARACTERS`, `PASSWORD_LENGTH`, `EXCLUDE_NUMBERS`, `EXCLUDE_PUNCTUATION`,
//! `EXCLUDE_UPPERCASE`, `EXCLUDE_LOWERCASE`, `REQUIRE_EACH_INCLUDED_TYPE`).
//!
//! - **Single user** (`...SingleUser`): createSecret stages a new password for the same user;
//!   setSecret logs in with the current (or previous) password and changes the user's own.
//! - **Alternating users** (`...MultiUser`): createSecret stages the other user of the pair
//!   (`user` / `user_clone`) with a new password; setSecret logs in with the administrator's
//!   secret (`masterarn`), creates the clone with the user's grants the first time, and sets the
//!   other user's password, so the user applications hold now keeps working.
//! - testSecret logs in with the pending secret and runs `SELECT NOW()`; finishSecret moves
//!   `AWSCURRENT` to the new version.
//!
//! What AWS's functions do that these do not: they look up RDS (read replicas, RDS-managed
//! master secrets holding only `username` and `password`); kinko has no RDS, so a master secret
//! needs the same keys as any (`host`, `engine`, ...), and its host must be the user's.
//!
//! Choice where AWS's functions differ: the MySQL alternating-users function does not check the
//! clone's name length; here a MySQL clone name longer than MySQL's 32 characters is refused
//! before anything changes, as the MariaDB (80) and PostgreSQL (63) functions refuse theirs.

mod db;

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde_json::{Map, Value};

pub use db::Engine;

/// A secret's value, as the functions read it.
type Dict = Map<String, Value>;

const AWSCURRENT: &str = "AWSCURRENT";
const AWSPENDING: &str = "AWSPENDING";
const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// How a rotator changes passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One user, whose own password changes.
    SingleUser,
    /// Two users (`name` and `name_clone`) taking turns; the administrator's secret changes the
    /// other one's password.
    AlternatingUsers,
}

/// One of the built-in rotators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotator {
    pub engine: Engine,
    pub strategy: Strategy,
}

/// Why a step failed: the error document's `errorType` and `errorMessage`, named as AWS's
/// functions' Python exceptions are (`ValueError`, `KeyError`, `ResourceNotFoundException`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error_type: String,
    pub message: String,
}

impl Failure {
    fn value(message: String) -> Self {
        Failure {
            error_type: "ValueError".to_owned(),
            message,
        }
    }

    fn key(message: String) -> Self {
        Failure {
            error_type: "KeyError".to_owned(),
            message,
        }
    }

    /// A failed call to Secrets Manager, as boto3 reports it: the modeled exception's name (or
    /// `ClientError`) and `An error occurred (CODE) when calling the OP operation: MESSAGE`.
    fn call<E, R>(operation: &str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match error.code() {
            Some(code) => {
                const MODELED: [&str; 9] = [
                    "ResourceNotFoundException",
                    "InvalidParameterException",
                    "InvalidRequestException",
                    "DecryptionFailure",
                    "InternalServiceError",
                    "LimitExceededException",
                    "EncryptionFailure",
                    "ResourceExistsException",
                    "MalformedPolicyDocumentException",
                ];
                Failure {
                    error_type: if MODELED.contains(&code) {
                        code
                    } else {
                        "ClientError"
                    }
                    .to_owned(),
                    message: format!(
                        "An error occurred ({code}) when calling the {operation} operation: {}",
                        error.message().unwrap_or_default()
                    ),
                }
            }
            None => Failure {
                error_type: "EndpointConnectionError".to_owned(),
                message: format!(
                    "Could not call the {operation} operation: {}",
                    DisplayErrorContext(error)
                ),
            },
        }
    }

    fn is_not_found(&self) -> bool {
        self.error_type == "ResourceNotFoundException"
    }
}

/// What a step logs: the lines AWS's functions log, which the invocation's log tail shows.
#[derive(Debug, Default)]
pub struct Log {
    lines: Vec<String>,
}

impl Log {
    fn info(&mut self, line: String) {
        tracing::debug!(target: "kinko::rotator", "{line}");
        self.lines.push(format!("[INFO]\t{line}"));
    }

    fn error(&mut self, line: String) {
        tracing::debug!(target: "kinko::rotator", "{line}");
        self.lines.push(format!("[ERROR]\t{line}"));
    }

    /// The lines logged, one per line.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.lines {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }
}

/// What one invocation runs with.
pub struct Invocation<'a> {
    /// A Secrets Manager client with the execution role's credentials.
    pub client: &'a Client,
    /// The function's environment variables (password rules).
    pub environment: &'a BTreeMap<String, String>,
    /// The event, as Secrets Manager sends it: `{Step, SecretId, ClientRequestToken}`.
    pub event: &'a [u8],
}

impl Rotator {
    /// The rotator named `name`, one of [`kinko_core::function::BUILTIN_ROTATORS`]
    /// (`PostgreSQLSingleUser`, `MySQLMultiUser`, ...).
    pub fn named(name: &str) -> Option<Self> {
        let (engine, strategy) = match name {
            "PostgreSQLSingleUser" => (Engine::PostgreSql, Strategy::SingleUser),
            "PostgreSQLMultiUser" => (Engine::PostgreSql, Strategy::AlternatingUsers),
            "MySQLSingleUser" => (Engine::MySql, Strategy::SingleUser),
            "MySQLMultiUser" => (Engine::MySql, Strategy::AlternatingUsers),
            "MariaDBSingleUser" => (Engine::MariaDb, Strategy::SingleUser),
            "MariaDBMultiUser" => (Engine::MariaDb, Strategy::AlternatingUsers),
            _ => return None,
        };
        Some(Rotator { engine, strategy })
    }

    /// Runs one step of a rotation, as AWS's function's `lambda_handler` does.
    pub async fn handle(&self, invocation: Invocation<'_>, log: &mut Log) -> Result<(), Failure> {
        let event: Value = serde_json::from_slice(invocation.event)
            .map_err(|e| Failure::value(format!("The event is not JSON: {e}")))?;
        let field = |name: &str| {
            event
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Failure::key(format!("'{name}'")))
        };
        let arn = field("SecretId")?;
        let token = field("ClientRequestToken")?;
        let step = field("Step")?;
        let run = Run {
            rotator: *self,
            sm: invocation.client,
            environment: invocation.environment,
            arn,
            token,
            log,
        };
        run.handle(&step).await
    }
}

/// A Secrets Manager client for a function's invocation: the execution role's `credentials`,
/// the function's region, and `endpoint` (an `https://` one trusted through the PEM
/// certificates of `ca_bundle` when given, else the system's roots).
pub fn client(
    credentials: &kinko_core::function::RoleCredentials,
    region: &str,
    endpoint: &str,
    ca_bundle: Option<&std::path::Path>,
) -> Result<Client, String> {
    let credentials = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        Some(credentials.session_token.clone()),
        // The invocation is short; a dev server's moved clock would make the expiration look
        // distant or past to the SDK, which judges it by the system's.
        None,
        "kinko-execution-role",
    );
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials);
    if let Some(path) = ca_bundle {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        config = config.http_client(https_client_trusting(pem)?);
    }
    Ok(Client::from_conf(config.build()))
}

/// An HTTPS client for the AWS SDK that trusts the PEM certificates `pem` (an `AWS_CA_BUNDLE`)
/// instead of the system's roots.
pub fn https_client_trusting(
    pem: Vec<u8>,
) -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, String> {
    use aws_smithy_http_client::tls;
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// One invocation's state.
struct Run<'a> {
    rotator: Rotator,
    sm: &'a Client,
    environment: &'a BTreeMap<String, String>,
    arn: String,
    token: String,
    log: &'a mut Log,
}

impl Run<'_> {
    async fn handle(mut self, step: &str) -> Result<(), Failure> {
        let (arn, token) = (self.arn.clone(), self.token.clone());
        let metadata = self
            .sm
            .describe_secret()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| Failure::call("DescribeSecret", &e))?;
        if metadata.rotation_enabled() == Some(false) {
            self.log
                .error(format!("Secret {arn} is not enabled for rotation"));
            return Err(Failure::value(format!(
                "Secret {arn} is not enabled for rotation"
            )));
        }
        let stages = metadata
            .version_ids_to_stages()
            .and_then(|versions| versions.get(&token))
            .ok_or_else(|| {
                Failure::value(format!(
                    "Secret version {token} has no stage for rotation of secret {arn}."
                ))
            })?;
        if stages.iter().any(|s| s == AWSCURRENT) {
            self.log.info(format!(
                "Secret version {token} already set as AWSCURRENT for secret {arn}."
            ));
            return Ok(());
        }
        if !stages.iter().any(|s| s == AWSPENDING) {
            return Err(Failure::value(format!(
                "Secret version {token} not set as AWSPENDING for rotation of secret {arn}."
            )));
        }
        match step {
            "createSecret" => self.create_secret().await,
            "setSecret" => self.set_secret().await,
            "testSecret" => self.test_secret().await,
            "finishSecret" => self.finish_secret().await,
            _ => Err(Failure::value(format!(
                "Invalid step parameter {step} for secret {arn}"
            ))),
        }
    }

    /// Stages the new secret (a new password; for alternating users, the other user) as
    /// `AWSPENDING` with the rotation's token, unless it is already there.
    async fn create_secret(&mut self) -> Result<(), Failure> {
        let mut current = self.secret_dict(&self.arn.clone(), AWSCURRENT).await?;
        match self.pending().await {
            Ok(_) => {
                self.log.info(format!(
                    "createSecret: Successfully retrieved secret for {}.",
                    self.arn
                ));
                return Ok(());
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        if self.rotator.strategy == Strategy::AlternatingUsers {
            let alternate = self.alternate_username(&text(&current, "username"))?;
            current.insert("username".to_owned(), Value::String(alternate));
        }
        let password = self.random_password().await?;
        current.insert("password".to_owned(), Value::String(password));
        let value = serde_json::to_string(&current).unwrap_or_default();
        self.sm
            .put_secret_value()
            .secret_id(&self.arn)
            .client_request_token(&self.token)
            .secret_string(value)
            .version_stages(AWSPENDING)
            .send()
            .await
            .map_err(|e| Failure::call("PutSecretValue", &e))?;
        self.log.info(format!(
            "createSecret: Successfully put secret for ARN {} and version {}.",
            self.arn, self.token
        ));
        Ok(())
    }

    /// Makes the pending secret's password the database user's.
    async fn set_secret(&mut self) -> Result<(), Failure> {
        match self.rotator.strategy {
            Strategy::SingleUser => self.set_single_user().await,
            Strategy::AlternatingUsers => self.set_alternating_users().await,
        }
    }

    async fn set_single_user(&mut self) -> Result<(), Failure> {
        let arn = self.arn.clone();
        let previous = match self.secret_dict(&arn, AWSPREVIOUS).await {
            Ok(previous) => Some(previous),
            Err(e) if e.is_not_found() || e.error_type == "KeyError" => None,
            Err(e) => return Err(e),
        };
        let current = self.secret_dict(&arn, AWSCURRENT).await?;
        let pending = self.pending().await?;
        let engine = self.rotator.engine;
        if let Some(conn) = db::connect(engine, &pending, self.log).await {
            conn.close().await;
            self.log.info(format!(
                "setSecret: AWSPENDING secret is already set as password in database for secret arn {arn}."
            ));
            return Ok(());
        }
        if text(&current, "username") != text(&pending, "username") {
            return Err(Failure::value(format!(
                "Attempting to modify user {} other than current user {}",
                text(&pending, "username"),
                text(&current, "username")
            )));
        }
        if text(&current, "host") != text(&pending, "host") {
            return Err(Failure::value(format!(
                "Attempting to modify user for host {} other than current host {}",
                text(&pending, "host"),
                text(&current, "host")
            )));
        }
        let mut conn = db::connect(engine, &current, self.log).await;
        if conn.is_none()
            && let Some(mut previous) = previous
        {
            // The current secret's TLS choice applies to the previous one, as AWS's does.
            previous.remove("ssl");
            if let Some(ssl) = current.get("ssl") {
                previous.insert("ssl".to_owned(), ssl.clone());
            }
            conn = db::connect(engine, &previous, self.log).await;
            if text(&previous, "username") != text(&pending, "username") {
                return Err(Failure::value(format!(
                    "Attempting to modify user {} other than previous valid user {}",
                    text(&pending, "username"),
                    text(&previous, "username")
                )));
            }
            if text(&previous, "host") != text(&pending, "host") {
                return Err(Failure::value(format!(
                    "Attempting to modify user for host {} other than previous host {}",
                    text(&pending, "host"),
                    text(&previous, "host")
                )));
            }
        }
        let Some(mut conn) = conn else {
            return Err(Failure::value(format!(
                "Unable to log into database with previous, current, or pending secret of secret arn {arn}"
            )));
        };
        let result = conn
            .set_own_password(&text(&pending, "username"), &text(&pending, "password"))
            .await;
        conn.close().await;
        result.map_err(|e| Failure::value(format!("setSecret: could not set the password: {e}")))?;
        self.log.info(format!(
            "setSecret: Successfully set password for user {} in database for secret arn {arn}.",
            text(&pending, "username")
        ));
        Ok(())
    }

    async fn set_alternating_users(&mut self) -> Result<(), Failure> {
        let arn = self.arn.clone();
        let current = self.secret_dict(&arn, AWSCURRENT).await?;
        let pending = self.pending().await?;
        let engine = self.rotator.engine;
        if let Some(conn) = db::connect(engine, &pending, self.log).await {
            conn.close().await;
            self.log.info(format!(
                "setSecret: AWSPENDING secret is already set as password in database for secret arn {arn}."
            ));
            return Ok(());
        }
        let (user, other) = (text(&current, "username"), text(&pending, "username"));
        if self.alternate_username(&user)? != other {
            return Err(Failure::value(format!(
                "Attempting to modify user {other} other than current user or clone {user}"
            )));
        }
        if text(&current, "host") != text(&pending, "host") {
            return Err(Failure::value(format!(
                "Attempting to modify user for host {} other than current host {}",
                text(&pending, "host"),
                text(&current, "host")
            )));
        }
        let Some(conn) = db::connect(engine, &current, self.log).await else {
            return Err(Failure::value(format!(
                "Unable to log into database using current credentials for secret {arn}"
            )));
        };
        conn.close().await;
        let master_arn = current
            .get("masterarn")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Failure::key("'masterarn'".to_owned()))?;
        let mut master = self.secret_dict(&master_arn, AWSCURRENT).await?;
        master.insert(
            "dbname".to_owned(),
            current.get("dbname").cloned().unwrap_or(Value::Null),
        );
        if text(&current, "host") != text(&master, "host") {
            return Err(Failure::value(format!(
                "Current database host {} is not the same host as/rds replica of master {}",
                text(&current, "host"),
                text(&master, "host")
            )));
        }
        let Some(mut conn) = db::connect(engine, &master, self.log).await else {
            return Err(Failure::value(format!(
                "Unable to log into database using credentials in master secret {master_arn}"
            )));
        };
        let result = conn
            .set_other_password(&user, &other, &text(&pending, "password"))
            .await;
        conn.close().await;
        result.map_err(|e| Failure::value(format!("setSecret: could not set the password: {e}")))?;
        self.log.info(format!(
            "setSecret: Successfully set password for {other} in database for secret arn {arn}."
        ));
        Ok(())
    }

    /// Logs in with the pending secret and runs a query.
    async fn test_secret(&mut self) -> Result<(), Failure> {
        let pending = self.pending().await?;
        let Some(mut conn) = db::connect(self.rotator.engine, &pending, self.log).await else {
            return Err(Failure::value(format!(
                "Unable to log into database with pending secret of secret ARN {}",
                self.arn
            )));
        };
        let result = conn.now().await;
        conn.close().await;
        result.map_err(|e| Failure::value(format!("testSecret: the query failed: {e}")))?;
        self.log.info(format!(
            "testSecret: Successfully signed into database with AWSPENDING secret in {}.",
            self.arn
        ));
        Ok(())
    }

    /// Moves `AWSCURRENT` to the rotation's version.
    async fn finish_secret(&mut self) -> Result<(), Failure> {
        let metadata = self
            .sm
            .describe_secret()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| Failure::call("DescribeSecret", &e))?;
        let current = metadata.version_ids_to_stages().and_then(|versions| {
            versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == AWSCURRENT))
                .map(|(id, _)| id.clone())
        });
        if current.as_deref() == Some(self.token.as_str()) {
            self.log.info(format!(
                "finishSecret: Version {} already marked as AWSCURRENT for {}",
                self.token, self.arn
            ));
            return Ok(());
        }
        self.sm
            .update_secret_version_stage()
            .secret_id(&self.arn)
            .version_stage(AWSCURRENT)
            .move_to_version_id(&self.token)
            .set_remove_from_version_id(current)
            .send()
            .await
            .map_err(|e| Failure::call("UpdateSecretVersionStage", &e))?;
        self.log.info(format!(
            "finishSecret: Successfully set AWSCURRENT stage to version {} for secret {}.",
            self.token, self.arn
        ));
        Ok(())
    }

    /// The pending secret of this rotation (its version and `AWSPENDING`).
    async fn pending(&mut self) -> Result<Dict, Failure> {
        let (arn, token) = (self.arn.clone(), self.token.clone());
        let out = self
            .sm
            .get_secret_value()
            .secret_id(&arn)
            .version_id(&token)
            .version_stage(AWSPENDING)
            .send()
            .await
            .map_err(|e| Failure::call("GetSecretValue", &e))?;
        self.parse(out.secret_string())
    }

    /// The secret `arn`'s value at `stage`, checked as AWS's functions check it.
    async fn secret_dict(&mut self, arn: &str, stage: &str) -> Result<Dict, Failure> {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| Failure::call("GetSecretValue", &e))?;
        self.parse(out.secret_string())
    }

    fn parse(&self, value: Option<&str>) -> Result<Dict, Failure> {
        let dict: Dict = serde_json::from_str(value.unwrap_or_default()).map_err(|_| {
            // Python's json.JSONDecodeError is a ValueError; its text would quote the value.
            Failure::value("The secret's value is not a JSON object".to_owned())
        })?;
        for field in ["host", "username", "password", "engine"] {
            if !dict.contains_key(field) {
                return Err(Failure::key(format!("{field} key is missing from secret JSON")));
            }
        }
        let engine = dict.get("engine").and_then(Value::as_str).unwrap_or_default();
        if !self.rotator.engine.accepts(engine) {
            return Err(Failure::key(format!(
                "Database engine must be set to '{}' in order to use this rotation lambda",
                self.rotator.engine.name()
            )));
        }
        Ok(dict)
    }

    /// The other user of an alternating pair: `name_clone` for `name`, and back.
    fn alternate_username(&self, current: &str) -> Result<String, Failure> {
        const SUFFIX: &str = "_clone";
        if let Some(user) = current.strip_suffix(SUFFIX) {
            return Ok(user.to_owned());
        }
        let clone = format!("{current}{SUFFIX}");
        let limit = self.rotator.engine.max_username();
        if clone.chars().count() > limit {
            return Err(Failure::value(format!(
                "Unable to clone user, username length with _clone appended would exceed {limit} characters"
            )));
        }
        Ok(clone)
    }

    /// A new password from GetRandomPassword, with the rules of the function's environment.
    async fn random_password(&mut self) -> Result<String, Failure> {
        let env = self.environment;
        let flag = |name: &str, default: bool| {
            env.get(name)
                .map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
        };
        let length = match env.get("PASSWORD_LENGTH") {
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map_err(|_| Failure::value(format!("invalid literal for int() with base 10: '{v}'")))?,
            None => 32,
        };
        let out = self
            .sm
            .get_random_password()
            .exclude_characters(
                env.get("EXCLUDE_CHARACTERS")
                    .cloned()
                    .unwrap_or_else(|| "/@\"'\\".to_owned()),
            )
            .password_length(length)
            .exclude_numbers(flag("EXCLUDE_NUMBERS", false))
            .exclude_punctuation(flag("EXCLUDE_PUNCTUATION", false))
            .exclude_uppercase(flag("EXCLUDE_UPPERCASE", false))
            .exclude_lowercase(flag("EXCLUDE_LOWERCASE", false))
            .require_each_included_type(flag("REQUIRE_EACH_INCLUDED_TYPE", true))
            .send()
            .await
            .map_err(|e| Failure::call("GetRandomPassword", &e))?;
        Ok(out.random_password().unwrap_or_default().to_owned())
    }
}

/// A secret field as text (a port may be a number).
fn text(dict: &Dict, key: &str) -> String {
    match dict.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_name_is_a_rotator() {
        for name in kinko_core::function::BUILTIN_ROTATORS {
            assert!(Rotator::named(name).is_some(), "{name}");
        }
        assert_eq!(Rotator::named("PostgreSQL"), None);
    }
}
