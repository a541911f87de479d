//! The validator network: libp2p over TCP with noise and yamux.
//!
//! Rules:
//! - A validator's network identity is its consensus key: the libp2p ed25519 key is made from
//!   the same secret, so its peer ID follows from the genesis ([`peer_id_of`]).
//! - Only validators (and peers an operator lists as observers) may stay connected: the allow list
//!   refuses every other peer right after the noise handshake proves who it is. The validators
//!   are those of the set in force and the next set ([`NetHandle::set_peers`], called by the
//!   driver when a membership change commits); a peer that leaves both is disallowed and its
//!   connections are closed.
//! - One protocol, `/curia/1`: a request is a length-prefixed byte string of at most
//!   [`MAX_FRAME`] bytes; a response likewise. Pushed messages (votes, proposals, transactions)
//!   are requests answered with an empty response; fetches (blocks for catch-up) carry their
//!   answer in the response. What the bytes mean is the caller's business.
//! - The node keeps dialing validators it is not connected to, every [`REDIAL`].
//! - Keepalive: libp2p `ping` on every connection every [`PEER_PING_INTERVAL`]; a ping not
//!   answered within [`PEER_PING_TIMEOUT`] fails; libp2p forgives the first failure and retries
//!   on a new stream, and the second failure closes the connection, so a dead or stopped peer (a
//!   half-open TCP connection) is shown disconnected within about
//!   [`crate::limits::PEER_DEAD_AFTER`] (15 s), not after the 3600 s idle timeout.
//! - A peer address is an IP multiaddr (`/ip4/A/tcp/P`, `/ip6/…`), a DNS multiaddr
//!   (`/dns/HOST/tcp/P`, `/dns4/…`, `/dns6/…`) or `HOST:PORT` ([`parse_peer_address`]). Host
//!   names are resolved at each dial (the system resolver, at most [`RESOLVE_TIMEOUT`], off the
//!   network task), so a peer that moves to another address is found again; a name that does not
//!   resolve is logged as a warning naming the host (again only when the error changes), and the
//!   node keeps trying.

use std::collections::{HashMap, HashSet};
use std::io;
use std::time::Duration;

use async_trait::async_trait;
use curia_ledger::crypto::{PublicKey, SecretKey};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{allow_block_list, identity, ping, Multiaddr, PeerId, StreamProtocol, Swarm};

use crate::limits::{PEER_PING_INTERVAL, PEER_PING_TIMEOUT};
use tokio::sync::{mpsc, oneshot};

/// Largest message on the wire ([`crate::limits::NET_MAX_FRAME`]).
pub const MAX_FRAME: usize = crate::limits::NET_MAX_FRAME;
/// How often unconnected validators are dialed again ([`crate::limits::NET_REDIAL`]).
pub const REDIAL: Duration = crate::limits::NET_REDIAL;
/// Capacity of the queues between the network task and the node ([`crate::limits::NET_QUEUE`]).
pub const QUEUE: usize = crate::limits::NET_QUEUE;

/// Longest wait for one host-name lookup.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A peer address as configured: a multiaddr, or `HOST:PORT` / `IP:PORT`, which becomes
/// `/dns/HOST/tcp/PORT` or `/ip4|ip6/IP/tcp/PORT`.
pub fn parse_peer_address(s: &str) -> Result<Multiaddr, String> {
    if s.starts_with('/') {
        let a: Multiaddr = s.parse().map_err(|e| format!("not a multiaddr: {e}"))?;
        let mut it = a.iter();
        use libp2p::multiaddr::Protocol as P;
        return match (it.next(), it.next(), it.next()) {
            (Some(P::Ip4(_) | P::Ip6(_) | P::Dns(_) | P::Dns4(_) | P::Dns6(_)), Some(P::Tcp(_)), None) => Ok(a),
            _ => Err("expected /ip4/ADDR/tcp/PORT, /ip6/…, /dns/HOST/tcp/PORT, /dns4/… or /dns6/…".into()),
        };
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Ok(Multiaddr::from(sa.ip()).with(libp2p::multiaddr::Protocol::Tcp(sa.port())));
    }
    let (host, port) = s.rsplit_once(':').ok_or("expected HOST:PORT or a multiaddr")?;
    let port: u16 = port.parse().map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !valid {
        return Err(format!("{host:?} is not a host name"));
    }
    Ok(Multiaddr::empty()
        .with(libp2p::multiaddr::Protocol::Dns(host.to_owned().into()))
        .with(libp2p::multiaddr::Protocol::Tcp(port)))
}

/// The host and port of a `/dns*/HOST/tcp/PORT` address; `None` for an IP address.
fn dns_target(a: &Multiaddr) -> Option<(String, u16)> {
    use libp2p::multiaddr::Protocol as P;
    let mut it = a.iter();
    match (it.next(), it.next()) {
        (Some(P::Dns(h) | P::Dns4(h) | P::Dns6(h)), Some(P::Tcp(port))) => Some((h.to_string(), port)),
        _ => None,
    }
}

/// The IP addresses of a peer address: itself for an IP address; for a host name, what the
/// system resolver answers (`/dns4/` keeps IPv4 answers only, `/dns6/` IPv6).
pub async fn resolve(a: &Multiaddr) -> Result<Vec<Multiaddr>, String> {
    use libp2p::multiaddr::Protocol as P;
    let Some((host, port)) = dns_target(a) else { return Ok(vec![a.clone()]) };
    let keep = |ip: &std::net::IpAddr| match a.iter().next() {
        Some(P::Dns4(_)) => ip.is_ipv4(),
        Some(P::Dns6(_)) => ip.is_ipv6(),
        _ => true,
    };
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
        .await
        .map_err(|_| format!("cannot resolve host {host:?}: no answer within {RESOLVE_TIMEOUT:?}"))?
        .map_err(|e| format!("cannot resolve host {host:?}: {e}"))?;
    let addrs: Vec<Multiaddr> =
        found.filter(|sa| keep(&sa.ip())).map(|sa| Multiaddr::from(sa.ip()).with(P::Tcp(sa.port()))).collect();
    if addrs.is_empty() {
        return Err(format!("cannot resolve host {host:?}: no address of the requested family"));
    }
    Ok(addrs)
}

const PROTOCOL: StreamProtocol = StreamProtocol::new("/curia/1");

/// The libp2p peer ID of a validator or client key.
pub fn peer_id_of(key: &PublicKey) -> Result<PeerId, crate::NodeError> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(&key.0)
        .map_err(|_| crate::NodeError::Config(format!("key {key} is not an ed25519 public key")))?;
    Ok(identity::PublicKey::from(pk).to_peer_id())
}

/// Network settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Where to listen, e.g. `/ip4/127.0.0.1/tcp/27000`.
    pub listen: Multiaddr,
    /// Peers to dial and allow: their key and address.
    pub peers: Vec<(PublicKey, Multiaddr)>,
    /// Extra peers allowed to connect (observers), by key.
    pub observers: Vec<PublicKey>,
    /// How long a request may wait for its response.
    pub request_timeout: Duration,
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A peer pushed a message (its response was already sent).
    Message {
        /// Sender.
        from: PeerId,
        /// Bytes.
        bytes: Vec<u8>,
    },
    /// A peer asks for something; answer through `reply` (dropping it answers nothing).
    Request {
        /// Asker.
        from: PeerId,
        /// Bytes.
        bytes: Vec<u8>,
        /// Where to put the answer.
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// A peer connected.
    Connected(PeerId),
    /// A peer's last connection closed.
    Disconnected(PeerId),
}

/// What the node asks of the network.
#[derive(Debug)]
enum NetCmd {
    Send { to: PeerId, bytes: Vec<u8> },
    Broadcast { bytes: Vec<u8> },
    Fetch { to: PeerId, bytes: Vec<u8>, reply: oneshot::Sender<Result<Vec<u8>, String>> },
    Peers { reply: oneshot::Sender<Vec<PeerId>> },
    SetPeers { peers: Vec<(PeerId, Multiaddr)> },
}

/// A handle to the running network task.
#[derive(Clone, Debug)]
pub struct NetHandle {
    cmds: mpsc::Sender<NetCmd>,
    /// This node's peer ID.
    pub local: PeerId,
}

impl NetHandle {
    /// Push `bytes` to one peer (dropped if the queue is full: consensus retransmits).
    pub fn send(&self, to: PeerId, bytes: Vec<u8>) {
        let _ = self.cmds.try_send(NetCmd::Send { to, bytes });
    }
    /// Push `bytes` to every connected peer.
    pub fn broadcast(&self, bytes: Vec<u8>) {
        let _ = self.cmds.try_send(NetCmd::Broadcast { bytes });
    }
    /// Ask one peer and wait for its answer.
    pub async fn fetch(&self, to: PeerId, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let (reply, rx) = oneshot::channel();
        self.cmds.send(NetCmd::Fetch { to, bytes, reply }).await.map_err(|_| "network stopped".to_string())?;
        rx.await.map_err(|_| "network stopped".to_string())?
    }
    /// Replace the validators to dial and allow (observers stay allowed). Peers no longer listed
    /// are disallowed and disconnected.
    pub fn set_peers(&self, peers: &[(PublicKey, Multiaddr)]) -> Result<(), crate::NodeError> {
        let mut list = Vec::with_capacity(peers.len());
        for (k, a) in peers {
            let p = peer_id_of(k)?;
            if p != self.local {
                list.push((p, a.clone()));
            }
        }
        self.cmds
            .try_send(NetCmd::SetPeers { peers: list })
            .map_err(|e| crate::NodeError::Network(format!("cannot update the peer list: {e}")))
    }
    /// Connected peers.
    pub async fn peers(&self) -> Vec<PeerId> {
        let (reply, rx) = oneshot::channel();
        if self.cmds.send(NetCmd::Peers { reply }).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// Length-prefixed bytes, bounded by [`MAX_FRAME`].
#[derive(Clone, Default)]
struct FrameCodec;

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {n} bytes exceeds {MAX_FRAME}")));
    }
    let mut buf = vec![0u8; n];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(io: &mut T, bytes: Vec<u8>) -> io::Result<()> {
    if bytes.len() > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "frame too large"));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

#[async_trait]
impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;
    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }
    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }
    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Vec<u8>) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, req).await
    }
    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, res).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    rr: request_response::Behaviour<FrameCodec>,
    /// Keepalive: a peer that does not answer a ping within [`PEER_PING_TIMEOUT`] has its
    /// connection closed (a half-open TCP connection would otherwise count until the idle timeout).
    ping: ping::Behaviour,
}

/// Start the network task for the validator with secret `key`. Returns the handle and the
/// stream of events; the task stops when the handle and its clones are dropped.
pub fn spawn(key: &SecretKey, cfg: NetConfig) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), crate::NodeError> {
    let net_err = |e: String| crate::NodeError::Network(e);
    let keypair = identity::Keypair::ed25519_from_bytes(key.seed()).map_err(|e| net_err(e.to_string()))?;
    let local = keypair.public().to_peer_id();
    let mut dial: HashMap<PeerId, Multiaddr> = HashMap::new();
    let mut allowed = HashSet::new();
    for (k, addr) in &cfg.peers {
        let p = peer_id_of(k)?;
        if p != local {
            dial.insert(p, addr.clone());
            allowed.insert(p);
        }
    }
    let mut observers = HashSet::new();
    for k in &cfg.observers {
        allowed.insert(peer_id_of(k)?);
        observers.insert(peer_id_of(k)?);
    }
    let timeout = cfg.request_timeout;
    let mut swarm: Swarm<Behaviour> = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| net_err(e.to_string()))?
        .with_behaviour(|_| {
            let mut allow = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
            for p in &allowed {
                allow.allow_peer(*p);
            }
            Behaviour {
                allow,
                rr: request_response::Behaviour::with_codec(
                    FrameCodec,
                    [(PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default().with_request_timeout(timeout).with_max_concurrent_streams(1024),
                ),
                ping: ping::Behaviour::new(
                    ping::Config::new().with_interval(PEER_PING_INTERVAL).with_timeout(PEER_PING_TIMEOUT),
                ),
            }
        })
        .map_err(|e| net_err(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.listen_on(cfg.listen.clone()).map_err(|e| net_err(format!("cannot listen on {}: {e}", cfg.listen)))?;

    let (cmd_tx, cmd_rx) = mpsc::channel(QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(swarm, dial, observers, cmd_rx, ev_tx));
    Ok((NetHandle { cmds: cmd_tx, local }, ev_rx))
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    mut dial: HashMap<PeerId, Multiaddr>,
    observers: HashSet<PeerId>,
    mut cmds: mpsc::Receiver<NetCmd>,
    events: mpsc::Sender<NetEvent>,
) {
    let mut connected: HashSet<PeerId> = HashSet::new();
    let mut fetches: HashMap<request_response::OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>> =
        HashMap::new();
    let mut pending_replies = futures::stream::FuturesUnordered::new();
    let mut redial = tokio::time::interval(REDIAL);
    // Host-name lookups run off this task; their answers come back here.
    let (resolved_tx, mut resolved_rx) = mpsc::channel::<(PeerId, Result<Vec<Multiaddr>, String>)>(QUEUE);
    let mut resolving: HashSet<PeerId> = HashSet::new();
    let mut last_error: HashMap<PeerId, String> = HashMap::new();
    loop {
        tokio::select! {
            _ = redial.tick() => {
                for (p, a) in &dial {
                    if connected.contains(p) {
                        continue;
                    }
                    if dns_target(a).is_none() {
                        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(*p).addresses(vec![a.clone()]).build();
                        let _ = swarm.dial(opts);
                    } else if resolving.insert(*p) {
                        let (p, a, tx) = (*p, a.clone(), resolved_tx.clone());
                        tokio::spawn(async move {
                            let _ = tx.send((p, resolve(&a).await)).await;
                        });
                    }
                }
            }
            Some((p, r)) = resolved_rx.recv() => {
                resolving.remove(&p);
                match r {
                    Ok(addrs) => {
                        last_error.remove(&p);
                        if !connected.contains(&p) {
                            let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(p).addresses(addrs).build();
                            let _ = swarm.dial(opts);
                        }
                    }
                    Err(e) => {
                        if last_error.get(&p) != Some(&e) {
                            let addr = dial.get(&p).map(|a| a.to_string()).unwrap_or_default();
                            tracing::warn!(peer = %p, address = %addr, error = %e, "cannot dial a validator: its address does not resolve; retrying");
                            last_error.insert(p, e);
                        }
                    }
                }
            }
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    NetCmd::Send { to, bytes } => {
                        swarm.behaviour_mut().rr.send_request(&to, bytes);
                    }
                    NetCmd::Broadcast { bytes } => {
                        for p in connected.iter().filter(|p| dial.contains_key(p)) {
                            swarm.behaviour_mut().rr.send_request(p, bytes.clone());
                        }
                    }
                    NetCmd::Fetch { to, bytes, reply } => {
                        let id = swarm.behaviour_mut().rr.send_request(&to, bytes);
                        fetches.insert(id, reply);
                    }
                    NetCmd::Peers { reply } => {
                        let _ = reply.send(connected.iter().copied().collect());
                    }
                    NetCmd::SetPeers { peers } => {
                        let new: HashMap<PeerId, Multiaddr> = peers.into_iter().collect();
                        for p in dial.keys().filter(|p| !new.contains_key(p) && !observers.contains(p)) {
                            swarm.behaviour_mut().allow.disallow_peer(*p);
                            let _ = swarm.disconnect_peer_id(*p);
                        }
                        for p in new.keys() {
                            swarm.behaviour_mut().allow.allow_peer(*p);
                        }
                        dial = new;
                    }
                }
            }
            Some((channel, answer)) = pending_replies.next(), if !pending_replies.is_empty() => {
                let answer: Result<Vec<u8>, oneshot::error::RecvError> = answer;
                let _ = swarm.behaviour_mut().rr.send_response(channel, answer.unwrap_or_default());
            }
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, connection, result: Err(e) })) => {
                    // libp2p's ping does not close a failed connection itself.
                    tracing::info!(%peer, error = %e, "peer does not answer pings; closing the connection");
                    swarm.close_connection(connection);
                }
                SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } if num_established.get() == 1 => {
                    connected.insert(peer_id);
                    let _ = events.try_send(NetEvent::Connected(peer_id));
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    connected.remove(&peer_id);
                    let _ = events.try_send(NetEvent::Disconnected(peer_id));
                }
                SwarmEvent::Behaviour(BehaviourEvent::Rr(request_response::Event::Message { peer, message, .. })) => {
                    match message {
                        request_response::Message::Request { request, channel, .. } => {
                            let (reply, rx) = oneshot::channel();
                            if events.try_send(NetEvent::Request { from: peer, bytes: request, reply }).is_ok() {
                                pending_replies.push(async move { (channel, rx.await) });
                            } else {
                                tracing::warn!(%peer, "node queue full; dropping a request");
                            }
                        }
                        request_response::Message::Response { request_id, response } => {
                            if let Some(tx) = fetches.remove(&request_id) {
                                let _ = tx.send(Ok(response));
                            } else if !response.is_empty() {
                                tracing::debug!(%peer, "unexpected response");
                            }
                        }
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Rr(request_response::Event::OutboundFailure { request_id, error, peer, .. })) => {
                    if let Some(tx) = fetches.remove(&request_id) {
                        let _ = tx.send(Err(format!("request to {peer} failed: {error}")));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_by_ip_or_name() {
        let ok = |s: &str| parse_peer_address(s).unwrap().to_string();
        assert_eq!(ok("/ip4/10.0.0.1/tcp/27000"), "/ip4/10.0.0.1/tcp/27000");
        assert_eq!(ok("/dns/node-b.court.example/tcp/27000"), "/dns/node-b.court.example/tcp/27000");
        assert_eq!(ok("node-b.court.example:27000"), "/dns/node-b.court.example/tcp/27000");
        assert_eq!(ok("10.0.0.1:27000"), "/ip4/10.0.0.1/tcp/27000");
        assert_eq!(ok("[::1]:27000"), "/ip6/::1/tcp/27000");
        for bad in ["node-b", "node-b:x", "node b:1", ":1", "/ip4/10.0.0.1", "/dns/h/udp/1", "/ip4/1.2.3.4/tcp/1/ws"] {
            assert!(parse_peer_address(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn localhost_resolves_at_dial_time_and_unknown_names_say_so() {
        let a = parse_peer_address("localhost:27000").unwrap();
        let ips = resolve(&a).await.unwrap();
        assert!(ips.iter().any(|m| m.to_string() == "/ip4/127.0.0.1/tcp/27000"), "{ips:?}");
        let v4 = resolve(&"/dns4/localhost/tcp/1".parse().unwrap()).await.unwrap();
        assert!(v4.iter().all(|m| m.to_string().starts_with("/ip4/")), "{v4:?}");
        let e = resolve(&parse_peer_address("no-such-host.invalid:1").unwrap()).await.unwrap_err();
        assert!(e.contains("cannot resolve host \"no-such-host.invalid\""), "{e}");
    }
}
