//! Peers by host name: a four-validator network whose genesis gives three validators' addresses
//! as `/dns/localhost/tcp/P`, `localhost:P` and `/dns4/localhost/tcp/P` (resolved when dialed)
//! commits a deposit; a name that does not resolve (`[network.addresses]` override on one node)
//! is logged with the host name, and the network still works through the other addresses.

use crate::common;

use std::time::{Duration, Instant};

use common::{curia, Cluster, TestDir};

#[test]
fn validators_dial_each_other_by_host_name() {
    let base = Cluster::port_base(0) + 12;
    let dir = TestDir::new("dns");
    let out = curia()
        .args(["testnet", "init", "--validators", "4", "--base-port", &base.to_string(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let g = dir.join("genesis.json");
    let text = std::fs::read_to_string(&g).unwrap();
    let ip = |i: u16| format!("/ip4/127.0.0.1/tcp/{}", base + i);
    let text = text
        .replace(&format!("\"{}\"", ip(0)), &format!("\"/dns/localhost/tcp/{}\"", base))
        .replace(&format!("\"{}\"", ip(1)), &format!("\"localhost:{}\"", base + 1))
        .replace(&format!("\"{}\"", ip(2)), &format!("\"/dns4/localhost/tcp/{}\"", base + 2));
    assert_eq!(text.matches("localhost").count(), 3, "{text}");
    std::fs::write(&g, text).unwrap();
    // The time-service node is told a name for court-a that does not resolve.
    let t = dir.join("timesvc/node.toml");
    let cfg = std::fs::read_to_string(&t).unwrap();
    let cfg = cfg.replacen("[api]", "[network.addresses]\n\"court-a\" = \"no-such-host.invalid:1\"\n\n[api]", 1);
    std::fs::write(&t, cfg).unwrap();

    let names = ["court-a", "court-b", "notary", "timesvc"].iter().map(|s| s.to_string()).collect();
    let c = Cluster::launch(dir.to_path_buf(), base, names);
    let (_, r) = c.deposit(0, "dialled by name\n");
    assert!(r.header.height >= 1);
    assert!(c.wait_height(3, r.header.height, Duration::from_secs(60)), "timesvc lags:\n{}", c.log(3));
    for i in 0..3 {
        assert!(!c.log(i).contains("does not resolve"), "node {i}:\n{}", c.log(i));
    }
    let t = Instant::now();
    while !(c.log(3).contains("does not resolve") && c.log(3).contains("no-such-host.invalid")) {
        assert!(t.elapsed() < Duration::from_secs(30), "no resolve warning:\n{}", c.log(3));
        std::thread::sleep(Duration::from_millis(100));
    }
}
