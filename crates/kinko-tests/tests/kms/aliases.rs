//! CreateAlias, UpdateAlias, DeleteAlias and ListAliases.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::AliasListEntry;
use kinko_tests::*;
use serde_json::json;

use crate::{account, kms};

/// A key with a new alias: `(key id, key ARN, alias, alias ARN)`.
async fn aliased(client: &Client) -> (String, String, String, String) {
    let (key, arn) = client.new_key().await;
    let alias = new_alias();
    client.alias_key(&alias, &key).await;
    let named = alias_arn(&account(), &alias);
    (key, arn, alias, named)
}

async fn alias_names(client: &Client, key: &str) -> Vec<String> {
    let out = ok(client.list_aliases().key_id(key).send().await);
    let mut names: Vec<String> = out
        .aliases()
        .iter()
        .filter_map(|x| x.alias_name.clone())
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn an_alias_names_its_key_by_name_and_by_arn() {
    let client = kms();
    let (key, arn, alias, named) = aliased(&client).await;
    let blob = client.encrypt_with(&alias, b"via alias", &[]).await;
    let d = client.decrypt().ciphertext_blob(blob).key_id(&named).send().await;
    assert_eq!(d.expect("Decrypt").key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(client.describe(&named).await.key_id, key);
}

#[tokio::test]
async fn taken_names_and_names_without_the_prefix_are_refused() {
    let client = kms();
    let (_, _, alias, named) = aliased(&client).await;
    let (other, _) = client.new_key().await;
    let create = |name: &str| {
        let req = client.create_alias().alias_name(name);
        req.target_key_id(&other).send()
    };
    let exists = format!("An alias with the name {named} already exists");
    assert_eq!(
        outcome(create(&alias).await),
        failed("AlreadyExistsException", &exists)
    );
    let prefix = "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html";
    assert_eq!(
        outcome(create("no-prefix").await),
        failed("ValidationException", prefix)
    );
}

/// `alias/aws/...` is AWS's: NotAuthorizedException, without a message.
#[tokio::test]
async fn reserved_aws_aliases_are_not_authorized() {
    let client = kms();
    let (key, _) = client.new_key().await;
    for reserved in ["alias/aws/mine", "alias/aws/secretsmanager"] {
        let create = client.create_alias().alias_name(reserved);
        let create = create.target_key_id(&key).send().await;
        assert_eq!(
            raw_error(create),
            (400, json!({"__type": "NotAuthorizedException"}))
        );
        let update = client.update_alias().alias_name(reserved);
        let update = update.target_key_id(&key).send().await;
        assert_eq!(outcome(update), failed_without_message("NotAuthorizedException"));
        let delete = client.delete_alias().alias_name(reserved).send().await;
        assert_eq!(outcome(delete), failed_without_message("NotAuthorizedException"));
    }
}

#[tokio::test]
async fn alias_names_are_limited_in_characters_and_length() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let create = |name: &str| client.create_alias().alias_name(name).target_key_id(&key).send();
    let pattern = model_pattern("aliasName", "alias/has space", "^[a-zA-Z0-9:/_-]+$");
    assert_eq!(
        outcome(create("alias/has space").await),
        failed("ValidationException", &pattern)
    );
    // The model's pattern allows a colon; the service does not.
    let colon = "alias/my:alias";
    assert_eq!(
        outcome(create(colon).await),
        failed(
            "ValidationException",
            "alias/my:alias contains invalid characters for an alias"
        )
    );
    let long = format!("alias/{}", "x".repeat(251));
    let too_long = model_max_length("aliasName", &long, 256);
    assert_eq!(
        outcome(create(&long).await),
        failed("ValidationException", &too_long)
    );
    let longest = format!("alias/{}", "x".repeat(250));
    create(&longest).await.expect("a 256-character alias");
    ok(client.delete_alias().alias_name(&longest).send().await);
}

/// Targets: a key id or key ARN of an existing key, not an alias (the API reference: "This value
/// cannot be another alias").
#[tokio::test]
async fn alias_targets_are_keys_by_id_or_arn() {
    let client = kms();
    let (_, arn, alias, named) = aliased(&client).await;
    let create = |target: &str| {
        let req = client.create_alias().alias_name(new_alias());
        req.target_key_id(target).send()
    };
    let not_aliases = failed("ValidationException", "Aliases must refer to keys. Not aliases");
    for target in [&alias, &named, &"alias/never-created".to_owned()] {
        assert_eq!(outcome(create(target).await), not_aliases);
        let update = client.update_alias().alias_name(&alias).target_key_id(target);
        assert_eq!(outcome(update.send().await), not_aliases);
    }
    let unknown = outcome(create(UNKNOWN_KEY).await);
    assert_eq!(unknown, key_not_found(&key_arn(&account(), UNKNOWN_KEY)));
    create(&arn).await.expect("CreateAlias with a key ARN target");
}

#[tokio::test]
async fn list_aliases_of_a_key() {
    let client = kms();
    let (key, arn, alias, named) = aliased(&client).await;
    let by_arn = new_alias();
    client.alias_key(&by_arn, &arn).await;
    let mut expected = vec![alias.clone(), by_arn];
    expected.sort_unstable();
    assert_eq!(alias_names(&client, &key).await, expected);
    let listed = ok(client.list_aliases().key_id(&key).send().await);
    let is_alias = |x: &&AliasListEntry| x.alias_name.as_deref() == Some(alias.as_str());
    let entry = listed.aliases().iter().find(is_alias).expect("alias listed");
    assert_eq!(entry.alias_arn.as_deref(), Some(named.as_str()));
    assert_eq!(entry.target_key_id.as_deref(), Some(key.as_str()));
    assert!(entry.creation_date.is_some());
    assert!(entry.last_updated_date.is_some());
    assert!(!listed.truncated);
    assert_eq!(alias_names(&client, &arn).await.len(), 2, "by key ARN");
    let by_alias = client.list_aliases().key_id(&alias).send().await;
    assert_eq!(outcome(by_alias), invalid_key_id(&alias));
    let unknown = client.list_aliases().key_id(UNKNOWN_KEY).send().await;
    assert_eq!(error_code(unknown), "NotFoundException");
}

/// UpdateAlias re-points; the old ciphertext still decrypts (it names its key).
#[tokio::test]
async fn update_alias_repoints_it() {
    let client = kms();
    let (a, _, alias, _) = aliased(&client).await;
    let (b, _) = client.new_key().await;
    let blob = client.encrypt_with(&alias, b"via alias", &[]).await;
    let update = |name: &str, to: &str| client.update_alias().alias_name(name).target_key_id(to).send();
    update(&alias, &b).await.expect("UpdateAlias");
    assert_eq!(client.describe(&alias).await.key_id, b);
    let named = client.decrypt().ciphertext_blob(blob.clone());
    let named = named.key_id(&alias).send().await;
    assert_eq!(error_code(named), "IncorrectKeyException");
    client.decrypt_with(&blob, &[]).await;
    assert!(!alias_names(&client, &a).await.contains(&alias));
    let missing = new_alias();
    let not_found = alias_not_found(&alias_arn(&account(), &missing));
    assert_eq!(outcome(update(&missing, &a).await), not_found);
    let not_aliases = failed("ValidationException", "Aliases must refer to keys. Not aliases");
    assert_eq!(outcome(update(&alias, &alias).await), not_aliases);
}

#[tokio::test]
async fn list_aliases_pages() {
    let (client, account) = (kms(), account());
    let (key, _) = client.new_key().await;
    let mut made = Vec::new();
    for _ in 0..3 {
        let name = new_alias();
        client.alias_key(&name, &key).await;
        made.push(name);
    }
    let (mut seen, mut marker, mut pages) = (Vec::new(), None, 0);
    loop {
        let req = client.list_aliases().key_id(&key).limit(2).set_marker(marker);
        let out = req.send().await.expect("ListAliases");
        pages += 1;
        assert!(out.aliases().len() <= 2);
        seen.extend(out.aliases().iter().filter_map(|x| x.alias_name.clone()));
        if !out.truncated {
            break;
        }
        marker = Some(out.next_marker.expect("NextMarker"));
    }
    assert_eq!(pages, 2);
    seen.sort();
    made.sort();
    assert_eq!(seen, made);
    let bad = client.list_aliases().marker("not-a-marker").send().await;
    assert_eq!(error_code(bad), "InvalidMarkerException");
    let too_many = failed("ValidationException", &model_max_value("limit", 101, 100));
    assert_eq!(outcome(client.list_aliases().limit(101).send().await), too_many);
    // Without a filter, the account's aliases (the first page at least).
    let all = ok(client.list_aliases().limit(100).send().await);
    assert!(!all.aliases().is_empty());
    let consistent = |x: &AliasListEntry| {
        x.alias_arn.as_deref() == x.alias_name.as_deref().map(|n| alias_arn(&account, n)).as_deref()
    };
    assert!(all.aliases().iter().all(consistent));
}

#[tokio::test]
async fn at_most_50_aliases_per_key() {
    let client = kms();
    let (key, arn) = client.new_key().await;
    for _ in 0..50 {
        client.alias_key(&new_alias(), &key).await;
    }
    let create = client.create_alias().alias_name(new_alias());
    let create = create.target_key_id(&key).send().await;
    let limit = format!("Key {arn} has reached the maximum of 50 aliases.");
    assert_eq!(outcome(create), failed("LimitExceededException", &limit));
    let (_, _, other, _) = aliased(&client).await;
    let update = client.update_alias().alias_name(&other);
    let update = update.target_key_id(&key).send().await;
    assert_eq!(error_code(update), "LimitExceededException");
}

#[tokio::test]
async fn deleted_aliases_are_gone() {
    let client = kms();
    let (_, _, alias, named) = aliased(&client).await;
    ok(client.delete_alias().alias_name(&alias).send().await);
    let not_found = alias_not_found(&named);
    assert_eq!(
        outcome(client.delete_alias().alias_name(&alias).send().await),
        not_found
    );
    assert_eq!(
        outcome(client.describe_key().key_id(&alias).send().await),
        not_found
    );
    let bad = client.delete_alias().alias_name("no-prefix").send().await;
    assert_eq!(error_code(bad), "ValidationException");
}

/// Without a filter, ListAliases also shows the aliases of AWS managed keys: the key of one that a
/// service has used is its target; one whose key doesn't exist yet has no target and no dates. A
/// `KeyId` filter shows only that key's aliases.
#[tokio::test]
async fn predefined_aws_aliases_are_listed() {
    // A region of its own: the listing is not disturbed by the other tests' aliases.
    let (server, region) = (TestServer::start(), "ap-northeast-3");
    let client = server.kms_client_in(region, &server.root_credentials());
    let managed = client.describe("alias/aws/secretsmanager").await.key_id;
    let (mut all, mut marker) = (Vec::new(), None);
    loop {
        let out = ok(client.list_aliases().limit(7).set_marker(marker).send().await);
        all.extend(out.aliases().iter().cloned());
        if !out.truncated {
            break;
        }
        marker = out.next_marker;
    }
    let find = |name: &str| {
        all.iter()
            .find(|a| a.alias_name.as_deref() == Some(name))
            .cloned()
    };
    let secrets = find("alias/aws/secretsmanager").expect("alias/aws/secretsmanager listed");
    assert_eq!(secrets.target_key_id.as_deref(), Some(managed.as_str()));
    assert!(secrets.creation_date.is_some());
    for name in [
        "alias/aws/xray",
        "alias/aws/s3",
        "alias/aws/ebs",
        "alias/aws/lambda",
    ] {
        let entry = find(name).unwrap_or_else(|| panic!("{name} listed"));
        let arn = format!("arn:aws:kms:{region}:{}:{name}", account());
        assert_eq!(entry.alias_arn.as_deref(), Some(arn.as_str()));
        assert_eq!(entry.target_key_id, None, "{name}");
        assert_eq!(entry.creation_date, None, "{name}");
    }
    let names: Vec<_> = all.iter().filter_map(|a| a.alias_name.clone()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        names.len(),
        "each alias once, across pages: {names:?}"
    );
    // The account's own aliases come before the predefined ones without a key.
    let mine = new_alias();
    let (key, _) = client.new_key().await;
    ok(client
        .create_alias()
        .alias_name(&mine)
        .target_key_id(&key)
        .send()
        .await);
    let first = ok(client.list_aliases().send().await);
    let keyless = first.aliases().iter().position(|a| a.target_key_id.is_none());
    let own = first
        .aliases()
        .iter()
        .position(|a| a.alias_name.as_deref() == Some(mine.as_str()));
    assert!(own.expect("own alias on the first page") < keyless.expect("predefined aliases listed"));
    assert_eq!(
        alias_names(&client, &key).await,
        [mine],
        "a key's own aliases only"
    );
}
