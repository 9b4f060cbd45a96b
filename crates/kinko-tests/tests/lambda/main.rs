//! Lambda through the AWS SDK for Rust: functions created, read, listed, updated, published,
//! tagged and deleted; errors and validation as Lambda answers them; who may do what (the caller's
//! policies, `iam:PassRole`, the execution role's trust policy, the function's resource policy
//! across accounts); functions run by the server under their execution roles (invoke); AWS's
//! published database rotation functions run unchanged, and databases whose logins need passwords
//! (rotation_functions).
//!
//! Tests share one server and make functions and roles with unique names.

mod authz;
mod builtin_rotators;
mod functions;
mod invoke;
mod rotation_functions;

use kinko_tests::*;

/// The shared server.
fn server() -> &'static TestServer {
    TestServer::start()
}

/// The ARN of a function of the shared server's account.
fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{DEV_ACCOUNT}:function:{name}")
}

/// An execution role of the shared server's account that Lambda may assume.
async fn execution_role() -> String {
    server()
        .root()
        .execution_role(&format!("fn-role-{}", short_id()), None)
        .await
}
