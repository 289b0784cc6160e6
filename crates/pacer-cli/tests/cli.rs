//! The `pacer` binary as operators run it: exit codes, messages, JSON shapes, and the
//! dead-letter replay story end to end.

use pacer_testkit::mock_api::{MockApi, MockConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pacer"))
            .args(args)
            .env("PACER_DB", self.path("pacer.db"))
            .env_remove("PACER_CONFIG")
            .current_dir(self.dir.path())
            .output()
            .expect("run pacer")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn config(api: &MockApi, providers: &[&str], extra: &str) -> String {
    let mut text = format!("[defaults]\ntimeout = \"500ms\"\nmax_attempts = 2\nbackoff_base = \"50ms\"\nbackoff_max = \"100ms\"\nbreaker_failures = 1000\n{extra}\n");
    for p in providers {
        text.push_str(&format!(
            "[providers.{p}]\nbase_url = \"{}\"\n",
            api.base_url_for(p)
        ));
    }
    text
}

fn lines(provider: &str, n: usize) -> String {
    (0..n).map(|i| format!("{{\"id\":\"{provider}-{i}\",\"provider\":\"{provider}\",\"request\":{{\"method\":\"POST\",\"path\":\"/x\",\"body\":{{\"i\":{i}}}}}}}\n")).collect()
}

#[test]
fn every_subcommand_documents_itself_with_an_example() {
    let cli = Cli::new();
    for sub in [
        vec!["demo"],
        vec!["run"],
        vec!["records", "import"],
        vec!["records", "get"],
        vec!["records", "list"],
        vec!["trace"],
        vec!["status"],
        vec!["plan"],
        vec!["dlq", "list"],
        vec!["dlq", "show"],
        vec!["dlq", "replay"],
        vec!["dlq", "purge"],
        vec!["schedule"],
        vec!["providers", "list"],
        vec!["providers", "show"],
        vec!["providers", "set"],
        vec!["bench"],
        vec!["serve"],
        vec!["clients", "add"],
        vec!["clients", "list"],
        vec!["clients", "revoke"],
    ] {
        let mut args = sub.clone();
        args.push("--help");
        let out = cli.run(&args);
        assert!(out.status.success(), "{sub:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example:"),
            "{sub:?} --help has no example"
        );
    }
}

#[test]
fn the_demo_runs_with_no_overlap_and_no_loss_and_writes_its_report_and_timeline() {
    let cli = Cli::new();
    let out = cli.run(&[
        "demo",
        "--records",
        "300",
        "--providers",
        "4",
        "--window",
        "3s",
        "--faults",
        "harsh",
        "--report",
        "r.json",
        "--timeline",
        "t.html",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(cli.path("r.json")).unwrap()).unwrap();
    for key in [
        "records",
        "succeeded",
        "failed",
        "dead_lettered",
        "pending",
        "attempts",
        "overlaps",
        "lost",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(report["records"], 300);
    assert_eq!(report["overlaps"], 0);
    assert_eq!(report["lost"], 0);
    let finals = report["succeeded"].as_u64().unwrap()
        + report["failed"].as_u64().unwrap()
        + report["dead_lettered"].as_u64().unwrap();
    assert_eq!(finals, 300, "{report}");
    assert!(
        report["failed"].as_u64().unwrap() >= 1,
        "defective records fail"
    );
    let html = std::fs::read_to_string(cli.path("t.html")).unwrap();
    assert!(html.contains("<svg") && html.matches("<rect").count() >= 300);

    // The database it was given (PACER_DB here) is kept, and tells the same story.
    let status = cli.json(&["status", "--output", "json"]);
    assert_eq!(status["records"], 300, "{status}");
    assert_eq!(status["by_state"]["failed"], report["failed"], "{status}");
    assert_eq!(status["by_provider"].as_object().unwrap().len(), 4);
    let trace = cli.json(&["trace", "provider-01-0000000", "--output", "json"]);
    assert_eq!(trace["id"], "provider-01-0000000");
    assert_eq!(trace["provider"], "provider-01");
    assert!(!trace["attempts"].as_array().unwrap().is_empty(), "{trace}");

    // Running it again on the same database would mix two demos: refused.
    let again = cli.run(&["demo", "--records", "10", "--window", "1s"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn the_demo_without_a_database_leaves_no_file_behind() {
    let cli = Cli::new();
    let tmp = cli.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .args([
            "demo",
            "--records",
            "40",
            "--providers",
            "2",
            "--window",
            "1s",
        ])
        .args(["--faults", "none", "--timeline", "t.html"])
        .env_remove("PACER_DB")
        .env("TMPDIR", &tmp)
        .current_dir(cli.dir.path())
        .output()
        .expect("run pacer");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(tmp.to_str().unwrap()),
        "the demo did not use TMPDIR: {}",
        stderr(&out)
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!cli.path("pacer.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_each_bad_line_and_keeps_the_good_ones() {
    let cli = Cli::new();
    let api = MockApi::start(MockConfig::none()).await.unwrap();
    let cfg = cli.write("pacer.toml", &config(&api, &["acme"], ""));
    let big = "x".repeat(70_000);
    let file = cli.write(
        "in.jsonl",
        &format!(
            "{}not json\n{{\"id\":\"u1\",\"provider\":\"nobody\",\"request\":{{\"path\":\"/x\"}}}}\n{{\"id\":\"b1\",\"provider\":\"acme\",\"request\":{{\"path\":\"/x\",\"body\":\"{big}\"}}}}\n{{\"id\":\"p1\",\"provider\":\"acme\",\"request\":{{\"path\":\"x\"}}}}\n",
            lines("acme", 3)
        ),
    );
    // Line 8 is not UTF-8 (a Latin-1 "é"): rejected alone, the rest still imported.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(
        b"{\"id\":\"caf\xe9\",\"provider\":\"acme\",\"request\":{\"path\":\"/x\"}}\n",
    );
    std::fs::write(&file, bytes).unwrap();
    let out = cli.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "records",
        "import",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 8: (line): not valid UTF-8 (at byte 11)"),
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("line 4: (line): not valid JSON"), "{err}");
    assert!(
        err.contains("line 5: provider: \"nobody\" is not a configured provider"),
        "{err}"
    );
    assert!(
        err.contains("line 6: request.body: is 70002 bytes"),
        "{err}"
    );
    assert!(err.contains("line 7: request.path"), "{err}");
    let listed = cli.json(&["records", "list", "--output", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    // Importing again loses and doubles nothing.
    let out = cli.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "records",
        "import",
        file.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["rejected"].as_array().unwrap().len(), 5);
    assert_eq!(
        (again["imported"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(3))
    );
    // CSV too.
    let csv = cli.write(
        "in.csv",
        "id,provider,method,path,body\nc1,acme,POST,/y,\"{\"\"k\"\":1}\"\nc2,acme,GET,nope,\n",
    );
    let out = cli.run(&["records", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("line 3: request.path"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        cli.json(&["records", "get", "c1", "--output", "json"])["request"]["body"]["k"],
        1
    );
}

#[test]
fn bad_config_and_bad_durations_name_what_is_wrong() {
    let cli = Cli::new();
    let cfg = cli.write("bad.toml", "[defaults]\ntimeout = \"ten seconds\"\n");
    let out = cli.run(&["--config", cfg.to_str().unwrap(), "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("timeout"), "{}", stderr(&out));
    let out = cli.run(&["plan", "--window", "0s"]);
    assert_eq!(out.status.code(), Some(2), "bad usage");
    assert!(
        stderr(&out).contains("longer than zero"),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["dlq", "list", "--error-class", "boom"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("server_error"), "{}", stderr(&out));
    let out = cli.run(&["trace", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no record \"nope\""),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["dlq", "purge"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--yes"));
    let out = cli.run(&["providers", "set", "ghost", "--min-interval", "1s"]);
    assert!(stderr(&out).contains("--base-url"), "{}", stderr(&out));
}

fn run_until_idle(cli: &Cli, cfg: &Path) {
    let out = cli.run(&[
        "--config",
        cfg.to_str().expect("utf-8 path"),
        "run",
        "--window",
        "1s",
        "--until-idle",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_one_provider_leaves_the_others_dead_letters_alone_and_twice_is_a_no_op() {
    let cli = Cli::new();
    let api = MockApi::start(MockConfig::none().with_down("a").with_down("b"))
        .await
        .unwrap();
    let cfg = cli.write("pacer.toml", &config(&api, &["a", "b"], ""));
    let file = cli.write("in.jsonl", &(lines("a", 4) + &lines("b", 3)));
    let out = cli.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "records",
        "import",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    run_until_idle(&cli, &cfg);
    let dead = cli.json(&["dlq", "list", "--output", "json"]);
    assert_eq!(dead.as_array().unwrap().len(), 7);
    for key in [
        "record_id",
        "provider",
        "error_class",
        "attempts",
        "dead_lettered_at",
    ] {
        assert!(dead[0].get(key).is_some(), "dlq list lacks {key}");
    }

    api.set_down("a", false);
    let dry = cli.json(&[
        "dlq",
        "replay",
        "--provider",
        "a",
        "--window",
        "1s",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert_eq!(dry["replayed"].as_array().unwrap().len(), 4);
    assert_eq!(
        cli.json(&["dlq", "list", "--output", "json"])
            .as_array()
            .unwrap()
            .len(),
        7,
        "dry run changes nothing"
    );
    let done = cli.json(&[
        "dlq",
        "replay",
        "--provider",
        "a",
        "--window",
        "1s",
        "--output",
        "json",
    ]);
    assert_eq!(done["replayed"].as_array().unwrap().len(), 4);
    let again = cli.json(&[
        "dlq",
        "replay",
        "--provider",
        "a",
        "--window",
        "1s",
        "--output",
        "json",
    ]);
    assert_eq!(
        again["replayed"].as_array().unwrap().len(),
        0,
        "replaying twice is a no-op"
    );
    run_until_idle(&cli, &cfg);

    let status = cli.json(&["status", "--output", "json"]);
    assert_eq!(status["by_provider"]["a"]["succeeded"], 4, "{status}");
    assert_eq!(status["by_provider"]["b"]["dead_lettered"], 3, "{status}");
    let left = cli.json(&["dlq", "list", "--output", "json"]);
    assert!(
        left.as_array()
            .unwrap()
            .iter()
            .all(|e| e["provider"] == "b")
            && left.as_array().unwrap().len() == 3
    );
    // The earlier attempts stay in the story, after them the replay and the success.
    let trace = cli.json(&["trace", "a-0", "--output", "json"]);
    let attempts = trace["attempts"].as_array().unwrap();
    assert_eq!(
        attempts.len(),
        3,
        "two failed calls before the replay, one after: {trace}"
    );
    assert_eq!(attempts[2]["status_code"], 200);
    assert!(
        trace["moves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["to"] == "replayed"),
        "{trace}"
    );
    for key in [
        "number",
        "started_at",
        "finished_at",
        "status_code",
        "error_class",
    ] {
        assert!(attempts[0].get(key).is_some(), "trace attempt lacks {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_pause_stops_releases_and_providers_set_takes_effect() {
    let cli = Cli::new();
    let api = MockApi::start(MockConfig::none()).await.unwrap();
    let cfg = cli.write("pacer.toml", &config(&api, &["acme"], ""));
    let file = cli.write("in.jsonl", &lines("acme", 2));
    assert!(cli
        .run(&[
            "--config",
            cfg.to_str().unwrap(),
            "records",
            "import",
            file.to_str().unwrap()
        ])
        .status
        .success());
    assert_eq!(
        cli.json(&["schedule", "pause", "--output", "json"])["paused"],
        true
    );
    assert_eq!(
        cli.json(&["status", "--output", "json"])["schedule_paused"],
        true
    );
    let plan = cli.json(&["plan", "--window", "1s", "--output", "json"]);
    assert_eq!(plan["scheduled"], 2);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let now = cli.json(&["schedule", "run-now", "--output", "json"]);
    assert_eq!(now["released_now"], 2, "run-now releases even while paused");
    assert_eq!(
        cli.json(&["schedule", "resume", "--output", "json"])["paused"],
        false
    );

    let set = cli.run(&[
        "providers",
        "set",
        "acme",
        "--min-interval",
        "750ms",
        "--max-attempts",
        "3",
    ]);
    assert!(set.status.success(), "{}", stderr(&set));
    let shown = cli.json(&["providers", "show", "acme", "--output", "json"]);
    assert_eq!(shown["settings"]["min_interval"], "750ms");
    assert_eq!(shown["settings"]["max_attempts"], 3);
    let dry = cli.json(&["plan", "--dry-run", "--output", "json"]);
    assert_eq!(dry["dry_run"], true);
}
