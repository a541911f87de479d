//! The validator network on loopback: genesis validators talk; a stranger cannot join.

use std::time::Duration;

use curia_ledger::crypto::SecretKey;
use curia_ledger::testkit::test_key;
use curia_node::net::{peer_id_of, spawn, NetConfig, NetEvent};
use tokio::time::timeout;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn addr(port: u16) -> libp2p::Multiaddr {
    format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
}

fn cfg(port: u16, peers: &[(SecretKey, u16)]) -> NetConfig {
    NetConfig {
        listen: addr(port),
        peers: peers.iter().map(|(k, p)| (k.public(), addr(*p))).collect(),
        observers: vec![],
        request_timeout: Duration::from_secs(5),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_connect_and_strangers_are_refused() {
    let (k0, k1, stranger) = (test_key("v0"), test_key("v1"), test_key("stranger"));
    let (p0, p1, ps) = (free_port(), free_port(), free_port());
    let validators = vec![(k0.clone(), p0), (k1.clone(), p1)];
    let (h0, mut e0) = spawn(&k0, cfg(p0, &validators)).unwrap();
    let (h1, mut e1) = spawn(&k1, cfg(p1, &validators)).unwrap();

    // Each side sees the other connect.
    let want1 = peer_id_of(&k1.public()).unwrap();
    let got = timeout(Duration::from_secs(10), async {
        loop {
            if let Some(NetEvent::Connected(p)) = e0.recv().await {
                return p;
            }
        }
    })
    .await
    .expect("v0 connects to v1");
    assert_eq!(got, want1);

    // A pushed message arrives; a fetch gets its answer.
    h0.broadcast(b"vote".to_vec());
    let h1c = h1.clone();
    // The broadcast and the fetch travel on separate streams, so either may arrive first; the
    // responder answers both and returns once it has seen both.
    let responder = tokio::spawn(async move {
        let (mut seen_msg, mut answered) = (false, false);
        while !(seen_msg && answered) {
            match e1.recv().await {
                Some(NetEvent::Request { bytes, reply, .. }) if bytes == b"vote" => {
                    let _ = reply.send(Vec::new());
                    seen_msg = true;
                }
                Some(NetEvent::Request { bytes, reply, .. }) if bytes == b"block 1?" => {
                    let _ = reply.send(b"block 1".to_vec());
                    answered = true;
                }
                Some(_) => {}
                None => panic!("network stopped"),
            }
        }
        e1
    });
    let answer = timeout(Duration::from_secs(10), h0.fetch(want1, b"block 1?".to_vec())).await.unwrap().unwrap();
    assert_eq!(answer, b"block 1");
    let e1 = timeout(Duration::from_secs(10), responder).await.expect("the broadcast vote arrives too").unwrap();
    drop(h1c);

    // A stranger that knows v0's address dials it: v0 refuses the connection right after the
    // noise handshake shows who it is, so v0 never reports it and it can never be asked anything.
    let (hs, _es) = spawn(&stranger, cfg(ps, &[(k0.clone(), p0)])).unwrap();
    let stranger_id = peer_id_of(&stranger.public()).unwrap();
    let joined = timeout(Duration::from_secs(6), async {
        loop {
            match e0.recv().await {
                Some(NetEvent::Connected(p)) if p == stranger_id => return true,
                Some(_) => {}
                None => return false,
            }
        }
    });
    assert!(joined.await.is_err(), "v0 never sees the stranger connected");

    // Control: the same stranger, listed as an observer by another validator, is let in, so the
    // refusal above is the allow list at work and not a dial that never happened.
    let (k2, p2, ps2) = (test_key("v2"), free_port(), free_port());
    let mut c2 = cfg(p2, &[]);
    c2.observers = vec![stranger.public()];
    let (_h2, mut e2) = spawn(&k2, c2).unwrap();
    let (_hs2, _es2) = spawn(&stranger, cfg(ps2, &[(k2.clone(), p2)])).unwrap();
    let seen = timeout(Duration::from_secs(10), async {
        loop {
            if let Some(NetEvent::Connected(p)) = e2.recv().await {
                return p;
            }
        }
    })
    .await
    .expect("an observer is let in");
    assert_eq!(seen, stranger_id);
    drop(e1);
    assert!(!h0.peers().await.contains(&stranger_id));
    assert!(hs.fetch(peer_id_of(&k0.public()).unwrap(), b"hi".to_vec()).await.is_err());
}
