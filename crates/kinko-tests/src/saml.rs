//! A SAML 2.0 identity provider for the tests: a signing key and self-signed certificate, its
//! metadata, and responses whose assertions it signs (xmlsec, through `samael`), for
//! AssumeRoleWithSAML.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};

use crate::{TestServer, short_id};

pub const SIGN_IN: &str = "https://signin.aws.amazon.com/saml";

/// An identity provider's signing key and its self-signed certificate.
pub struct Idp {
    pub certificate_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Idp {
    pub fn generate() -> Idp {
        let certified = rcgen::generate_simple_self_signed(vec!["idp.kinko-tests.example".into()])
            .expect("IdP certificate");
        Idp {
            certificate_der: certified.cert.der().to_vec(),
            key_der: certified.signing_key.serialize_der(),
        }
    }

    /// SAML 2.0 metadata of the identity provider `entity` with this certificate.
    pub fn metadata(&self, entity: &str) -> String {
        let cert = STANDARD.encode(&self.certificate_der);
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{entity}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#
        )
    }

    /// `assertion` (with a signature template) signed with this key.
    pub fn sign(&self, assertion: &str) -> String {
        let signed = Crypto::sign_xml(assertion, &self.key_der).expect("sign the assertion");
        // The signed element, without the XML declaration, to go inside a Response.
        match signed.find("?>") {
            Some(end) if signed.starts_with("<?xml") => signed[end + 2..].trim().to_owned(),
            _ => signed,
        }
    }
}

/// An ISO 8601 time `secs` after the epoch.
pub fn iso(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// What an assertion says; [`Claims::new`] makes a good one for a role and provider.
#[derive(Clone)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub recipient: String,
    pub audience: String,
    pub not_on_or_after: i64,
    pub session_not_on_or_after: Option<i64>,
    pub roles: Vec<String>,
    pub session_name: Option<String>,
    /// More `saml:Attribute` elements, as XML.
    pub extra: String,
}

impl Claims {
    pub fn new(server: &TestServer, entity: &str, role: &str, provider: &str) -> Claims {
        Claims {
            issuer: entity.to_owned(),
            subject: "alice@example.com".into(),
            recipient: SIGN_IN.into(),
            audience: "urn:amazon:webservices".into(),
            not_on_or_after: server.now_secs() + 300,
            session_not_on_or_after: None,
            roles: vec![format!("{role},{provider}")],
            session_name: Some("alice".into()),
            extra: String::new(),
        }
    }

    /// The assertion, with a signature template over it (RSA or ECDSA SHA-256, as the key is).
    pub fn assertion(&self, server: &TestServer, id: &str) -> String {
        let now = server.now_secs();
        let issued = iso(now - 5);
        let until = iso(self.not_on_or_after);
        let attr = |name: &str, values: &[&str]| {
            let values: String = values
                .iter()
                .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
                .collect();
            format!(
                r#"<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/{name}">{values}</saml:Attribute>"#
            )
        };
        let roles: Vec<&str> = self.roles.iter().map(String::as_str).collect();
        let mut attributes = attr("Role", &roles);
        if let Some(n) = &self.session_name {
            attributes.push_str(&attr("RoleSessionName", &[n]));
        }
        attributes.push_str(&self.extra);
        let session = self
            .session_not_on_or_after
            .map(|t| format!(r#" SessionNotOnOrAfter="{}""#, iso(t)))
            .unwrap_or_default();
        format!(
            r##"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{issuer}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{subject}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{issued}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"{session}><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"##,
            issuer = self.issuer,
            subject = self.subject,
            recipient = self.recipient,
            audience = self.audience,
        )
    }
}

/// `assertion` without its signature (template).
pub fn without_signature(assertion: &str) -> String {
    let start = assertion.find("<ds:Signature").expect("a signature");
    let end = assertion.find("</ds:Signature>").expect("a signature") + "</ds:Signature>".len();
    format!("{}{}", &assertion[..start], &assertion[end..])
}

/// A Response around `assertion` (signed or not), base64 as AssumeRoleWithSAML takes it.
pub fn response(server: &TestServer, issuer: &str, assertion: &str) -> String {
    let now = iso(server.now_secs());
    STANDARD.encode(format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r{}" Version="2.0" IssueInstant="{now}" Destination="{SIGN_IN}"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
        short_id()
    ))
}
