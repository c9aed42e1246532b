//! The command line a script or an operator uses.

use std::process::Command;

use crate::support::fixtures;

/// Runs the podbrief binary in `dir` with `args`.
pub(crate) fn podbrief(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_podbrief"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

#[test]
fn ingest_then_brief_and_related_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = fixtures().join("feeds");
    std::fs::write(
        dir.path().join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{:?}, {:?}]\n[brief]\nlookback = \"36500d\"\n",
            dir.path().join("cli.db").display(),
            feeds.join("tides.xml").display().to_string(),
            feeds.join("orchard.xml").display().to_string(),
        ),
    )
    .unwrap();
    let out = podbrief(dir.path(), &["ingest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("2 feeds read, 0 failed; 4 new episodes")
    );

    let out = podbrief(dir.path(), &["brief", "--json", "--size", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("brief --json prints JSON");
    assert_eq!(v["insights"].as_array().unwrap().len(), 2);

    let out = podbrief(dir.path(), &["related", "--json", "Orkney"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("related --json prints JSON");
    assert_eq!(v[0]["episode"], "Wave Energy Buoys");
}

#[test]
fn a_feed_the_parser_chokes_on_is_read_without_a_panic_message() {
    // feed-rs panics on an `itunes:duration` of many digits; podbrief reads the feed without it
    // and the operator sees no panic, backtrace or crash report.
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("odd.xml");
    std::fs::write(
        &feed,
        "<?xml version=\"1.0\"?><rss version=\"2.0\" \
         xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel><title>T</title>\
         <item><title>E</title><guid>e1</guid><description>Show notes.</description>\
         <itunes:duration>99999999999999999999999</itunes:duration></item></channel></rss>",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{:?}]\n",
            dir.path().join("cli.db").display(),
            feed.display().to_string(),
        ),
    )
    .unwrap();
    let out = podbrief(dir.path(), &["ingest"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("1 feeds read, 0 failed; 1 new episodes"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_wrong_config_value_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bot.toml"), "[brief]\nsize = 0\n").unwrap();
    let out = podbrief(dir.path(), &["brief"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("brief.size: 0 is out of range 1..=10"),
        "{err}"
    );
}

#[test]
fn run_with_piped_commands_then_the_operator_views() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = fixtures().join("feeds");
    std::fs::write(
        dir.path().join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{:?}]\n[brief]\nlookback = \"36500d\"\n[console]\nenabled = \"on\"\n",
            dir.path().join("cli.db").display(),
            feeds.join("tides.xml").display().to_string(),
        ),
    )
    .unwrap();
    // With the console on, `run` reads it from stdin: a script can drive it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_podbrief"))
        .arg("run")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"/subscribe 07:15 Europe/Madrid\nrelated to Orkney\n/quit\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(
        console.contains("every day at 07:15 (Europe/Madrid)"),
        "{console}"
    );
    assert!(console.contains("Wave Energy Buoys"), "{console}");

    let out = podbrief(dir.path(), &["subscriptions"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("console:console")
            && listing.contains("07:15 Europe/Madrid")
            && listing.contains("never delivered"),
        "{listing}"
    );
    let out = podbrief(dir.path(), &["deliveries", "--failed", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(0));
    let out = podbrief(dir.path(), &["feeds"]);
    let feeds_listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        feeds_listing.contains("Tidal Talk") && feeds_listing.contains("2 episodes"),
        "{feeds_listing}"
    );
}
