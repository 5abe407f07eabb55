//! A real `redis-server` for the Redis token-cache tests: on a free loopback port, no
//! persistence, its files in a temporary directory, killed when dropped. `.ci/run`
//! installs the Debian package; where it is missing the tests print why and skip.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    /// ACL user and password the harness itself connects with, once [`RedisServer::acl`]
    /// turned the default user off.
    login: Option<(String, String)>,
}

impl RedisServer {
    /// A started server answering PING, or `None` (with a message) when `redis-server` is
    /// not installed.
    pub async fn start() -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "SKIPPED: redis-server is not on PATH (apt-get install redis-server; .ci/run \
                 installs it)"
            );
            return None;
        }
        Some(Self::start_on(free_port()).await)
    }

    /// A server on `port` (e.g. one a test pointed a run at before Redis was up).
    pub async fn start_on(port: u16) -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer {
            child,
            port,
            _dir: dir,
            login: None,
        };
        let t = Instant::now();
        while server.ping().await.is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "redis-server on port {port} never answered PING"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Only `user` with `password` may connect from now on (the default user is off).
    pub async fn acl(&mut self, user: &str, password: &str) {
        let mut c = self.conn().await.unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(user)
            .arg("on")
            .arg(format!(">{password}"))
            .arg("~*")
            .arg("+@all")
            .query_async(&mut c)
            .await
            .unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg("off")
            .query_async(&mut c)
            .await
            .unwrap();
        self.login = Some((user.into(), password.into()));
    }

    async fn conn(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let url = match &self.login {
            Some((u, p)) => format!("redis://{u}:{p}@127.0.0.1:{}/0", self.port),
            None => self.url(),
        };
        redis::Client::open(url)?
            .get_multiplexed_async_connection()
            .await
    }

    async fn ping(&self) -> redis::RedisResult<String> {
        let mut c = self.conn().await?;
        redis::cmd("PING").query_async(&mut c).await
    }

    /// Every key (SCAN) with its value (GET; keys of other types are left out).
    pub async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut c = self.conn().await.unwrap();
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .query_async(&mut c)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut out = Vec::new();
        for k in keys {
            if let Ok(Some(v)) = redis::cmd("GET")
                .arg(&k)
                .query_async::<Option<Vec<u8>>>(&mut c)
                .await
            {
                out.push((k, v));
            }
        }
        out
    }

    /// The keys ending in `suffix`.
    pub async fn keys_ending(&self, suffix: &str) -> Vec<String> {
        self.dump()
            .await
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.ends_with(suffix))
            .collect()
    }

    /// Milliseconds left on `key` (`PTTL`: -2 when it is gone).
    pub async fn pttl(&self, key: &str) -> i64 {
        let mut c = self.conn().await.unwrap();
        redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now (redis-server cannot be told to pick one itself).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A 32-byte key file for `auth.token_cache_key_file` (the mounted secret of a real setup).
pub fn write_key_file(path: &Path) {
    let key: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    std::fs::write(path, key).unwrap();
}
