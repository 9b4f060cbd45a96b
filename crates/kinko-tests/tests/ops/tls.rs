//! HTTPS (`--tls-cert` / `--tls-key`): the AWS SDK over TLS trusting a CA of the test's own, TLS
//! 1.2 and 1.3, the certificate reloaded on request (SIGHUP) and when its files change while open
//! connections keep working, a bad new pair keeping the old one, `aws:SecureTransport`, and the
//! audit records' `tlsDetails`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::operation::RequestId as _;
use kinko_tests::*;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A dev-mode server serving HTTPS with a certificate `ca` issues into `dir`, its clients trusting
/// `ca`; and the TLS files, the certificate they hold.
async fn tls_server(
    ca: &TestCa,
    dir: &std::path::Path,
    change: impl FnOnce(&mut Config),
) -> (TestServer, TlsFiles, Issued) {
    let (mut files, issued) = ca.issue_files(dir, "server");
    // Only explicit reloads, unless the test asks for the files to be watched.
    files.reload_interval = Duration::from_secs(3600);
    let mut config = Config {
        tls: Some(files.clone()),
        ..dev_config()
    };
    change(&mut config);
    let files = config.tls.clone().expect("TLS files");
    let server = TestServer::start_with(config, TestClock::System)
        .await
        .trusting(ca);
    (server, files, issued)
}

#[tokio::test]
async fn the_sdk_speaks_to_kinko_over_https_trusting_the_test_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, _, _) = tls_server(&ca, dir.path(), |_| {}).await;
    assert!(server.endpoint_url().starts_with("https://127.0.0.1:"));
    let name = unique_name("tls");
    server.client().create_string(&name, "over TLS").await;
    assert_eq!(server.client().value(&name).await, "over TLS");
    // A client that doesn't trust the CA fails its handshake.
    let other = TestCa::new("another CA");
    let refused = TlsProbe::connect(server.addr(), other.client_config()).await;
    assert!(
        refused.is_err(),
        "a certificate from an untrusted CA was accepted"
    );
    // And plain HTTP gets no HTTP answer.
    let mut tcp = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_both_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, _, _) = tls_server(&ca, dir.path(), |_| {}).await;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).expect("CA certificate");
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .expect("version")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut probe = TlsProbe::connect(server.addr(), Arc::new(config))
            .await
            .expect("handshake");
        assert_eq!(probe.protocol_version(), Some(version.version));
        assert_eq!(probe.get("/health").await, (200, "ok".to_owned()));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_to_new_connections_and_keeps_open_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, files, first) = tls_server(&ca, dir.path(), |_| {}).await;
    let mut open = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(open.server_cert(), first.cert_der);
    assert_eq!(open.get("/health").await.0, 200);

    let second = ca.issue();
    ca.write(&files, &second);
    // Not watched (an hour between checks): the files are read again only when asked (SIGHUP).
    let before = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(before.server_cert(), first.cert_der, "reloaded unasked");
    server.running().reload_tls();
    let after = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(after.server_cert(), second.cert_der);
    // The connection opened before the reload is still served, on its own session.
    assert_eq!(open.get("/health").await, (200, "ok".to_owned()));
    assert_eq!(open.server_cert(), first.cert_der);
    // And the SDK's new connections work with the new certificate.
    server.client().list_secrets().send().await.expect("ListSecrets");
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_new_pair_keeps_the_one_in_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, files, first) = tls_server(&ca, dir.path(), |_| {}).await;
    // A new certificate with the old key: the pair doesn't match.
    let second = ca.issue();
    std::fs::write(&files.cert, &second.cert_pem).expect("write cert");
    server.running().reload_tls();
    let probe = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(probe.server_cert(), first.cert_der);
    // A key file that is no key.
    ca.write(&files, &first);
    std::fs::write(&files.key, "garbage\n").expect("write key");
    server.running().reload_tls();
    let probe = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(probe.server_cert(), first.cert_der);
    // Both files replaced with a good pair: taken.
    ca.write(&files, &second);
    std::fs::write(&files.key, &second.key_pem).expect("write key");
    server.running().reload_tls();
    let probe = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(probe.server_cert(), second.cert_der);
    server.shutdown().await;
}

#[tokio::test]
async fn changed_files_are_picked_up_without_being_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let interval = Duration::from_millis(50);
    let (server, files, first) = tls_server(&ca, dir.path(), |c| {
        if let Some(t) = c.tls.as_mut() {
            t.reload_interval = interval;
        }
    })
    .await;
    let mut open = TlsProbe::connect(server.addr(), ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(open.server_cert(), first.cert_der);
    let second = ca.issue();
    ca.write(&files, &second);
    // Waits (bounded) for the watcher to notice; how soon is not what is tested.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let probe = TlsProbe::connect(server.addr(), ca.client_config())
            .await
            .expect("handshake");
        if probe.server_cert() == second.cert_der {
            break;
        }
        assert!(Instant::now() < deadline, "the changed files were not picked up");
        tokio::time::sleep(interval).await;
    }
    assert_eq!(open.get("/health").await, (200, "ok".to_owned()));
    server.shutdown().await;
}

/// A Deny on `aws:SecureTransport` `false` (the usual "HTTPS only" statement) refuses a call over
/// plain HTTP and lets the same call through over TLS (IAM User Guide, "AWS global condition
/// context keys", aws:SecureTransport).
#[tokio::test]
async fn secure_transport_is_true_over_tls_and_false_over_plain_http() {
    let policy = policy_document(&[
        statement("Allow", &["secretsmanager:ListSecrets"], &["*"]),
        json!({
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }),
    ]);
    let plain = TestServer::start_with(dev_config(), TestClock::System).await;
    let user = plain.user("https-only", Some(&policy)).await;
    let denied = access_denied(
        &user.arn,
        "secretsmanager:ListSecrets",
        None,
        Denial::ExplicitIdentity,
    );
    assert_eq!(
        outcome(user.sm().list_secrets().send().await),
        failed("AccessDeniedException", &denied)
    );
    plain.shutdown().await;

    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (tls, _, _) = tls_server(&ca, dir.path(), |_| {}).await;
    let user = tls.user("https-only", Some(&policy)).await;
    assert_eq!(outcome(user.sm().list_secrets().send().await), Ok(()));
    tls.shutdown().await;
}

/// CloudTrail's `tlsDetails` on the records of calls over TLS: the version, the cipher suite and
/// the `Host` the client sent.
#[tokio::test]
async fn audit_records_of_calls_over_tls_carry_tls_details() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let log = dir.path().join("audit.log");
    let (server, _, _) = tls_server(&ca, dir.path(), |c| c.audit_log = Some(log.clone())).await;
    let addr: SocketAddr = server.addr();
    let out = server.client().list_secrets().send().await.expect("ListSecrets");
    let request_id = out.request_id().expect("request id").to_owned();
    let refused = server
        .client_with_credentials("AKIAUNKNOWNKEY000000", "wrong")
        .list_secrets()
        .send()
        .await
        .expect_err("unknown key");
    let refused_id = refused
        .raw_response()
        .and_then(|r| r.headers().get("x-amzn-requestid"))
        .expect("request id")
        .to_owned();
    server.shutdown().await;
    let records = read_records(&log);
    for id in [request_id, refused_id] {
        let record = records
            .iter()
            .find(|r| r["requestID"] == id.as_str())
            .unwrap_or_else(|| panic!("no record of {id}"));
        let tls = &record["tlsDetails"];
        assert_eq!(tls["tlsVersion"], "TLSv1.3", "{record}");
        assert_eq!(tls["clientProvidedHostHeader"], addr.to_string(), "{record}");
        // Which TLS 1.3 suite client and server agree on is theirs to choose; its name is IANA's.
        let suite = tls["cipherSuite"].as_str().unwrap_or_default();
        assert!(
            [
                "TLS_AES_128_GCM_SHA256",
                "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"
            ]
            .contains(&suite),
            "{record}"
        );
        assert_eq!(tls.as_object().map(|o| o.len()), Some(3), "{record}");
    }
}

/// A client that opens a connection and never begins its handshake is closed after the header
/// read timeout, like one that never sends its request head.
#[tokio::test]
async fn a_handshake_that_never_begins_is_closed_at_the_header_read_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, _, _) = tls_server(&ca, dir.path(), |c| {
        c.connections.header_read_timeout = Duration::from_millis(200);
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let mut rest = Vec::new();
    // Bounded only so that a failure ends: the server closes the connection on its own.
    let closed = tokio::time::timeout(Duration::from_secs(60), tcp.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the silent connection was kept open");
    server.shutdown().await;
}

/// Connections in their handshake count against `max_connections`: at the cap, a new client
/// closes the one that has waited longest (here, one that never began its handshake) and is served.
#[tokio::test]
async fn handshakes_count_against_the_connection_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    // A header read timeout longer than the test waits: only making room closes the silent one.
    let (server, _, _) = tls_server(&ca, dir.path(), |c| {
        c.connections.max_connections = Some(1);
        c.connections.header_read_timeout = Duration::from_secs(600);
    })
    .await;
    let mut silent = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let served = tokio::time::timeout(Duration::from_secs(60), async {
        let mut probe = TlsProbe::connect(server.addr(), ca.client_config())
            .await
            .expect("handshake");
        probe.get("/health").await
    })
    .await;
    assert_eq!(
        served.ok(),
        Some((200, "ok".to_owned())),
        "the new client was not served"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(60), silent.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the connection waiting longest was not closed to make room"
    );
    server.shutdown().await;
}

/// The metrics listener of its own serves HTTPS with the same certificate when TLS is on.
#[tokio::test]
async fn the_metrics_listener_serves_https_with_the_same_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, _, issued) = tls_server(&ca, dir.path(), |c| {
        c.metrics_listen = MetricsListen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let ops = server.metrics_addr().expect("a metrics listener");
    let mut probe = TlsProbe::connect(ops, ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(probe.server_cert(), issued.cert_der);
    assert_eq!(probe.get("/health").await, (200, "ok".to_owned()));
    let (status, body) = probe.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("kinko_"), "{body}");
    server.shutdown().await;
}

/// Functions call a server serving HTTPS at `https://localhost:PORT`, trusting the certificates of
/// its `--tls-cert` file (here the chain ends with the test CA): boto3 through `AWS_CA_BUNDLE`, the
/// JavaScript SDK v2 through `NODE_EXTRA_CA_CERTS`.
#[tokio::test]
async fn functions_call_the_server_over_https() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};

    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (server, _, _) = tls_server(&ca, dir.path(), |_| {}).await;
    let name = unique_name("tls-fn");
    server.client().create_string(&name, "read over TLS").await;
    let role = server
        .root()
        .execution_role(
            "tls-reader",
            Some(&allow(&["secretsmanager:GetSecretValue"], &["*"])),
        )
        .await;
    let python = b"import boto3, os\n\
def handler(event, context):\n    \
return [os.environ['AWS_ENDPOINT_URL'], boto3.client('secretsmanager').get_secret_value(SecretId=event['id'])['SecretString']]\n";
    let node = b"const AWS = require('aws-sdk');\n\
exports.handler = async (event) => [process.env.AWS_ENDPOINT_URL, \
(await new AWS.SecretsManager().getSecretValue({ SecretId: event.id }).promise()).SecretString];\n";
    let lambda = server.lambda_client();
    for (function, runtime, handler, file, code) in [
        ("tls-py", Runtime::Python312, "app.handler", "app.py", &python[..]),
        (
            "tls-node",
            Runtime::Nodejs14x,
            "index.handler",
            "index.js",
            &node[..],
        ),
    ] {
        lambda
            .create_function()
            .function_name(function)
            .runtime(runtime)
            .handler(handler)
            .role(&role)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(zip_of(&[(file, code)])))
                    .build(),
            )
            .send()
            .await
            .expect("CreateFunction");
        let out = lambda
            .invoke()
            .function_name(function)
            .payload(Blob::new(json!({"id": name}).to_string()))
            .send()
            .await
            .expect("Invoke");
        let body: serde_json::Value =
            serde_json::from_slice(out.payload().expect("payload").as_ref()).expect("JSON");
        assert_eq!(out.function_error(), None, "{function}: {body}");
        assert_eq!(
            body,
            json!([
                format!("https://localhost:{}", server.addr().port()),
                "read over TLS"
            ]),
            "{function}"
        );
    }
    server.shutdown().await;
}
