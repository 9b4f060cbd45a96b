//! Server certificates (upload, get, list by path, rename, tags, delete; a body that is no
//! certificate, a key that is not the certificate's) and signing certificates (two per user,
//! status, delete, unknown users and ids, the credential report's `cert_*` columns).
//! Certificates are made in the test with rcgen.

use aws_sdk_iam::types::{ReportStateType, StatusType, Tag};
use aws_smithy_types::DateTime;
use rcgen::{CertificateParams, DnType, KeyPair};

use super::*;

/// A self-signed certificate (PEM) valid until 2031-01-02, and its key (PKCS #8 PEM).
fn certificate(name: &str) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![format!("{name}.example.com")]).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_after = rcgen::date_time_ymd(2031, 1, 2);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

fn not_found(name: &str) -> Outcome {
    failed(
        "NoSuchEntity",
        &format!("The Server Certificate with name {name} cannot be found."),
    )
}

#[tokio::test]
async fn server_certificates_are_uploaded_read_listed_renamed_and_deleted() {
    let iam = server().iam_client();
    let name = format!("web-{}", short_id());
    let (body, key) = certificate(&name);
    let (chain, _) = certificate("issuer");
    let tag = Tag::builder().key("team").value("web").build().unwrap();
    let uploaded = ok(iam
        .upload_server_certificate()
        .server_certificate_name(&name)
        .path("/cloudfront/")
        .certificate_body(&body)
        .private_key(&key)
        .certificate_chain(&chain)
        .tags(tag.clone())
        .send()
        .await);
    let meta = uploaded.server_certificate_metadata.expect("metadata");
    assert_eq!(meta.path, "/cloudfront/");
    assert_eq!(meta.server_certificate_name, name);
    assert_eq!(
        meta.arn,
        format!("arn:aws:iam::{DEV_ACCOUNT}:server-certificate/cloudfront/{name}")
    );
    assert!(meta.server_certificate_id.starts_with("ASCA"), "{meta:?}");
    assert_eq!(meta.server_certificate_id.len(), 21);
    assert_eq!(meta.expiration, Some(DateTime::from_secs(1_925_078_400)));
    assert!(meta.upload_date.is_some());
    assert_eq!(uploaded.tags, Some(vec![tag.clone()]));

    let got = ok(iam
        .get_server_certificate()
        .server_certificate_name(&name)
        .send()
        .await)
    .server_certificate
    .expect("ServerCertificate");
    assert_eq!(got.certificate_body, body);
    assert_eq!(got.certificate_chain.as_deref(), Some(chain.as_str()));
    assert_eq!(got.tags, Some(vec![tag]));
    assert_eq!(got.server_certificate_metadata, Some(meta.clone()));

    let listed = ok(iam
        .list_server_certificates()
        .path_prefix("/cloudfront/")
        .send()
        .await);
    assert!(listed.server_certificate_metadata_list.contains(&meta));
    let elsewhere = ok(iam.list_server_certificates().path_prefix("/elb/").send().await);
    assert!(!elsewhere.server_certificate_metadata_list.contains(&meta));

    let renamed = format!("{name}-2");
    ok(iam
        .update_server_certificate()
        .server_certificate_name(&name)
        .new_server_certificate_name(&renamed)
        .new_path("/elb/")
        .send()
        .await);
    assert_eq!(
        outcome(
            iam.get_server_certificate()
                .server_certificate_name(&name)
                .send()
                .await
        ),
        not_found(&name)
    );
    let moved = ok(iam
        .get_server_certificate()
        .server_certificate_name(&renamed)
        .send()
        .await)
    .server_certificate
    .and_then(|c| c.server_certificate_metadata)
    .expect("metadata");
    assert_eq!(
        moved.arn,
        format!("arn:aws:iam::{DEV_ACCOUNT}:server-certificate/elb/{renamed}")
    );
    assert_eq!(moved.server_certificate_id, meta.server_certificate_id);

    ok(iam
        .untag_server_certificate()
        .server_certificate_name(&renamed)
        .tag_keys("team")
        .send()
        .await);
    let tags = ok(iam
        .list_server_certificate_tags()
        .server_certificate_name(&renamed)
        .send()
        .await)
    .tags;
    assert!(tags.is_empty(), "{tags:?}");

    ok(iam
        .delete_server_certificate()
        .server_certificate_name(&renamed)
        .send()
        .await);
    assert_eq!(
        outcome(
            iam.delete_server_certificate()
                .server_certificate_name(&renamed)
                .send()
                .await
        ),
        not_found(&renamed)
    );
}

#[tokio::test]
async fn server_certificates_refuse_bad_bodies_foreign_keys_and_taken_names() {
    let iam = server().iam_client();
    let name = format!("bad-{}", short_id());
    let (body, key) = certificate(&name);
    let (_, other_key) = certificate("other");
    let upload = |body: &str, key: &str| {
        iam.upload_server_certificate()
            .server_certificate_name(&name)
            .certificate_body(body)
            .private_key(key)
            .send()
    };
    assert_eq!(
        outcome(upload("certbody", &key).await),
        failed(
            "MalformedCertificate",
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        )
    );
    assert_eq!(
        outcome(upload(&body, &other_key).await).map_err(|f| f.code),
        Err("KeyPairMismatch".to_owned())
    );
    ok(upload(&body, &key).await);
    assert_eq!(
        outcome(upload(&body, &key).await),
        failed(
            "EntityAlreadyExists",
            &format!("The Server Certificate with name {name} already exists.")
        )
    );
    ok(iam
        .delete_server_certificate()
        .server_certificate_name(&name)
        .send()
        .await);
}

#[tokio::test]
async fn server_certificates_need_permission() {
    let user = server().user("no-certs", None).await;
    let (body, key) = certificate("denied");
    let upload = user
        .iam()
        .upload_server_certificate()
        .server_certificate_name("denied")
        .certificate_body(body)
        .private_key(key)
        .send()
        .await;
    assert_eq!(error_code(upload), "AccessDenied");
}

#[tokio::test]
async fn signing_certificates_are_two_per_user_with_a_status() {
    let iam = server().iam_client();
    let user = format!("signer-{}", short_id());
    ok(iam.create_user().user_name(&user).send().await);
    let upload = |body: String| {
        iam.upload_signing_certificate()
            .user_name(&user)
            .certificate_body(body)
            .send()
    };
    let (first_body, _) = certificate("first");
    let first = ok(upload(first_body.clone()).await)
        .certificate
        .expect("Certificate");
    assert_eq!(first.user_name, user);
    assert_eq!(first.status, StatusType::Active);
    assert_eq!(first.certificate_body, first_body);
    assert_eq!(first.certificate_id.len(), 32);
    assert_eq!(
        outcome(upload(first_body.clone()).await).map_err(|f| f.code),
        Err("DuplicateCertificate".to_owned())
    );
    ok(upload(certificate("second").0).await);
    assert_eq!(
        outcome(upload(certificate("third").0).await),
        failed("LimitExceeded", "Cannot exceed quota for CertificatesPerUser: 2")
    );
    assert_eq!(
        outcome(upload("notacert".into()).await).map_err(|f| f.code),
        Err("MalformedCertificate".to_owned())
    );

    ok(iam
        .update_signing_certificate()
        .user_name(&user)
        .certificate_id(&first.certificate_id)
        .status(StatusType::Inactive)
        .send()
        .await);
    let listed = ok(iam.list_signing_certificates().user_name(&user).send().await).certificates;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].certificate_id, first.certificate_id);
    assert_eq!(listed[0].status, StatusType::Inactive);

    assert_eq!(
        outcome(iam.delete_user().user_name(&user).send().await),
        failed(
            "DeleteConflict",
            "Cannot delete entity, must delete signing certificates first."
        )
    );
    let unknown = "X".repeat(32);
    assert_eq!(
        outcome(
            iam.delete_signing_certificate()
                .user_name(&user)
                .certificate_id(&unknown)
                .send()
                .await
        ),
        failed(
            "NoSuchEntity",
            &format!("The Certificate with id {unknown} cannot be found.")
        )
    );
    for c in listed {
        ok(iam
            .delete_signing_certificate()
            .user_name(&user)
            .certificate_id(c.certificate_id)
            .send()
            .await);
    }
    ok(iam.delete_user().user_name(&user).send().await);
    assert_eq!(
        outcome(iam.list_signing_certificates().user_name(&user).send().await),
        failed(
            "NoSuchEntity",
            &format!("The user with name {user} cannot be found.")
        )
    );
}

#[tokio::test]
async fn a_user_uploads_a_signing_certificate_for_itself() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:UploadSigningCertificate","iam:ListSigningCertificates"],"Resource":"*"}]}"#;
    let user = server().user("self-signer", Some(policy)).await;
    let (body, _) = certificate("self");
    let uploaded = ok(user
        .iam()
        .upload_signing_certificate()
        .certificate_body(body)
        .send()
        .await)
    .certificate
    .expect("Certificate");
    assert_eq!(uploaded.user_name, user.name);
    let listed = ok(user.iam().list_signing_certificates().send().await).certificates;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].certificate_id, uploaded.certificate_id);
}

#[tokio::test]
async fn the_credential_report_shows_signing_certificates() {
    let (server, _clock) = TestServer::start_manual().await;
    let iam = server.iam_client();
    ok(iam.create_user().user_name("certified").send().await);
    let id = ok(iam
        .upload_signing_certificate()
        .user_name("certified")
        .certificate_body(certificate("report").0)
        .send()
        .await)
    .certificate
    .expect("Certificate")
    .certificate_id;
    ok(iam
        .update_signing_certificate()
        .user_name("certified")
        .certificate_id(id)
        .status(StatusType::Inactive)
        .send()
        .await);
    ok(iam
        .upload_signing_certificate()
        .user_name("certified")
        .certificate_body(certificate("report-2").0)
        .send()
        .await);
    let state = ok(iam.generate_credential_report().send().await).state;
    assert_eq!(state, Some(ReportStateType::Started));
    let got = ok(iam.get_credential_report().send().await);
    let csv = String::from_utf8(got.content.expect("Content").into_inner()).expect("UTF-8");
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("certified,"))
        .expect("the user's row")
        .split(',')
        .collect();
    let n = row.len();
    assert_eq!(row[n - 4], "false");
    assert_ne!(row[n - 3], "N/A");
    assert_eq!(row[n - 2], "true");
    assert_ne!(row[n - 1], "N/A");
}
