//! The `s4e` command line against the real fleet, run in-process (`s4e_cli::run`) with its
//! output captured: every resource command, piped and JSON output, exit codes, where the
//! credential lives, a revoked key, a gateway that is down.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use s4e_cli::{Context, exit};
use s4e_e2e::{Fleet, Target};
use serde_json::Value;

struct Run {
    code: i32,
    out: String,
    err: String,
}

/// A context with a credentials directory of its own, nothing from the environment, and
/// standard output piped.
fn context() -> (Context, PathBuf) {
    let dir = std::env::temp_dir().join(format!("s4e-cli-{}", uuid::Uuid::now_v7()));
    let context = Context {
        config_dir: dir.clone(),
        url: None,
        token: None,
        stdout_tty: false,
        stderr_tty: false,
        stdin_token: || None,
    };
    (context, dir)
}

async fn s4e(context: &Context, args: &[&str]) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("s4e").chain(args.iter().copied());
    let code = s4e_cli::run(argv, context, &mut out, &mut err).await;
    Run {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// `field<TAB>value` lines of a piped object.
fn field(run: &Run, name: &str) -> String {
    run.out
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}\t")))
        .unwrap_or_else(|| panic!("no {name} in {:?}", run.out))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_drives_the_platform_and_says_what_went_wrong() {
    let fleet = Fleet::start().await.unwrap();
    let url = fleet.core.url();
    let (mut context, dir) = context();

    // Not signed in: exit 4, saying how to sign in.
    let run = s4e(&context, &["assets", "list"]).await;
    assert_eq!(run.code, exit::AUTH, "{}", run.err);
    assert!(run.err.contains("s4e auth login"), "{}", run.err);

    // A wrong key is refused at login, and nothing is stored.
    let run = s4e(
        &context,
        &["--url", &url, "auth", "login", "--token", "s4e_wrong"],
    )
    .await;
    assert_eq!(run.code, exit::AUTH, "{}", run.err);
    let credentials = dir.join("s4e").join("credentials.json");
    assert!(!credentials.exists());
    let run = s4e(
        &context,
        &["--url", &url, "auth", "login", "--token", &fleet.admin_key],
    )
    .await;
    assert_eq!(run.code, exit::OK, "{}", run.err);
    let mode = std::fs::metadata(&credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let status = s4e(&context, &["auth", "status"]).await;
    assert_eq!(status.code, exit::OK, "{}", status.err);
    assert_eq!(
        field(&status, "credential"),
        format!("{} (profile default)", credentials.display())
    );
    assert!(field(&status, "permissions").contains("assets:write"));
    // The environment wins over the file, and says so.
    let from_env = Context {
        url: Some(url.clone()),
        token: Some(fleet.admin_key.clone()),
        ..context.clone()
    };
    let status = s4e(&from_env, &["auth", "status"]).await;
    assert_eq!(field(&status, "credential"), "the environment (S4E_TOKEN)");

    // Assets: added, listed piped (tab-separated, no header) and as chosen JSON fields, tagged.
    let target = Target::demo(false).await;
    let added = s4e(
        &context,
        &["assets", "add", "url", &target.url, "--tag", "team=web"],
    )
    .await;
    assert_eq!(added.code, exit::OK, "{}", added.err);
    let asset = field(&added, "id");
    let listed = s4e(&context, &["assets", "list"]).await;
    let row: Vec<&str> = listed.out.lines().next().unwrap().split('\t').collect();
    assert_eq!(row[0], asset);
    assert_eq!(row[1], "url");
    let json = s4e(&context, &["assets", "list", "--json", "id,value"]).await;
    let parsed: Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(
        parsed,
        serde_json::json!([{"id": asset, "value": target.url}])
    );
    let tagged = s4e(&context, &["assets", "tag", &asset, "--add", "env=prod"]).await;
    assert_eq!(field(&tagged, "changed"), "1");
    let by_tag = s4e(&context, &["assets", "list", "--tag", "env=prod"]).await;
    assert_eq!(by_tag.out.lines().count(), 1);

    // A scan waited for: the findings listed, and --fail-on at the worst severity exits 3.
    let waited = s4e(
        &context,
        &[
            "scans",
            "start",
            &asset,
            "--check",
            "http_headers",
            "--wait",
            "--fail-on",
            "low",
        ],
    )
    .await;
    assert_eq!(
        waited.code,
        exit::FINDINGS,
        "{}\n{}",
        waited.out,
        waited.err
    );
    assert!(waited.err.contains("completed"), "{}", waited.err);
    let scan_id = waited
        .err
        .lines()
        .find_map(|line| {
            line.strip_prefix("scan ")
                .and_then(|rest| rest.strip_suffix(" started"))
        })
        .unwrap()
        .to_string();
    let api_findings = fleet
        .get_json(&format!("/findings?scan_id={scan_id}&limit=1000"))
        .await;
    let count = api_findings["items"].as_array().unwrap().len();
    assert!(count > 0);
    assert_eq!(waited.out.lines().count(), count);
    let watched = s4e(
        &context,
        &["scans", "watch", &scan_id, "--fail-on", "critical"],
    )
    .await;
    let has_critical = api_findings["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|finding| finding["severity"] == "critical");
    assert_eq!(
        watched.code,
        if has_critical {
            exit::FINDINGS
        } else {
            exit::OK
        },
        "{}",
        watched.err
    );
    let shown = s4e(&context, &["scans", "show", &scan_id]).await;
    assert_eq!(field(&shown, "status"), "completed");
    let scans = s4e(&context, &["scans", "list", "--asset", &asset]).await;
    assert_eq!(scans.out.lines().count(), 1);

    // Findings: listed by scan, triaged, shown, exported as the filtered view.
    let listed = s4e(&context, &["findings", "list", "--scan", &scan_id, "--all"]).await;
    assert_eq!(listed.out.lines().count(), count);
    let first = listed
        .out
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    let triaged = s4e(
        &context,
        &[
            "findings",
            "triage",
            &first,
            "--status",
            "false_positive",
            "--reason",
            "lab host",
        ],
    )
    .await;
    assert_eq!(triaged.code, exit::OK, "{}", triaged.err);
    let shown = s4e(&context, &["findings", "show", &first, "--json", "status"]).await;
    let shown: Value = serde_json::from_str(&shown.out).unwrap();
    assert_eq!(shown["status"], "false_positive");
    let csv = s4e(
        &context,
        &["findings", "export", "--format", "csv", "--scan", &scan_id],
    )
    .await;
    assert_eq!(csv.code, exit::OK, "{}", csv.err);
    assert!(csv.out.starts_with("id,"), "{}", csv.out);
    assert_eq!(csv.out.lines().count(), count + 1);

    // Usage errors exit 2; an id that does not exist exits 1 saying so.
    assert_eq!(s4e(&context, &["scans", "start"]).await.code, exit::USAGE);
    assert_eq!(
        s4e(&context, &["findings", "list", "--min-severity", "dire"])
            .await
            .code,
        exit::USAGE
    );
    let missing = s4e(
        &context,
        &["scans", "show", "00000000-0000-4000-8000-000000000000"],
    )
    .await;
    assert_eq!(missing.code, exit::ERROR);
    assert!(missing.err.contains("404"), "{}", missing.err);

    // A key made and revoked: refused afterwards, exit 4.
    let created = s4e(&context, &["keys", "create", "ci", "--scope", "read"]).await;
    assert_eq!(created.code, exit::OK, "{}", created.err);
    let key = field(&created, "key");
    let key_id = field(&created, "id");
    let keys = s4e(&context, &["keys", "list"]).await;
    assert!(keys.out.contains(&key_id));
    let revoked = s4e(&context, &["keys", "revoke", &key_id]).await;
    assert_eq!(field(&revoked, "revoked"), "true");
    let with_revoked = Context {
        url: Some(url.clone()),
        token: Some(key),
        ..context.clone()
    };
    let refused = s4e(&with_revoked, &["assets", "list"]).await;
    assert_eq!(refused.code, exit::AUTH, "{}", refused.err);

    // A gateway that is down: exit 1, a clear message, no panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = s4e(&context, &["--url", &down, "assets", "list"]).await;
    assert_eq!(run.code, exit::ERROR);
    assert!(run.err.contains("cannot reach the gateway"), "{}", run.err);

    // Completion scripts.
    let bash = s4e(&context, &["completion", "bash"]).await;
    assert!(bash.out.contains("_s4e"), "{}", bash.out);
    context.url = None;
    assert_eq!(s4e(&context, &["auth", "logout"]).await.code, exit::OK);
    assert_eq!(s4e(&context, &["assets", "list"]).await.code, exit::AUTH);
    let _ = std::fs::remove_dir_all(&dir);
    fleet.stop().await.unwrap();
}
