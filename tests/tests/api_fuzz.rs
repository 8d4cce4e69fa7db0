//! The public API against a property-based fuzzer: schemathesis (pinned in
//! `scripts/lib.sh`, installed into `.local/venv` by `scripts/test.sh`) reads the gateway's
//! OpenAPI document and sends what it describes, and what it does not (wrong types, missing
//! fields, NUL bytes, unknown methods), as two organizations' admins, with every check on
//! (`tests/fuzz/schemathesis.toml`). Any 5xx, any answer the document does not list, any body
//! or header that breaks it, and any object of one organization the other reaches fails here.

use std::path::PathBuf;
use std::time::Duration;

use s4e_e2e::Fleet;
use serde_json::json;

/// Where the fuzzer is: what `scripts/test.sh` exports, else where it installs it.
fn schemathesis() -> PathBuf {
    std::env::var_os("S4E_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../.local/venv/bin/schemathesis"
            ))
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fuzzer_finds_no_server_error_and_nothing_the_document_does_not_say() {
    let command = schemathesis();
    assert!(
        command.exists(),
        "{} is missing: scripts/test.sh installs it (or: source scripts/lib.sh; ensure_schemathesis)",
        command.display()
    );
    let fleet = Fleet::start().await.unwrap();
    let second = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "second")
        .await
        .unwrap();
    // Something of each kind to read, so that the fuzzer's reads reach handlers, not only 404s.
    let asset_id = fleet
        .create_asset("domain", "fuzz.example.com")
        .await
        .unwrap();
    fleet.start_scan(&asset_id).await.unwrap();

    let dir = TempDir::new();
    let auth = dir.0.join("auth.json");
    let bearer = |key: &str| json!([{"name": "Authorization", "value": format!("Bearer {key}")}]);
    let document = json!({"auth": [
        {"name": "first", "fixedHeaders": bearer(&fleet.admin_key)},
        {"name": "second", "fixedHeaders": bearer(&second)},
    ]});
    std::fs::write(&auth, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/schemathesis.toml");
    let report = dir.0.join("report");

    let run = tokio::process::Command::new(&command)
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", fleet.core.url()))
        .arg("--report")
        .arg("junit")
        .arg("--report-dir")
        .arg(&report)
        .env("S4E_FUZZ_AUTH", &auth)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(15 * 60), run)
        .await
        .expect("the fuzzer ends within 15 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    fleet.stop().await.unwrap();
    assert!(
        output.status.success(),
        "the fuzzer found problems ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// The run's keys and report, removed however the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("s4e-fuzz-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
