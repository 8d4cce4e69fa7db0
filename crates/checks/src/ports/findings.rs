//! The rules of the port scan: pure functions from open ports and their services to findings.
//!
//! Rules (stable `rule` names; location `host:port`): `exposed_database`,
//! `exposed_message_broker`, `exposed_admin_service`, `exposed_ssh`, `unauthenticated_redis`,
//! `unauthenticated_docker_api`.

use crate::rule::Rule;
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;

use super::OpenPort;
use super::probes::redis_is_open;

const EXPOSED_DATABASE: Rule = Rule {
    id: "exposed_database",
    title: "Database exposed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(668),
    description: "A database service accepts connections from the network the scan ran from.",
    remediation: "Bind it to a private interface and allow only the application hosts that need it.",
};
const EXPOSED_MESSAGE_BROKER: Rule = Rule {
    id: "exposed_message_broker",
    title: "Message broker exposed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(668),
    description: "A message broker accepts connections from the network the scan ran from.",
    remediation: "Restrict its port to the application hosts and require authentication.",
};
const EXPOSED_ADMIN_SERVICE: Rule = Rule {
    id: "exposed_admin_service",
    title: "Administration service exposed",
    severity: Severity::Medium,
    score: 6.5,
    cwe: Some(668),
    description: "An administration interface answers from the network the scan ran from.",
    remediation: "Publish administration interfaces only on a private network or through a VPN.",
};
const EXPOSED_SSH: Rule = Rule {
    id: "exposed_ssh",
    title: "SSH service reachable",
    severity: Severity::Info,
    score: 0.0,
    cwe: None,
    description: "An SSH server answers; reported so the exposure is known and reviewed.",
    remediation: "Allow public-key authentication only, or restrict the port to known addresses.",
};
const UNAUTHENTICATED_REDIS: Rule = Rule {
    id: "unauthenticated_redis",
    title: "Redis accepts commands without authentication",
    severity: Severity::Critical,
    score: 9.8,
    cwe: Some(306),
    description: "Redis answers commands without a password.",
    remediation: "Require authentication and bind Redis to a private interface.",
};
const UNAUTHENTICATED_DOCKER_API: Rule = Rule {
    id: "unauthenticated_docker_api",
    title: "Docker Engine API without authentication",
    severity: Severity::Critical,
    score: 9.8,
    cwe: Some(306),
    description: "The Docker Engine API answers without authentication.",
    remediation: "Stop exposing the daemon over TCP, or require TLS client certificates.",
};

const DATABASE_DESCRIPTION: &str = "accepts connections from the network the scan ran from. \
    Databases are meant to be reached by their applications only: exposed, they can be \
    brute-forced, attacked through unpatched protocol vulnerabilities, and — when \
    authentication is weak, missing or misconfigured — read, altered, encrypted for ransom or \
    wiped. Mass scanners find exposed databases within hours.";
const DATABASE_REMEDIATION: &str = "Bind the service to a private interface or localhost, and \
    allow only the application hosts that need it (security group, firewall, network policy). \
    Require authentication and TLS even on the private network, and reach it from outside only \
    through a VPN or bastion.";

/// All findings for the open ports of `host`, in port order, reported under `check`.
pub fn findings_for(check: CheckKind, host: &str, open: &[OpenPort]) -> Vec<FindingDraft> {
    open.iter()
        .flat_map(|port| port_findings(check, host, port))
        .collect()
}

fn port_findings(check: CheckKind, host: &str, open: &OpenPort) -> Vec<FindingDraft> {
    let port = open.port;
    let name = open.service.as_ref().map(|s| s.name);
    let product = open.service.as_ref().and_then(|s| s.product.as_deref());
    // The rule's description and remediation are generic; a finding names the service.
    let draft =
        |rule: &Rule, title: String, description: String, remediation: String| FindingDraft {
            description,
            remediation,
            ..rule.titled(check, &location(host, port), &title, evidence(open))
        };
    let mut findings = Vec::new();

    if let Some(label) = database_label(name, product) {
        findings.push(draft(
            &EXPOSED_DATABASE,
            format!("{label} database exposed on port {port}"),
            format!("{label} on port {port} {DATABASE_DESCRIPTION}"),
            DATABASE_REMEDIATION.to_owned(),
        ));
    }
    if name == Some("redis") && open.banner.as_deref().is_some_and(redis_is_open) {
        findings.push(draft(
            &UNAUTHENTICATED_REDIS,
            format!("Redis on port {port} accepts commands without authentication"),
            format!(
                "Redis on port {port} answered PING with PONG without a password: anyone who \
                 can reach it can read and change every key, and commands such as CONFIG SET \
                 and MODULE LOAD routinely turn this into remote code execution on the host."
            ),
            "Set a strong password (`requirepass`, or ACL users with `user default off`), \
             keep `protected-mode yes`, bind Redis to a private interface, and rename or \
             disable dangerous commands (CONFIG, MODULE, DEBUG) with ACLs."
                .to_owned(),
        ));
    }
    if let Some(label) = broker_label(name, product) {
        findings.push(draft(
            &EXPOSED_MESSAGE_BROKER,
            format!("{label} message broker exposed on port {port}"),
            format!(
                "{label} on port {port} accepts connections from the network the scan ran \
                 from. A reachable broker invites credential guessing (RabbitMQ ships with a \
                 `guest` account; NATS and many others accept clients without any \
                 credentials unless configured to), and a client that gets in can read, \
                 inject or drop the messages that drive your applications."
            ),
            "Restrict the broker's port to the application hosts (firewall, security group), \
             require authentication with strong per-application credentials and remove \
             default accounts, enable TLS (AMQP on 5671), and publish management interfaces \
             only on a private network."
                .to_owned(),
        ));
    }
    if let Some(admin) = admin_service(name, port) {
        findings.push(draft(
            &EXPOSED_ADMIN_SERVICE,
            format!("{} exposed on port {port}", admin.label),
            format!("{} on port {port} {}", admin.label, admin.description),
            admin.remediation.to_owned(),
        ));
    }
    if name == Some("docker") {
        findings.push(draft(
            &UNAUTHENTICATED_DOCKER_API,
            format!("Docker Engine API on port {port} answers without authentication"),
            format!(
                "The Docker Engine API on port {port} answered a plain HTTP request. Docker's \
                 only authentication is TLS client certificates, so this API is open to \
                 anyone who can reach it: they can start a privileged container that mounts \
                 the host's file system, which is root on the host."
            ),
            "Stop exposing the daemon over TCP (remove `-H tcp://...` / `hosts` from the \
             daemon configuration) and use the local socket or SSH (`DOCKER_HOST=ssh://...`). \
             If remote access is required, enable `tlsverify` with client certificates on \
             port 2376 and firewall it to the administrators' addresses."
                .to_owned(),
        ));
    }
    if name == Some("ssh") {
        findings.push(draft(
            &EXPOSED_SSH,
            format!("SSH service reachable on port {port}"),
            format!(
                "An SSH server{} answers on port {port}. This is often intended; it is \
                 reported so the exposure is known and reviewed, since every reachable SSH \
                 server receives constant password-guessing attempts.",
                product.map(|p| format!(" ({p})")).unwrap_or_default()
            ),
            "If the exposure is intended, allow public-key authentication only \
             (`PasswordAuthentication no`, `PermitRootLogin no`) and keep the server patched; \
             otherwise restrict the port to known addresses or reach it through a VPN or \
             bastion."
                .to_owned(),
        ));
    }
    findings
}

/// The name to show for a database service, or `None` when the service is not one.
fn database_label(name: Option<&str>, product: Option<&str>) -> Option<String> {
    let generic = match name? {
        "postgresql" => "PostgreSQL",
        "mysql" => "MySQL",
        "mongodb" => "MongoDB",
        "redis" => "Redis",
        "elasticsearch" => "Elasticsearch",
        "memcached" => "Memcached",
        "couchdb" => "CouchDB",
        _ => return None,
    };
    // MariaDB, OpenSearch: the product the service named, when it is a different one.
    Some(product.unwrap_or(generic).to_owned())
}

/// The name to show for a message broker, or `None` when the service is not one.
fn broker_label(name: Option<&str>, product: Option<&str>) -> Option<String> {
    let generic = match name? {
        "amqp" => "AMQP broker",
        "nats" => "NATS",
        _ => return None,
    };
    Some(product.unwrap_or(generic).to_owned())
}

struct Admin {
    label: &'static str,
    description: &'static str,
    remediation: &'static str,
}

/// A remote-administration or legacy cleartext service. RDP and Telnet are judged by their
/// port alone when nothing else was identified there: RDP waits for the client's own
/// protocol, which we do not speak, and some Telnet servers send no negotiation first.
fn admin_service(name: Option<&str>, port: u16) -> Option<Admin> {
    Some(match (name, port) {
        (Some("docker"), _) => Admin {
            label: "Docker Engine API",
            description: "is reachable over the network. Whoever controls the Docker API \
                controls every container on the host and, through them, the host itself.",
            remediation: "Do not publish the Docker API; use the local socket or SSH, or TLS \
                with client certificates on port 2376, restricted to administrators.",
        },
        (None, 3389) => Admin {
            label: "Remote Desktop (RDP)",
            description: "(port 3389) is reachable over the network. Exposed RDP is one of \
                the most common ways into Windows networks: password spraying and \
                pre-authentication vulnerabilities (BlueKeep, CVE-2019-0708) have been used \
                by ransomware groups at scale.",
            remediation: "Put RDP behind a VPN or a Remote Desktop Gateway with multi-factor \
                authentication, enable Network Level Authentication, and firewall the port \
                to known addresses.",
        },
        (Some("vnc"), _) => Admin {
            label: "VNC remote desktop",
            description: "is reachable over the network. VNC authentication is a password of \
                at most eight characters, often weak or absent, and the session is not \
                encrypted: anyone who gets in sees and controls the desktop.",
            remediation: "Do not expose VNC: tunnel it over SSH or a VPN, bind it to \
                localhost, and set a strong password.",
        },
        (Some("telnet"), _) | (None, 23) => Admin {
            label: "Telnet",
            description: "is reachable over the network. Telnet sends credentials and the \
                whole session in cleartext, and Telnet services on devices are a favourite \
                target of botnets guessing default passwords.",
            remediation: "Disable Telnet and use SSH instead; if a device cannot, restrict \
                the port to a management network.",
        },
        (Some("ftp"), _) => Admin {
            label: "FTP",
            description: "is reachable over the network. FTP sends credentials and files in \
                cleartext, and anonymous or weakly protected FTP servers regularly leak or \
                receive files they should not.",
            remediation: "Replace FTP with SFTP or HTTPS uploads; if FTP must stay, require \
                explicit TLS (FTPS), disable anonymous access and restrict the port to \
                known addresses.",
        },
        _ => return None,
    })
}

/// `host:port`, with an IPv6 address in brackets so the port stays unambiguous.
pub(super) fn location(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn evidence(open: &OpenPort) -> serde_json::Value {
    let service = open.service.as_ref();
    json!({
        "port": open.port,
        "service": service.map(|s| s.name),
        "product": service.and_then(|s| s.product.clone()),
        "version": service.and_then(|s| s.version.clone()),
        "banner": open.banner,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Service;
    use super::*;

    fn open(port: u16, name: Option<&'static str>, banner: Option<&str>) -> OpenPort {
        OpenPort {
            port,
            service: name.map(|name| Service::new(name, None, None)),
            banner: banner.map(str::to_owned),
        }
    }

    fn rules(ports: &[OpenPort]) -> Vec<(String, String)> {
        findings_for(CheckKind::HttpHeaders, "db.example.com", ports)
            .into_iter()
            .map(|f| (f.location, f.rule))
            .collect()
    }

    fn pair(port: u16, rule: &str) -> (String, String) {
        (format!("db.example.com:{port}"), rule.to_owned())
    }

    #[test]
    fn databases_are_exposed_whatever_the_port() {
        let ports: Vec<OpenPort> = [
            "postgresql",
            "mysql",
            "mongodb",
            "elasticsearch",
            "memcached",
            "couchdb",
        ]
        .iter()
        .enumerate()
        .map(|(i, name)| open(10_000 + u16::try_from(i).unwrap(), Some(name), None))
        .collect();
        let expected: Vec<_> = (0..6)
            .map(|i| pair(10_000 + i, "exposed_database"))
            .collect();
        assert_eq!(rules(&ports), expected);
    }

    #[test]
    fn redis_without_a_password_is_critical() {
        let open_redis = open(6379, Some("redis"), Some("+PONG\\r\\n"));
        let locked = open(
            6380,
            Some("redis"),
            Some("-NOAUTH Authentication required.\\r\\n"),
        );
        assert_eq!(
            rules(&[open_redis, locked]),
            vec![
                pair(6379, "exposed_database"),
                pair(6379, "unauthenticated_redis"),
                pair(6380, "exposed_database"),
            ]
        );
        let finding = findings_for(
            CheckKind::HttpHeaders,
            "h",
            &[open(6379, Some("redis"), Some("+PONG\\r\\n"))],
        )
        .pop()
        .unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.cwe, Some(306));
    }

    #[test]
    fn admin_services_and_ports_judged_alone() {
        assert_eq!(
            rules(&[
                open(21, Some("ftp"), Some("220 (vsFTPd 3.0.3)")),
                open(23, None, None),
                open(2323, Some("telnet"), None),
                open(3389, None, None),
                open(5900, Some("vnc"), Some("RFB 003.008\\n")),
            ]),
            vec![
                pair(21, "exposed_admin_service"),
                pair(23, "exposed_admin_service"),
                pair(2323, "exposed_admin_service"),
                pair(3389, "exposed_admin_service"),
                pair(5900, "exposed_admin_service"),
            ]
        );
        // Something else identified on those ports is judged as what it is.
        assert!(rules(&[open(3389, Some("http"), None), open(23, Some("ssh"), None)]).len() == 1);
    }

    #[test]
    fn docker_api_is_admin_exposure_and_unauthenticated() {
        assert_eq!(
            rules(&[open(2375, Some("docker"), None)]),
            vec![
                pair(2375, "exposed_admin_service"),
                pair(2375, "unauthenticated_docker_api"),
            ]
        );
    }

    #[test]
    fn brokers_ssh_and_the_rest() {
        assert_eq!(
            rules(&[
                open(22, Some("ssh"), None),
                open(80, Some("http"), None),
                open(443, Some("tls"), None),
                open(5672, Some("amqp"), None),
                open(9999, None, None),
            ]),
            vec![
                pair(22, "exposed_ssh"),
                pair(5672, "exposed_message_broker")
            ]
        );
    }

    #[test]
    fn findings_carry_the_check_title_and_evidence() {
        let port = OpenPort {
            port: 3306,
            service: Some(Service::new(
                "mysql",
                Some("MariaDB".into()),
                Some("10.6.12".into()),
            )),
            banner: Some("Y\\x00\\x00\\x00\\n5.5.5-10.6.12-MariaDB".into()),
        };
        let finding = findings_for(CheckKind::HttpHeaders, "2001:db8::1", &[port])
            .pop()
            .unwrap();
        assert_eq!(finding.check, CheckKind::HttpHeaders);
        assert_eq!(finding.location, "[2001:db8::1]:3306");
        assert_eq!(finding.title, "MariaDB database exposed on port 3306");
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(finding.cwe, Some(668));
        assert!(
            finding
                .description
                .starts_with("MariaDB on port 3306 accepts")
        );
        assert_eq!(
            finding.evidence,
            json!({
                "port": 3306,
                "service": "mysql",
                "product": "MariaDB",
                "version": "10.6.12",
                "banner": "Y\\x00\\x00\\x00\\n5.5.5-10.6.12-MariaDB",
            })
        );
    }

    #[test]
    fn ssh_is_informational() {
        let finding = findings_for(CheckKind::HttpHeaders, "h", &[open(22, Some("ssh"), None)])
            .pop()
            .unwrap();
        assert_eq!(finding.severity, Severity::Info);
        assert_eq!(finding.cwe, None);
        assert_eq!(finding.title, "SSH service reachable on port 22");
    }
}
