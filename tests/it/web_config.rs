//! `--web.config.file`: HTTPS, client certificates, basic auth, certificate rotation
//! without a restart, and start-up validation, against the real binary.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::processes::ExporterProcess;
use common::tls::{Ca, Leaf, client, peer_certificate};
use common::wait_for;

/// A temporary directory with an exporter config (one store, no intents: no API traffic)
/// and a web config.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
    web: PathBuf,
}

impl Site {
    fn new(web_yaml: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("api_secret");
        std::fs::write(&secret, "st_secret").unwrap();
        let config = dir.path().join("config.yaml");
        let yaml = format!(
            "stores:\n  - name: main\n    base_url: http://127.0.0.1:9\n    api_key: st_key\n    api_secret_file: {}\n",
            secret.display()
        );
        std::fs::write(&config, yaml).unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(&web, web_yaml).unwrap();
        Site { dir, config, web }
    }

    /// A site serving TLS with a server certificate from `ca`; `extra` goes under
    /// `tls_server_config` (relative paths on purpose: they resolve next to web.yml).
    fn tls(ca: &Ca, extra: &str) -> Site {
        let site = Site::new(&format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}"
        ));
        ca.server("exporter").install(site.path(), "server");
        site
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn start(&self) -> ExporterProcess {
        let flag = format!("--web.config.file={}", self.web.display());
        ExporterProcess::start(&self.config, &[&flag])
    }
}

fn https(exporter: &ExporterProcess, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", exporter.addr.port())
}

async fn get_ok(client: &reqwest::Client, url: &str) -> reqwest::Response {
    let resp = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    assert_eq!(resp.status(), 200, "GET {url}");
    resp
}

#[tokio::test]
async fn https_serves_clients_that_trust_the_ca_only() {
    let ca = Ca::new("test CA");
    let site = Site::tls(&ca, "");
    let exporter = site.start();
    let trusting = client(Some(&ca)).build().unwrap();
    let body = get_ok(&trusting, &https(&exporter, "/metrics"))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("allscale_exporter_build_info"), "{body}");
    get_ok(&trusting, &https(&exporter, "/healthz")).await;

    let untrusting = client(None).build().unwrap();
    let refused = untrusting.get(https(&exporter, "/metrics")).send().await;
    assert!(refused.is_err(), "a client without the CA must fail");
    let other_ca = client(Some(&Ca::new("other CA"))).build().unwrap();
    assert!(
        other_ca
            .get(https(&exporter, "/metrics"))
            .send()
            .await
            .is_err()
    );
    let plain = reqwest::get(format!("http://{}/metrics", exporter.addr)).await;
    assert!(
        plain.is_err(),
        "plain HTTP on the TLS port must not be served"
    );
    exporter.terminate();
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_client_ca() {
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let site = Site::tls(
        &ca,
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients/ca.crt\n",
    );
    std::fs::create_dir(site.path().join("clients")).unwrap();
    std::fs::write(site.path().join("clients/ca.crt"), client_ca.pem()).unwrap();
    let exporter = site.start();
    let url = https(&exporter, "/metrics");

    let with_cert = client(Some(&ca))
        .identity(client_ca.client("prometheus").identity())
        .build()
        .unwrap();
    get_ok(&with_cert, &url).await;

    let without = client(Some(&ca)).build().unwrap();
    assert!(without.get(&url).send().await.is_err(), "no client cert");
    let stranger = client(Some(&ca))
        .identity(Ca::new("rogue CA").client("prometheus").identity())
        .build()
        .unwrap();
    assert!(
        stranger.get(&url).send().await.is_err(),
        "foreign client cert"
    );
    exporter.terminate();
}

#[tokio::test]
async fn basic_auth_protects_everything_but_the_probes() {
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let site = Site::new(&format!("basic_auth_users:\n  alice: '{hash}'\n"));
    let exporter = site.start();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", exporter.addr);

    let anonymous = http.get(url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic "), "{challenge}");
    for (user, password) in [("alice", "wrong"), ("bob", "correct horse")] {
        let resp = http
            .get(url("/metrics"))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{user}/{password}");
    }
    for _ in 0..2 {
        let resp = http
            .get(url("/metrics"))
            .basic_auth("alice", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("allscale_exporter_build_info")
        );
    }
    for page in ["/", "/intents/main/65f0a1b2c3d4e5f6a7b8c9d0"] {
        let status = http.get(url(page)).send().await.unwrap().status();
        assert_eq!(status, 401, "{page} is behind the basic auth");
    }
    let reload = http.post(url("/-/reload")).send().await.unwrap();
    assert_eq!(reload.status(), 401);
    let reload = http
        .post(url("/-/reload"))
        .basic_auth("alice", Some("correct horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    for probe in ["/healthz", "/readyz"] {
        let status = http.get(url(probe)).send().await.unwrap().status();
        assert_ne!(status, 401, "{probe} must stay open for probes");
    }
    let logs = exporter.logs();
    assert!(!logs.contains(&hash[7..]), "the hash leaked into the logs");
    assert!(
        !logs.contains("correct horse"),
        "the password leaked into the logs"
    );
    exporter.terminate();
}

#[tokio::test]
async fn a_rotated_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let ca = Ca::new("rotation CA");
    let site = Site::tls(&ca, "");
    let exporter = site.start();
    let url = https(&exporter, "/healthz");
    let served = || async {
        let fresh = client(Some(&ca)).build().unwrap();
        peer_certificate(&get_ok(&fresh, &url).await)
    };
    let first = served().await;

    let second = ca.server("exporter, rotated");
    second.install(site.path(), "server");
    wait_for(
        Duration::from_secs(10),
        "the rotated certificate",
        || async {
            let now = served().await;
            assert!(now == first || now == second.der, "an unknown certificate");
            (now == second.der).then_some(())
        },
    )
    .await;

    let logged_before = exporter.logs().len();
    let failures = || {
        exporter.logs()[logged_before..]
            .matches("web config reload failed")
            .count()
    };
    std::fs::write(site.path().join("tmp"), "-----BEGIN GARBAGE-----\n").unwrap();
    std::fs::rename(site.path().join("tmp"), site.path().join("server.crt")).unwrap();
    wait_for(
        Duration::from_secs(10),
        "the failed reload to be logged",
        || async {
            assert_eq!(
                served().await,
                second.der,
                "the last good certificate stays"
            );
            (failures() > 0).then_some(())
        },
    )
    .await;
    // More connections, over more than one check period: the error is not repeated.
    let until = Instant::now() + 2 * allscale_exporter::web::CHECK_EVERY;
    while Instant::now() < until {
        assert_eq!(served().await, second.der);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(failures(), 1, "{}", exporter.logs());
    let logs = exporter.logs();
    assert!(logs.contains("tls_server_config.cert_file"), "{logs}");
    exporter.terminate();
}

#[tokio::test]
async fn min_version_tls13_refuses_tls12_clients() {
    let ca = Ca::new("test CA");
    let site = Site::tls(&ca, "  min_version: TLS13\n");
    let exporter = site.start();
    let url = https(&exporter, "/metrics");
    get_ok(&client(Some(&ca)).build().unwrap(), &url).await;
    let tls12 = client(Some(&ca))
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(tls12.get(&url).send().await.is_err(), "TLS 1.2 accepted");
    exporter.terminate();
}

/// Runs the binary with `web.yml` and returns its exit status and stderr; it must exit.
fn run_to_exit(site: &Site) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_allscale-exporter"))
        .arg(format!("--config.file={}", site.config.display()))
        .arg(format!("--web.config.file={}", site.web.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the exporter kept running with a bad web config");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_web_config_stops_the_start_with_the_file_and_field() {
    let missing_cert = "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n";
    let cases = [
        (missing_cert, "tls_server_config.cert_file: cannot read "),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS11\n",
            "tls_server_config.min_version: TLS11 is not supported",
        ),
        (
            "basic_auth_users:\n  alice: hunter2\n",
            "basic_auth_users.alice: not a bcrypt hash",
        ),
        ("tls_config:\n  cert_file: a\n", "tls_config"),
    ];
    for (yaml, expected) in cases {
        let site = Site::new(yaml);
        Leaf::untrusted("x").install(site.path(), "server");
        let (status, stderr) = run_to_exit(&site);
        assert!(!status.success(), "{yaml}: exited 0");
        let file = format!("web config {}", site.web.display());
        assert!(stderr.contains(&file), "{yaml}: {stderr}");
        assert!(stderr.contains(expected), "{yaml}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[test]
fn check_config_validates_the_web_config_too() {
    let ca = Ca::new("test CA");
    let site = Site::tls(&ca, "");
    let check = |site: &Site| {
        Command::new(env!("CARGO_BIN_EXE_allscale-exporter"))
            .arg("check-config")
            .arg(&site.config)
            .arg(format!("--web.config.file={}", site.web.display()))
            .output()
            .unwrap()
    };
    let out = check(&site);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(site.path().join("server.key"), "not a key").unwrap();
    let out = check(&site);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tls_server_config.key_file"), "{stderr}");
}
