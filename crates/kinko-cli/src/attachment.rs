//! `kinko attachment`: an operator creates, lists and revokes the workload attachments the
//! server's credentials endpoints serve: instance attachments (an instance profile on a port of
//! the instance metadata endpoint) and container credentials tokens (a role, for the holder of a
//! token). Each subcommand is one call of kinko's own service (`Kinko.<Operation>`, SigV4 service
//! `kinko`), signed with the caller's credentials from the default chain (environment, profile,
//! ...), so it is authorized and audited like any other call. Answers are printed as the server
//! gave them (JSON); a token is in CreateContainerCredentialsToken's answer only.

use std::process::ExitCode;
use std::time::SystemTime;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials as _;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

#[derive(clap::Args)]
pub struct AttachmentArgs {
    /// The kinko endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:8780).
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// Region to sign for (default: the caller's configured region, else us-east-1).
    #[arg(long, global = true)]
    region: Option<String>,
    #[command(subcommand)]
    command: AttachmentCommand,
}

#[derive(clap::Subcommand)]
enum AttachmentCommand {
    /// Serve an instance profile's role on a port of the instance metadata endpoint (the server's
    /// --imds-listen address): the workload sets AWS_EC2_METADATA_SERVICE_ENDPOINT to it.
    CreateInstance {
        #[arg(long)]
        instance_profile: String,
        #[arg(long)]
        port: u16,
        /// The role session name (default: the instance id, as on EC2).
        #[arg(long)]
        session_name: Option<String>,
    },
    /// The instance attachments of the caller's account.
    ListInstances,
    /// Revoke an instance attachment: its port stops answering at once.
    DeleteInstance { attachment_id: String },
    /// A token for the container credentials endpoint, bound to a role (printed once; only its
    /// hash is kept): the workload sets AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) to it.
    CreateToken {
        #[arg(long)]
        role: String,
        /// The role session name (default: the token id).
        #[arg(long)]
        session_name: Option<String>,
        /// A session tag, KEY=VALUE. Repeatable.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// The container credentials tokens of the caller's account (never the tokens themselves).
    ListTokens,
    /// Revoke a container credentials token: it stops working at once.
    DeleteToken { token_id: String },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("kinko attachment: {message}");
    ExitCode::FAILURE
}

/// The operation and its JSON input.
fn call(command: &AttachmentCommand) -> Result<(&'static str, serde_json::Value), String> {
    use serde_json::json;
    Ok(match command {
        AttachmentCommand::CreateInstance {
            instance_profile,
            port,
            session_name,
        } => {
            let mut v = json!({"InstanceProfileName": instance_profile, "Port": port});
            if let Some(n) = session_name {
                v["RoleSessionName"] = json!(n);
            }
            ("CreateInstanceAttachment", v)
        }
        AttachmentCommand::ListInstances => ("ListInstanceAttachments", json!({})),
        AttachmentCommand::DeleteInstance { attachment_id } => {
            ("DeleteInstanceAttachment", json!({"AttachmentId": attachment_id}))
        }
        AttachmentCommand::CreateToken {
            role,
            session_name,
            tags,
        } => {
            let mut v = json!({"RoleArn": role});
            if let Some(n) = session_name {
                v["RoleSessionName"] = json!(n);
            }
            let mut shaped = Vec::new();
            for t in tags {
                let (k, val) = t
                    .split_once('=')
                    .ok_or_else(|| format!("--tag {t}: expected KEY=VALUE"))?;
                shaped.push(json!({"Key": k, "Value": val}));
            }
            if !shaped.is_empty() {
                v["Tags"] = json!(shaped);
            }
            ("CreateContainerCredentialsToken", v)
        }
        AttachmentCommand::ListTokens => ("ListContainerCredentialsTokens", json!({})),
        AttachmentCommand::DeleteToken { token_id } => {
            ("DeleteContainerCredentialsToken", json!({"TokenId": token_id}))
        }
    })
}

pub async fn run(args: AttachmentArgs) -> ExitCode {
    let (operation, input) = match call(&args.command) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    call_kinko(
        args.endpoint.as_deref(),
        args.region.as_deref(),
        operation,
        &input,
    )
    .await
}

/// Calls `Kinko.<operation>` with `input` at `endpoint` (default: AWS_ENDPOINT_URL, else
/// http://127.0.0.1:8780), signed for `region` with the caller's credentials from the default
/// chain; prints the answer (JSON), or the error and fails.
pub(crate) async fn call_kinko(
    endpoint: Option<&str>,
    region: Option<&str>,
    operation: &str,
    input: &serde_json::Value,
) -> ExitCode {
    let endpoint = endpoint
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:8780".to_owned());
    let Some(authority) = endpoint
        .strip_prefix("http://")
        .map(|r| r.trim_end_matches('/').to_owned())
    else {
        return fail(format!(
            "{endpoint}: only http:// endpoints are supported (the server speaks plain HTTP)"
        ));
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let Some(provider) = config.credentials_provider() else {
        return fail("no credentials: configure the caller's keys or profile");
    };
    let creds = match provider.provide_credentials().await {
        Ok(c) => c,
        Err(e) => return fail(format!("no credentials: {e}")),
    };
    let body = input.to_string().into_bytes();
    let target = format!("Kinko.{operation}");
    let mut request = match http::Request::post("/")
        .header("host", &authority)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", &target)
        .body(body)
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let identity: Identity = creds.into();
    let url = format!("http://{authority}/");
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let signable = match SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(request.body()),
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let params = match SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("kinko")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
    {
        Ok(p) => p.into(),
        Err(e) => return fail(e),
    };
    match sign(signable, &params) {
        Ok(out) => out.into_parts().0.apply_to_request_http1x(&mut request),
        Err(e) => return fail(e),
    }
    let (status, answer) = match send(&authority, request).await {
        Ok(r) => r,
        Err(e) => return fail(format!("{endpoint}: {e}")),
    };
    let json: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    if status != 200 {
        return fail(format!(
            "{}: {}",
            json["__type"].as_str().unwrap_or("error"),
            json["message"]
                .as_str()
                .or_else(|| json["Message"].as_str())
                .unwrap_or_default()
        ));
    }
    match serde_json::to_string_pretty(&json) {
        Ok(text) => println!("{text}"),
        Err(e) => return fail(e),
    }
    ExitCode::SUCCESS
}

async fn send(authority: &str, request: http::Request<Vec<u8>>) -> Result<(u16, Bytes), String> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let (parts, body) = request.into_parts();
    let response = sender
        .send_request(http::Request::from_parts(parts, Full::new(Bytes::from(body))))
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}
