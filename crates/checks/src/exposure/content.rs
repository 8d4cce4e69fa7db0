//! Content validation: is this body really the file its path names?
//!
//! Each validator is a pure function of the start of the body that returns a short proof
//! (what was recognised) or `None`. A status of 200 alone is never enough: sites answer
//! unknown paths with their home page, a login form or a friendly error. Proofs never quote
//! secrets: a `.env` is shown by its key names, a password file by its entry count.

/// Whether the text looks like an HTML page (which none of the plain-text files are).
fn is_html(text: &str) -> bool {
    let start: String = text
        .trim_start()
        .chars()
        .take(256)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with("<!doctype") || start.starts_with("<html") || start.contains("<body")
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn clip(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

/// `.git/HEAD`: one line, a symbolic ref (`ref: refs/heads/main`) or a detached commit id
/// (40 hex digits, 64 for SHA-256 repositories).
pub(super) fn git_head(body: &[u8]) -> Option<String> {
    let text = text(body);
    let text = text.trim();
    if text.lines().count() != 1 {
        return None;
    }
    if let Some(reference) = text.strip_prefix("ref: refs/") {
        let valid = !reference.is_empty()
            && reference
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"'));
        return valid.then(|| clip(text, 200));
    }
    let is_id = matches!(text.len(), 40 | 64) && text.chars().all(|c| c.is_ascii_hexdigit());
    is_id.then(|| format!("detached HEAD at {text}"))
}

/// `.git/config`: a `[core]` section with one of git's own core keys. Only the section
/// names are kept: a remote URL may embed a token.
pub(super) fn git_config(body: &[u8]) -> Option<String> {
    let text = text(body);
    if is_html(&text) {
        return None;
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let has_core = lines.iter().any(|line| line.eq_ignore_ascii_case("[core]"));
    let core_key = lines.iter().any(|line| {
        let key = line.split('=').next().unwrap_or_default().trim();
        [
            "repositoryformatversion",
            "filemode",
            "bare",
            "logallrefupdates",
        ]
        .iter()
        .any(|known| key.eq_ignore_ascii_case(known))
    });
    if !(has_core && core_key) {
        return None;
    }
    let sections: Vec<String> = lines
        .iter()
        .filter(|line| line.starts_with('[') && line.ends_with(']'))
        .take(10)
        .map(|line| clip(line, 100))
        .collect();
    Some(format!("git config with sections {}", sections.join(" ")))
}

/// `.env`: at least two `KEY=value` lines (optionally `export KEY=value`), and at least three
/// quarters of the lines that are not blank or comments.
pub(super) fn dotenv(body: &[u8]) -> Option<String> {
    let text = text(body);
    if is_html(&text) {
        return None;
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let keys: Vec<&str> = lines.iter().filter_map(|line| env_key(line)).collect();
    if keys.len() < 2 || keys.len() * 4 < lines.len() * 3 {
        return None;
    }
    let shown: Vec<String> = keys.iter().take(20).map(|key| clip(key, 64)).collect();
    Some(format!("environment file defining {}", shown.join(", ")))
}

/// The key of a `KEY=value` line: a letter or `_`, then letters, digits and `_`.
fn env_key(line: &str) -> Option<&str> {
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, _) = line.split_once('=')?;
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(key)
}

/// Archives and databases by their magic bytes.
pub(super) fn archive(body: &[u8]) -> Option<String> {
    let kind = if body.starts_with(b"PK\x03\x04") || body.starts_with(b"PK\x05\x06") {
        "ZIP archive"
    } else if body.starts_with(&[0x1f, 0x8b, 0x08]) {
        "gzip archive"
    } else if body.starts_with(b"7z\xbc\xaf\x27\x1c") {
        "7-Zip archive"
    } else if body.starts_with(b"Rar!\x1a\x07") {
        "RAR archive"
    } else if body.starts_with(b"SQLite format 3\0") {
        "SQLite database"
    } else {
        return None;
    };
    Some(kind.to_owned())
}

/// An SQL dump: a dump tool's header, or table definitions with data, in plain text. Also
/// accepts an archive, since `backup.sql` is sometimes compressed.
pub(super) fn sql_dump(body: &[u8]) -> Option<String> {
    if let Some(kind) = archive(body) {
        return Some(kind);
    }
    let text = text(body);
    if is_html(&text) {
        return None;
    }
    for header in [
        "-- MySQL dump",
        "-- MariaDB dump",
        "-- PostgreSQL database dump",
        "-- phpMyAdmin SQL Dump",
    ] {
        if text.contains(header) {
            return Some(format!("SQL dump ({})", header.trim_start_matches("-- ")));
        }
    }
    let upper = text.to_ascii_uppercase();
    let statements = upper.contains("CREATE TABLE")
        && (upper.contains("INSERT INTO") || upper.contains("DROP TABLE"));
    statements.then(|| "SQL statements (CREATE TABLE, INSERT INTO)".to_owned())
}

/// `.htpasswd`: every non-blank line is `user:hash`, with a hash format Apache knows.
pub(super) fn htpasswd(body: &[u8]) -> Option<String> {
    let text = text(body);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() || is_html(&text) {
        return None;
    }
    let mut schemes: Vec<&str> = Vec::new();
    for line in &lines {
        let (user, hash) = line.split_once(':')?;
        if user.is_empty() || user.contains(char::is_whitespace) {
            return None;
        }
        let scheme = password_scheme(hash)?;
        if !schemes.contains(&scheme) {
            schemes.push(scheme);
        }
    }
    Some(format!(
        "password file with {} entries ({})",
        lines.len(),
        schemes.join(", ")
    ))
}

fn password_scheme(hash: &str) -> Option<&'static str> {
    let prefixed = [
        ("$apr1$", "apr1-md5"),
        ("$2y$", "bcrypt"),
        ("$2a$", "bcrypt"),
        ("$2b$", "bcrypt"),
        ("$5$", "sha256-crypt"),
        ("$6$", "sha512-crypt"),
        ("{SHA}", "sha1"),
    ];
    if let Some((_, name)) = prefixed.iter().find(|(prefix, _)| hash.starts_with(prefix)) {
        return Some(name);
    }
    // Traditional DES crypt: 13 characters of [./0-9A-Za-z].
    let des = hash.len() == 13
        && hash
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/');
    des.then_some("des-crypt")
}

/// A backup of WordPress's `wp-config.php`: PHP source (served as text, so it starts with
/// the opening tag) defining the database password.
pub(super) fn wp_config(body: &[u8]) -> Option<String> {
    let text = text(body);
    let php = text.trim_start().starts_with("<?php");
    let defines = text.contains("define(") || text.contains("define (");
    (php && defines && text.contains("DB_PASSWORD"))
        .then(|| "WordPress configuration source defining DB_PASSWORD".to_owned())
}

/// Apache's mod_status page.
pub(super) fn apache_status(body: &[u8]) -> Option<String> {
    let text = text(body);
    let title = text.contains("Apache Status") || text.contains("Apache Server Status for");
    let structure = text.contains("Server uptime") || text.contains("Current Time:");
    (title && structure).then(|| "Apache server-status page".to_owned())
}

/// The output of PHP's `phpinfo()`: its title (`PHP 8.2.1 - phpinfo()`) and its tables.
pub(super) fn phpinfo(body: &[u8]) -> Option<String> {
    let text = text(body);
    let title = text.contains("phpinfo()</title>");
    let table = text.contains("PHP Version")
        && (text.contains("Zend Engine")
            || text.contains("PHP License")
            || text.contains("Loaded Configuration File"));
    (title && table).then(|| "phpinfo() page".to_owned())
}

/// macOS Finder metadata: `\0\0\0\x01Bud1`.
pub(super) fn ds_store(body: &[u8]) -> Option<String> {
    body.starts_with(b"\0\0\0\x01Bud1")
        .then(|| "macOS .DS_Store (lists the folder's file names)".to_owned())
}

/// An OpenAPI or Swagger document: a JSON object whose `openapi` (3.x) or `swagger` (2.0) key
/// is a version string, with `info` or `paths` too. Checked on the text rather than parsed,
/// as the body limit may cut a long document.
pub(super) fn openapi_json(body: &[u8]) -> Option<String> {
    let text = text(body);
    let text = text.trim_start();
    if !text.starts_with('{') || !(text.contains("\"info\"") || text.contains("\"paths\"")) {
        return None;
    }
    for (key, prefix) in [("openapi", "3."), ("swagger", "2.")] {
        if let Some(version) = json_string_value(text, key)
            && version.starts_with(prefix)
        {
            return Some(format!("{key} {} document", clip(&version, 20)));
        }
    }
    None
}

/// The string value of the first `"key": "value"` in `text`.
fn json_string_value(text: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let after = &text[text.find(&quoted)? + quoted.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    let value = after.strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// The Swagger UI page.
pub(super) fn swagger_ui(body: &[u8]) -> Option<String> {
    let text = text(body);
    let title = text.contains("<title>Swagger UI</title>");
    let structure = text.contains("swagger-ui-bundle")
        || text.contains("SwaggerUIBundle")
        || text.contains("id=\"swagger-ui\"");
    (title && structure).then(|| "Swagger UI page".to_owned())
}

/// Spring Boot's `/actuator/env`: JSON with the active profiles and property sources.
pub(super) fn actuator_env(body: &[u8]) -> Option<String> {
    let text = text(body);
    let json = text.trim_start().starts_with('{');
    (json && text.contains("\"propertySources\"") && text.contains("\"activeProfiles\""))
        .then(|| "Spring Boot actuator environment (propertySources)".to_owned())
}

/// A Java heap dump (HPROF), which holds every secret the application had in memory.
pub(super) fn heap_dump(body: &[u8]) -> Option<String> {
    body.starts_with(b"JAVA PROFILE 1.0.")
        .then(|| "Java heap dump (HPROF)".to_owned())
}

/// Go's net/http/pprof index page.
pub(super) fn pprof(body: &[u8]) -> Option<String> {
    let text = text(body);
    (text.contains("<title>/debug/pprof/</title>") && text.contains("Types of profiles available"))
        .then(|| "Go pprof index".to_owned())
}

/// Laravel Ignition's health check, whose `can_execute_commands` is what its remote code
/// execution (CVE-2021-3129) needs.
pub(super) fn ignition(body: &[u8]) -> Option<String> {
    let text = text(body);
    let json = text.trim_start().starts_with('{');
    (json && text.contains("\"can_execute_commands\""))
        .then(|| "Laravel Ignition health check".to_owned())
}

/// Django's technical 404 page, shown only with `DEBUG = True`. Judged on the answers to the
/// random baseline paths, which are exactly the pages it appears on.
pub(super) fn django_debug(body: &[u8]) -> Option<String> {
    let text = text(body);
    (text.contains("DEBUG = True") && text.contains("Django settings file"))
        .then(|| "Django technical 404 page (DEBUG = True)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &[u8] = b"<!doctype html><html><head><title>Shop</title></head><body>\
        <p>Welcome! ref: refs/heads/main [core] bare = false APP_KEY=1 DB_PASSWORD=2 define(\
        <?php CREATE TABLE INSERT INTO phpinfo() PHP Version Zend Engine</p></body></html>";

    #[test]
    fn an_html_page_mentioning_every_marker_validates_as_nothing() {
        for (name, validator) in ALL {
            assert_eq!(validator(HOME), None, "{name}");
            assert_eq!(validator(b""), None, "{name}");
        }
    }

    type Validator = fn(&[u8]) -> Option<String>;

    const ALL: [(&str, Validator); 17] = [
        ("git_head", git_head),
        ("git_config", git_config),
        ("dotenv", dotenv),
        ("archive", archive),
        ("sql_dump", sql_dump),
        ("htpasswd", htpasswd),
        ("wp_config", wp_config),
        ("apache_status", apache_status),
        ("phpinfo", phpinfo),
        ("ds_store", ds_store),
        ("openapi_json", openapi_json),
        ("swagger_ui", swagger_ui),
        ("actuator_env", actuator_env),
        ("heap_dump", heap_dump),
        ("pprof", pprof),
        ("ignition", ignition),
        ("django_debug", django_debug),
    ];

    #[test]
    fn validates_git_head() {
        assert_eq!(
            super::git_head(b"ref: refs/heads/main\n").as_deref(),
            Some("ref: refs/heads/main")
        );
        let sha = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        assert!(super::git_head(sha.as_bytes()).unwrap().contains(sha));
        assert!(super::git_head(b"ref: refs/").is_none());
        assert!(super::git_head(b"<p>ref: refs/heads/main</p>").is_none());
        assert!(super::git_head(b"ref: refs/heads/main\n<html>").is_none());
        assert!(super::git_head(b"a94a8fe5ccb19ba61c4c0873d391e987982fbbdZ").is_none());
        assert!(super::git_head(b"see ref: refs/heads/main").is_none());
    }

    #[test]
    fn validates_git_config() {
        let config = b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\
            [remote \"origin\"]\n\turl = https://user:ghp_secret@github.com/acme/shop.git\n";
        let proof = super::git_config(config).unwrap();
        assert_eq!(proof, "git config with sections [core] [remote \"origin\"]");
        assert!(!proof.contains("ghp_secret"));
        assert!(super::git_config(b"[core]\nname = x\n").is_none());
        assert!(super::git_config(b"[user]\nbare = false\n").is_none());
    }

    #[test]
    fn validates_dotenv() {
        let env = b"# app\nAPP_ENV=production\nexport DB_PASSWORD=hunter2\n\nAPP_KEY=base64:abc=\n";
        let proof = super::dotenv(env).unwrap();
        assert_eq!(
            proof,
            "environment file defining APP_ENV, DB_PASSWORD, APP_KEY"
        );
        assert!(!proof.contains("hunter2"));
        assert!(super::dotenv(b"ONLY=one\n").is_none());
        assert!(super::dotenv(b"A=1\nB=2\nsome prose\nmore prose\n").is_none());
        assert!(super::dotenv(b"1A=x\n2B=y\n").is_none());
        assert!(super::dotenv(b"<html><body>A=1\nB=2\n</body></html>").is_none());
    }

    #[test]
    fn archives_and_dumps() {
        assert_eq!(archive(b"PK\x03\x04rest").as_deref(), Some("ZIP archive"));
        assert_eq!(
            archive(&[0x1f, 0x8b, 0x08, 0]).as_deref(),
            Some("gzip archive")
        );
        assert_eq!(
            archive(b"SQLite format 3\0...").as_deref(),
            Some("SQLite database")
        );
        assert!(archive(b"PK is a nice word").is_none());
        assert_eq!(
            sql_dump(b"-- MySQL dump 10.13  Distrib 8.0\n").as_deref(),
            Some("SQL dump (MySQL dump)")
        );
        assert!(sql_dump(b"create table users (id int);\ninsert into users values (1);").is_some());
        assert!(sql_dump(b"CREATE TABLE only, no data").is_none());
        assert!(sql_dump(b"PK\x03\x04").is_some());
    }

    #[test]
    fn validates_htpasswd() {
        let file =
            b"admin:$apr1$abc$0123456789abcdefghijkl\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n";
        assert_eq!(
            super::htpasswd(file).as_deref(),
            Some("password file with 2 entries (apr1-md5, sha1)")
        );
        assert!(super::htpasswd(b"admin:rl4x7WqyWwhOA\n").is_some());
        assert!(super::htpasswd(b"admin:plaintext\n").is_none());
        assert!(super::htpasswd(b"Note: see the docs\n").is_none());
    }

    #[test]
    fn pages_and_documents() {
        assert!(
            wp_config(b"<?php\ndefine( 'DB_NAME', 'wp' );\ndefine('DB_PASSWORD', 'x');").is_some()
        );
        assert!(wp_config(b"<?php echo 'hi';").is_none());
        let status = b"<html><head><title>Apache Status</title></head><body><h1>Apache Server Status for localhost</h1>\
            <dl><dt>Current Time: Monday</dt><dt>Server uptime: 1 day</dt></dl></body></html>";
        assert!(apache_status(status).is_some());
        assert!(apache_status(b"<title>Apache Status</title>").is_none());
        let info = b"<html><head><title>PHP 8.2.1 - phpinfo()</title></head><body>\
            <h1 class=\"p\">PHP Version 8.2.1</h1><p>This program makes use of the Zend Engine</p></body></html>";
        assert!(phpinfo(info).is_some());
        assert!(phpinfo(b"<p>Call phpinfo() to see the PHP Version</p>").is_none());
        assert!(ds_store(b"\0\0\0\x01Bud1\0\0\x10").is_some());
        assert!(ds_store(b"Bud1").is_none());
    }

    #[test]
    fn api_documents() {
        assert_eq!(
            openapi_json(br#"{"openapi": "3.0.1", "info": {"title": "Shop"}, "paths": {}}"#)
                .as_deref(),
            Some("openapi 3.0.1 document")
        );
        assert_eq!(
            openapi_json(b"{\n  \"swagger\" : \"2.0\",\n  \"info\": {}").as_deref(),
            Some("swagger 2.0 document")
        );
        assert!(openapi_json(br#"{"openapi": true, "info": {}}"#).is_none());
        assert!(openapi_json(br#"{"error": "not found", "info": "openapi"}"#).is_none());
        assert!(openapi_json(b"<html>\"openapi\": \"3.0\" \"info\"</html>").is_none());
        let ui = b"<!DOCTYPE html><html><head><title>Swagger UI</title></head><body>\
            <div id=\"swagger-ui\"></div><script src=\"./swagger-ui-bundle.js\"></script></body></html>";
        assert!(swagger_ui(ui).is_some());
        assert!(swagger_ui(b"<title>Swagger UI</title>").is_none());
    }

    #[test]
    fn debug_endpoints() {
        assert!(
            actuator_env(
                br#"{"activeProfiles":["prod"],"propertySources":[{"name":"server.ports"}]}"#
            )
            .is_some()
        );
        assert!(actuator_env(br#"{"status":"UP"}"#).is_none());
        assert!(heap_dump(b"JAVA PROFILE 1.0.2\0\0\0\x04").is_some());
        assert!(heap_dump(b"JAVA").is_none());
        let pprof_page = b"<html><head><title>/debug/pprof/</title></head><body>/debug/pprof/<br>\
            <p>Set debug=1 as a query parameter to export in legacy text format</p>\
            Types of profiles available:</body></html>";
        assert!(pprof(pprof_page).is_some());
        assert!(pprof(b"<title>/debug/pprof/</title>").is_none());
        assert!(ignition(br#"{"can_execute_commands":true}"#).is_some());
        assert!(ignition(b"can_execute_commands").is_none());
        assert!(
            django_debug(b"You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.")
                .is_some()
        );
        assert!(django_debug(b"DEBUG = True").is_none());
    }
}
