//! The console's two languages, English and Japanese: chosen by the `kinko-lang` cookie (the
//! switch in the header), else by `Accept-Language`.

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// From the cookie's value or the `Accept-Language` header (the first of `en`/`ja` listed).
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        match cookie {
            Some("ja") => return Lang::Ja,
            Some("en") => return Lang::En,
            _ => {}
        }
        let Some(header) = accept_language else {
            return Lang::En;
        };
        let mut best = (Lang::En, -1.0f32);
        for part in header.split(',') {
            let mut fields = part.trim().split(';');
            let tag = fields.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            let lang = if tag == "ja" || tag.starts_with("ja-") {
                Lang::Ja
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The `lang` attribute and cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The other language, which the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// The text `key` names in this language.
    pub fn t(self, key: &str) -> &'static str {
        match STRINGS.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, ja)) => match self {
                Lang::En => en,
                Lang::Ja => ja,
            },
            None => {
                debug_assert!(false, "no console text {key}");
                "?"
            }
        }
    }
}

/// Every text of the console: (key, English, Japanese).
const STRINGS: &[(&str, &str, &str)] = &[
    ("language", "日本語", "English"),
    ("console", "kinko console", "kinko コンソール"),
    ("sign_in", "Sign in", "サインイン"),
    ("sign_out", "Sign out", "サインアウト"),
    ("signed_in_as", "Signed in as", "サインイン中:"),
    ("root_user", "Root user", "ルートユーザー"),
    (
        "security_credentials",
        "Security credentials",
        "セキュリティ認証情報",
    ),
    ("iam_user", "IAM user", "IAM ユーザー"),
    ("account", "Account ID or alias", "アカウント ID またはエイリアス"),
    ("user_name", "IAM user name", "IAM ユーザー名"),
    ("password", "Password", "パスワード"),
    (
        "sign_in_failed",
        "Your authentication information is incorrect. Please try again.",
        "認証情報が正しくありません。もう一度お試しください。",
    ),
    (
        "sign_in_throttled",
        "Too many sign-in attempts. Wait a few minutes, then try again.",
        "サインインの試行回数が多すぎます。数分待ってからもう一度お試しください。",
    ),
    (
        "sign_in_unavailable",
        "Sign-in is unavailable right now. Try again in a moment.",
        "現在サインインできません。しばらくしてからもう一度お試しください。",
    ),
    ("submit", "Submit", "送信"),
    ("mfa_title", "Multi-factor authentication", "多要素認証"),
    (
        "mfa_prompt",
        "Enter an MFA code to complete sign-in.",
        "サインインを完了するには、MFA コードを入力してください。",
    ),
    ("mfa_code", "MFA code", "MFA コード"),
    (
        "mfa_cancel",
        "Cancel and sign in again",
        "キャンセルしてサインインし直す",
    ),
    (
        "mfa_code_refused",
        "The MFA code is not valid. Enter the current code from your device.",
        "MFA コードが無効です。デバイスに表示されている現在のコードを入力してください。",
    ),
    ("mfa", "Multi-factor authentication (MFA)", "多要素認証 (MFA)"),
    (
        "mfa_none",
        "No MFA device is assigned.",
        "MFA デバイスは割り当てられていません。",
    ),
    ("assign_mfa", "Assign MFA device", "MFA デバイスを割り当てる"),
    ("mfa_device_name", "Device name", "デバイス名"),
    (
        "mfa_scan",
        "Scan the QR code with an authenticator app, or type the secret key into it. Then enter two consecutive MFA codes.",
        "認証アプリで QR コードをスキャンするか、シークレットキーを入力してください。続いて、連続する 2 つの MFA コードを入力してください。",
    ),
    ("mfa_qr", "QR code of the MFA device", "MFA デバイスの QR コード"),
    ("mfa_secret_key", "Secret key", "シークレットキー"),
    ("mfa_code_1", "MFA code 1", "MFA コード 1"),
    ("mfa_code_2", "MFA code 2", "MFA コード 2"),
    ("add_mfa", "Add MFA", "MFA を追加"),
    ("mfa_identifier", "Identifier", "識別子"),
    ("remove", "Remove", "削除"),
    ("change_password", "Change password", "パスワードを変更する"),
    (
        "must_change_password",
        "You must set a new password before you continue.",
        "続行する前に新しいパスワードを設定する必要があります。",
    ),
    ("old_password", "Old password", "現在のパスワード"),
    ("new_password", "New password", "新しいパスワード"),
    (
        "confirm_password",
        "Retype new password",
        "新しいパスワードを再入力",
    ),
    (
        "passwords_differ",
        "The new passwords do not match.",
        "新しいパスワードが一致しません。",
    ),
    (
        "password_changed",
        "Your password is changed.",
        "パスワードを変更しました。",
    ),
    (
        "session_expired",
        "Your session has ended. Sign in again.",
        "セッションが終了しました。もう一度サインインしてください。",
    ),
    (
        "csrf_refused",
        "The request was refused: it did not come from this console's page. Reload the page and try again.",
        "このコンソールのページからの要求ではないため拒否されました。ページを再読み込みしてもう一度お試しください。",
    ),
    ("secrets_manager", "Secrets Manager", "Secrets Manager"),
    ("secrets", "Secrets", "シークレット"),
    (
        "store_new_secret",
        "Store a new secret",
        "新しいシークレットを保存する",
    ),
    (
        "search",
        "Filter secrets by name, description, tag key or value",
        "名前、説明、タグのキーまたは値でシークレットを絞り込む",
    ),
    ("search_button", "Search", "検索"),
    (
        "show_deleted",
        "Show secrets scheduled for deletion",
        "削除予定のシークレットを表示",
    ),
    ("secret_name", "Secret name", "シークレットの名前"),
    ("description", "Description", "説明"),
    ("last_retrieved", "Last retrieved (UTC)", "最終取得日 (UTC)"),
    ("last_changed", "Last changed", "最終変更日"),
    ("created", "Created", "作成日"),
    (
        "no_secrets",
        "No secrets to show.",
        "表示するシークレットはありません。",
    ),
    ("next_page", "Next page", "次のページ"),
    ("first_page", "First page", "最初のページ"),
    ("newest_first", "Newest first", "新しい順"),
    ("oldest_first", "Oldest first", "古い順"),
    ("secret_type", "Secret type", "シークレットのタイプ"),
    (
        "other_type",
        "Other type of secret",
        "その他のシークレットのタイプ",
    ),
    ("key_value", "Key/value", "キー/値"),
    ("plaintext", "Plaintext", "プレーンテキスト"),
    ("key", "Key", "キー"),
    ("value", "Value", "値"),
    ("add_row", "+ Add row", "+ 行を追加する"),
    ("encryption_key", "Encryption key", "暗号化キー"),
    ("tags", "Tags", "タグ"),
    (
        "tags_warning",
        "Don't store sensitive information in tags because they aren't encrypted.",
        "タグは暗号化されないため、機密情報を保存しないでください。",
    ),
    (
        "resource_permissions",
        "Resource permissions (optional)",
        "リソースのアクセス許可 (オプション)",
    ),
    ("store", "Store", "保存する"),
    ("cancel", "Cancel", "キャンセル"),
    ("secret_details", "Secret details", "シークレットの詳細"),
    ("secret_arn", "Secret ARN", "シークレットの ARN"),
    ("copy", "Copy", "コピー"),
    ("copied", "Copied", "コピーしました"),
    ("secret_value", "Secret value", "シークレットの値"),
    (
        "retrieve_secret_value",
        "Retrieve secret value",
        "シークレットの値を取得する",
    ),
    ("copy_value", "Copy secret value", "シークレットの値をコピー"),
    ("hide_value", "Hide", "非表示"),
    ("versions", "Versions", "バージョン"),
    ("version_id", "Version ID", "バージョン ID"),
    ("staging_labels", "Staging labels", "ステージングラベル"),
    ("rotation", "Rotation", "ローテーション"),
    ("rotation_off", "Rotation is off.", "ローテーションは無効です。"),
    ("rotation_on", "Rotation is on.", "ローテーションは有効です。"),
    ("next_rotation", "Next rotation date", "次回のローテーション日"),
    ("last_rotated", "Last rotated date", "最終ローテーション日"),
    ("rotation_function", "Rotation function", "ローテーション関数"),
    ("replication", "Replication", "レプリケーション"),
    (
        "no_replicas",
        "This secret is not replicated.",
        "このシークレットはレプリケートされていません。",
    ),
    ("primary_region", "Primary Region", "プライマリリージョン"),
    (
        "resource_policy",
        "Resource permissions",
        "リソースのアクセス許可",
    ),
    (
        "no_resource_policy",
        "No resource policy.",
        "リソースポリシーはありません。",
    ),
    ("actions", "Actions", "アクション"),
    ("delete_secret", "Delete secret", "シークレットを削除する"),
    ("waiting_period", "Waiting period (in days)", "待機期間 (日数)"),
    (
        "waiting_period_help",
        "Enter a waiting period of 7 to 30 days.",
        "7 日から 30 日までの待機期間を入力してください。",
    ),
    ("schedule_deletion", "Schedule deletion", "削除をスケジュールする"),
    (
        "scheduled_for_deletion",
        "This secret is scheduled for deletion on",
        "このシークレットは次の日時に削除される予定です:",
    ),
    ("cancel_deletion", "Cancel deletion", "削除をキャンセルする"),
    (
        "deletion_scheduled",
        "Deletion scheduled.",
        "削除をスケジュールしました。",
    ),
    (
        "deletion_cancelled",
        "Deletion cancelled.",
        "削除をキャンセルしました。",
    ),
    ("secret_stored", "Secret stored.", "シークレットを保存しました。"),
    ("edit_value", "Edit secret value", "シークレットの値を編集する"),
    ("save", "Save", "保存"),
    (
        "value_saved",
        "A new version of the secret value is stored.",
        "シークレットの値の新しいバージョンを保存しました。",
    ),
    ("access_denied", "Access denied", "アクセスが拒否されました"),
    ("error", "Error", "エラー"),
    ("not_found", "Not found", "見つかりません"),
    ("pending_deletion", "Scheduled for deletion", "削除予定"),
    (
        "value_while_deleted",
        "The value of a secret scheduled for deletion cannot be retrieved. Cancel the deletion first.",
        "削除予定のシークレットの値は取得できません。先に削除をキャンセルしてください。",
    ),
    (
        "kms_default",
        "aws/secretsmanager (default)",
        "aws/secretsmanager (デフォルト)",
    ),
    ("add_tag", "+ Add tag", "+ タグを追加する"),
    ("none", "None", "なし"),
    (
        "binary",
        "This secret's value is binary, shown in base64.",
        "このシークレットの値はバイナリです (base64 で表示)。",
    ),
    ("binary_file", "Binary (file)", "バイナリ (ファイル)"),
    (
        "binary_help",
        "A file of up to 64 KiB, stored as SecretBinary.",
        "64 KiB までのファイル。SecretBinary として保存されます。",
    ),
    (
        "choose_file",
        "Choose a file for the binary value.",
        "バイナリの値のファイルを選択してください。",
    ),
    ("file_kept", "Uploaded:", "アップロード済み:"),
    ("bytes", "bytes", "バイト"),
    ("download", "Download", "ダウンロード"),
    (
        "form_too_large",
        "The form is too large: a secret value is at most 64 KiB.",
        "フォームが大きすぎます。シークレットの値は 64 KiB までです。",
    ),
    (
        "replicate_secret",
        "Replicate secret (optional)",
        "シークレットをレプリケート (オプション)",
    ),
    (
        "replicate_help",
        "A read-only replica in each region, encrypted with that region's key.",
        "各リージョンに読み取り専用のレプリカを作成し、そのリージョンのキーで暗号化します。",
    ),
    ("region", "Region", "リージョン"),
    ("add_region", "+ Add Region", "+ リージョンを追加する"),
    ("add_replica_region", "Add Region", "リージョンを追加する"),
    ("replicate", "Replicate", "レプリケートする"),
    ("remove_region", "Remove", "削除"),
    (
        "promote",
        "Promote to standalone secret",
        "スタンドアロンシークレットに昇格する",
    ),
    (
        "is_replica",
        "This secret is a read-only replica: change it in its primary Region.",
        "このシークレットは読み取り専用のレプリカです。プライマリリージョンで変更してください。",
    ),
    ("edit_permissions", "Edit permissions", "アクセス許可を編集する"),
    ("delete_policy", "Delete policy", "ポリシーを削除する"),
    (
        "policy_refused",
        "The resource policy was not saved: fix the problems shown next to it.",
        "リソースポリシーは保存されていません。横に表示された問題を修正してください。",
    ),
    ("edit_details", "Edit description and key", "説明とキーを編集する"),
    (
        "kms_change_help",
        "A new key encrypts the values of the versions labelled AWSCURRENT, AWSPENDING and AWSPREVIOUS again.",
        "新しいキーで、AWSCURRENT、AWSPENDING、AWSPREVIOUS のバージョンの値が再暗号化されます。",
    ),
    ("add_tag_button", "Add tag", "タグを追加する"),
    ("users", "Users", "ユーザー"),
    ("create_user", "Create user", "ユーザーを作成"),
    ("user_name_short", "User name", "ユーザー名"),
    ("console_access", "Console access", "コンソールへのアクセス"),
    (
        "provide_console_access",
        "Provide user access to the console",
        "ユーザーにコンソールへのアクセスを提供する",
    ),
    ("console_password", "Console password", "コンソールのパスワード"),
    (
        "require_reset",
        "Users must create a new password at next sign-in (recommended)",
        "ユーザーは次回のサインイン時に新しいパスワードを作成する必要があります (推奨)",
    ),
    ("access_keys", "Access keys", "アクセスキー"),
    ("create_access_key", "Create access key", "アクセスキーを作成"),
    ("attach_policies", "Permissions policies", "許可ポリシー"),
    ("attach", "Attach policy", "ポリシーをアタッチ"),
    ("confirm_with_password", "Your password", "あなたのパスワード"),
    (
        "confirm_with_password_help",
        "Creating or deleting access keys asks for your own password again.",
        "アクセスキーの作成や削除には、あなた自身のパスワードを再入力する必要があります。",
    ),
    (
        "reauth_failed",
        "Your password is not correct: nothing was changed.",
        "パスワードが正しくありません。何も変更されていません。",
    ),
    ("user_created", "User created.", "ユーザーを作成しました。"),
    (
        "key_shown_once",
        "This is the only time that the secret access key can be viewed or copied. You cannot recover it later, but you can create a new access key.",
        "シークレットアクセスキーを表示またはコピーできるのは今回だけです。後で復元することはできませんが、新しいアクセスキーを作成できます。",
    ),
    ("access_key_id", "Access key ID", "アクセスキー ID"),
    (
        "secret_access_key",
        "Secret access key",
        "シークレットアクセスキー",
    ),
    ("view_user", "View user", "ユーザーを表示"),
    ("status", "Status", "ステータス"),
    ("delete", "Delete", "削除"),
    ("done", "Done.", "完了しました。"),
    ("policies", "Policies", "ポリシー"),
    ("create_policy", "Create policy", "ポリシーの作成"),
    ("policy_name", "Policy name", "ポリシー名"),
    ("attachments", "Attached to", "アタッチ先の数"),
    ("policy_editor", "Policy editor", "ポリシーエディタ"),
    ("policy_created", "Policy created.", "ポリシーを作成しました。"),
    ("audit", "Audit trail", "監査証跡"),
    (
        "audit_value",
        "Value to look for (empty: every event)",
        "検索する値 (空欄: すべてのイベント)",
    ),
    ("no_events", "No events.", "イベントはありません。"),
    ("event_time", "Time (UTC)", "日時 (UTC)"),
    ("event_name", "Event", "イベント"),
    ("event_user", "User", "ユーザー"),
    ("source_ip", "Source IP", "送信元 IP"),
    ("event_error", "Error", "エラー"),
    ("activity", "Activity", "アクティビティ"),
    (
        "activity_help",
        "Who read or changed this secret, newest first, from the audit trail.",
        "このシークレットを読み取った、または変更したユーザー (新しい順、監査証跡より)。",
    ),
    ("switch_role", "Switch role", "ロールの切り替え"),
    ("switch_back", "Switch back", "元に戻す"),
    (
        "switch_role_help",
        "Work as a role of this or another account (for example OrganizationAccountAccessRole of a member account), with that role's permissions.",
        "このアカウントまたは別のアカウントのロール (メンバーアカウントの OrganizationAccountAccessRole など) として、そのロールの権限で操作します。",
    ),
    ("role_name", "Role name", "ロール名"),
    (
        "root_cannot_switch",
        "The root user cannot switch roles. Sign in as an IAM user.",
        "ルートユーザーはロールを切り替えられません。IAM ユーザーとしてサインインしてください。",
    ),
    ("move_label", "Move a label here", "ラベルをここに移動"),
    ("move_here", "Move", "移動"),
    ("compare_versions", "Compare versions", "バージョンを比較"),
    ("compare", "Compare", "比較"),
    ("kms_keys", "Customer managed keys", "カスタマー管理型のキー"),
    ("aliases", "Aliases", "エイリアス"),
    ("alias", "Alias", "エイリアス"),
    ("key_id", "Key ID", "キー ID"),
    ("create_key", "Create key", "キーの作成"),
    ("key_policy", "Key policy", "キーポリシー"),
    ("enable_key", "Enable", "有効化"),
    ("disable_key", "Disable", "無効化"),
    (
        "rotation_enable",
        "Enable automatic rotation",
        "自動ローテーションを有効にする",
    ),
    (
        "rotation_disable",
        "Disable automatic rotation",
        "自動ローテーションを無効にする",
    ),
    (
        "schedule_key_deletion",
        "Schedule key deletion",
        "キーの削除をスケジュール",
    ),
    (
        "key_pending_deletion",
        "This key is scheduled for deletion on",
        "このキーは次の日時に削除される予定です:",
    ),
    ("organization", "Organization", "組織"),
    ("account_name", "Account name", "アカウント名"),
    ("account_id", "Account ID", "アカウント ID"),
    ("email", "Email address", "E メールアドレス"),
    ("create_account", "Create an AWS account", "AWS アカウントを作成"),
    ("account_requested", "Account creation:", "アカウントの作成:"),
    ("roles", "Roles", "ロール"),
    ("create_role", "Create role", "ロールを作成"),
    ("trust_policy", "Trust policy", "信頼ポリシー"),
    ("role_created", "Role created.", "ロールを作成しました。"),
    (
        "password_policy",
        "Account password policy",
        "アカウントのパスワードポリシー",
    ),
    (
        "default_password_policy",
        "No password policy is set: the default applies (8 characters, three of upper case, lower case, numbers and symbols).",
        "パスワードポリシーは設定されていません。デフォルト (8 文字、大文字・小文字・数字・記号のうち 3 種類) が適用されます。",
    ),
    ("groups", "User groups", "ユーザーグループ"),
    (
        "why_title",
        "Why denied (shown only to you, about your own request):",
        "拒否の理由（あなた自身のリクエストについて、あなたにだけ表示されます）:",
    ),
    (
        "why_explicit",
        "An explicit Deny decided it: statement {index} {sid} of {policy}.",
        "明示的な Deny により拒否されました: {policy} のステートメント {index} {sid}。",
    ),
    ("why_sid", "(Sid \"{sid}\")", "（Sid「{sid}」）"),
    ("why_no_sid", "(no Sid)", "（Sid なし）"),
    ("why_managed", "the managed policy {arn}", "管理ポリシー {arn}"),
    (
        "why_managed_group",
        "the managed policy {arn} (attached to group {group})",
        "管理ポリシー {arn}（グループ {group} にアタッチ）",
    ),
    (
        "why_inline_user",
        "the inline policy {policy} of user {owner}",
        "ユーザー {owner} のインラインポリシー {policy}",
    ),
    (
        "why_inline_group",
        "the inline policy {policy} of group {owner}",
        "グループ {owner} のインラインポリシー {policy}",
    ),
    (
        "why_inline_role",
        "the inline policy {policy} of role {owner}",
        "ロール {owner} のインラインポリシー {policy}",
    ),
    (
        "why_password_policy",
        "the account password policy",
        "アカウントのパスワードポリシー",
    ),
    (
        "why_resource_policy",
        "the resource policy of {resource}",
        "{resource} のリソースポリシー",
    ),
    (
        "why_key_policy",
        "the key policy of {resource}",
        "{resource} のキーポリシー",
    ),
    (
        "why_trust_policy",
        "the trust policy of {resource}",
        "{resource} の信頼ポリシー",
    ),
    (
        "why_boundary",
        "the permissions boundary {arn}",
        "アクセス許可の境界 {arn}",
    ),
    (
        "why_session_policy",
        "session policy {n} of this session",
        "このセッションのセッションポリシー {n}",
    ),
    (
        "why_no_identity",
        "No identity-based policy allows {action}.",
        "{action} を許可するアイデンティティベースのポリシーがありません。",
    ),
    (
        "why_no_boundary",
        "The permissions boundary {policy} does not allow {action}.",
        "アクセス許可の境界 {policy} が {action} を許可していません。",
    ),
    (
        "why_no_session",
        "No session policy of this session allows {action}.",
        "{action} を許可するセッションポリシーがありません。",
    ),
    (
        "why_no_scp",
        "A service control policy does not allow {action}.",
        "サービスコントロールポリシーが {action} を許可していません。",
    ),
    (
        "why_no_named",
        "Nothing in {policy} allows {action}.",
        "{policy} に {action} を許可するステートメントがありません。",
    ),
    (
        "why_no_resource",
        "No resource-based policy allows {action}.",
        "{action} を許可するリソースベースのポリシーがありません。",
    ),
    (
        "why_no_trust",
        "The role's trust policy does not allow {action}.",
        "ロールの信頼ポリシーが {action} を許可していません。",
    ),
    (
        "why_check_on",
        "Denied check: {action} on {resource}.",
        "拒否されたチェック: {resource} に対する {action}。",
    ),
    (
        "why_check",
        "Denied check: {action}.",
        "拒否されたチェック: {action}。",
    ),
    (
        "who_can_read",
        "Who can read this secret?",
        "このシークレットを読み取れるのは？",
    ),
    (
        "who_can_read_help",
        "Computed by the policy evaluator for secretsmanager:GetSecretValue (and kms:Decrypt through Secrets Manager when the secret uses a customer managed key), for the account's IAM users and roles and the principals of other accounts the resource policy names. Needs iam:GetAccountAuthorizationDetails, secretsmanager:GetResourcePolicy on the secret and, for a customer managed key, kms:GetKeyPolicy.",
        "ポリシー評価器が secretsmanager:GetSecretValue（シークレットがカスタマー管理キーを使う場合は Secrets Manager 経由の kms:Decrypt も）について、アカウントの IAM ユーザーとロール、およびリソースポリシーが指定する他のアカウントのプリンシパルを評価した結果です。iam:GetAccountAuthorizationDetails、シークレットに対する secretsmanager:GetResourcePolicy、カスタマー管理キーの場合は kms:GetKeyPolicy が必要です。",
    ),
    (
        "who_can_read_show",
        "Show who can read",
        "読み取れるプリンシパルを表示",
    ),
    ("principal", "Principal", "プリンシパル"),
    ("principal_type", "Type", "種類"),
    ("access", "Access", "アクセス"),
    ("access_allowed", "Yes", "はい"),
    (
        "access_conditional",
        "Conditionally (depends on the request: source IP, time, MFA...)",
        "条件付き（リクエストによる: 送信元 IP、時刻、MFA など）",
    ),
    (
        "nobody_can_read",
        "No user or role of this account can read it.",
        "このアカウントのユーザーやロールは読み取れません。",
    ),
    (
        "other_accounts",
        "Other accounts (if their own policies allow)",
        "他のアカウント（そのアカウント自身のポリシーが許可する場合）",
    ),
    ("any_account", "any AWS account", "任意の AWS アカウント"),
    (
        "evaluated_count",
        "{evaluated} of {total} users and roles evaluated (at most {max}).",
        "ユーザーとロール {total} 件のうち {evaluated} 件を評価しました（上限 {max} 件）。",
    ),
    ("create_group", "Create group", "グループを作成"),
    ("group_name", "Group name", "グループ名"),
    ("add_user", "Add user", "ユーザーを追加"),
    ("edit_rotation", "Edit rotation", "ローテーションを編集"),
    (
        "rotation_schedule",
        "Rotation schedule",
        "ローテーションスケジュール",
    ),
    (
        "rotation_schedule_help",
        "rate(N days), rate(N hours) or cron(...), as RotateSecret takes it.",
        "RotateSecret と同じ形式: rate(N days)、rate(N hours) または cron(...)。",
    ),
    (
        "rotate_immediately",
        "Rotate immediately",
        "すぐにローテーションする",
    ),
    (
        "cancel_rotation",
        "Turn rotation off",
        "ローテーションを無効にする",
    ),
    ("confirm", "Confirm", "確認"),
    ("account_alias", "Account alias", "アカウントエイリアス"),
    ("create_alias", "Create alias", "エイリアスを作成"),
    (
        "confirm_detach",
        "Remove this permissions policy?",
        "この許可ポリシーを削除しますか?",
    ),
    (
        "confirm_remove_from_group",
        "Remove the user from this group?",
        "このグループからユーザーを削除しますか?",
    ),
    (
        "confirm_remove_boundary",
        "Remove the permissions boundary?",
        "アクセス許可の境界を削除しますか?",
    ),
    (
        "confirm_remove_tag",
        "Remove this tag?",
        "このタグを削除しますか?",
    ),
    (
        "confirm_delete_version",
        "Delete this policy version?",
        "このポリシーバージョンを削除しますか?",
    ),
    (
        "confirm_delete_alias",
        "Delete this alias?",
        "このエイリアスを削除しますか?",
    ),
    (
        "delete_steps",
        "These operations run in order, as you; the first one refused stops the deletion:",
        "次のオペレーションがあなたの権限で順に実行されます。拒否されたオペレーションがあると、そこで削除は中止されます:",
    ),
    (
        "delete_user_password_help",
        "Deleting a user asks for your own password again, as deleting access keys does.",
        "ユーザーの削除には、アクセスキーの削除と同様に、あなた自身のパスワードを再入力する必要があります。",
    ),
    ("delete_user", "Delete user", "ユーザーを削除"),
    ("delete_role", "Delete role", "ロールを削除"),
    ("delete_group", "Delete group", "グループを削除"),
    (
        "delete_user_help",
        "Its access keys, password, inline policies, attached policies and group memberships are removed first.",
        "アクセスキー、パスワード、インラインポリシー、アタッチされたポリシー、グループのメンバーシップが先に削除されます。",
    ),
    (
        "delete_role_help",
        "It is removed from its instance profiles, and its inline and attached policies are removed first.",
        "インスタンスプロファイルから削除され、インラインポリシーとアタッチされたポリシーが先に削除されます。",
    ),
    (
        "delete_policy_help",
        "It is detached from every user, group and role, and its versions other than the default are deleted first.",
        "すべてのユーザー、グループ、ロールからデタッチされ、デフォルト以外のバージョンが先に削除されます。",
    ),
    ("user_deleted", "User deleted.", "ユーザーを削除しました。"),
    ("role_deleted", "Role deleted.", "ロールを削除しました。"),
    ("group_deleted", "Group deleted.", "グループを削除しました。"),
    ("policy_deleted", "Policy deleted.", "ポリシーを削除しました。"),
    (
        "permissions_boundary",
        "Permissions boundary",
        "アクセス許可の境界",
    ),
    (
        "permissions_boundary_help",
        "A managed policy that sets the most permissions the identity-based policies can grant.",
        "アイデンティティベースのポリシーが付与できるアクセス許可の上限を設定する管理ポリシーです。",
    ),
    (
        "no_boundary",
        "No permissions boundary is set.",
        "アクセス許可の境界は設定されていません。",
    ),
    (
        "set_boundary",
        "Set permissions boundary",
        "アクセス許可の境界を設定",
    ),
    ("inline_policies", "Inline policies", "インラインポリシー"),
    ("default_version", "Default version", "デフォルトのバージョン"),
    ("policy_versions", "Policy versions", "ポリシーバージョン"),
    (
        "policy_versions_help",
        "A managed policy can have up to 5 versions; the default one is in effect.",
        "管理ポリシーは最大 5 つのバージョンを持つことができます。有効なのはデフォルトのバージョンです。",
    ),
    ("default", "Default", "デフォルト"),
    ("set_default", "Set as default", "デフォルトとして設定"),
    ("new_version", "New version", "新しいバージョン"),
    (
        "set_as_default",
        "Set the new version as the default",
        "新しいバージョンをデフォルトとして設定する",
    ),
    ("create_version", "Save changes", "変更を保存"),
    (
        "attached_entities",
        "Entities attached",
        "アタッチされたエンティティ",
    ),
    ("change_target", "Target key", "ターゲットキー"),
    ("skip_to_content", "Skip to content", "本文へスキップ"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, en, ja) in STRINGS {
            assert!(keys.insert(*key), "{key} twice");
            assert!(!en.is_empty() && !ja.is_empty(), "{key}");
        }
    }

    #[test]
    fn the_cookie_wins_then_accept_language_by_quality() {
        assert_eq!(Lang::choose(Some("ja"), Some("en")), Lang::Ja);
        assert_eq!(Lang::choose(None, Some("ja-JP,ja;q=0.9,en;q=0.8")), Lang::Ja);
        assert_eq!(Lang::choose(None, Some("en-US,ja;q=0.5")), Lang::En);
        assert_eq!(Lang::choose(None, Some("fr-FR, ja;q=0.3")), Lang::Ja);
        assert_eq!(Lang::choose(None, Some("fr")), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), None), Lang::En);
    }
}
