//! Crash safety: a child process commits blocks (and logs votes) in a loop and is killed with
//! SIGKILL at random instants, many times. After each kill the store is reopened and must be
//! exactly a prefix of the deterministic chain, with every index consistent (receipts from the
//! per-transaction layout included, the deposit log ending at the tip), nothing above the tip,
//! and a vote log that is a prefix of what the child logged.
//!
//! The child is this test binary re-run with `CURIA_CRASH_CHILD_DIR` set.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use curia_ledger::block::{SignedVote, Vote, VoteKind};
use curia_ledger::hash::Hash;
use curia_ledger::testkit::{test_key, TestChain};
use curia_storage::{DepositLocation, Store};

const BLOCKS: usize = 80;
const BATCH: usize = 1000;
const KILLS: usize = 30;

fn vote_for(c: &TestChain, height: u64) -> SignedVote {
    Vote {
        chain_id: c.spec.chain_id,
        height,
        round: 0,
        kind: VoteKind::Precommit,
        block: Some(Hash::sha256(&height.to_be_bytes())),
        time_ms: 1,
        validator: 0,
    }
    .sign(&test_key("v0"))
}

/// Runs only as the child: commit every block above the tip, logging a vote before each.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("CURIA_CRASH_CHILD_DIR") else { return };
    let c = common::chain(BLOCKS, BATCH);
    let changes = common::changes(&c);
    let store = Store::open(&dir, &c.spec).expect("child opens store");
    println!("READY");
    let start = store.tip().height as usize;
    // Like a validator after a restart: reload the log and never vote twice at a height.
    let mut voted = store.votes().expect("child reads votes").last().map_or(0, |v| v.vote.height);
    for (i, ((b, cert), ch)) in c.blocks.iter().zip(&changes).enumerate().skip(start) {
        let height = i as u64 + 1;
        if voted < height {
            store.append_vote(&vote_for(&c, height)).expect("child logs vote");
            voted = height;
        }
        store.commit_block(b, cert, ch).expect("child commits");
        println!("C {height}");
    }
}

/// A small xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Check blocks `from..=tip` fully and that nothing exists above the tip.
fn check_prefix(store: &Store, c: &TestChain, from: u64) -> u64 {
    let tip = store.tip();
    assert!(tip.height as usize <= BLOCKS);
    assert_eq!(store.stored_tip().unwrap(), tip);
    if tip.height > 0 {
        assert_eq!(tip, curia_ledger::state::Tip::after(&c.blocks[tip.height as usize - 1].0.header));
    }
    for h in from.max(1)..=tip.height {
        let (b, cert) = &c.blocks[h as usize - 1];
        let got = store.block(h).unwrap().unwrap_or_else(|| panic!("block {h} missing below tip {}", tip.height));
        assert_eq!(got.hash(), b.hash(), "block {h}");
        assert_eq!(store.header(h).unwrap().as_ref(), Some(&b.header));
        assert_eq!(store.cert(h).unwrap().as_ref(), Some(cert));
        for (ti, tx) in b.txs.iter().enumerate() {
            let id = tx.id(&c.spec.chain_id);
            assert_eq!(store.tx_location(&id).unwrap(), Some((h, ti as u32)));
            for (k, (dep, commitment)) in tx.deposits(&id).into_iter().enumerate() {
                let item_index = (!tx.items.is_empty()).then_some(k as u32);
                let want = DepositLocation { height: h, tx_index: ti as u32, item_index };
                assert_eq!(store.deposit_location(&dep).unwrap(), Some(want), "deposit in block {h}");
                if k % 97 == 0 {
                    assert!(store.deposits_by_digest(&commitment).unwrap().contains(&dep));
                    // The per-transaction and batch layouts came with the block: same receipt
                    // both ways (a batch item's from its batch's tiles).
                    let fast = store.receipt(&dep).unwrap().expect("receipt below the tip");
                    let slow = store.receipt_from_block(&dep).unwrap().expect("receipt below the tip");
                    assert_eq!(fast, slow, "receipt of a deposit in block {h}");
                }
            }
        }
    }
    // The deposit log ends at the same block as the chain: its size and root are those of the
    // deposits up to the tip, whatever instant the kill hit.
    let mut log = curia_ledger::deposit_log::Frontier::new();
    for (b, _) in &c.blocks[..tip.height as usize] {
        for (_, leaf) in curia_ledger::deposit_log::block_leaves(&c.spec.chain_id, b) {
            log.append(leaf).unwrap();
        }
    }
    let ls = store.log_state().expect("a writable store has a log");
    assert_eq!((ls.height, ls.size), (tip.height, log.size()), "deposit log vs tip");
    assert_eq!(store.log_root(ls.size).unwrap(), log.root());
    // Nothing of the next block is visible.
    let next = tip.height + 1;
    if (next as usize) <= BLOCKS {
        assert!(store.block(next).unwrap().is_none(), "block {next} above the tip");
        assert!(store.header(next).unwrap().is_none());
        assert!(store.cert(next).unwrap().is_none());
        assert!(store.block_tx(next, 0).unwrap().is_none(), "a transaction of block {next} stored");
        let (b, _) = &c.blocks[next as usize - 1];
        for (ti, tx) in b.txs.iter().enumerate() {
            assert!(store.batch_tx(next, ti as u32).unwrap().is_none(), "a batch of block {next} stored");
            let id = tx.id(&c.spec.chain_id);
            assert!(store.tx_location(&id).unwrap().is_none(), "transaction of block {next} indexed");
            for (dep, _) in tx.deposits(&id).into_iter().step_by(50) {
                assert!(store.deposit_location(&dep).unwrap().is_none(), "deposit of block {next} indexed");
            }
        }
    }
    // Votes: one per started commit, heights 1, 2, ... in order; at most one past the tip.
    let votes = store.votes().unwrap();
    assert!(
        votes.len() as u64 >= tip.height && votes.len() as u64 <= tip.height + 1,
        "{} votes, tip {}",
        votes.len(),
        tip.height
    );
    for (i, v) in votes.iter().enumerate() {
        assert_eq!(v, &vote_for(c, i as u64 + 1));
    }
    tip.height
}

#[test]
fn survives_sigkill_at_random_instants() {
    if std::env::var("CURIA_CRASH_CHILD_DIR").is_ok() {
        return;
    }
    let seed = std::env::var("CURIA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    println!("crash test seed {seed} (CURIA_CRASH_SEED={seed} replays the kill schedule)");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let c = common::chain(BLOCKS, BATCH);
    let exe = std::env::current_exe().unwrap();
    let mut dir = tempfile::tempdir().unwrap();
    let mut checked = 0u64;
    let (mut kills, mut mid_run, mut rounds) = (0, 0, 1);
    while kills < KILLS {
        let mut child = Command::new(&exe)
            .args(["crash::crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("CURIA_CRASH_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the child to open the store, then kill it at a random instant.
        // Keep the pipe open until the child is gone, so its last prints cannot fail.
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        for line in lines.by_ref() {
            if line.map(|l| l.contains("READY")).unwrap_or(true) {
                break;
            }
        }
        // Let it commit a random number of the remaining blocks, then kill it a random moment
        // later (within a few blocks' work): the kill lands mid-chain whatever the machine's
        // speed, at any point of a vote append or a commit.
        let wait_commits = rng.next() % (BLOCKS as u64 - checked).max(1);
        for _ in 0..wait_commits {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("C ") => {}
                _ => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 5_000));
        let status = child.try_wait().unwrap();
        if let Some(st) = status {
            assert!(st.success(), "the child failed on its own: {st}");
        }
        let finished = status.is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        drop(lines);
        kills += 1;
        let store = Store::open(dir.path(), &c.spec).expect("store reopens after SIGKILL");
        let tip = check_prefix(&store, &c, checked + 1);
        if tip < BLOCKS as u64 && !finished {
            mid_run += 1;
        }
        checked = tip;
        drop(store);
        if tip as usize == BLOCKS {
            // Full chain: check everything once more, then start over in a fresh directory.
            let store = Store::open(dir.path(), &c.spec).unwrap();
            check_prefix(&store, &c, 1);
            drop(store);
            dir = tempfile::tempdir().unwrap();
            checked = 0;
            rounds += 1;
        }
    }
    // One last full check of whatever is on disk.
    let store = Store::open(dir.path(), &c.spec).unwrap();
    check_prefix(&store, &c, 1);
    println!("{kills} SIGKILLs ({mid_run} mid-chain), {rounds} round(s), {:.1} s", started.elapsed().as_secs_f64());
    assert!(mid_run >= KILLS / 2, "too few kills landed mid-chain: {mid_run}");
}
