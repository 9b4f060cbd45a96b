//! Lambda functions for tests: deployment packages (zip archives made in memory), execution
//! roles trusting Lambda, and a function created with the AWS SDK.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use serde_json::json;

use crate::errors::ok;
use crate::policy::policy_document;
use crate::principal::Principal;

/// A trust policy letting Lambda assume the role.
pub fn lambda_trust() -> String {
    policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"
    })])
}

/// A zip archive holding `files` (name, content), stored without compression.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let crc = crc32(data);
        let offset = u32::try_from(out.len()).expect("a small archive");
        let size = u32::try_from(data.len()).expect("a small file");
        let name_len = u16::try_from(name.len()).expect("a short name");
        // Local file header.
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Its central directory entry.
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&0o100_644u32.wrapping_shl(16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(files.len()).expect("few files");
    let central_offset = u32::try_from(out.len()).expect("a small archive");
    let central_size = u32::try_from(central.len()).expect("a small directory");
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A Python handler returning its event, as a deployment package.
pub fn echo_python_zip() -> Vec<u8> {
    zip_of(&[(
        "lambda_function.py",
        b"def lambda_handler(event, context):\n    return event\n",
    )])
}

/// The Node.js handler of the typical guide, unchanged: reads `MySecret` in `ap-northeast-1`
/// with the AWS SDK for JavaScript v2 and returns the response as a JSON string.
pub const GUIDE_NODE_HANDLER: &str = "const AWS = require('aws-sdk')
exports.handler = async function (event, context) {
  const secretsManager = new AWS.SecretsManager({ region: 'ap-northeast-1' })
  const response = await secretsManager.getSecretValue({ SecretId: 'MySecret' }).promise()
  return JSON.stringify({ response }, null, 2)
}
";

/// [`GUIDE_NODE_HANDLER`] as `index.js` of a deployment package (handler `index.handler`).
pub fn guide_node_zip() -> Vec<u8> {
    zip_of(&[("index.js", GUIDE_NODE_HANDLER.as_bytes())])
}

impl Principal<'_> {
    /// A Lambda client signing as this principal.
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        self.server.lambda_client_as(&self.creds)
    }

    /// Creates, as this principal, an execution role `name` that Lambda may assume, with `policy`
    /// as its inline policy when given; returns its ARN.
    pub async fn execution_role(&self, name: &str, policy: Option<&str>) -> String {
        self.new_role(name, &lambda_trust(), policy).await
    }

    /// Creates, as this principal, the Python function `name` (echoing its event) under `role`;
    /// returns its ARN.
    pub async fn python_function(&self, name: &str, role: &str) -> String {
        let out = ok(self
            .lambda()
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .handler("lambda_function.lambda_handler")
            .role(role)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(echo_python_zip()))
                    .build(),
            )
            .send()
            .await);
        out.function_arn.expect("CreateFunction returns the ARN")
    }
}

/// Where AWS's published rotation functions (aws-samples/aws-secrets-manager-rotation-lambdas,
/// unmodified) are read from: `KINKO_TEST_ROTATION_LAMBDAS`, or
/// `../shared/testdata/aws-rotation-lambdas` beside the repository. `None` (with the reason printed) when the
/// variable is unset and that directory is absent; panics when the variable names a missing one.
pub fn aws_rotation_lambdas_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os("KINKO_TEST_ROTATION_LAMBDAS") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "KINKO_TEST_ROTATION_LAMBDAS names no directory: {}",
                dir.display()
            );
            Some(dir)
        }
        None => {
            // `shared/` beside the repository (this crate is `crates/kinko-tests` in it).
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/testdata/aws-rotation-lambdas");
            if dir.is_dir() {
                Some(dir)
            } else {
                println!(
                    "skipping: AWS's rotation functions are not at {} (set KINKO_TEST_ROTATION_LAMBDAS)",
                    dir.display()
                );
                None
            }
        }
    }
}

/// The database drivers of AWS's rotation functions, as `scripts/setup.sh` installs them
/// (`target/tools/rotation-deps/python`: `pymysql`, PyGreSQL's `pg` and `pgdb`); panics when
/// they are missing.
pub fn rotation_deps_dir() -> std::path::PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/rotation-deps/python");
    assert!(
        dir.join("pymysql").is_dir() && dir.join("pgdb.py").is_file(),
        "the rotation functions' database drivers are missing from {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// The deployment package of AWS's rotation function in folder `function` of
/// [`aws_rotation_lambdas_dir`] (`SecretsManagerRDSPostgreSQLRotationSingleUser`, ...), as AWS
/// users bundle it: its `lambda_function.py`, unchanged, beside the database drivers of
/// [`rotation_deps_dir`] at the archive's root.
pub fn aws_rotation_function_zip(lambdas: &std::path::Path, function: &str) -> Vec<u8> {
    let source = lambdas.join(function).join("lambda_function.py");
    let code = std::fs::read(&source).unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
    let mut files = vec![("lambda_function.py".to_owned(), code)];
    collect_files(&rotation_deps_dir(), "", &mut files);
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, data)| (name.as_str(), data.as_slice()))
        .collect();
    zip_of(&refs)
}

/// Every file under `dir` (but `__pycache__`), named by its path under the archive's root.
fn collect_files(dir: &std::path::Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        let archived = format!("{prefix}{name}");
        if path.is_dir() {
            collect_files(&path, &format!("{archived}/"), out);
        } else {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            out.push((archived, data));
        }
    }
}
