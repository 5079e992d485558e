//! One client connection: the reader task that parses ops and acts on them, the
//! writer task it starts, keep-alive, and clean-up.
//!
//! PERF-CRITICAL: `process` runs for every read. Ops borrow from the read buffer; the
//! match cache avoids the sublist lock for repeated subjects; writers are woken once per
//! read batch. No info-level logging per op.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tracing::{debug, info, Instrument};

use crate::auth::responses::ReplyTracker;
use crate::auth::{AuthOutcome, Permissions};
use crate::protocol::{
    encode, headers, parse_client_op, ClientOp, ConnectInfo, Limits, Parsed, ProtoError,
};
use crate::subject;
use crate::sublist::MatchResult;

use super::account::Account;
use super::client::{ClientHandle, ClientType, CloseReason};
use super::outbound::FlushSet;
use super::router::{self, DeliveryCtx, Message};
use super::subscription::{SubRef, Subscription};
use super::ServerShared;

/// Smallest and largest read sizes of the adaptive read buffer.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;
const MATCH_CACHE_MAX: usize = 256;

/// What the reader must do after an op that cannot be handled synchronously.
enum Next {
    Continue,
    Authenticate(Box<ConnectInfo>),
    Close,
}

/// Reader-side state of one connection.
struct Connection {
    server: Arc<ServerShared>,
    handle: Arc<ClientHandle>,
    limits: Limits,
    connected: bool,
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    account: Arc<Account>,
    permissions: Option<Arc<Permissions>>,
    /// The nonce INFO carried, which an nkey CONNECT signs.
    nonce: Option<String>,
    cache: HashMap<Box<[u8]>, Arc<MatchResult<SubRef>>>,
    cache_genid: u64,
    flush: FlushSet<Arc<ClientHandle>>,
    pings_out: u32,
    ping_sent_at: Option<Instant>,
    active_since_ping: bool,
}

/// Serves one accepted TCP connection until it closes.
pub async fn serve(server: Arc<ServerShared>, stream: TcpStream, cid: u64) {
    let addr = match stream.peer_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    serve_io(server, rd, wr, addr, cid, ClientType::Nats).await;
}

/// Serves a NATS protocol connection over any byte stream (TCP, or the unframed
/// side of a WebSocket); returns why it closed.
pub async fn serve_io<R, W>(
    server: Arc<ServerShared>,
    rd: R,
    wr: W,
    addr: std::net::SocketAddr,
    cid: u64,
    client_type: ClientType,
) -> CloseReason
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let nonce = server.auth.needs_nonce().then(crate::auth::nkey::new_nonce);
    serve_stream(server, rd, wr, addr, cid, client_type, true, nonce).await
}

/// [`serve_io`], with `send_info: false` when INFO already went out in plaintext
/// before a TLS upgrade; `nonce` is the one INFO carries (for nkey signatures).
#[allow(clippy::too_many_arguments)] // one call per transport; a struct would only rename them
pub async fn serve_stream<R, W>(
    server: Arc<ServerShared>,
    mut rd: R,
    wr: W,
    addr: std::net::SocketAddr,
    cid: u64,
    client_type: ClientType,
    send_info: bool,
    nonce: Option<String>,
) -> CloseReason
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::info_span!("client", cid, remote = %addr);
    async move {
        let close = server.shutdown.child_token();
        let account = server.accounts.global().clone();
        let handle = Arc::new(ClientHandle::new(
            cid,
            addr,
            account.clone(),
            server.config.max_pending,
            close,
        ));
        handle.meta.lock().client_type = client_type;
        server.register_client(&handle);
        debug!("client connection created");

        if send_info {
            let info = server.client_info_json_for(cid, addr, client_type, nonce.as_deref());
            let _ = handle.out.push(|b| encode::info(b, &info));
            handle.out.wake();
        }

        let writer_handle = handle.clone();
        let write_deadline = server.config.write_deadline;
        let writer = crate::server::client::spawn_writer(writer_handle, wr, write_deadline);

        let mut conn = Connection {
            limits: Limits {
                max_control_line: server.config.max_control_line,
                max_payload: server.config.max_payload,
            },
            server: server.clone(),
            handle: handle.clone(),
            connected: false,
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            account,
            permissions: None,
            nonce,
            cache: HashMap::new(),
            cache_genid: u64::MAX,
            flush: FlushSet::new(),
            pings_out: 0,
            ping_sent_at: None,
            active_since_ping: false,
        };
        conn.read_loop(&mut rd).await;

        // Clean-up: no more deliveries, flush what is queued (unless slow), stop.
        let reason = handle.close_reason().unwrap_or(CloseReason::ClientClosed);
        handle.close.cancel();
        let discard = matches!(
            reason,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        );
        conn.remove_all_subs();
        handle.out.close(discard);
        if tokio::time::timeout(Duration::from_secs(2), writer)
            .await
            .is_err()
        {
            debug!("writer did not finish in time");
        }
        if reason == CloseReason::SlowConsumerWriteDeadline {
            server
                .stats
                .slow_consumers
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(name = %handle.meta.lock().name, "Slow Consumer Detected: write deadline exceeded");
        }
        server.unregister_client(&handle, reason);
        debug!(reason = reason.as_str(), "client connection closed");
        reason
    }
    .instrument(span)
    .await
}

impl Connection {
    async fn read_loop<R: AsyncRead + Unpin>(&mut self, rd: &mut R) {
        // The read buffer starts small (idle connections cost little) and adapts:
        // it doubles while reads fill it, halves while they use a quarter of it.
        let mut read_cap = MIN_READ;
        let mut rbuf = BytesMut::with_capacity(read_cap);
        let first_ping = self.server.config.ping_interval.min(Duration::from_secs(2));
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + first_ping,
            self.server.config.ping_interval,
        );
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let auth_required = self.server.auth.required();
        let auth_deadline = tokio::time::sleep(self.server.auth.timeout);
        tokio::pin!(auth_deadline);
        let close = self.handle.close.clone();
        loop {
            if rbuf.is_empty() && rbuf.capacity() > 2 * read_cap {
                rbuf = BytesMut::with_capacity(read_cap);
            } else if rbuf.capacity() - rbuf.len() < read_cap / 2 {
                rbuf.reserve(read_cap);
            }
            let spare = rbuf.capacity() - rbuf.len();
            tokio::select! {
                biased;
                _ = close.cancelled() => break,
                r = rd.read_buf(&mut rbuf) => match r {
                    Ok(0) => {
                        self.handle.close_with(CloseReason::ClientClosed);
                        break;
                    }
                    Ok(n) => {
                        if n >= spare && read_cap < MAX_READ {
                            read_cap *= 2;
                        } else if n < read_cap / 4 && read_cap > MIN_READ {
                            read_cap /= 2;
                        }
                        if !self.process(&mut rbuf).await {
                            break;
                        }
                    }
                    Err(_) => {
                        self.handle.close_with(CloseReason::ReadError);
                        break;
                    }
                },
                _ = ping.tick() => {
                    if !self.on_ping_timer() {
                        break;
                    }
                }
                _ = &mut auth_deadline, if auth_required && !self.connected => {
                    self.send_err(&ProtoError::AuthTimeout);
                    self.handle.close_with(CloseReason::AuthTimeout);
                    break;
                }
            }
        }
    }

    /// Handles every complete op in `rbuf`; false when the connection must close.
    async fn process(&mut self, rbuf: &mut BytesMut) -> bool {
        self.handle.touch();
        self.active_since_ping = true;
        let mut pos = 0;
        let mut in_msgs = 0u64;
        let mut in_bytes = 0u64;
        let mut keep = true;
        loop {
            let parsed = parse_client_op(&rbuf[pos..], &self.limits);
            let next = match parsed {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Op(op, n)) => {
                    pos += n;
                    if let ClientOp::Pub { payload, .. } = &op {
                        in_msgs += 1;
                        in_bytes += payload.len() as u64;
                    } else if let ClientOp::HPub {
                        headers, payload, ..
                    } = &op
                    {
                        in_msgs += 1;
                        in_bytes += (headers.len() + payload.len()) as u64;
                    }
                    self.handle_op(op)
                }
                Err(e) => {
                    self.fail(&e);
                    keep = false;
                    break;
                }
            };
            match next {
                Next::Continue => {}
                Next::Close => {
                    keep = false;
                    break;
                }
                Next::Authenticate(ci) => {
                    if !self.authenticate(*ci).await {
                        keep = false;
                        break;
                    }
                }
            }
        }
        rbuf.advance(pos);
        self.flush.flush();
        self.handle.stats.add_in(in_msgs, in_bytes);
        self.server.stats.msgs.add_in(in_msgs, in_bytes);
        self.account.stats.add_in(in_msgs, in_bytes);
        keep
    }

    fn handle_op(&mut self, op: ClientOp<'_>) -> Next {
        if !self.connected && self.server.auth.required() && !matches!(op, ClientOp::Connect(_)) {
            self.fail(&ProtoError::AuthViolation);
            return Next::Close;
        }
        match op {
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => self.publish(subject, reply, None, payload),
            ClientOp::HPub {
                subject,
                reply,
                headers,
                payload,
            } => {
                if !self.headers {
                    self.fail(&ProtoError::CloseSilently("HPUB without headers support"));
                    return Next::Close;
                }
                self.publish(subject, reply, Some(headers), payload)
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid),
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(sid, max);
                self.ok();
                Next::Continue
            }
            ClientOp::Ping => {
                self.push_own(encode::PONG);
                Next::Continue
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                if let Some(t) = self.ping_sent_at.take() {
                    self.handle.meta.lock().rtt = Some(t.elapsed());
                }
                Next::Continue
            }
            ClientOp::Connect(json) => match ConnectInfo::parse(json) {
                Some(ci) => Next::Authenticate(Box::new(ci)),
                None => {
                    self.fail(&ProtoError::CloseSilently("invalid CONNECT JSON"));
                    Next::Close
                }
            },
            ClientOp::Ok | ClientOp::Info => Next::Continue,
            ClientOp::Err => {
                self.fail(&ProtoError::CloseSilently("client sent -ERR"));
                Next::Close
            }
        }
    }

    /// Applies a CONNECT: protocol checks, credentials, account binding.
    async fn authenticate(&mut self, ci: ConnectInfo) -> bool {
        if let Some(p) = ci.protocol {
            if !(0..=1).contains(&p) {
                self.fail(&ProtoError::InvalidProtocol);
                return false;
            }
        }
        if ci.no_responders && !ci.headers {
            self.fail(&ProtoError::NoRespondersNeedsHeaders);
            return false;
        }
        if ci.account.is_some() || ci.new_account.is_some() {
            self.fail(&ProtoError::AuthViolation);
            return false;
        }
        let auth = self.server.auth.clone();
        let outcome: Option<AuthOutcome> = if auth.is_slow() {
            let ci2 = ci.clone();
            let nonce = self.nonce.clone();
            tokio::task::spawn_blocking(move || {
                auth.authenticate_with_nonce(&ci2, nonce.as_deref())
            })
            .await
            .ok()
            .flatten()
        } else {
            auth.authenticate_with_nonce(&ci, self.nonce.as_deref())
        };
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let user = ci.user.as_deref().unwrap_or("");
                info!(user, "authentication error");
                self.fail(&ProtoError::AuthViolation);
                return false;
            }
        };
        let account = match self.server.accounts.get(&outcome.account) {
            Some(a) => a.clone(),
            None => {
                self.fail(&ProtoError::AuthViolation);
                return false;
            }
        };
        if !Arc::ptr_eq(&account, &self.account) {
            // Subscriptions made before CONNECT (no-auth servers only) stay where they were
            // made; a new account starts empty.
            self.remove_all_subs();
            self.account = account.clone();
            *self.handle.account.lock() = account;
            self.cache.clear();
            self.cache_genid = u64::MAX;
        }
        if let Some(rp) = outcome.permissions.as_ref().and_then(|p| p.responses()) {
            let t = self.handle.replies.get_or_init(|| ReplyTracker::new(rp));
            t.configure(rp);
        }
        self.permissions = outcome.permissions;
        self.verbose = ci.verbose;
        self.pedantic = ci.pedantic;
        self.echo = ci.echo;
        self.headers = ci.headers && !self.server.config.no_header_support;
        self.no_responders = ci.no_responders;
        self.handle.echo.store(self.echo, Ordering::Relaxed);
        self.handle.headers.store(self.headers, Ordering::Relaxed);
        {
            let mut m = self.handle.meta.lock();
            m.name = ci.name.unwrap_or_default();
            m.lang = ci.lang.unwrap_or_default();
            m.version = ci.version.unwrap_or_default();
            m.user = outcome.user;
            m.protocol = ci.protocol.unwrap_or(0);
        }
        self.connected = true;
        self.ok();
        self.flush_own();
        true
    }

    fn publish(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        hdrs: Option<&[u8]>,
        payload: &[u8],
    ) -> Next {
        let subj = match std::str::from_utf8(subject) {
            Ok(s) => s,
            Err(_) => {
                self.send_err(&ProtoError::InvalidPublishSubject);
                return Next::Continue;
            }
        };
        if self.pedantic && !subject::is_valid_literal_subject(subj) {
            self.send_err(&ProtoError::InvalidPublishSubject);
            return Next::Continue;
        }
        if let Some(p) = &self.permissions {
            if !p.can_publish_with(subj, self.handle.replies.get()) {
                self.send_err(&ProtoError::PubPermission(subj.to_string()));
                return Next::Continue;
            }
        }
        // nats-server acknowledges a verbose PUB before delivering it.
        self.ok();
        let result = self.lookup(subj);
        let msg = Message {
            subject,
            reply,
            headers: hdrs,
            payload,
        };
        let mut ctx = DeliveryCtx {
            stats: &self.server.stats,
            flush: &mut self.flush,
            publisher: Some((self.handle.cid, self.echo)),
            out_msgs: 0,
            out_bytes: 0,
            deliver: None,
        };
        router::deliver(&result, &msg, &mut ctx);
        let (om, ob) = (ctx.out_msgs, ctx.out_bytes);
        self.server.stats.msgs.add_out(om, ob);
        self.account.stats.add_out(om, ob);
        if result.is_empty() && self.no_responders {
            if let Some(r) = reply {
                self.no_responders_reply(subject, r);
            }
        }
        Next::Continue
    }

    /// Sends the `503` status (naming `subject`) to the publisher's own subscription
    /// on `reply`.
    fn no_responders_reply(&mut self, subject: &[u8], reply: &[u8]) {
        let Ok(r) = std::str::from_utf8(reply) else {
            return;
        };
        if !subject::is_valid_literal_subject(r) {
            return;
        }
        let result = self.lookup(r);
        let cid = self.handle.cid;
        let own = result
            .plain
            .iter()
            .chain(result.queues.iter().flat_map(|q| q.members.iter()))
            .find(|s| s.client.cid == cid)
            .cloned();
        if let Some(sub) = own {
            let mut status = Vec::new();
            headers::no_responders(&mut status, subject);
            let _ = self
                .handle
                .out
                .push(|b| encode::hmsg(b, reply, &sub.sid, None, &status, b""));
            self.flush.add(&self.handle);
        }
    }

    fn subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Next {
        let subj = match std::str::from_utf8(subject) {
            Ok(s) if subject::is_valid_subject(s) => s,
            _ => {
                self.send_err(&ProtoError::InvalidSubject);
                return Next::Continue;
            }
        };
        let queue = match queue.map(std::str::from_utf8) {
            None => None,
            Some(Ok(q)) if subject::is_valid_queue(q) => Some(q),
            Some(_) => {
                self.send_err(&ProtoError::InvalidSubject);
                return Next::Continue;
            }
        };
        if let Some(p) = &self.permissions {
            if !p.can_subscribe(subj, queue) {
                let e = match queue {
                    Some(q) => ProtoError::SubQueuePermission(subj.to_string(), q.to_string()),
                    None => ProtoError::SubPermission(subj.to_string()),
                };
                self.send_err(&e);
                return Next::Continue;
            }
        }
        let max_subs = self.server.config.max_subscriptions;
        {
            let subs = self.handle.subs.lock();
            if subs.contains_key(sid) {
                drop(subs);
                self.ok();
                return Next::Continue;
            }
            if max_subs > 0 && subs.len() >= max_subs {
                drop(subs);
                self.send_err(&ProtoError::MaxSubscriptions);
                return Next::Continue;
            }
        }
        let sub = Arc::new(Subscription::new(self.handle.clone(), subj, queue, sid));
        if self
            .account
            .sublist
            .insert(subj, queue, SubRef(sub.clone()))
            .is_err()
        {
            self.send_err(&ProtoError::InvalidSubject);
            return Next::Continue;
        }
        self.handle.subs.lock().insert(sid.into(), sub);
        self.account.interest.add(&self.account.name, subj, queue);
        self.ok();
        Next::Continue
    }

    fn unsubscribe(&mut self, sid: &[u8], max: Option<u64>) {
        let sub = match self.handle.subs.lock().get(sid) {
            Some(s) => s.clone(),
            None => return,
        };
        if let Some(m) = max {
            if m > 0 && sub.delivered.load(Ordering::Acquire) < m {
                sub.max.store(m, Ordering::Release);
                return;
            }
        }
        router::remove_subscription(&SubRef(sub));
    }

    fn lookup(&mut self, subj: &str) -> Arc<MatchResult<SubRef>> {
        let g = self.account.sublist.genid();
        if g != self.cache_genid {
            self.cache.clear();
            self.cache_genid = g;
        }
        if let Some(r) = self.cache.get(subj.as_bytes()) {
            return r.clone();
        }
        let r = self.account.sublist.matches(subj);
        if self.cache.len() >= MATCH_CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(subj.as_bytes().into(), r.clone());
        r
    }

    fn remove_all_subs(&mut self) {
        let subs: Vec<_> = self.handle.subs.lock().values().cloned().collect();
        for s in subs {
            router::remove_subscription(&SubRef(s));
        }
    }

    /// Server keep-alive: sends PING, or closes a connection that stopped answering.
    fn on_ping_timer(&mut self) -> bool {
        if self.pings_out + 1 > self.server.config.ping_max {
            self.send_err(&ProtoError::StaleConnection);
            self.handle.close_with(CloseReason::StaleConnection);
            let name = self.handle.meta.lock().name.clone();
            debug!(name = %name, "stale client connection closed");
            return false;
        }
        let measured = self.handle.meta.lock().rtt.is_some();
        if self.active_since_ping && measured && self.pings_out == 0 {
            self.active_since_ping = false;
            return true;
        }
        self.active_since_ping = false;
        self.pings_out += 1;
        self.ping_sent_at = Some(Instant::now());
        self.push_own(encode::PING);
        self.flush_own();
        true
    }

    fn ok(&mut self) {
        if self.verbose {
            self.push_own(encode::OK);
        }
    }

    fn push_own(&mut self, bytes: &[u8]) {
        let _ = self.handle.out.push(|b| b.extend_from_slice(bytes));
        self.flush.add(&self.handle);
    }

    fn flush_own(&mut self) {
        self.flush.flush();
    }

    fn send_err(&mut self, e: &ProtoError) {
        let text = e.to_string();
        let _ = self.handle.out.push(|b| encode::err(b, &text));
        self.flush.add(&self.handle);
    }

    /// Reports a protocol error; marks the connection closing if the error closes it.
    fn fail(&mut self, e: &ProtoError) {
        if e.sends_err() {
            self.send_err(e);
        }
        if e.closes_connection() {
            let reason = match e {
                ProtoError::AuthViolation => CloseReason::AuthViolation,
                ProtoError::MaxPayload => CloseReason::MaxPayload,
                ProtoError::MaxControlLine => CloseReason::MaxControlLine,
                _ => CloseReason::ProtocolViolation,
            };
            self.flush_own();
            self.handle.close_with(reason);
        }
    }
}
