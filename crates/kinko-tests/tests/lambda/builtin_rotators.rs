//! kinko's built-in rotators: functions on `provided.al2023` whose handler is `kinko:<name>`,
//! created without a package, that rotate real PostgreSQL and MariaDB passwords as AWS's
//! functions do (same secret JSON, same checks and texts), under their execution role; driven
//! step by step and by RotateSecret, rotation after rotation; and, with alternating users, a
//! reader that reads the secret and logs in with it in a loop never fails while they rotate.

use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use kinko_tests::*;
use serde_json::{Value, json};

use crate::rotation_functions::{
    allow_secrets_manager, invoke_event, mariadb_master, rotate_by_steps, rotate_secret,
    rotation_role_policy, secret_of,
};
use crate::*;

/// Creates the built-in rotator `rotator` as a function for `secret_arn` (and the
/// administrator's secret `master_arn`), with no package; returns its name.
async fn deploy_builtin(rotator: &str, secret_arn: &str, master_arn: Option<&str>) -> String {
    let server = server();
    let role = server
        .root()
        .execution_role(
            &format!("builtin-rotation-{}", short_id()),
            Some(&rotation_role_policy(secret_arn, master_arn)),
        )
        .await;
    let name = format!("rotator-{}", short_id());
    let created = ok(server
        .lambda_client()
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .handler(format!("kinko:{rotator}"))
        .role(&role)
        .timeout(30)
        .code(FunctionCode::builder().build())
        .send()
        .await);
    assert_eq!(created.handler(), Some(format!("kinko:{rotator}").as_str()));
    name
}

#[tokio::test]
async fn builtin_rotators_need_no_package_and_check_the_secret_as_awss_functions_do() {
    let server = server();
    let sm = server.client();
    for (rotator, engine, wrong_engine) in [
        ("PostgreSQLSingleUser", "postgres", "mysql"),
        ("PostgreSQLMultiUser", "aurora-postgresql", "mariadb"),
        ("MySQLSingleUser", "mysql", "mariadb"),
        ("MySQLMultiUser", "aurora-mysql", "postgres"),
        ("MariaDBSingleUser", "mariadb", "mysql"),
        ("MariaDBMultiUser", "mariadb", "postgres"),
    ] {
        let value = json!({"engine": engine, "host": "127.0.0.1", "username": db_user_name(),
                           "password": db_password()});
        let created = ok(sm
            .create_secret()
            .name(format!("builtin-{}", short_id()))
            .secret_string(value.to_string())
            .send()
            .await);
        let secret_arn = created.arn().expect("arn").to_owned();
        let current = created.version_id().expect("version").to_owned();
        let function = deploy_builtin(rotator, &secret_arn, None).await;

        let token = uuid::Uuid::new_v4().to_string();
        let (error, doc) = invoke_event(
            &function,
            &json!({"SecretId": secret_arn, "ClientRequestToken": token, "Step": "createSecret"}),
        )
        .await;
        assert_eq!(error.as_deref(), Some("Unhandled"), "{rotator}: {doc}");
        assert_eq!(doc["errorType"], "ValueError", "{rotator}: {doc}");
        assert_eq!(
            doc["errorMessage"],
            format!("Secret version {token} has no stage for rotation of secret {secret_arn}.").as_str(),
            "{rotator}"
        );
        // The current version: nothing to do.
        let (error, doc) = invoke_event(
            &function,
            &json!({"SecretId": secret_arn, "ClientRequestToken": current, "Step": "createSecret"}),
        )
        .await;
        assert_eq!(error, None, "{rotator}: {doc}");
        assert_eq!(doc, Value::Null, "{rotator}");
        // A step name that is none of the four.
        ok(sm
            .put_secret_value()
            .secret_id(&secret_arn)
            .client_request_token(&token)
            .secret_string(value.to_string())
            .version_stages("AWSPENDING")
            .send()
            .await);
        let (error, doc) = invoke_event(
            &function,
            &json!({"SecretId": secret_arn, "ClientRequestToken": token, "Step": "rotate"}),
        )
        .await;
        assert_eq!(error.as_deref(), Some("Unhandled"), "{rotator}: {doc}");
        assert_eq!(
            doc["errorMessage"],
            format!("Invalid step parameter rotate for secret {secret_arn}").as_str()
        );
        // A secret of another engine is refused before anything changes.
        let other = secret_of(
            "builtin-engine",
            &json!({"engine": wrong_engine, "host": "127.0.0.1", "username": "u", "password": "p"}),
        )
        .await;
        let function = deploy_builtin(rotator, &other, None).await;
        let token = uuid::Uuid::new_v4().to_string();
        ok(sm
            .put_secret_value()
            .secret_id(&other)
            .client_request_token(&token)
            .secret_string("{}")
            .version_stages("AWSPENDING")
            .send()
            .await);
        let (error, doc) = invoke_event(
            &function,
            &json!({"SecretId": other, "ClientRequestToken": token, "Step": "createSecret"}),
        )
        .await;
        assert_eq!(error.as_deref(), Some("Unhandled"), "{rotator}: {doc}");
        assert_eq!(doc["errorType"], "KeyError", "{rotator}: {doc}");
        let expected_engine = match engine {
            "aurora-postgresql" => "postgres",
            "aurora-mysql" => "mysql",
            e => e,
        };
        assert_eq!(
            doc["errorMessage"],
            format!(
                "Database engine must be set to '{expected_engine}' in order to use this rotation lambda"
            )
            .as_str(),
            "{rotator}"
        );
        let versions = ok(sm.describe_secret().secret_id(&other).send().await);
        assert_eq!(versions.version_ids_to_stages().expect("versions").len(), 2);
    }
}

#[tokio::test]
async fn only_builtin_rotators_go_without_a_package() {
    let server = server();
    let role = execution_role().await;
    for (runtime, handler) in [
        (Runtime::Python312, "kinko:PostgreSQLSingleUser"),
        (Runtime::Providedal2023, "bootstrap"),
        (Runtime::Providedal2023, "kinko:OracleSingleUser"),
    ] {
        let e = expect_err!(
            server
                .lambda_client()
                .create_function()
                .function_name(format!("no-package-{}", short_id()))
                .runtime(runtime.clone())
                .handler(handler)
                .role(&role)
                .code(FunctionCode::builder().build())
                .send()
                .await
        );
        assert_error(
            &e,
            "InvalidParameterValueException",
            "Please provide a source for function code.",
        );
    }
}

#[tokio::test]
async fn a_builtin_rotator_is_denied_what_its_role_does_not_allow() {
    let server = server();
    let secret_arn = secret_of(
        "builtin-denied",
        &json!({"engine": "postgres", "host": "127.0.0.1", "username": "app",
                "password": db_password()}),
    )
    .await;
    let function = deploy_builtin("PostgreSQLSingleUser", &format!("{secret_arn}-other"), None).await;
    let (error, doc) = invoke_event(
        &function,
        &json!({"SecretId": secret_arn, "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
                "Step": "createSecret"}),
    )
    .await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "ClientError", "{doc}");
    let role = ok(server
        .lambda_client()
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await)
    .role()
    .expect("role")
    .to_owned();
    let role_name = role.rsplit('/').next().expect("role name");
    assert_eq!(
        doc["errorMessage"],
        format!(
            "An error occurred (AccessDeniedException) when calling the DescribeSecret operation: {}",
            access_denied(
                &format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/{function}"),
                "secretsmanager:DescribeSecret",
                Some(&secret_arn),
                Denial::NoIdentityPolicy
            )
        )
        .as_str()
    );
}

#[tokio::test]
async fn the_builtin_postgresql_single_user_rotator_rotates_step_by_step_and_through_rotate_secret() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let user = db_user_name();
    let first = db_password();
    pg.create_user(&user, &first).await;
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                       "username": user, "password": first, "dbname": "postgres"});
    let secret_arn = secret_of("builtin-pg", &value).await;
    let function = deploy_builtin("PostgreSQLSingleUser", &secret_arn, None).await;

    let second = db_password();
    let mut pending = value.clone();
    pending["password"] = json!(second);
    rotate_by_steps(&function, &secret_arn, &pending).await;
    assert_eq!(pg.login(&user, &second).await, Ok(()), "{}", pg.log());
    assert!(pg.login(&user, &first).await.is_err());

    allow_secrets_manager(&function, &secret_arn).await;
    let mut previous = second;
    for round in 1..=2 {
        let rotated = rotate_secret(&function, &secret_arn).await;
        let password = rotated["password"].as_str().expect("password").to_owned();
        // GetRandomPassword's defaults, as AWS's functions ask for them.
        assert_eq!(password.chars().count(), 32, "rotation {round}");
        assert!(
            !password.contains(['/', '@', '"', '\'', '\\']),
            "rotation {round}"
        );
        assert_eq!(rotated["username"], user.as_str());
        assert_eq!(rotated["port"], json!(pg.port()), "the other keys are kept");
        assert_eq!(
            pg.login(&user, &password).await,
            Ok(()),
            "rotation {round}: {}",
            pg.log()
        );
        assert!(pg.login(&user, &previous).await.is_err(), "rotation {round}");
        previous = password;
    }
}

/// Reads the secret and logs in with what it read, again and again until `done`; answers how
/// many logins succeeded and the failures (with what was read).
async fn read_and_log_in<F, Fut>(secret_arn: &str, done: &AtomicBool, login: F) -> (usize, Vec<String>)
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = LoginOutcome>,
{
    let sm = server().client();
    let (mut logins, mut failures) = (0, Vec::new());
    while !done.load(Ordering::SeqCst) {
        let value: Value = serde_json::from_str(&sm.value(secret_arn).await).expect("JSON");
        let user = value["username"].as_str().expect("username").to_owned();
        let password = value["password"].as_str().expect("password").to_owned();
        match login(user.clone(), password).await {
            Ok(()) => logins += 1,
            Err(e) => failures.push(format!("{user}: {e}")),
        }
    }
    (logins, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_postgresql_alternating_users_rotator_never_locks_a_reader_out() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let master_arn = secret_of(
        "builtin-pg-master",
        &json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                "username": PrivatePostgres::SUPERUSER, "password": pg.superuser_password()}),
    )
    .await;
    let user = db_user_name();
    let first = db_password();
    pg.create_user(&user, &first).await;
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                       "username": user, "password": first, "dbname": "postgres",
                       "masterarn": master_arn});
    let secret_arn = secret_of("builtin-pg-multi", &value).await;
    let function = deploy_builtin("PostgreSQLMultiUser", &secret_arn, Some(&master_arn)).await;
    allow_secrets_manager(&function, &secret_arn).await;
    let clone = format!("{user}_clone");

    let done = AtomicBool::new(false);
    let reader = read_and_log_in(&secret_arn, &done, |user, password| {
        let pg = &pg;
        async move { pg.login(&user, &password).await }
    });
    let rotations = async {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let rotated = rotate_secret(&function, &secret_arn).await;
            seen.push(rotated);
        }
        done.store(true, Ordering::SeqCst);
        seen
    };
    let ((logins, failures), seen) = tokio::join!(reader, rotations);
    assert_eq!(failures, Vec::<String>::new(), "{}", pg.log());
    assert!(logins > 0);
    // The users take turns, each with a new password each time.
    let users: Vec<&str> = seen
        .iter()
        .map(|v| v["username"].as_str().expect("user"))
        .collect();
    assert_eq!(users, [clone.as_str(), &user, &clone, &user]);
    let last = seen.last().expect("rotations");
    let before_last = &seen[seen.len() - 2];
    assert_eq!(
        pg.login(&user, last["password"].as_str().expect("pw")).await,
        Ok(())
    );
    assert_eq!(
        pg.login(&clone, before_last["password"].as_str().expect("pw"))
            .await,
        Ok(())
    );
    assert!(pg.login(&user, &first).await.is_err());
}

#[tokio::test]
async fn the_builtin_mysql_and_mariadb_single_user_rotators_rotate_through_rotate_secret() {
    let Some(db) = MariaDb::from_env() else {
        return;
    };
    for (rotator, engine) in [("MySQLSingleUser", "mysql"), ("MariaDBSingleUser", "mariadb")] {
        let name = db_user_name();
        let first = db_password();
        let _user = db.create_user(&name, &first, &[&format!("SELECT ON {}.*", db.database())]);
        let value = json!({"engine": engine, "host": db.host(), "port": db.port(),
                           "username": name, "password": first, "dbname": db.database()});
        let secret_arn = secret_of(&format!("builtin-{engine}"), &value).await;
        let function = deploy_builtin(rotator, &secret_arn, None).await;
        allow_secrets_manager(&function, &secret_arn).await;
        let mut previous = first;
        for round in 1..=2 {
            let rotated = rotate_secret(&function, &secret_arn).await;
            let password = rotated["password"].as_str().expect("password").to_owned();
            assert_eq!(rotated["username"], name.as_str());
            assert_eq!(db.login(&name, &password), Ok(()), "{rotator} rotation {round}");
            assert!(db.login(&name, &previous).is_err(), "{rotator} rotation {round}");
            previous = password;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_mariadb_alternating_users_rotator_copies_grants_and_never_locks_a_reader_out() {
    let Some(db) = MariaDb::from_env() else {
        return;
    };
    // No `ssl` key: the rotator tries TLS first and falls back to a plain connection.
    let (_admin, master_arn) = mariadb_master(&db, "mariadb", None).await;
    let name = db_user_name();
    let first = db_password();
    let grant = format!("SELECT ON {}.*", db.database());
    let _user = db.create_user(&name, &first, &[&grant]);
    let clone = format!("{name}_clone");
    let _clone = db.adopt_user(&clone);
    let value = json!({"engine": "mariadb", "host": db.host(), "port": db.port(),
                       "username": name, "password": first, "dbname": db.database(),
                       "masterarn": master_arn});
    let secret_arn = secret_of("builtin-mariadb-multi", &value).await;
    let function = deploy_builtin("MariaDBMultiUser", &secret_arn, Some(&master_arn)).await;
    allow_secrets_manager(&function, &secret_arn).await;

    let done = AtomicBool::new(false);
    let reader = read_and_log_in(&secret_arn, &done, |user, password| {
        let db = db.clone();
        async move {
            tokio::task::spawn_blocking(move || db.login(&user, &password))
                .await
                .expect("login")
        }
    });
    let rotations = async {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(rotate_secret(&function, &secret_arn).await);
        }
        done.store(true, Ordering::SeqCst);
        seen
    };
    let ((logins, failures), seen) = tokio::join!(reader, rotations);
    assert_eq!(failures, Vec::<String>::new());
    assert!(logins > 0);
    let users: Vec<&str> = seen
        .iter()
        .map(|v| v["username"].as_str().expect("user"))
        .collect();
    assert_eq!(users, [clone.as_str(), &name, &clone]);
    // The clone was made with the user's grants.
    let grants = db.execute(&format!("SHOW GRANTS FOR '{clone}'@'%'"));
    assert!(
        grants.contains(&format!("GRANT SELECT ON `{}`.* TO `{clone}`@`%`", db.database())),
        "{grants}"
    );
    assert_eq!(
        db.login(&clone, seen[2]["password"].as_str().expect("pw")),
        Ok(())
    );
    assert_eq!(db.login(&name, seen[1]["password"].as_str().expect("pw")), Ok(()));
    assert!(db.login(&name, &first).is_err());
}

#[tokio::test]
async fn a_builtin_rotator_takes_the_password_rules_of_its_environment() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let user = db_user_name();
    let first = db_password();
    pg.create_user(&user, &first).await;
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                       "username": user, "password": first});
    let secret_arn = secret_of("builtin-pg-rules", &value).await;
    let function = deploy_builtin("PostgreSQLSingleUser", &secret_arn, None).await;
    ok(server()
        .lambda_client()
        .update_function_configuration()
        .function_name(&function)
        .environment(
            Environment::builder()
                .variables("PASSWORD_LENGTH", "20")
                .variables("EXCLUDE_PUNCTUATION", "true")
                .variables("EXCLUDE_UPPERCASE", "true")
                .build(),
        )
        .send()
        .await);
    allow_secrets_manager(&function, &secret_arn).await;
    let rotated = rotate_secret(&function, &secret_arn).await;
    let password = rotated["password"].as_str().expect("password");
    assert_eq!(password.len(), 20, "{password}");
    assert!(
        password
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{password}"
    );
    assert_eq!(pg.login(&user, password).await, Ok(()), "{}", pg.log());
}
