//! What the exposure check asks for: each path, the rule it proves, and how its content is
//! recognised. Severity follows what the file gives away.

use s4e_types::Severity;

use super::content;
use crate::rule::Rule;

/// One path to request and how to judge the answer.
pub(super) struct Probe {
    /// From the site's root.
    pub path: &'static str,
    pub meta: &'static Rule,
    /// What the finding's title names.
    pub what: &'static str,
    pub validate: fn(&[u8]) -> Option<String>,
}

const GIT: Rule = Rule {
    id: "git_repository_exposed",
    title: "Git repository exposed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(527),
    description: "The site's .git directory is served: with it anyone can download the \
        repository (source code, its history, and any credentials ever committed).",
    remediation: "Deny access to `.git` (and every dotfile) in the web server, and deploy \
        without the repository; rotate any secret the history contains.",
};

const ENV: Rule = Rule {
    id: "env_file_exposed",
    title: "Environment file exposed",
    severity: Severity::Critical,
    score: 9.1,
    cwe: Some(538),
    description: "The application's .env file is served. It typically holds database \
        passwords, API keys and the application's signing key.",
    remediation: "Keep `.env` outside the web root and deny dotfiles in the web server; rotate \
        every secret the file contains.",
};

const BACKUP: Rule = Rule {
    id: "backup_file_exposed",
    title: "Backup file exposed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(530),
    description: "A backup (archive, database dump or configuration copy) is downloadable from \
        the web root: source, data and credentials in one file.",
    remediation: "Remove backups from the web root, store them elsewhere with access control, \
        and rotate credentials they contain.",
};

const BACKUP_CONFIG: Rule = Rule {
    severity: Severity::Critical,
    score: 9.1,
    ..BACKUP
};

const PASSWORDS: Rule = Rule {
    id: "password_file_exposed",
    title: "Password file exposed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(538),
    description: "The .htpasswd file is served: user names and password hashes that can be \
        cracked offline.",
    remediation: "Deny access to `.ht*` files (Apache does by default; check the \
        configuration), keep password files outside the web root, and change the passwords.",
};

const SERVER_STATUS: Rule = Rule {
    id: "server_status_exposed",
    title: "Server status page exposed",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(200),
    description: "Apache's server-status page is public: it shows the server version, client \
        addresses and the URLs being requested (including their query strings).",
    remediation: "Restrict `/server-status` to administrators (`Require local` or an IP \
        allow-list), or disable mod_status.",
};

const PHPINFO: Rule = Rule {
    id: "phpinfo_exposed",
    title: "phpinfo() page exposed",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(200),
    description: "A phpinfo() page is public: it shows PHP's version, modules, configuration, \
        file paths and environment variables, which may include secrets.",
    remediation: "Delete the phpinfo page from the server.",
};

const DS_STORE: Rule = Rule {
    id: "ds_store_exposed",
    title: ".DS_Store file exposed",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(538),
    description: "A macOS .DS_Store file is served: it lists the names of the files in the \
        folder, including ones never linked.",
    remediation: "Delete .DS_Store files from the web root and deny dotfiles in the web server.",
};

const API_DOCS: Rule = Rule {
    id: "api_documentation_exposed",
    title: "API documentation exposed",
    severity: Severity::Info,
    score: 0.0,
    cwe: Some(200),
    description: "The API's OpenAPI/Swagger description is public. That is fine for a public \
        API; for an internal one it maps every endpoint and parameter for an attacker.",
    remediation: "If the API is not meant to be public, serve its documentation only to \
        authenticated users or only in development.",
};

const DEBUG: Rule = Rule {
    id: "debug_endpoint_exposed",
    title: "Debug endpoint exposed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(215),
    description: "A debugging or management endpoint is public. These expose configuration, \
        environment variables, memory contents or profiling data, and some allow running code.",
    remediation: "Disable debug endpoints in production, or expose them only on an internal \
        port behind authentication (Spring: `management.endpoints.web.exposure.include`).",
};

pub(super) const DEBUG_HEAP_DUMP: Rule = Rule {
    severity: Severity::Critical,
    score: 9.1,
    ..DEBUG
};

pub(super) const DEBUG_PROFILER: Rule = Rule {
    severity: Severity::Medium,
    score: 5.3,
    ..DEBUG
};

pub(super) const PROBES: &[Probe] = &[
    Probe {
        path: "/.git/HEAD",
        meta: &GIT,
        what: "Git repository (.git/HEAD)",
        validate: content::git_head,
    },
    Probe {
        path: "/.git/config",
        meta: &GIT,
        what: "Git repository (.git/config)",
        validate: content::git_config,
    },
    Probe {
        path: "/.env",
        meta: &ENV,
        what: "Environment file (.env)",
        validate: content::dotenv,
    },
    Probe {
        path: "/backup.zip",
        meta: &BACKUP,
        what: "Backup archive",
        validate: content::archive,
    },
    Probe {
        path: "/backup.tar.gz",
        meta: &BACKUP,
        what: "Backup archive",
        validate: content::archive,
    },
    Probe {
        path: "/backup.sql",
        meta: &BACKUP,
        what: "Database dump",
        validate: content::sql_dump,
    },
    Probe {
        path: "/db.sql",
        meta: &BACKUP,
        what: "Database dump",
        validate: content::sql_dump,
    },
    Probe {
        path: "/dump.sql",
        meta: &BACKUP,
        what: "Database dump",
        validate: content::sql_dump,
    },
    Probe {
        path: "/wp-config.php.bak",
        meta: &BACKUP_CONFIG,
        what: "WordPress configuration backup",
        validate: content::wp_config,
    },
    Probe {
        path: "/.htpasswd",
        meta: &PASSWORDS,
        what: "Password file (.htpasswd)",
        validate: content::htpasswd,
    },
    Probe {
        path: "/server-status",
        meta: &SERVER_STATUS,
        what: "Apache server-status page",
        validate: content::apache_status,
    },
    Probe {
        path: "/phpinfo.php",
        meta: &PHPINFO,
        what: "phpinfo() page",
        validate: content::phpinfo,
    },
    Probe {
        path: "/info.php",
        meta: &PHPINFO,
        what: "phpinfo() page",
        validate: content::phpinfo,
    },
    Probe {
        path: "/.DS_Store",
        meta: &DS_STORE,
        what: ".DS_Store file",
        validate: content::ds_store,
    },
    Probe {
        path: "/openapi.json",
        meta: &API_DOCS,
        what: "OpenAPI description",
        validate: content::openapi_json,
    },
    Probe {
        path: "/swagger.json",
        meta: &API_DOCS,
        what: "Swagger description",
        validate: content::openapi_json,
    },
    Probe {
        path: "/v2/api-docs",
        meta: &API_DOCS,
        what: "Swagger description",
        validate: content::openapi_json,
    },
    Probe {
        path: "/v3/api-docs",
        meta: &API_DOCS,
        what: "OpenAPI description",
        validate: content::openapi_json,
    },
    Probe {
        path: "/swagger-ui/",
        meta: &API_DOCS,
        what: "Swagger UI",
        validate: content::swagger_ui,
    },
    Probe {
        path: "/swagger-ui.html",
        meta: &API_DOCS,
        what: "Swagger UI",
        validate: content::swagger_ui,
    },
    Probe {
        path: "/actuator/env",
        meta: &DEBUG,
        what: "Spring Boot actuator environment",
        validate: content::actuator_env,
    },
    Probe {
        path: "/actuator/heapdump",
        meta: &DEBUG_HEAP_DUMP,
        what: "Java heap dump",
        validate: content::heap_dump,
    },
    Probe {
        path: "/debug/pprof/",
        meta: &DEBUG_PROFILER,
        what: "Go pprof profiler",
        validate: content::pprof,
    },
    Probe {
        path: "/_ignition/health-check",
        meta: &DEBUG,
        what: "Laravel Ignition",
        validate: content::ignition,
    },
];

/// Django's debug page, recognised on the baseline answers (whatever their status) rather
/// than requested.
pub(super) const DJANGO_DEBUG: Probe = Probe {
    path: "/",
    meta: &DEBUG_PROFILER,
    what: "Django debug mode",
    validate: content::django_debug,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_distinct_and_rooted() {
        for (i, probe) in PROBES.iter().enumerate() {
            assert!(probe.path.starts_with('/'), "{}", probe.path);
            assert!(
                PROBES[i + 1..].iter().all(|other| other.path != probe.path),
                "{} twice",
                probe.path
            );
            assert!((0.0..=10.0).contains(&probe.meta.score));
        }
    }

    #[test]
    fn severity_follows_what_is_exposed() {
        let severity = |path: &str| {
            PROBES
                .iter()
                .find(|probe| probe.path == path)
                .map(|probe| probe.meta.severity)
                .unwrap()
        };
        assert_eq!(severity("/.env"), Severity::Critical);
        assert_eq!(severity("/actuator/heapdump"), Severity::Critical);
        assert_eq!(severity("/.git/config"), Severity::High);
        assert_eq!(severity("/server-status"), Severity::Medium);
        assert_eq!(severity("/phpinfo.php"), Severity::Medium);
        assert_eq!(severity("/.DS_Store"), Severity::Low);
        assert_eq!(severity("/openapi.json"), Severity::Info);
    }
}
