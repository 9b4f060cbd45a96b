//! The databases' side: logging in with a secret's keys, and the statements that change
//! passwords, as AWS's functions run them.
//!
//! Names and passwords are never spliced into SQL as given: the database quotes them itself
//! (`quote_ident`/`quote_literal` on PostgreSQL, `QUOTE()` on MySQL/MariaDB), as AWS's
//! PostgreSQL functions do, and the statements that take no parameters (`ALTER USER`,
//! `CREATE USER`, `SET PASSWORD`, `GRANT`) are then sent as text.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::{Dict, Log, text};

/// How long a login may take (AWS's functions' `connect_timeout=5`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The database engine a rotator speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    PostgreSql,
    MySql,
    MariaDb,
}

impl Engine {
    /// Whether a secret's `engine` is this one's, as AWS's functions check it.
    pub(crate) fn accepts(self, engine: &str) -> bool {
        match self {
            Engine::PostgreSql => matches!(engine, "postgres" | "aurora-postgresql"),
            Engine::MySql => matches!(engine, "mysql" | "aurora-mysql"),
            Engine::MariaDb => engine == "mariadb",
        }
    }

    /// The `engine` value the error texts name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::PostgreSql => "postgres",
            Engine::MySql => "mysql",
            Engine::MariaDb => "mariadb",
        }
    }

    /// The longest user name the database takes.
    pub(crate) fn max_username(self) -> usize {
        match self {
            Engine::PostgreSql => 63,
            Engine::MySql => 32,
            Engine::MariaDb => 80,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Engine::PostgreSql => 5432,
            Engine::MySql | Engine::MariaDb => 3306,
        }
    }
}

/// TLS as a secret's `ssl` key asks for it (AWS's `get_ssl_config`): absent or not understood,
/// TLS first and a plain connection if that fails; `true`/`"true"`, TLS only; `false`/`"false"`,
/// plain only. TLS checks the server's certificate and name against the system's roots.
fn ssl_config(dict: &Dict) -> (bool, bool) {
    match dict.get("ssl") {
        Some(Value::Bool(b)) => (*b, false),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => (true, false),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => (false, false),
        _ => (true, true),
    }
}

/// Where and as whom to log in.
struct Login {
    host: String,
    port: u16,
    user: String,
    password: String,
    dbname: Option<String>,
}

/// An open connection.
pub(crate) enum Conn {
    Postgres(tokio_postgres::Client),
    MySql(mysql_async::Conn),
}

/// Logs in with `dict`'s keys; `None` when that fails (the reason logged), as AWS's
/// `get_connection` answers.
pub(crate) async fn connect(engine: Engine, dict: &Dict, log: &mut Log) -> Option<Conn> {
    let user = text(dict, "username");
    let port = match dict.get("port") {
        None | Some(Value::Null) => Some(engine.default_port()),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    let Some(port) = port else {
        log.error(format!("The port of {user}'s secret is not a port number"));
        return None;
    };
    let dbname = match dict.get("dbname") {
        Some(Value::String(name)) => Some(name.clone()),
        _ if engine == Engine::PostgreSql => Some("postgres".to_owned()),
        _ => None,
    };
    let login = Login {
        host: text(dict, "host"),
        port,
        user: user.clone(),
        password: text(dict, "password"),
        dbname,
    };
    let (use_ssl, fall_back) = ssl_config(dict);
    let first = connect_once(engine, &login, use_ssl).await;
    let result = match first {
        Err(e) if use_ssl && fall_back => {
            log.info(format!(
                "Unable to connect with TLS to {}:{} as {user} ({e}); trying without",
                login.host, login.port
            ));
            connect_once(engine, &login, false).await
        }
        other => other,
    };
    match result {
        Ok(conn) => {
            log.info(format!(
                "Successfully established {} connection as user '{user}' with host: '{}'",
                if use_ssl && !fall_back { "SSL/TLS" } else { "a" },
                login.host
            ));
            Some(conn)
        }
        Err(e) => {
            log.error(format!("Unable to log into the database as {user}: {e}"));
            None
        }
    }
}

async fn connect_once(engine: Engine, login: &Login, tls: bool) -> Result<Conn, String> {
    match engine {
        Engine::PostgreSql => postgres(login, tls).await.map(Conn::Postgres),
        Engine::MySql | Engine::MariaDb => mysql(login, tls).await.map(Conn::MySql),
    }
}

async fn postgres(login: &Login, tls: bool) -> Result<tokio_postgres::Client, String> {
    use tokio_postgres::config::SslMode;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&login.host)
        .port(login.port)
        .user(&login.user)
        .password(&login.password)
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(dbname) = &login.dbname {
        config.dbname(dbname);
    }
    let client = if tls {
        config.ssl_mode(SslMode::Require);
        let (client, connection) = config
            .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        client
    } else {
        config.ssl_mode(SslMode::Disable);
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        client
    };
    Ok(client)
}

/// TLS checking the server's certificate and name against the system's roots.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

async fn mysql(login: &Login, tls: bool) -> Result<mysql_async::Conn, String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(login.host.clone())
        .tcp_port(login.port)
        .user(Some(login.user.clone()))
        .pass(Some(login.password.clone()))
        .db_name(login.dbname.clone())
        .prefer_socket(false)
        .ssl_opts(tls.then(mysql_async::SslOpts::default));
    match tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts)).await {
        Ok(conn) => conn.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

impl Conn {
    pub(crate) async fn close(self) {
        match self {
            Conn::Postgres(client) => drop(client),
            Conn::MySql(conn) => {
                let _ = conn.disconnect().await;
            }
        }
    }

    /// testSecret's query.
    pub(crate) async fn now(&mut self) -> Result<(), String> {
        match self {
            Conn::Postgres(client) => client
                .simple_query("SELECT NOW()")
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Conn::MySql(conn) => {
                use mysql_async::prelude::Queryable as _;
                conn.query_drop("SELECT NOW()").await.map_err(|e| e.to_string())
            }
        }
    }

    /// Single user: the logged-in user `user` sets its own password.
    pub(crate) async fn set_own_password(&mut self, user: &str, password: &str) -> Result<(), String> {
        match self {
            Conn::Postgres(client) => {
                let (user, password) = pg_quote(client, user, password).await?;
                client
                    .batch_execute(&format!("ALTER USER {user} WITH PASSWORD {password}"))
                    .await
                    .map_err(|e| e.to_string())
            }
            Conn::MySql(conn) => {
                let password = my_quote(conn, password).await?;
                let option = password_option(&my_version(conn).await?, password);
                my_run(conn, &format!("SET PASSWORD = {option}")).await
            }
        }
    }

    /// Alternating users, logged in as the administrator: `other` gets `password`, and is
    /// created with `user`'s roles or grants when it does not exist yet.
    pub(crate) async fn set_other_password(
        &mut self,
        user: &str,
        other: &str,
        password: &str,
    ) -> Result<(), String> {
        match self {
            Conn::Postgres(client) => pg_set_other(client, user, other, password).await,
            Conn::MySql(conn) => my_set_other(conn, user, other, password).await,
        }
    }
}

/// `user` as an identifier and `password` as a literal, quoted by PostgreSQL.
async fn pg_quote(
    client: &tokio_postgres::Client,
    user: &str,
    password: &str,
) -> Result<(String, String), String> {
    let row = client
        .query_one("SELECT quote_ident($1), quote_literal($2)", &[&user, &password])
        .await
        .map_err(|e| e.to_string())?;
    Ok((row.get(0), row.get(1)))
}

async fn pg_set_other(
    client: &mut tokio_postgres::Client,
    user: &str,
    other: &str,
    password: &str,
) -> Result<(), String> {
    let (other_ident, password) = pg_quote(client, other, password).await?;
    let user_ident: String = client
        .query_one("SELECT quote_ident($1)", &[&user])
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    let exists = !tx
        .query("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&other])
        .await
        .map_err(|e| e.to_string())?
        .is_empty();
    if exists {
        tx.batch_execute(&format!("ALTER USER {other_ident} WITH PASSWORD {password}"))
            .await
            .map_err(|e| e.to_string())?;
    } else {
        tx.batch_execute(&format!(
            "CREATE ROLE {other_ident} WITH LOGIN PASSWORD {password}"
        ))
        .await
        .map_err(|e| e.to_string())?;
        tx.batch_execute(&format!("GRANT {user_ident} TO {other_ident}"))
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

/// `value` as a MySQL string literal, quoted by the server.
async fn my_quote(conn: &mut mysql_async::Conn, value: &str) -> Result<String, String> {
    use mysql_async::prelude::Queryable as _;
    conn.exec_first::<String, _, _>("SELECT QUOTE(?)", (value,))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "QUOTE() answered nothing".to_owned())
}

async fn my_run(conn: &mut mysql_async::Conn, statement: &str) -> Result<(), String> {
    use mysql_async::prelude::Queryable as _;
    conn.query_drop(statement).await.map_err(|e| e.to_string())
}

/// The right side of `SET PASSWORD`: the literal on MySQL 8, `PASSWORD(literal)` before it and
/// on MariaDB (AWS's `get_password_option`).
fn password_option(version: &str, literal: String) -> String {
    if version.starts_with('8') {
        literal
    } else {
        format!("PASSWORD({literal})")
    }
}

async fn my_version(conn: &mut mysql_async::Conn) -> Result<String, String> {
    use mysql_async::prelude::Queryable as _;
    conn.query_first::<String, _>("SELECT VERSION()")
        .await
        .map_err(|e| e.to_string())
        .map(Option::unwrap_or_default)
}

async fn my_set_other(
    conn: &mut mysql_async::Conn,
    user: &str,
    other: &str,
    password: &str,
) -> Result<(), String> {
    use mysql_async::prelude::Queryable as _;
    let user_literal = my_quote(conn, user).await?;
    let other_literal = my_quote(conn, other).await?;
    let password_literal = my_quote(conn, password).await?;
    let exists = conn
        .exec_first::<String, _, _>("SELECT User FROM mysql.user WHERE User = ?", (other,))
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    if !exists {
        my_run(
            conn,
            &format!("CREATE USER {other_literal} IDENTIFIED BY {password_literal}"),
        )
        .await?;
    }
    // The user's grants, given to the other user (what follows ` TO ` names the grantee).
    let grants: Vec<String> = conn
        .query(format!("SHOW GRANTS FOR {user_literal}"))
        .await
        .map_err(|e| e.to_string())?;
    for grant in grants {
        let granted = grant.split(" TO ").next().unwrap_or_default();
        my_run(conn, &format!("{granted} TO {other_literal}")).await?;
    }
    // The user's TLS requirements, the other's too.
    let version = my_version(conn).await?;
    let require = if version.starts_with("5.6") {
        format!("GRANT USAGE ON *.* TO {other_literal}@'%' REQUIRE")
    } else {
        format!("ALTER USER {other_literal}@'%' REQUIRE")
    };
    type Tls = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
    let tls: Option<Tls> = conn
        .exec_first(
            "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = ?",
            (user,),
        )
        .await
        .map_err(|e| e.to_string())?;
    let (ssl_type, cipher, issuer, subject) = tls.unwrap_or_default();
    let as_text = |v: Option<Vec<u8>>| String::from_utf8_lossy(&v.unwrap_or_default()).into_owned();
    let statement = match as_text(ssl_type).as_str() {
        "" => format!("{require} NONE"),
        "ANY" => format!("{require} SSL"),
        "X509" => format!("{require} X509"),
        _ => {
            let cipher = my_quote(conn, &as_text(cipher)).await?;
            let issuer = my_quote(conn, &as_text(issuer)).await?;
            let subject = my_quote(conn, &as_text(subject)).await?;
            format!("{require} CIPHER {cipher} AND ISSUER {issuer} AND SUBJECT {subject}")
        }
    };
    my_run(conn, &statement).await?;
    let option = password_option(&version, password_literal);
    my_run(conn, &format!("SET PASSWORD FOR {other_literal} = {option}")).await
}
