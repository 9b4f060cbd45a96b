//! SAML providers: create, get, list, update, delete and tag, the metadata checks (an identity
//! provider's SAML 2.0 metadata, kept as given) and authorization on the provider's ARN.

use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::Tag;
use kinko_tests::*;

use crate::*;

/// The identity provider's signing certificate in its metadata (base64 DER, as published).
const CERTIFICATE: &str = "MIIDBTCCAe2gAwIBAgIQN33ROaIJ6bJBWDCxtmJEbjANBgkqhkiG9w0BAQsFADAtMSswKQYDVQQDEyJhY2NvdW50cy5hY2Nlc3Njb250cm9sLndpbmRvd3MubmV0MB4XDTIwMTIyMTIwNTAxN1oXDTI1MTIyMDIwNTAxN1owLTErMCkGA1UEAxMiYWNjb3VudHMuYWNjZXNzY29udHJvbC53aW5kb3dzLm5ldDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKGiy0/YZHEo9rRn1w/ST9E1uHOIQK/XcC+gk7TAnRZQ3BrsGQ1ptFMPUcoXLoXQzKg+SUfyRx9cIgZKZ9cN8+ESQRU0yzBbvhP0hxpp5Yq1Cx3Z/W3W4g==";

/// SAML 2.0 metadata of an identity provider `entity`, valid until `valid_until` if given.
fn metadata(entity: &str, valid_until: Option<&str>) -> String {
    let valid_until = valid_until
        .map(|v| format!(r#" validUntil="{v}""#))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"{valid_until}>
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{CERTIFICATE}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{entity}/sso/saml"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{entity}/sso/saml"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#
    )
}

fn provider_arn(name: &str) -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:saml-provider/{name}")
}

fn not_found(arn: &str) -> Outcome {
    failed("NoSuchEntity", &format!("Manifest not found for arn {arn}"))
}

#[tokio::test]
async fn saml_provider_lifecycle() {
    let iam = server().iam_client();
    let name = format!("idp-{}", short_id());
    let doc = metadata("https://idp.example.com", Some("2031-02-03T04:05:06Z"));
    let created = ok(iam
        .create_saml_provider()
        .name(&name)
        .saml_metadata_document(&doc)
        .tags(Tag::builder().key("team").value("red").build().expect("tag"))
        .send()
        .await);
    let arn = created.saml_provider_arn.expect("SAMLProviderArn");
    assert_eq!(arn, provider_arn(&name));
    assert_eq!(created.tags.unwrap_or_default().len(), 1);

    let got = ok(iam.get_saml_provider().saml_provider_arn(&arn).send().await);
    assert_eq!(
        got.saml_metadata_document.as_deref(),
        Some(doc.as_str()),
        "kept as given"
    );
    assert_eq!(got.valid_until, Some(DateTime::from_secs(1_927_857_906)));
    let created_at = got.create_date.expect("CreateDate");
    assert_eq!(got.tags.unwrap_or_default().len(), 1);

    let listed = ok(iam.list_saml_providers().send().await);
    let entry = listed
        .saml_provider_list
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.arn.as_deref() == Some(arn.as_str()))
        .expect("listed");
    assert_eq!(entry.create_date, Some(created_at));
    assert_eq!(entry.valid_until, Some(DateTime::from_secs(1_927_857_906)));

    assert_eq!(
        outcome(
            iam.create_saml_provider()
                .name(name.to_uppercase())
                .saml_metadata_document(&doc)
                .send()
                .await
        ),
        failed(
            "EntityAlreadyExists",
            &format!("SAMLProvider {} already exists", name.to_uppercase())
        )
    );

    let new_doc = metadata("https://idp2.example.com", None);
    let updated = ok(iam
        .update_saml_provider()
        .saml_provider_arn(&arn)
        .saml_metadata_document(&new_doc)
        .send()
        .await);
    assert_eq!(updated.saml_provider_arn.as_deref(), Some(arn.as_str()));
    let got = ok(iam.get_saml_provider().saml_provider_arn(&arn).send().await);
    assert_eq!(got.saml_metadata_document.as_deref(), Some(new_doc.as_str()));
    assert_eq!(got.create_date, Some(created_at));

    ok(iam
        .tag_saml_provider()
        .saml_provider_arn(&arn)
        .tags(Tag::builder().key("env").value("dev").build().expect("tag"))
        .send()
        .await);
    ok(iam
        .untag_saml_provider()
        .saml_provider_arn(&arn)
        .tag_keys("team")
        .send()
        .await);
    let tags = ok(iam.list_saml_provider_tags().saml_provider_arn(&arn).send().await).tags;
    assert_eq!(
        tags.iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect::<Vec<_>>(),
        [("env", "dev")]
    );

    ok(iam.delete_saml_provider().saml_provider_arn(&arn).send().await);
    assert_eq!(
        outcome(iam.get_saml_provider().saml_provider_arn(&arn).send().await),
        not_found(&arn)
    );
    assert_eq!(
        outcome(iam.delete_saml_provider().saml_provider_arn(&arn).send().await),
        not_found(&arn)
    );
}

#[tokio::test]
async fn metadata_must_be_an_identity_providers() {
    let iam = server().iam_client();
    let create = |name: String, doc: String| {
        iam.create_saml_provider()
            .name(name)
            .saml_metadata_document(doc)
            .send()
    };
    let name = format!("idp-{}", short_id());
    let unparsable = failed("InvalidInput", "Could not parse metadata");
    // Long enough, but not XML.
    assert_eq!(outcome(create(name.clone(), "a".repeat(1024)).await), unparsable);
    // A service provider's metadata, not an identity provider's.
    let sp = metadata("https://sp.example.com", None).replace("IDPSSODescriptor", "SPSSODescriptor");
    assert_eq!(outcome(create(name.clone(), sp).await), unparsable);
    // Too short for the model.
    assert_eq!(
        outcome(create(name.clone(), "<x/>".into()).await).map_err(|f| f.code),
        Err("ValidationError".to_owned())
    );
    let bad_name = create("has space".into(), metadata("https://idp.example.com", None));
    assert_eq!(
        outcome(bad_name.await).map_err(|f| f.code),
        Err("ValidationError".to_owned())
    );
    // Nothing was made.
    assert_eq!(
        outcome(
            iam.get_saml_provider()
                .saml_provider_arn(provider_arn(&name))
                .send()
                .await
        ),
        not_found(&provider_arn(&name))
    );

    // UpdateSAMLProvider checks the new document likewise and keeps the old one.
    let doc = metadata("https://idp.example.com", None);
    let arn = ok(create(name.clone(), doc.clone()).await)
        .saml_provider_arn
        .expect("arn");
    let update = iam
        .update_saml_provider()
        .saml_provider_arn(&arn)
        .saml_metadata_document("b".repeat(2000));
    assert_eq!(outcome(update.send().await), unparsable);
    let got = ok(iam.get_saml_provider().saml_provider_arn(&arn).send().await);
    assert_eq!(got.saml_metadata_document, Some(doc));
    ok(iam.delete_saml_provider().saml_provider_arn(&arn).send().await);
}

#[tokio::test]
async fn saml_providers_are_authorized_on_their_arn() {
    let name = format!("idp-{}", short_id());
    let arn = provider_arn(&name);
    let caller = server().user("saml", None).await;
    let req = caller
        .iam()
        .create_saml_provider()
        .name(&name)
        .saml_metadata_document(metadata("https://idp.example.com", None));
    assert_eq!(
        outcome(req.send().await),
        denied(
            &caller.arn,
            "iam:CreateSAMLProvider",
            Some(&arn),
            Denial::NoIdentityPolicy
        )
    );
    // Authorization comes first: without permission, a missing provider isn't revealed.
    let req = caller.iam().get_saml_provider().saml_provider_arn(&arn);
    assert_eq!(
        outcome(req.send().await),
        denied(
            &caller.arn,
            "iam:GetSAMLProvider",
            Some(&arn),
            Denial::NoIdentityPolicy
        )
    );
    let manager = server()
        .user(
            "saml-manager",
            Some(&allow(
                &[
                    "iam:CreateSAMLProvider",
                    "iam:GetSAMLProvider",
                    "iam:DeleteSAMLProvider",
                ],
                &[&arn],
            )),
        )
        .await;
    let req = manager
        .iam()
        .create_saml_provider()
        .name(&name)
        .saml_metadata_document(metadata("https://idp.example.com", None));
    ok(req.send().await);
    ok(manager
        .iam()
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await);
    ok(manager
        .iam()
        .delete_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await);
}
