//! The `http` source against a real HTTP/1.1 server on an ephemeral loopback port: retries
//! of 500s, a cut-short body and a too-slow response, a 404, a zipped body, an API key from
//! the environment, the rate limit, and conditional requests on a second run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

fn handle(mut stream: TcpStream, log: Log) {
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
    let attempt = {
        let mut log = log.lock().unwrap();
        log.push(Seen {
            at: Instant::now(),
            file: file.clone(),
            headers: headers.clone(),
        });
        log.iter().filter(|seen| seen.file == file).count()
    };
    if headers.get("x-api-key").map(String::as_str) != Some("secret-key") {
        return respond(&mut stream, "401 Unauthorized", &[], b"");
    }
    let etag = format!("\"{file}-v1\"");
    if headers.get("if-none-match") == Some(&etag) {
        return respond(&mut stream, "304 Not Modified", &[("ETag", etag)], b"");
    }
    let ok = |stream: &mut TcpStream, body: &[u8]| {
        respond(stream, "200 OK", &[("ETag", etag.clone())], body)
    };
    match file.as_str() {
        // Two server errors, then the (empty, as SPP published it) file.
        "RTBM-LMP-SL-202503310845.csv" if attempt <= 2 => {
            respond(&mut stream, "500 Internal Server Error", &[], b"busy")
        }
        // The first response is cut off half-way.
        "RTBM-LMP-SL-202503310850.csv" if attempt == 1 => {
            let body = fixture(&file);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
        }
        // The first response is slower than the source's timeout.
        "RTBM-LMP-SL-202503310855.csv" if attempt == 1 => {
            std::thread::sleep(Duration::from_millis(2500));
            ok(&mut stream, &fixture(&file));
        }
        "RTBM-LMP-SL-202503310900.csv" => respond(&mut stream, "404 Not Found", &[], b""),
        "RTBM-LMP-SL-202503310905.csv" => ok(&mut stream, &zipped(&file)),
        _ => ok(&mut stream, &fixture(&file)),
    }
}

fn serve() -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let shared = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = shared.clone();
            std::thread::spawn(move || handle(stream, log));
        }
    });
    (port, log)
}

#[test]
fn polls_retries_unzips_and_asks_conditionally_on_the_next_run() {
    let (port, log) = serve();
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
    for pair in seen.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(40),
            "rate limit (50 ms) broken: {gap:?}"
        );
    }

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
