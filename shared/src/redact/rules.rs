//! The built-in rule table. Categories follow the public secret-scanning rule sets (gitleaks'
//! default config, detect-secrets' plugins, GitHub's partner patterns); the patterns are our own.
//!
//! Each rule says which lowercase literal every one of its matches contains (`Gate::Words`,
//! with a line break too: `Gate::WordsAndLineBreak`), that its matches are long base64-looking
//! runs (`Gate::Run`), or card-number digit runs (`Gate::CardNumber`): `super::gate::Gate` is
//! built from these and nothing else, and a test proves it never skips a line a rule would
//! redact.
//!
//! One file on purpose (over 600 lines): the table is reviewed as a whole, rule beside rule.
//!
//! Case-insensitivity and word boundaries are ASCII-only (`(?i-u:…)`, `(?-u:\b)`): Unicode
//! classes would make the automata, and the compile at cold start, several times larger.

use regex::Captures;

/// Decides, after the regex matched, whether the match is a secret.
pub(super) type Check = fn(&Captures<'_>) -> bool;

pub(super) enum Gate {
    /// Every match contains one of these (lowercase ASCII) once the line is lowercased.
    Words(&'static [&'static str]),
    /// As `Words`, and every match holds a line break (`\n`): most log events are one line,
    /// and the rule is not run on them.
    WordsAndLineBreak(&'static [&'static str]),
    /// Every text the rule replaces (after its check) lies in a run of at least this many
    /// `[A-Za-z0-9+/]` characters holding an upper-case letter and a digit.
    Run(usize),
    /// Every text the rule replaces is 13 digits or more, with single spaces or dashes between
    /// groups, starting with a digit 2-6 that no digit precedes (`super::gate::card_candidate`).
    CardNumber,
}

pub(super) struct Spec {
    /// Named like the gitleaks / detect-secrets category it covers. Production code never reads
    /// it: the corpus names the rule each case needs, and the tests check that rule catches it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) id: &'static str,
    pub(super) gate: Gate,
    pub(super) pattern: String,
    /// Replace only this group (the secret), keeping the context; `None`: the whole match.
    pub(super) group: Option<&'static str>,
    pub(super) check: Option<Check>,
}

/// Words that make a key look secret. The key/value rules are built from this list and gated
/// on it, so the two cannot drift; `is_secret_key` then decides on the whole key.
pub(super) const KEY_WORDS: &[&str] = &[
    "pass", "pwd", "secret", "token", "key", "cred", "auth", "sig", "session", "cookie",
];

// Value syntaxes: each ends where its syntax ends.
/// A JSON array of strings (Go's `http.Header` marshals `{"Authorization":["Bearer …"]}`).
const ARRAY: &str = r#"\[[ \t]*"(?:[^"\\]|\\(?s:.))*"(?:[ \t]*,[ \t]*"(?:[^"\\]|\\(?s:.))*")*[ \t]*\]"#;
/// A JSON string inside a JSON string: `\"…\"`, where `\\\"` is an escaped quote of the inner
/// string and `\\\\` its escaped backslash. Unterminated: to the end of the text.
const ESCAPED_ONCE: &str = r#"\\"(?:[^"\\]|\\[^"\\]|\\\\(?:\\(?s:.)|[^"\\]))*(?:\\"|\\*$)"#;
/// Escaped twice or more: to the next escaped quote (a quote escaped inside it ends it early).
const ESCAPED_MORE: &str = r#"\\\\+"(?:[^"\\]|\\+[^"\\])*(?:\\+"|\\*$)"#;
/// Malformed escaping (an unescaped quote inside an escaped string): up to that quote.
const ESCAPED_BROKEN: &str = r#"\\+"[^"]*"#;
/// A JSON / double-quoted string with backslash escapes, through the closing unescaped quote.
const DOUBLE_QUOTED: &str = r#""(?:[^"\\]|\\(?s:.))*(?:"|\\?$)"#;
/// Single-quoted (Python repr, shell, SQL), with backslash escapes.
const SINGLE_QUOTED: &str = r"'(?:[^'\\]|\\(?s:.))*(?:'|\\?$)";
/// Unquoted: to whitespace or a quote. It does not stop at `,`, `;`, `&`, `)` or `}`: a
/// password may hold them, and cutting a trailing delimiter only costs punctuation.
/// It may not start with `[`, `{` or `:` (an object, a list, a `::` path).
const UNQUOTED: &str = r#"(?:[^ \t\r\n\x0B\x0C"'`\\\[{:]|\\[^ \t\r\n\x0B\x0C"'\\])(?:[^ \t\r\n\x0B\x0C"'`\\]|\\[^ \t\r\n\x0B\x0C"'\\])*"#;
/// A word on a command line: to whitespace, a quote or a backslash (the end of the JSON string
/// the command line may sit in). It may not start with `-` (the next option).
const CLI_WORD: &str = r#"(?:[^ \t\r\n"'`\\-]|\\[^ \t\r\n"'\\])(?:[^ \t\r\n"'`\\]|\\[^ \t\r\n"'\\])*"#;
/// Tools whose `-p` takes the password, attached (`-pS3cret`) or as the next word.
const CLI_PASSWORD_TOOLS: &str = r"mysql(?:dump|admin|import|check|show|pump|slap|binlog)?|mariadb(?:-?(?:dump|admin|import|check|show|slap|binlog))?|sshpass|(?:docker|podman|nerdctl|buildah|skopeo|oras|helm[ \t]+registry)[ \t]+login";
/// A key character, or a JSON `\u00XX` escape of one (escaped again inside a JSON string).
const KEY_CHAR_OR_ESCAPE: &str = r"(?:[A-Za-z0-9_.-]|\\+u00[0-9A-Fa-f]{2})";
/// One line of a YAML value on the lines below its key: not blank, not a `key:` entry of a
/// nested mapping (no `: `, no `:` at its end).
const YAML_LINE: &str = r"(?:[^ \t\r\n:]|:[^ \t\r\n])(?:[^\r\n:]|:[^ \t\r\n])*";
/// The same inside a JSON string, where lines end at the two characters `\n` and the string at
/// `"`.
const YAML_LINE_ESCAPED: &str = r#"(?:[^ \t\r\n:\\"]|:[^ \t\r\n\\"])(?:[^\r\n:\\"]|:[^ \t\r\n\\"])*"#;
/// A YAML key line's end: an optional block indicator (`|`, `>-`, `|2`) and comment.
const YAML_KEY_END: &str = r"[ \t]*:[ \t]*(?:[|>][-+0-9]{0,2}[ \t]*)?(?:#[^\r\n]*)?";
/// HTTP authorization schemes whose credential is one token.
const SCHEMES: &str = "bearer|basic|token|negotiate|ntlm|apikey|aws4-hmac-sha256|sso-key";

fn key_alternation() -> String {
    KEY_WORDS.join("|")
}

/// A value in any syntax, as the group `secret`.
fn value() -> String {
    format!(
        r"(?P<secret>{ARRAY}|{ESCAPED_ONCE}|{ESCAPED_MORE}|{ESCAPED_BROKEN}|{DOUBLE_QUOTED}|{SINGLE_QUOTED}|(?i-u:digest)[ \t]+[^\r\n]*|(?i-u:{SCHEMES})[ \t]+{UNQUOTED}|{UNQUOTED})"
    )
}

/// The built-in rules, in the order they run: structures that can hold other shapes first.
pub(super) fn specs() -> Vec<Spec> {
    let kw = key_alternation();
    let value = value();
    let mut specs = vec![
        // --- private keys (gitleaks private-key, detect-secrets PrivateKeyDetector) ---
        Spec {
            id: "private-key-block",
            gate: Gate::Words(&["private key"]),
            // Through the END line, or to the end of the text: the awslogs driver splits a key
            // into one event per line, so the BEGIN line often arrives alone.
            pattern: r"-----BEGIN[A-Z0-9 _-]*PRIVATE KEY(?: BLOCK)?-----(?s:.)*?(?:-----END[A-Z0-9 _-]*PRIVATE KEY(?: BLOCK)?-----|$)".into(),
            group: None,
            check: None,
        },
        // --- URLs with credentials (detect-secrets BasicAuthDetector), before key/value:
        // `https://x-access-token:…@host` is not a key/value pair ---
        Spec {
            id: "url-userinfo",
            gate: Gate::Words(&["://"]),
            // scheme://user:password@host. The user may hold `@`; the password may hold `@`, `:`
            // and `/`, and ends at the LAST `@` before the host (after an `@`, no `/`: that is
            // the path). Only the password is replaced.
            pattern: r#"[A-Za-z][A-Za-z0-9+.-]*://[^ \t\r\n:/?#@"'<>\\]*(?:@[^ \t\r\n:/?#@"'<>\\]*)*:(?P<secret>[^ \t\r\n?#@"'<>\\]*(?:@[^ \t\r\n?#@/"'<>\\]*)*)@[A-Za-z0-9\[]"#.into(),
            group: Some("secret"),
            check: Some(url_password),
        },
        // --- key/value shapes (detect-secrets KeywordDetector, gitleaks generic-api-key) ---
        Spec {
            id: "cookie-header",
            gate: Gate::Words(&["cookie"]),
            // Every cookie in the header is a credential: to the end of the line unless quoted.
            pattern: format!(
                r#"(?:^|[^A-Za-z0-9_-])(?i-u:(?:set-)?cookie)(?:\\*["'])?[ \t]*[:=][ \t]*(?P<secret>{ESCAPED_ONCE}|{ESCAPED_MORE}|{ESCAPED_BROKEN}|{DOUBLE_QUOTED}|{SINGLE_QUOTED}|[^\r\n]+)"#
            ),
            group: Some("secret"),
            check: Some(value_is_not_placeholder),
        },
        Spec {
            id: "authorization-header",
            gate: Gate::Words(&["authorization"]),
            // The credential follows a scheme we may not know: to the end of the line unless
            // quoted.
            pattern: format!(
                r#"(?:^|[^A-Za-z0-9_-])(?i-u:(?:proxy-)?authorization)(?:\\*["'])?[ \t]*:[ \t]*(?P<secret>{ARRAY}|{ESCAPED_ONCE}|{ESCAPED_MORE}|{ESCAPED_BROKEN}|{DOUBLE_QUOTED}|{SINGLE_QUOTED}|[^\r\n]+)"#
            ),
            group: Some("secret"),
            check: Some(value_is_not_placeholder),
        },
        Spec {
            id: "key-value",
            gate: Gate::Words(KEY_WORDS),
            // key=value, key: value, "key": "value", 'key': 'value', key => "value", key := value,
            // \"key\":\"value\" (JSON in a JSON string).
            pattern: format!(
                r#"(?P<key>(?-u:\b)[A-Za-z0-9_.-]*(?i-u:{kw})[A-Za-z0-9_.-]*)(?:\\*["'])?[ \t]*(?:=>|:=|==|=|:)[ \t]*{value}"#
            ),
            group: Some("secret"),
            check: Some(secret_key_with_value),
        },
        Spec {
            id: "xml-element",
            gate: Gate::Words(KEY_WORDS),
            pattern: format!(
                r#"<(?P<key>[A-Za-z0-9_.:-]*(?i-u:{kw})[A-Za-z0-9_.:-]*)(?:[ \t][^>]*)?>(?P<secret>[^<]+)<"#
            ),
            group: Some("secret"),
            check: Some(secret_key_with_value),
        },
        Spec {
            id: "name-value-pair",
            gate: Gate::Words(KEY_WORDS),
            // ECS/Kubernetes environment lists and AWS tags: {"name":"DB_PASSWORD","value":"…"}.
            pattern: format!(
                r#""(?i-u:name|key)"[ \t]*:[ \t]*"(?P<key>[^"\\]*(?i-u:{kw})[^"\\]*)"[ \t]*,[ \t]*"(?i-u:value)"[ \t]*:[ \t]*(?P<secret>{DOUBLE_QUOTED})"#
            ),
            group: Some("secret"),
            check: Some(secret_key_with_value),
        },
        Spec {
            id: "command-line-flag",
            gate: Gate::Words(KEY_WORDS),
            // --password hunter2, -token abc (the `=` form is key-value).
            pattern: format!(
                r#"(?:^|[ \t])--?(?P<key>[A-Za-z0-9_-]*(?i-u:{kw})[A-Za-z0-9_-]*)[ \t]+(?P<secret>{DOUBLE_QUOTED}|{SINGLE_QUOTED}|[^ \t\r\n"'-][^ \t\r\n]*)"#
            ),
            group: Some("secret"),
            check: Some(secret_key_with_value),
        },
        Spec {
            id: "command-line-password",
            gate: Gate::Words(&[" -p"]),
            // mysql -u root -pS3cret, mysql -p S3cret (for mysql the next word is the database,
            // taken for a password all the same), sshpass -p S3cret, docker login -u x -p S3cret.
            // The options before `-p` stop at a shell separator.
            pattern: format!(
                r#"(?:^|[^A-Za-z0-9_.-])(?i-u:{CLI_PASSWORD_TOOLS})(?:[ \t]+[^ \t\r\n;&|]+)*?[ \t]* -p[ \t]*(?P<secret>{ESCAPED_ONCE}|{DOUBLE_QUOTED}|{SINGLE_QUOTED}|{CLI_WORD})"#
            ),
            group: Some("secret"),
            check: Some(value_is_not_placeholder),
        },
        Spec {
            id: "escaped-key",
            gate: Gate::Words(&["\\u00"]),
            // "\u0070assword":"…": a key written with JSON escapes, judged once decoded.
            pattern: format!(
                r#"(?:^|[^A-Za-z0-9_.\\-])(?P<key>{KEY_CHAR_OR_ESCAPE}*\\+u00[0-9A-Fa-f]{{2}}{KEY_CHAR_OR_ESCAPE}*)(?:\\*["'])?[ \t]*(?:=>|:=|==|=|:)[ \t]*{value}"#
            ),
            group: Some("secret"),
            check: Some(escaped_secret_key_with_value),
        },
        Spec {
            id: "yaml-next-line",
            gate: Gate::WordsAndLineBreak(KEY_WORDS),
            // password:\n  hunter2, and block scalars (secret_key: |\n  abc\n  def): the indented
            // lines below the key, up to a blank line or a nested `key: value`. Indentation is not
            // compared (no backreferences): other indented lines below the value go with it.
            pattern: format!(
                r#"(?m)^[ \t]*(?:-[ \t]+)?["']?(?P<key>[A-Za-z0-9_.-]*(?i-u:{kw})[A-Za-z0-9_.-]*)["']?{YAML_KEY_END}\r?\n[ \t]+(?P<secret>{YAML_LINE}(?:\r?\n[ \t]+{YAML_LINE})*)\r?$"#
            ),
            group: Some("secret"),
            check: Some(secret_key_with_value),
        },
        Spec {
            id: "yaml-next-line-escaped",
            gate: Gate::Words(KEY_WORDS),
            // The same YAML inside a JSON string, its line breaks written `\n`.
            pattern: format!(
                r#"(?:\\n|")(?:[ \t]|\\t)*(?:-[ \t]+)?(?:\\")?(?P<key>[A-Za-z0-9_.-]*(?i-u:{kw})[A-Za-z0-9_.-]*)(?:\\")?[ \t]*:[ \t]*(?:[|>][-+0-9]{{0,2}}[ \t]*)?(?:\\r)?\\n(?:[ \t]|\\t)+(?P<secret>{YAML_LINE_ESCAPED}(?:(?:\\r)?\\n(?:[ \t]|\\t)+{YAML_LINE_ESCAPED})*)(?:\\|"|$)"#
            ),
            group: Some("secret"),
            check: Some(secret_key_with_value),
        },
        Spec {
            id: "netrc",
            gate: Gate::Words(&["pass"]),
            pattern: r"(?i-u:\bmachine)[ \t]+[^ \t\r\n]+[ \t]+(?i-u:login)[ \t]+[^ \t\r\n]+[ \t]+(?i-u:password)[ \t]+(?P<secret>[^ \t\r\n]+)".into(),
            group: Some("secret"),
            check: None,
        },
        Spec {
            id: "curl-user",
            gate: Gate::Words(&["-u"]),
            // curl -u user:password, --user=user:password.
            pattern: r#"(?:^|[ \t])(?:-u|--user)(?:[ \t]+|=)["']?[^ \t\r\n:"']*:(?P<secret>[^ \t\r\n"']+)"#.into(),
            group: Some("secret"),
            check: None,
        },
        // --- HTTP authentication without a key in front ---
        Spec {
            id: "http-digest-response",
            gate: Gate::Words(&["response"]),
            // Digest's response= is a hash of the password (32 hex for MD5, 64 for SHA-256).
            pattern: r#"(?i-u:\bresponse)[ \t]*=[ \t]*(?P<secret>\\*"?[0-9a-fA-F]{32,128}(?:\\*")?)"#.into(),
            group: Some("secret"),
            check: None,
        },
        Spec {
            id: "bearer-token",
            gate: Gate::Words(&["bearer"]),
            pattern: r"(?i-u:\bbearer)[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)".into(),
            group: Some("secret"),
            check: None,
        },
    ];
    specs.extend(token_specs());
    specs.extend([
        // --- keys and key parts without a label, checked last ---
        Spec {
            id: "private-key-body-der",
            gate: Gate::Words(&["mii"]),
            // A DER SEQUENCE with a two-byte length: the first body line of PKCS#1/#8 keys
            // (and of certificates and public keys, which are redacted too).
            pattern: r"MII[A-Za-z0-9+/]{20,}={0,2}".into(),
            group: None,
            check: None,
        },
        Spec {
            id: "private-key-body-openssh",
            gate: Gate::Words(&["b3blbnnzac1rzxktdje"]),
            // base64 of "openssh-key-v1\0": the first body line of an OpenSSH private key.
            pattern: r"b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/]*={0,2}".into(),
            group: None,
            check: None,
        },
        Spec {
            id: "pem-body-line",
            gate: Gate::Run(20),
            // A line that is only base64 with upper, lower and digits: a key's body arriving one
            // line per log event. A last line shorter than 20 characters passes.
            pattern: r"(?m)^[ \t]*(?P<secret>[A-Za-z0-9+/]{20,}={0,2})[ \t\r]*$".into(),
            group: Some("secret"),
            check: Some(random_base64),
        },
        Spec {
            id: "aws-secret-access-key",
            gate: Gate::Run(40),
            // Exactly 40 base64 characters with upper, lower and digits, alone between
            // non-base64 characters (padding after it means a longer value): how a secret access
            // key looks with no label. Lower-case hex (git SHAs) and single-case ids pass.
            pattern: r"(?:^|[^A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])".into(),
            group: Some("secret"),
            check: Some(random_base64),
        },
        Spec {
            id: "payment-card",
            gate: Gate::CardNumber,
            // 13-19 digits, whole or in groups (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4) split by one
            // space or dash, not inside a longer number, a decimal or a `+` phone number.
            pattern: r"(?:^|[^0-9A-Za-z_.+])(?P<secret>[2-6][0-9]{12,18}|[2-6][0-9]{3}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,4})?|[2-6][0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5})(?:$|[^0-9A-Za-z_])".into(),
            group: Some("secret"),
            check: Some(payment_card),
        },
    ]);
    specs
}

/// Vendor tokens with a recognisable prefix (gitleaks' service rules, GitHub partner patterns).
fn token_specs() -> Vec<Spec> {
    let token = |id, words, pattern: &str| Spec {
        id,
        gate: Gate::Words(words),
        pattern: pattern.into(),
        group: None,
        check: None,
    };
    vec![
        Spec {
            id: "aws-access-key-id",
            gate: Gate::Words(&["akia", "asia", "abia", "acca", "a3t"]),
            // Any character but an upper-case letter or digit may follow (`AKIA…_backup`).
            pattern: r"(?:^|[^A-Z0-9])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})".into(),
            group: Some("secret"),
            check: None,
        },
        token(
            "aws-session-token",
            &["iqojb3jpz2lu", "fwogzxivyxdz"],
            r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]{20,}",
        ),
        token(
            "github-token",
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
            r"gh[pousr]_[A-Za-z0-9]{36,}",
        ),
        token(
            "github-fine-grained-pat",
            &["github_pat_"],
            r"github_pat_[A-Za-z0-9_]{22,}",
        ),
        token(
            "gitlab-token",
            &["glpat-", "glrt-"],
            r"gl(?:pat|rt)-[A-Za-z0-9_-]{20,}",
        ),
        token(
            "slack-token",
            &["xox"],
            r"xox[abeoprs](?:\.xox[bp])?-[A-Za-z0-9-]{10,}",
        ),
        token("slack-app-token", &["xapp-"], r"xapp-[0-9]-[A-Za-z0-9-]{10,}"),
        Spec {
            id: "slack-webhook-url",
            gate: Gate::Words(&["hooks.slack.com"]),
            pattern:
                r"(?i-u:hooks\.slack\.com)/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9/+_-]{8,})"
                    .into(),
            group: Some("secret"),
            check: None,
        },
        Spec {
            id: "discord-webhook-url",
            gate: Gate::Words(&["discord"]),
            pattern: r"(?i-u:discord(?:app)?\.com)/api/webhooks/(?P<secret>[0-9]+/[A-Za-z0-9_-]+)".into(),
            group: Some("secret"),
            check: None,
        },
        Spec {
            id: "microsoft-teams-webhook-url",
            gate: Gate::Words(&["webhook.office.com"]),
            pattern: r#"(?i-u:\.webhook\.office\.com)/(?P<secret>webhookb2/[^ \t\r\n"'<>]+)"#.into(),
            group: Some("secret"),
            check: None,
        },
        token(
            "stripe-key",
            &["k_live_", "k_test_"],
            r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
        ),
        token("stripe-webhook-secret", &["whsec_"], r"whsec_[A-Za-z0-9+/=]{20,}"),
        token("gcp-api-key", &["aiza"], r"AIza[A-Za-z0-9_-]{35}"),
        token(
            "gcp-oauth-client-secret",
            &["gocspx-"],
            r"GOCSPX-[A-Za-z0-9_-]{20,}",
        ),
        token("gcp-oauth-access-token", &["ya29."], r"ya29\.[A-Za-z0-9_-]{20,}"),
        token(
            "openai-anthropic-api-key",
            &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-", "t3blbkfj"],
            r"sk-(?:proj|svcacct|admin|ant)-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
        ),
        token("npm-token", &["npm_"], r"npm_[A-Za-z0-9]{36}"),
        token(
            "pypi-token",
            &["pypi-ageichlwas5vcmc"],
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,}",
        ),
        token(
            "sendgrid-api-key",
            &["sg."],
            r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
        ),
        Spec {
            id: "twilio-api-key",
            gate: Gate::Run(34),
            pattern: r"(?-u:\b)SK[0-9a-fA-F]{32}(?-u:\b)".into(),
            group: None,
            check: Some(has_digit),
        },
        token("vault-token", &["hvs.", "hvb."], r"hv[sb]\.[A-Za-z0-9_-]{24,}"),
        token("huggingface-token", &["hf_"], r"hf_[A-Za-z]{34}"),
        token("digitalocean-token", &["_v1_"], r"do[opr]_v1_[a-f0-9]{64}"),
        token("shopify-token", &["shp"], r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
        token("atlassian-api-token", &["atatt3"], r"ATATT3[A-Za-z0-9_=-]{100,}"),
        token("databricks-token", &["dapi"], r"dapi[a-f0-9]{32}(?:-[0-9])?"),
        token(
            "age-secret-key",
            &["age-secret-key-1"],
            r"AGE-SECRET-KEY-1[0-9A-Z]{58}",
        ),
        token(
            "1password-service-token",
            &["ops_eyj"],
            r"ops_eyJ[A-Za-z0-9+/=]{100,}",
        ),
        token(
            "grafana-token",
            &["glsa_", "glc_"],
            r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/=]{32,}",
        ),
        token("sentry-token", &["sntry"], r"sntry[su]_[A-Za-z0-9+/=_]{40,}"),
        token("linear-api-key", &["lin_api_"], r"lin_api_[A-Za-z0-9]{40}"),
        token("mailgun-key", &["key-"], r"(?-u:\b)key-[0-9a-f]{32}(?-u:\b)"),
        token(
            "jwt",
            &["eyj"],
            r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        ),
    ]
}

// --- checks ---

fn group<'t>(caps: &Captures<'t>, name: &str) -> &'t str {
    caps.name(name).map_or("", |m| m.as_str())
}

fn secret_key_with_value(caps: &Captures<'_>) -> bool {
    is_secret_key(group(caps, "key")) && value_is_not_placeholder(caps)
}

/// `password=""`, `token: null`, `auth=false` hide nothing.
fn value_is_not_placeholder(caps: &Captures<'_>) -> bool {
    // An unquoted value may have taken the punctuation that closes its object: `null}`.
    let inner = super::unquote(group(caps, "secret")).trim_end_matches([',', ';', ')', '}', ']']);
    !["", "true", "false", "null", "none", "nil", "undefined"]
        .iter()
        .any(|p| inner.eq_ignore_ascii_case(p))
        && !is_yaml_block_indicator(without_escaped_line_breaks(inner))
}

/// `|`, `>-`, `|2+`, or nothing (the key ends its line): the value is on the lines below
/// (`yaml-next-line`).
fn is_yaml_block_indicator(value: &str) -> bool {
    let mut bytes = value.bytes();
    match bytes.next() {
        None => true,
        Some(b'|' | b'>') => value.len() <= 3 && bytes.all(|b| b == b'-' || b == b'+' || b.is_ascii_digit()),
        Some(_) => false,
    }
}

/// Without the `\n`, `\r`, `\t` escapes a JSON string ends the value's line with
/// (`yaml-next-line-escaped`): an unquoted value runs over them.
fn without_escaped_line_breaks(value: &str) -> &str {
    let mut rest = value;
    while let Some(r) = ["\\n", "\\r", "\\t"].iter().find_map(|e| rest.strip_suffix(e)) {
        rest = r;
    }
    rest
}

/// A key written with `\u00XX` escapes, decoded (an escaped non-alphanumeric byte splits words
/// as it would unescaped), then judged like any key.
fn escaped_secret_key_with_value(caps: &Captures<'_>) -> bool {
    let key = group(caps, "key");
    let mut decoded = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(c) = rest.chars().next() {
        if c == '\\' {
            let slashes = rest.bytes().take_while(|&b| b == b'\\').count();
            let hex = rest
                .get(slashes + 1..slashes + 5)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                decoded.push(char::from(byte));
                rest = &rest[slashes + 5..];
                continue;
            }
        }
        decoded.push(c);
        rest = &rest[c.len_utf8()..];
    }
    is_secret_key(&decoded) && value_is_not_placeholder(caps)
}

/// A payment card number: the Luhn check digit holds, and the length and leading digits are
/// those of a card network (IIN ranges below). Luhn alone passes one number in ten; the IIN
/// test keeps out epoch milliseconds and microseconds (they start with 1 until 2033) and most
/// other long ids.
fn payment_card(caps: &Captures<'_>) -> bool {
    let digits: Vec<u32> = group(caps, "secret")
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
        .collect();
    (13..=19).contains(&digits.len()) && luhn(&digits) && card_network(&digits)
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, _) => d,
            (_, twice) if twice > 9 => twice - 9,
            (_, twice) => twice,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Visa, Mastercard, American Express, Discover, UnionPay, JCB, Diners Club, Mir and Maestro:
/// each network's prefixes and lengths. UATP (prefix 1) is left out on purpose: its numbers
/// look like epoch milliseconds.
fn card_network(d: &[u32]) -> bool {
    let prefix = |n: usize| d.iter().take(n).fold(0, |acc, &x| acc * 10 + x);
    let (p2, p3, p4) = (prefix(2), prefix(3), prefix(4));
    let len = d.len();
    let long = (16..=19).contains(&len);
    (d[0] == 4 && matches!(len, 13 | 16 | 19))
        || (((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16)
        || (matches!(p2, 34 | 37) && len == 15)
        || ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || p2 == 62) && long)
        || ((3528..=3589).contains(&p4) && long)
        || ((p2 == 36 || (300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 38 | 39))
            && (14..=19).contains(&len))
        || ((2200..=2204).contains(&p4) && long)
        || (matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763))
}

/// Not a port followed by a path (`https://host:8080/@scope/pkg`).
fn url_password(caps: &Captures<'_>) -> bool {
    let secret = group(caps, "secret");
    let digits = secret.bytes().take_while(u8::is_ascii_digit).count();
    let port_then_path = digits > 0 && secret.as_bytes().get(digits) == Some(&b'/');
    !secret.is_empty() && !port_then_path
}

/// Upper, lower and digits: random base64, not a word, a hex hash or an upper-case id.
fn random_base64(caps: &Captures<'_>) -> bool {
    let s = group(caps, "secret");
    s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_digit())
}

fn has_digit(caps: &Captures<'_>) -> bool {
    caps.get(0)
        .is_some_and(|m| m.as_str().bytes().any(|b| b.is_ascii_digit()))
}

/// Whether a key names a secret: `db_password`, `apiKey`, `X-Amz-Security-Token`,
/// `AWS_SECRET_ACCESS_KEY` do; `password_policy`, `token_count`, `api_key_id`, `secret_arn`,
/// `max_tokens`, `keyboard`, `bypass` do not. The key is split into words (separators and
/// camelCase); the last secret word decides, unless a word after it says the value describes
/// the secret instead of being it.
pub(super) fn is_secret_key(key: &str) -> bool {
    let words = words(key);
    let last = (0..words.len()).rev().find(|&i| {
        let prev = i.checked_sub(1).and_then(|p| words.get(p)).map(String::as_str);
        is_secret_word(prev, &words[i])
    });
    last.is_some_and(|i| !words[i + 1..].iter().any(|w| DESCRIBES.contains(&w.as_str())))
}

/// Contained anywhere in a word.
const STRONG: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "credential",
    "authorization",
    "cookie",
    "signature",
];
/// Whole words only.
const WEAK: &[&str] = &[
    "pass",
    "pwd",
    "auth",
    "sig",
    "session",
    "sessionid",
    "creds",
    "cred",
    "keypass",
];
/// `<qualifier> key`, `<qualifier>_key`, `<qualifier>Key`, `<qualifier>key`.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "private",
    "secret",
    "access",
    "client",
    "signing",
    "sign",
    "master",
    "encryption",
    "enc",
    "account",
    "app",
    "application",
    "service",
    "auth",
    "license",
    "licence",
    "subscription",
    "shared",
    "ssh",
    "hmac",
    "session",
    "admin",
    "root",
    "consumer",
    "storage",
    "db",
    "database",
    "write",
    "ingest",
    "webhook",
    "deploy",
];
/// Words after the secret word that make the value a property of the secret, not the secret.
const DESCRIBES: &[&str] = &[
    "policy",
    "policies",
    "count",
    "counts",
    "length",
    "len",
    "size",
    "type",
    "types",
    "name",
    "names",
    "id",
    "ids",
    "arn",
    "arns",
    "uri",
    "url",
    "urls",
    "endpoint",
    "file",
    "files",
    "path",
    "dir",
    "expiry",
    "expires",
    "expired",
    "expiration",
    "exp",
    "ttl",
    "age",
    "timeout",
    "duration",
    "lifetime",
    "changed",
    "updated",
    "rotated",
    "rotation",
    "required",
    "enabled",
    "disabled",
    "present",
    "provided",
    "valid",
    "invalid",
    "strength",
    "min",
    "max",
    "limit",
    "version",
    "format",
    "mode",
    "method",
    "kind",
    "algorithm",
    "alg",
    "field",
    "fields",
    "env",
    "var",
    "source",
    "location",
    "provider",
    "status",
    "error",
    "errors",
    // Exception classes named after a secret: `ExpiredJwtException`, `InvalidTokenException`.
    "exception",
    "missing",
    "used",
    "usage",
    "index",
    "prefix",
    "label",
    "description",
    "owner",
    "created",
    "ms",
    "secs",
    "seconds",
    "hours",
    "days",
    "attempts",
    "retries",
    "failures",
    "failed",
    "manager",
    "store",
    "service",
    "server",
    "host",
    "port",
    "domain",
    "realm",
    "scope",
    "scopes",
    "issuer",
    "audience",
    "user",
    "username",
    "login",
    "email",
    "prompt",
    // Source files in stack frames: `AuthFilter.java:88`, `token.go:45`.
    "java",
    "kt",
    "scala",
    "groovy",
    "go",
    "py",
    "rb",
    "js",
    "mjs",
    "ts",
    "cs",
    "rs",
    "php",
    "c",
    "cc",
    "cpp",
    "h",
    "swift",
    "ex",
    "exs",
    "clj",
];

fn is_secret_word(prev: Option<&str>, w: &str) -> bool {
    // Counts and tools, not secrets: max_tokens, input_tokens, tokenizer.
    if w.ends_with("tokens") || w.starts_with("tokeniz") {
        return false;
    }
    let qualified_key = |stem: &str| KEY_QUALIFIERS.contains(&stem);
    STRONG.iter().any(|s| w.contains(s))
        || WEAK.contains(&w)
        || (matches!(w, "key" | "keys") && prev.is_some_and(qualified_key))
        || w.strip_suffix("keys")
            .or_else(|| w.strip_suffix("key"))
            .is_some_and(qualified_key)
        || (w == "id" && prev == Some("session"))
}

/// Lowercase words, split at non-alphanumerics and at camelCase humps (`dbPassword`).
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for key in [
            "password",
            "db_password",
            "dbPassword",
            "DB_PASSWORD",
            "passwd",
            "pwd",
            "pass",
            "passphrase",
            "secret",
            "client_secret",
            "clientSecret",
            "AWS_SECRET_ACCESS_KEY",
            "api_key",
            "apiKey",
            "APIKEY",
            "X-Api-Key",
            "x-auth-token",
            "access_token",
            "refresh_token",
            "Authorization",
            "Proxy-Authorization",
            "auth",
            "credentials",
            "private_key",
            "privateKey",
            "AccountKey",
            "X-Amz-Signature",
            "sig",
            "session",
            "session_id",
            "sessionid",
            "password_reset_token",
            "Cookie",
            "keypass",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn keys_that_are_not_secret() {
        for key in [
            "password_policy",
            "token_count",
            "max_tokens",
            "input_tokens",
            "api_key_id",
            "secret_arn",
            "secrets_manager_arn",
            "keyboard",
            "key",
            "kms_key_id",
            "bypass",
            "passenger",
            "author",
            "auth_method",
            "token_type",
            "password_file",
            "session_count",
            "signature_version",
            "tokenizer",
            "monkey",
            "user",
            "assignment",
            "signal",
            "InvalidTokenException",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn luhn_and_card_networks() {
        let digits = |s: &str| -> Vec<u32> { s.bytes().map(|b| u32::from(b - b'0')).collect() };
        // Published test numbers, one per network.
        for card in [
            "4111111111111111",
            "4222222222222",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "36227206271667",
            "6200000000000005",
            "6759649826438453",
            "2200000000000004",
        ] {
            let d = digits(card);
            assert!(luhn(&d) && card_network(&d), "{card}");
        }
        // Luhn-valid, no network: ids and epoch times.
        for id in [
            "1234567812345670",
            "9000000000000001",
            "1714557600124",
            "1714557600123456781",
        ] {
            let d = digits(id);
            assert!(luhn(&d) && !card_network(&d), "{id}");
        }
        // A network's prefix, the wrong length: 15-digit Mastercard, 16-digit Amex.
        for wrong in ["555555555555444", "3782822463100050"] {
            assert!(!card_network(&digits(wrong)), "{wrong}");
        }
        assert!(!luhn(&digits("4111111111111112")));
    }

    #[test]
    fn words_split_at_separators_and_humps() {
        assert_eq!(words("X-Amz-Security_token"), ["x", "amz", "security", "token"]);
        assert_eq!(words("dbPassword2"), ["db", "password2"]);
        assert_eq!(words("APIKey"), ["apikey"]);
    }
}
