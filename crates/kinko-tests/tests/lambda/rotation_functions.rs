//! AWS's published Secrets Manager rotation functions for databases
//! (aws-samples/aws-secrets-manager-rotation-lambdas), run unchanged as kinko functions: each one's
//! `lambda_function.py` zipped with the database driver it imports, as AWS users bundle it, under
//! an execution role with the permissions AWS documents for rotation functions. Each one loads,
//! describes its secret under its role, and rotates a real database password when invoked with
//! the four steps in turn (the new version staged AWSPENDING beforehand, as RotateSecret stages
//! it): single-user functions change the user's own password, alternating-users ones create the
//! `_clone` user with the administrator's secret; and driven by RotateSecret itself, as AWS runs
//! them, rotation after rotation. And the databases that needs: logins that need their passwords.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use kinko_tests::*;
use serde_json::{Value, json};

use crate::*;

/// AWS's six database rotation functions: (folder, engine of the secret, alternating users).
const FUNCTIONS: [(&str, &str, bool); 6] = [
    ("SecretsManagerRDSMariaDBRotationSingleUser", "mariadb", false),
    ("SecretsManagerRDSMariaDBRotationMultiUser", "mariadb", true),
    ("SecretsManagerRDSMySQLRotationSingleUser", "mysql", false),
    ("SecretsManagerRDSMySQLRotationMultiUser", "mysql", true),
    ("SecretsManagerRDSPostgreSQLRotationSingleUser", "postgres", false),
    ("SecretsManagerRDSPostgreSQLRotationMultiUser", "postgres", true),
];

/// The execution role policy AWS documents for rotation functions: read, describe, write and
/// restage the secret, generate passwords; the alternating-users functions also read the
/// administrator's secret (`masterarn`).
pub(crate) fn rotation_role_policy(secret_arn: &str, master_arn: Option<&str>) -> String {
    let mut statements = vec![
        statement(
            "Allow",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            &[secret_arn],
        ),
        statement("Allow", &["secretsmanager:GetRandomPassword"], &["*"]),
    ];
    if let Some(master) = master_arn {
        statements.push(statement("Allow", &["secretsmanager:GetSecretValue"], &[master]));
    }
    policy_document(&statements)
}

/// Invokes `name` with `event`: the function error and the payload as JSON.
pub(crate) async fn invoke_event(name: &str, event: &Value) -> (Option<String>, Value) {
    let out = ok(server()
        .lambda_client()
        .invoke()
        .function_name(name)
        .payload(Blob::new(event.to_string()))
        .send()
        .await);
    assert_eq!(out.status_code(), 200);
    let body = out.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    let doc = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (out.function_error().map(str::to_owned), doc)
}

#[tokio::test]
async fn awss_database_rotation_functions_load_their_drivers_and_describe_the_secret_under_their_role() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let server = server();
    let sm = server.client();
    for (folder, engine, multi_user) in FUNCTIONS {
        let port = if engine == "postgres" { 5432 } else { 3306 };
        let master_arn = if multi_user {
            let master = ok(sm
                .create_secret()
                .name(format!("rot-master-{}", short_id()))
                .secret_string(
                    json!({"engine": engine, "host": "127.0.0.1", "port": port,
                           "username": "admin", "password": db_password()})
                    .to_string(),
                )
                .send()
                .await);
            Some(master.arn().expect("arn").to_owned())
        } else {
            None
        };
        let mut value = json!({"engine": engine, "host": "127.0.0.1", "port": port,
                               "username": db_user_name(), "password": db_password(),
                               "dbname": "test"});
        if let Some(master) = &master_arn {
            value["masterarn"] = json!(master);
        }
        let created = ok(sm
            .create_secret()
            .name(format!("rot-{}", short_id()))
            .secret_string(value.to_string())
            .send()
            .await);
        let secret_arn = created.arn().expect("arn").to_owned();
        let current_version = created.version_id().expect("version").to_owned();

        let name = deploy_rotation_function(&lambdas, folder, &secret_arn, master_arn.as_deref()).await;

        // A createSecret step for a version the secret does not have: the function loads (its
        // driver imported), describes the secret under its role, and refuses with its own
        // ValueError. The secret never had rotation configured, so DescribeSecret has no
        // `RotationEnabled` (as Secrets Manager answers) and the function goes on to look for the
        // version among `VersionIdsToStages`.
        let token = uuid::Uuid::new_v4().to_string();
        let event = json!({"SecretId": secret_arn, "ClientRequestToken": token,
                           "Step": "createSecret"});
        let (error, doc) = invoke_event(&name, &event).await;
        assert_eq!(error.as_deref(), Some("Unhandled"), "{folder}: {doc}");
        assert_eq!(doc["errorType"], "ValueError", "{folder}: {doc}");
        assert_eq!(
            doc["errorMessage"],
            format!("Secret version {token} has no stage for rotation of secret {secret_arn}.").as_str(),
            "{folder}: {doc}"
        );

        // The version that is already AWSCURRENT: the function says so and returns.
        let event = json!({"SecretId": secret_arn, "ClientRequestToken": current_version,
                           "Step": "createSecret"});
        let (error, doc) = invoke_event(&name, &event).await;
        assert_eq!(error, None, "{folder}: {doc}");
        assert_eq!(doc, Value::Null, "{folder}");
    }
}

#[tokio::test]
async fn awss_rotation_functions_are_denied_what_their_role_does_not_allow() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let server = server();
    let secret_arn = ok(server
        .client()
        .create_secret()
        .name(format!("rot-denied-{}", short_id()))
        .secret_string(
            json!({"engine": "postgres", "host": "127.0.0.1", "username": "app",
                   "password": db_password()})
            .to_string(),
        )
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    // A role for another secret only.
    let role = server
        .root()
        .execution_role(
            &format!("rotation-other-{}", short_id()),
            Some(&rotation_role_policy(&format!("{secret_arn}-other"), None)),
        )
        .await;
    let name = format!("rotate-denied-{}", short_id());
    ok(server
        .lambda_client()
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python39)
        .handler("lambda_function.lambda_handler")
        .role(&role)
        .environment(
            Environment::builder()
                .variables("SECRETS_MANAGER_ENDPOINT", server.endpoint_url())
                .build(),
        )
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(aws_rotation_function_zip(
                    &lambdas,
                    "SecretsManagerRDSPostgreSQLRotationSingleUser",
                )))
                .build(),
        )
        .send()
        .await);
    let event = json!({"SecretId": secret_arn, "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
                       "Step": "createSecret"});
    let (error, doc) = invoke_event(&name, &event).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "ClientError", "{doc}");
    let role_name = role.rsplit('/').next().expect("role name");
    assert_eq!(
        doc["errorMessage"],
        format!(
            "An error occurred (AccessDeniedException) when calling the DescribeSecret operation: {}",
            access_denied(
                &format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/{name}"),
                "secretsmanager:DescribeSecret",
                Some(&secret_arn),
                Denial::NoIdentityPolicy
            )
        )
        .as_str()
    );
}

#[tokio::test]
async fn the_private_postgresql_checks_passwords() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    assert_eq!(
        pg.login(PrivatePostgres::SUPERUSER, pg.superuser_password())
            .await,
        Ok(())
    );
    let user = db_user_name();
    let password = db_password();
    pg.create_user(&user, &password).await;
    assert_eq!(pg.login(&user, &password).await, Ok(()));
    let wrong = pg.login(&user, &db_password()).await;
    assert_eq!(
        wrong,
        Err(format!("password authentication failed for user \"{user}\""))
    );
    assert!(pg.login(&user, "").await.is_err());
    assert!(pg.login(PrivatePostgres::SUPERUSER, &password).await.is_err());
    // A changed password replaces the old one.
    let changed = db_password();
    pg.execute(&format!("ALTER ROLE \"{user}\" PASSWORD '{changed}'"))
        .await;
    assert_eq!(pg.login(&user, &changed).await, Ok(()));
    assert!(pg.login(&user, &password).await.is_err());
}

#[tokio::test]
async fn a_mariadb_user_needs_its_password() {
    let Some(db) = MariaDb::from_env() else {
        return;
    };
    let name = db_user_name();
    let password = db_password();
    let user = db.create_user(&name, &password, &[&format!("SELECT ON {}.*", db.database())]);
    assert_eq!(db.login(user.name(), &password), Ok(()));
    let wrong = db.login(user.name(), &db_password());
    assert!(
        wrong
            .as_ref()
            .is_err_and(|e| e.contains(&format!("Access denied for user '{name}'@"))),
        "{wrong:?}"
    );
    assert!(db.login(user.name(), "").is_err());
    // A changed password replaces the old one.
    let changed = db_password();
    db.execute(&format!("ALTER USER '{name}'@'%' IDENTIFIED BY '{changed}'"));
    assert_eq!(db.login(user.name(), &changed), Ok(()));
    assert!(db.login(user.name(), &password).is_err());
    drop(user);
    assert!(db.login(&name, &changed).is_err());
}

/// Deploys AWS's function `folder` for the secret `secret_arn` (and the administrator's secret
/// `master_arn` of the alternating-users functions); returns its name.
async fn deploy_rotation_function(
    lambdas: &std::path::Path,
    folder: &str,
    secret_arn: &str,
    master_arn: Option<&str>,
) -> String {
    let server = server();
    let role = server
        .root()
        .execution_role(
            &format!("rotation-{}", short_id()),
            Some(&rotation_role_policy(secret_arn, master_arn)),
        )
        .await;
    let name = format!("rotate-{}", short_id());
    ok(server
        .lambda_client()
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python39)
        .handler("lambda_function.lambda_handler")
        .role(&role)
        .timeout(30)
        .environment(
            Environment::builder()
                .variables("SECRETS_MANAGER_ENDPOINT", server.endpoint_url())
                .build(),
        )
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(aws_rotation_function_zip(lambdas, folder)))
                .build(),
        )
        .send()
        .await);
    name
}

/// Rotates `secret_arn` to `pending` (its new value, staged AWSPENDING here with the version id
/// `token` as Secrets Manager stages a rotation's version) by invoking `function` with the four
/// steps in order, each of which must succeed, as RotateSecret would; returns the version that
/// was AWSCURRENT.
pub(crate) async fn rotate_by_steps(function: &str, secret_arn: &str, pending: &Value) -> String {
    let sm = server().client();
    let before = ok(sm.describe_secret().secret_id(secret_arn).send().await);
    let current = before
        .version_ids_to_stages()
        .expect("versions")
        .iter()
        .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
        .map(|(id, _)| id.clone())
        .expect("an AWSCURRENT version");
    let token = uuid::Uuid::new_v4().to_string();
    ok(sm
        .put_secret_value()
        .secret_id(secret_arn)
        .client_request_token(&token)
        .secret_string(pending.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await);
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let event = json!({"SecretId": secret_arn, "ClientRequestToken": token, "Step": step});
        let (error, doc) = invoke_event(function, &event).await;
        assert_eq!(error, None, "{step}: {doc}");
        assert_eq!(doc, Value::Null, "{step}");
    }
    let after = ok(sm.describe_secret().secret_id(secret_arn).send().await);
    let stages = after.version_ids_to_stages().expect("versions");
    // finishSecret moves AWSCURRENT (and so AWSPREVIOUS); AWSPENDING is Secrets Manager's to
    // remove once the rotation it runs has finished, so it is still on the new version here.
    let mut new_stages = stages[&token].clone();
    new_stages.sort();
    assert_eq!(new_stages, ["AWSCURRENT", "AWSPENDING"]);
    assert_eq!(stages[&current], ["AWSPREVIOUS"]);
    current
}

#[tokio::test]
async fn awss_postgresql_single_user_function_rotates_a_password_step_by_step() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let user = db_user_name();
    let old = db_password();
    pg.create_user(&user, &old).await;
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                       "username": user, "password": old, "dbname": "postgres"});
    let secret_arn = ok(server()
        .client()
        .create_secret()
        .name(format!("rot-pg-{}", short_id()))
        .secret_string(value.to_string())
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    let function = deploy_rotation_function(
        &lambdas,
        "SecretsManagerRDSPostgreSQLRotationSingleUser",
        &secret_arn,
        None,
    )
    .await;
    let new = db_password();
    let mut pending = value.clone();
    pending["password"] = json!(new);
    rotate_by_steps(&function, &secret_arn, &pending).await;

    assert_eq!(pg.login(&user, &new).await, Ok(()), "{}", pg.log());
    assert!(pg.login(&user, &old).await.is_err());
}

#[tokio::test]
async fn awss_mariadb_and_mysql_single_user_functions_rotate_a_password_step_by_step() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let Some(db) = MariaDb::from_env() else {
        return;
    };
    for (folder, engine) in [
        ("SecretsManagerRDSMariaDBRotationSingleUser", "mariadb"),
        ("SecretsManagerRDSMySQLRotationSingleUser", "mysql"),
    ] {
        let name = db_user_name();
        let old = db_password();
        let _user = db.create_user(&name, &old, &[&format!("SELECT ON {}.*", db.database())]);
        // `"ssl": false`: the functions look for Amazon Linux's CA bundle
        // (/etc/pki/tls/cert.pem) whenever they try TLS, and PyMySQL fails on a missing one
        // (FileNotFoundError, which they do not catch).
        let value = json!({"engine": engine, "host": db.host(), "port": db.port(),
                           "username": name, "password": old, "dbname": db.database(),
                           "ssl": false});
        let secret_arn = ok(server()
            .client()
            .create_secret()
            .name(format!("rot-{engine}-{}", short_id()))
            .secret_string(value.to_string())
            .send()
            .await)
        .arn()
        .expect("arn")
        .to_owned();
        let function = deploy_rotation_function(&lambdas, folder, &secret_arn, None).await;
        let new = db_password();
        let mut pending = value.clone();
        pending["password"] = json!(new);
        rotate_by_steps(&function, &secret_arn, &pending).await;

        assert_eq!(db.login(&name, &new), Ok(()), "{folder}");
        assert!(db.login(&name, &old).is_err(), "{folder}");
    }
}

/// A secret holding `value`; its ARN.
pub(crate) async fn secret_of(prefix: &str, value: &Value) -> String {
    ok(server()
        .client()
        .create_secret()
        .name(format!("{prefix}-{}", short_id()))
        .secret_string(value.to_string())
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned()
}

#[tokio::test]
async fn awss_postgresql_alternating_users_function_rotates_to_the_clone_step_by_step() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let master_arn = secret_of(
        "rot-pg-master",
        &json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                "username": PrivatePostgres::SUPERUSER, "password": pg.superuser_password(),
                "dbname": "postgres"}),
    )
    .await;
    let user = db_user_name();
    let old = db_password();
    pg.create_user(&user, &old).await;
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                       "username": user, "password": old, "dbname": "postgres",
                       "masterarn": master_arn});
    let secret_arn = secret_of("rot-pg-multi", &value).await;
    let function = deploy_rotation_function(
        &lambdas,
        "SecretsManagerRDSPostgreSQLRotationMultiUser",
        &secret_arn,
        Some(&master_arn),
    )
    .await;
    let clone = format!("{user}_clone");
    let new = db_password();
    let mut pending = value.clone();
    pending["username"] = json!(clone);
    pending["password"] = json!(new);
    rotate_by_steps(&function, &secret_arn, &pending).await;

    // The clone was created with the new password; the user it alternates with keeps its own.
    assert_eq!(pg.login(&clone, &new).await, Ok(()), "{}", pg.log());
    assert!(pg.login(&clone, &old).await.is_err());
    assert_eq!(pg.login(&user, &old).await, Ok(()));
}

#[tokio::test]
async fn awss_mariadb_and_mysql_alternating_users_functions_rotate_to_the_clone_step_by_step() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let Some(db) = MariaDb::from_env() else {
        return;
    };
    for (folder, engine) in [
        ("SecretsManagerRDSMariaDBRotationMultiUser", "mariadb"),
        ("SecretsManagerRDSMySQLRotationMultiUser", "mysql"),
    ] {
        let (_admin, master_arn) = mariadb_master(&db, engine, Some(false)).await;
        let name = db_user_name();
        let old = db_password();
        let grant = format!("SELECT ON {}.*", db.database());
        let _user = db.create_user(&name, &old, &[&grant]);
        let clone = format!("{name}_clone");
        let _clone = db.adopt_user(&clone);
        let value = json!({"engine": engine, "host": db.host(), "port": db.port(),
                           "username": name, "password": old, "dbname": db.database(),
                           "masterarn": master_arn, "ssl": false});
        let secret_arn = secret_of(&format!("rot-{engine}-multi"), &value).await;
        let function = deploy_rotation_function(&lambdas, folder, &secret_arn, Some(&master_arn)).await;
        let new = db_password();
        let mut pending = value.clone();
        pending["username"] = json!(clone);
        pending["password"] = json!(new);
        rotate_by_steps(&function, &secret_arn, &pending).await;

        // The clone was created with the new password and the user's grants; the user it
        // alternates with keeps its own password.
        assert_eq!(db.login(&clone, &new), Ok(()), "{folder}");
        assert!(db.login(&clone, &old).is_err(), "{folder}");
        assert_eq!(db.login(&name, &old), Ok(()), "{folder}");
        let grants = db.execute(&format!("SHOW GRANTS FOR '{clone}'@'%'"));
        assert!(
            grants.contains(&format!("GRANT SELECT ON `{}`.* TO `{clone}`@`%`", db.database())),
            "{folder}: {grants}"
        );
    }
}

/// The administrator whose secret `masterarn` names (all privileges, with grant option, and a
/// password, unlike root here), of `engine`, and that secret's ARN; `ssl` is the secret's `ssl`
/// key when given. The user is dropped with the guard.
pub(crate) async fn mariadb_master(db: &MariaDb, engine: &str, ssl: Option<bool>) -> (MariaDbUser, String) {
    let name = db_user_name();
    let password = db_password();
    let admin = db.create_user(&name, &password, &["ALL PRIVILEGES ON *.* WITH GRANT OPTION"]);
    let mut value = json!({"engine": engine, "host": db.host(), "port": db.port(),
                           "username": name, "password": password});
    if let Some(ssl) = ssl {
        value["ssl"] = json!(ssl);
    }
    let arn = secret_of(&format!("rot-{engine}-master"), &value).await;
    (admin, arn)
}

/// Lets Secrets Manager invoke `function` for `secret_arn` (AWS's recommended statement).
pub(crate) async fn allow_secrets_manager(function: &str, secret_arn: &str) {
    ok(server()
        .lambda_client()
        .add_permission()
        .function_name(function)
        .statement_id("SecretsManagerAccess")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .source_account(DEV_ACCOUNT)
        .source_arn(secret_arn)
        .send()
        .await);
}

/// `aws secretsmanager rotate-secret` with `function`, rotation every 30 days, as it starts at
/// once; waits until Secrets Manager has run the four steps and finished the rotation (the new
/// version AWSCURRENT alone); returns the secret's new value.
pub(crate) async fn rotate_secret(function: &str, secret_arn: &str) -> Value {
    let sm = server().client();
    let function_arn = format!("arn:aws:lambda:{REGION}:{DEV_ACCOUNT}:function:{function}");
    let out = ok(sm
        .rotate_secret()
        .secret_id(secret_arn)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await);
    let version = out.version_id().expect("VersionId").to_owned();
    let done = wait_for_secret(&sm, secret_arn, "the rotation", |d| {
        d.version_ids_to_stages()
            .and_then(|v| v.get(&version))
            .is_some_and(|stages| stages == &["AWSCURRENT".to_owned()])
    })
    .await;
    assert_eq!(done.rotation_enabled(), Some(true));
    assert!(done.last_rotated_date().is_some());
    let value = sm.value(secret_arn).await;
    serde_json::from_str(&value).expect("the rotated value is JSON")
}

#[tokio::test]
async fn awss_postgresql_single_user_function_rotates_through_rotate_secret_three_times() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let user = db_user_name();
    let first = db_password();
    pg.create_user(&user, &first).await;
    let value = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
                       "username": user, "password": first, "dbname": "postgres"});
    let secret_arn = secret_of("rot-pg-rs", &value).await;
    let function = deploy_rotation_function(
        &lambdas,
        "SecretsManagerRDSPostgreSQLRotationSingleUser",
        &secret_arn,
        None,
    )
    .await;
    allow_secrets_manager(&function, &secret_arn).await;
    let mut previous = first;
    for round in 1..=3 {
        let rotated = rotate_secret(&function, &secret_arn).await;
        let password = rotated["password"].as_str().expect("password").to_owned();
        assert_ne!(password, previous, "rotation {round}");
        assert_eq!(rotated["username"], user.as_str());
        // The password Secrets Manager generated is the user's now; the one before no longer is.
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

#[tokio::test]
async fn awss_mariadb_alternating_users_function_rotates_through_rotate_secret() {
    let Some(lambdas) = aws_rotation_lambdas_dir() else {
        return;
    };
    let Some(db) = MariaDb::from_env() else {
        return;
    };
    let (_admin, master_arn) = mariadb_master(&db, "mariadb", Some(false)).await;
    let name = db_user_name();
    let first = db_password();
    let grant = format!("SELECT ON {}.*", db.database());
    let _user = db.create_user(&name, &first, &[&grant]);
    let clone = format!("{name}_clone");
    let _clone = db.adopt_user(&clone);
    let value = json!({"engine": "mariadb", "host": db.host(), "port": db.port(),
                       "username": name, "password": first, "dbname": db.database(),
                       "masterarn": master_arn, "ssl": false});
    let secret_arn = secret_of("rot-mariadb-rs", &value).await;
    let function = deploy_rotation_function(
        &lambdas,
        "SecretsManagerRDSMariaDBRotationMultiUser",
        &secret_arn,
        Some(&master_arn),
    )
    .await;
    allow_secrets_manager(&function, &secret_arn).await;

    // First rotation: to the clone, with a new password; the user keeps its own meanwhile, so
    // whoever read the secret before still logs in.
    let rotated = rotate_secret(&function, &secret_arn).await;
    assert_eq!(rotated["username"], clone.as_str());
    let clone_password = rotated["password"].as_str().expect("password").to_owned();
    assert_eq!(db.login(&clone, &clone_password), Ok(()));
    assert_eq!(db.login(&name, &first), Ok(()));
    // Second: back to the user, with a password of its own, new; the clone keeps its password.
    let rotated = rotate_secret(&function, &secret_arn).await;
    assert_eq!(rotated["username"], name.as_str());
    let user_password = rotated["password"].as_str().expect("password").to_owned();
    assert_ne!(user_password, first);
    assert_eq!(db.login(&name, &user_password), Ok(()));
    assert!(db.login(&name, &first).is_err());
    assert_eq!(db.login(&clone, &clone_password), Ok(()));
}
