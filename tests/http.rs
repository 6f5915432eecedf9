//! The `http` source against a real HTTP/1.1 server on an ephemeral loopback port: retries
//! of 500s, a cut-short body and a too-slow response, a 404, a zipped body, an API key from
//! the environment, the rate limit, and conditional requests on a second run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridflow_sources::formats::spp;

use crate::common::{gridflow, read_prices, read_rejects};

/// One request the server saw.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    file: String,
    headers: HashMap<String, String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/spp")
            .join(name),
    )
    .unwrap()
}

fn zipped(name: &str) -> Vec<u8> {
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    archive
        .start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    archive.write_all(&fixture(name)).unwrap();
    archive.finish().unwrap().into_inner()
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Answers one request: the route sees what the server logged and how often that file was asked for.
type Route = Arc<dyn Fn(&Seen, usize, &mut TcpStream) + Send + Sync>;

fn handle(mut stream: TcpStream, log: Log, route: Route) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let file = path.rsplit('/').next().unwrap_or("").to_string();
    let seen = Seen {
        at: Instant::now(),
        file,
        headers,
    };
    let attempt = {
        let mut log = log.lock().unwrap();
        log.push(seen.clone());
        log.iter().filter(|s| s.file == seen.file).count()
    };
    route(&seen, attempt, &mut stream);
}

/// The bundled SPP real-time files with scripted failures, behind an API key.
fn fixtures(seen: &Seen, attempt: usize, stream: &mut TcpStream) {
    let (file, headers) = (&seen.file, &seen.headers);
    if headers.get("x-api-key").map(String::as_str) != Some("secret-key") {
        return respond(stream, "401 Unauthorized", &[], b"");
    }
    let etag = format!("\"{file}-v1\"");
    if headers.get("if-none-match") == Some(&etag) {
        return respond(stream, "304 Not Modified", &[("ETag", etag)], b"");
    }
    let ok = |stream: &mut TcpStream, body: &[u8]| {
        respond(stream, "200 OK", &[("ETag", etag.clone())], body)
    };
    match file.as_str() {
        // Two server errors, then the (empty, as SPP published it) file.
        "RTBM-LMP-SL-202503310845.csv" if attempt <= 2 => {
            respond(stream, "500 Internal Server Error", &[], b"busy")
        }
        // The first response is cut off half-way.
        "RTBM-LMP-SL-202503310850.csv" if attempt == 1 => {
            let body = fixture(file);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
        }
        // The first response is slower than the source's timeout.
        "RTBM-LMP-SL-202503310855.csv" if attempt == 1 => {
            std::thread::sleep(Duration::from_millis(2500));
            ok(stream, &fixture(file));
        }
        "RTBM-LMP-SL-202503310900.csv" => respond(stream, "404 Not Found", &[], b""),
        "RTBM-LMP-SL-202503310905.csv" => ok(stream, &zipped(file)),
        _ => ok(stream, &fixture(file)),
    }
}

fn serve(route: Route) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let shared = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (log, route) = (shared.clone(), route.clone());
            std::thread::spawn(move || handle(stream, log, route));
        }
    });
    (port, log)
}

#[test]
fn polls_retries_unzips_and_asks_conditionally_on_the_next_run() {
    let (port, log) = serve(Arc::new(fixtures));
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("lake");
    let pipeline = temp.path().join("http.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
[pipeline]
base_currency = "USD"

[sources.spp_http]
kind = "http"
format = "spp_lmp"
url = "http://127.0.0.1:{port}/spp/RTBM-LMP-SL-{{start:%Y%m%d%H%M}}.csv"
start = "2025-03-31T08:40"
end = "2025-03-31T09:10"
step_minutes = 5
timeout_seconds = 1.0
retries = 3
backoff_seconds = 0.1
max_backoff_seconds = 0.4
rate_limit_per_minute = 1200
headers = {{ "X-Api-Key" = "${{GRIDFLOW_TEST_API_KEY}}" }}
positions = "{positions}"

[operators.normalize]
kind = "normalize"
inputs = ["spp_http"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "{lake}"
"#,
            positions = temp.path().join("positions.json").display(),
            lake = lake.display(),
        ),
    )
    .unwrap();
    let run = || {
        let output = gridflow(
            &["run", pipeline.to_str().unwrap(), "--no-progress"],
            // The key travels as an environment variable, interpolated into the header.
            &[("GRIDFLOW_TEST_API_KEY", Path::new("secret-key"))],
        );
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run();

    // 0840, 0850 (after a cut-short body), 0855 (after a timeout) and the zipped 0905.
    let rows = read_prices(&lake);
    assert_eq!(rows.len(), 4 * 1234, "rows per file: 1234");
    let mut files: Vec<&str> = rows.iter().map(|row| row.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    assert_eq!(
        files,
        [
            "RTBM-LMP-SL-202503310840.csv",
            "RTBM-LMP-SL-202503310850.csv",
            "RTBM-LMP-SL-202503310855.csv",
            "RTBM-LMP-SL-202503310905.csv"
        ]
    );
    let rejects = read_rejects(&lake);
    assert!(
        rejects
            .iter()
            .any(|r| r.file.ends_with("0845.csv") && r.reason == "empty file"),
        "{rejects:?}"
    );
    assert!(
        rejects
            .iter()
            .any(|r| r.file.ends_with("0900.csv") && r.reason.contains("404")),
        "{rejects:?}"
    );

    let seen = log.lock().unwrap().clone();
    let attempts = |file: &str| seen.iter().filter(|s| s.file.ends_with(file)).count();
    assert_eq!(attempts("0845.csv"), 3, "two 500s, then success");
    assert_eq!(attempts("0850.csv"), 2, "a cut-short body is retried");
    assert_eq!(attempts("0855.csv"), 2, "a timeout is retried");
    assert_eq!(attempts("0900.csv"), 1, "a 404 is not retried");
    assert!(
        seen.iter()
            .all(|s| s.headers.get("x-api-key").map(String::as_str) == Some("secret-key"))
    );
    // The server notes a request when its thread gets to it, so on a busy machine a late
    // note shortens the gap after it (a 39.7 ms gap was seen with both cores loaded): each
    // gap gets room for that, and their sum, which a late note cannot shrink by more than
    // its own delay, is held to the limit.
    for pair in seen.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(25),
            "rate limit (50 ms) broken: {gap:?}"
        );
    }
    let span = seen[seen.len() - 1].at.duration_since(seen[0].at);
    let limit = Duration::from_millis(50) * (seen.len() as u32 - 1);
    assert!(
        span + Duration::from_millis(20) >= limit,
        "rate limit (50 ms) broken on average: {span:?} for {} requests",
        seen.len()
    );

    // A second run asks with the stored ETags and gets 304s: nothing is written again.
    let first_run_requests = seen.len();
    run();
    let seen = log.lock().unwrap().clone();
    let conditional = seen[first_run_requests..]
        .iter()
        .filter(|s| s.headers.contains_key("if-none-match"))
        .count();
    assert!(conditional >= 4, "{:?}", &seen[first_run_requests..]);
    assert_eq!(read_prices(&lake).len(), rows.len());
}

/// A live SPP-like feed: one file per five minutes, generated for whatever interval is
/// asked; `version` changes every price (and the ETag) when the test bumps it.
fn live(version: Arc<std::sync::atomic::AtomicU32>) -> Route {
    Arc::new(
        move |seen: &Seen, _attempt: usize, stream: &mut TcpStream| {
            let version = version.load(std::sync::atomic::Ordering::SeqCst);
            let etag = format!("\"{}-v{version}\"", seen.file);
            if seen.headers.get("if-none-match") == Some(&etag) {
                return respond(stream, "304 Not Modified", &[("ETag", etag)], b"");
            }
            let stamp = seen
                .file
                .trim_start_matches("RTBM-LMP-SL-")
                .trim_end_matches(".csv");
            let Ok(start) = jiff::civil::DateTime::strptime("%Y%m%d%H%M", stamp) else {
                return respond(stream, "404 Not Found", &[], b"");
            };
            let end = start + jiff::SignedDuration::from_mins(5);
            let end = end.strftime("%m/%d/%Y %H:%M:%S");
            let mut body = String::from(spp::HEADER);
            for (location, price) in [("AEC", 30 + version), ("SPPNORTH_HUB", 40 + version)] {
                body.push_str(&format!(
                    "\n{end},{end},{location},{location},{price}.00,0.10,0.20,{price}.30"
                ));
            }
            respond(stream, "200 OK", &[("ETag", etag)], body.as_bytes());
        },
    )
}

#[test]
fn a_live_source_follows_the_clock_and_turns_corrections_into_revisions() {
    let version = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (port, log) = serve(live(version.clone()));
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("lake");
    // Start four intervals back, on a five-minute boundary.
    let now = jiff::Timestamp::now().as_second();
    let start = jiff::Timestamp::from_second(now - now % 300 - 3 * 300).unwrap();
    let pipeline = temp.path().join("live.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
[pipeline]
base_currency = "USD"

[sources.spp_live]
kind = "http"
format = "spp_lmp"
url = "http://127.0.0.1:{port}/RTBM-LMP-SL-{{start:%Y%m%d%H%M}}.csv"
start = "{start}"
step_minutes = 5
poll_interval_seconds = 0.3
revisit = 2
timeout_seconds = 2.0

[operators.normalize]
kind = "normalize"
inputs = ["spp_live"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "{lake}"
max_file_age_seconds = 1
"#,
            lake = lake.display(),
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gridflow"))
        .args(["run", pipeline.to_str().unwrap(), "--no-progress"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, done: &dyn Fn(&[crate::common::LakeRow]) -> bool| {
        let started = Instant::now();
        loop {
            let rows = read_prices(&lake);
            if done(&rows) {
                return rows;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Every interval that has begun: the four back plus the current one.
    let first = wait_for("the intervals up to now", &|rows| rows.len() >= 8);
    assert!(first.iter().all(|row| row.diff == 1));
    // Revisits ask conditionally and get 304s while nothing changes.
    std::thread::sleep(Duration::from_millis(1000));
    let unchanged = read_prices(&lake).len();
    // SPP corrects its latest prices.
    version.store(1, std::sync::atomic::Ordering::SeqCst);
    let revised = wait_for("revisions", &|rows| rows.iter().any(|row| row.diff < 0));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let rows = read_prices(&lake);
    assert!(unchanged >= 8 && revised.len() > unchanged);
    let retracted: std::collections::BTreeSet<i64> = rows
        .iter()
        .filter(|row| row.diff < 0)
        .map(|row| row.interval_start)
        .collect();
    let latest = rows.iter().map(|row| row.interval_start).max().unwrap();
    // Only the latest `revisit` instants (and any that began meanwhile) are polled again:
    // the oldest ones keep their first price.
    let oldest = start.as_microsecond();
    assert!(!retracted.contains(&oldest), "{retracted:?}");
    assert!(retracted.contains(&latest) || retracted.iter().any(|t| *t >= latest - 600_000_000));
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| s.headers.contains_key("if-none-match")),
        "revisits are conditional"
    );
}
