//! The built binary, as a cluster runs it: configuration errors name the variable, and SIGTERM
//! ends the process cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use s4e_runtime::{CommonConfig, Service, ServiceToken};
use s4e_test_support::{TestEnv, listener, wait_for};

const BINARY: &str = env!("CARGO_BIN_EXE_s4e-trigger");

#[test]
fn a_bad_setting_fails_start_up_naming_the_variable() {
    let output = Command::new(BINARY)
        .env("S4E_SERVICE_TOKEN", "x".repeat(40))
        .env("S4E_AMQP_URL", "amqp://127.0.0.1:5672/%2f")
        .env("S4E_BASE_URL", "http://127.0.0.1:8081")
        .env("S4E_SCAN_URL", "http://127.0.0.1:8082")
        .env("S4E_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("S4E_LISTEN"), "{stderr}");
    assert!(stderr.contains("not-an-address"), "{stderr}");

    let output = Command::new(BINARY)
        .env_remove("S4E_AMQP_URL")
        .env("S4E_SERVICE_TOKEN", "x".repeat(40))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("S4E_AMQP_URL"));
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly() {
    let env = TestEnv::new().await.unwrap();
    // The trigger is ready once base answers.
    let base = s4e_base::Config {
        common: CommonConfig::new(
            ServiceToken::new(&env.service_token).unwrap(),
            &env.namespace,
        ),
        database_url: env.database_url.clone(),
        database_max_connections: 2,
        migrate_on_start: true,
    }
    .spawn(listener().await)
    .unwrap();
    let port = s4e_test_support::listener()
        .await
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(BINARY)
        .env("S4E_SERVICE_TOKEN", &env.service_token)
        .env("S4E_AMQP_URL", &env.amqp_url)
        .env("S4E_BASE_URL", base.url())
        // Never called here: the service starts without it.
        .env("S4E_SCAN_URL", "http://127.0.0.1:9")
        .env("S4E_NAMESPACE", &env.namespace)
        .env("S4E_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    wait_for(
        "the service to be ready",
        Duration::from_secs(30),
        || async {
            let response = http.get(&ready).send().await.ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await
    .unwrap();

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service exits within 20 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert!(stdout.contains("shutdown requested"), "{stdout}");
    assert!(stdout.contains("consumer stopped"), "{stdout}");
    base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
