//! TEMPORARY (lease branch only): the dev server on 55432; replaced by the pg branch's harness.
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
pub struct Server {
    pub port: u16,
}
static S: Server = Server { port: 55432 };
static N: AtomicU32 = AtomicU32::new(0);
pub fn server() -> Option<&'static Server> {
    Some(&S)
}
impl Server {
    pub fn database(&self) -> String {
        let name = format!(
            "l{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let ok = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                "55432",
                "-U",
                "postgres",
                "-q",
                "-c",
            ])
            .arg(format!("CREATE DATABASE {name}"))
            .status()
            .unwrap();
        assert!(ok.success());
        name
    }
}
