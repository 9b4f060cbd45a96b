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
