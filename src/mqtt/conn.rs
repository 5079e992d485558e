//! One MQTT connection: CONNECT and authentication, then the loop that reads
//! packets, sends what the session's subscriber receives, redelivers
//! unacknowledged QoS 1/2 messages and enforces keep-alive; the will message on an
//! abnormal end.
//!
//! One task reads and writes: packets are handled in order and answers are written
//! before the next read, so no queue sits between the session and the socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, Instrument};

use crate::auth::Permissions;
use crate::protocol::ConnectInfo;
use crate::server::client::{ClientType, CloseReason, InternalMsg};
use crate::server::router::Message;
use crate::server::ServerShared;

use super::packet::{self, rc, Packet, Publish};
use super::retained::RetainedMsg;
use super::session::{self, Outgoing, Queued, Session};
use super::{topic, Mqtt};

/// Time allowed between the TCP accept and CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// Room for the topic and headers beyond `max_payload`.
const PACKET_SLACK: usize = 64 * 1024;

struct Conn<W> {
    server: Arc<ServerShared>,
    mqtt: Arc<Mqtt>,
    wr: W,
    out: Vec<u8>,
    session: Session,
    clean: bool,
    permissions: Option<Arc<Permissions>>,
    will: Option<(String, Bytes, u8, bool)>,
    ack_wait: Duration,
    max_inflight: usize,
}

pub async fn run<R, W>(
    server: Arc<ServerShared>,
    mqtt: Arc<Mqtt>,
    mut rd: R,
    wr: W,
    addr: SocketAddr,
    cid: u64,
) -> CloseReason
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let span = tracing::info_span!("mqtt", cid, remote = %addr);
    async move {
        let max = server.config.max_payload + PACKET_SLACK;
        let mut rbuf = BytesMut::with_capacity(4096);
        let mut wr = wr;
        // CONNECT first.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                match packet::parse(&rbuf, max) {
                    Ok(Some((Packet::Connect(c), n))) => return Ok((owned_connect(&c), n)),
                    Ok(Some(_)) => return Err("first packet is not CONNECT"),
                    Ok(None) => {}
                    Err(_) => return Err("malformed CONNECT"),
                }
                match rd.read_buf(&mut rbuf).await {
                    Ok(0) | Err(_) => return Err("closed before CONNECT"),
                    Ok(_) => {}
                }
            }
        })
        .await;
        let (c, used) = match first {
            Ok(Ok(x)) => x,
            Ok(Err(why)) => {
                debug!(why, "MQTT connection refused");
                return CloseReason::ProtocolViolation;
            }
            Err(_) => return CloseReason::AuthTimeout,
        };
        rbuf.advance(used);
        let mut out = Vec::new();
        if c.protocol_name != "MQTT" && c.protocol_name != "MQIsdp" {
            return CloseReason::ProtocolViolation;
        }
        if c.level != 4 {
            packet::connack(&mut out, false, rc::BAD_PROTOCOL);
            let _ = wr.write_all(&out).await;
            return CloseReason::ProtocolViolation;
        }
        if c.client_id.is_empty() && !c.clean_session {
            packet::connack(&mut out, false, rc::BAD_CLIENT_ID);
            let _ = wr.write_all(&out).await;
            return CloseReason::ProtocolViolation;
        }
        // Credentials: the same users and accounts as NATS clients.
        let ci = ConnectInfo {
            user: c.username.clone(),
            pass: c.password.clone(),
            ..ConnectInfo::default()
        };
        let auth = server.auth.clone();
        let outcome = if auth.is_slow() {
            tokio::task::spawn_blocking(move || auth.authenticate(&ci))
                .await
                .ok()
                .flatten()
        } else {
            auth.authenticate(&ci)
        };
        let Some(outcome) = outcome else {
            packet::connack(&mut out, false, rc::NOT_AUTHORIZED);
            let _ = wr.write_all(&out).await;
            return CloseReason::AuthViolation;
        };
        let Some(account) = server.accounts.get(&outcome.account).cloned() else {
            packet::connack(&mut out, false, rc::NOT_AUTHORIZED);
            let _ = wr.write_all(&out).await;
            return CloseReason::AuthViolation;
        };
        let client_id = if c.client_id.is_empty() {
            crate::util::ids::server_id()
        } else {
            c.client_id.clone()
        };
        if let Some(w) = &c.will {
            if topic::topic_to_subject(&w.0).is_err() {
                return CloseReason::ProtocolViolation;
            }
        }
        let token = server.shutdown.child_token();
        let stored = mqtt
            .sessions
            .claim(&account.name, &client_id, cid, token.clone())
            .await;
        let (session, present) = match stored {
            Some(s) if !c.clean_session => (s.resume(&server, addr, cid), true),
            Some(s) => {
                mqtt.sessions.drop_stored(s);
                (
                    Session::new(&server, &client_id, account.clone(), addr, cid),
                    false,
                )
            }
            None => (
                Session::new(&server, &client_id, account.clone(), addr, cid),
                false,
            ),
        };
        {
            let mut m = session.handle.meta.lock();
            m.client_type = ClientType::Mqtt;
            m.mqtt_client = Some(client_id.clone());
            m.user = outcome.user.clone();
            m.lang = "mqtt".into();
        }
        server.register_client(&session.handle);
        let mut conn = Conn {
            server: server.clone(),
            mqtt: mqtt.clone(),
            wr,
            out,
            session,
            clean: c.clean_session,
            permissions: outcome.permissions,
            will: c.will.clone(),
            ack_wait: mqtt.config.ack_wait,
            max_inflight: usize::from(mqtt.config.max_ack_pending),
        };
        packet::connack(&mut conn.out, present, rc::ACCEPTED);
        // A resumed session sends again what was in flight, then its backlog.
        conn.redeliver_older_than(Duration::ZERO);
        conn.fill_window();
        let reason = conn.serve(&mut rd, rbuf, c.keep_alive, &token).await;
        let handle = conn.session.handle.clone();
        // Anything but DISCONNECT (which cleared it) sends the will.
        if let Some((t, p, q, r)) = conn.will.take() {
            conn.publish_msg(&t, &p, q, r);
        }
        let _ = conn.flush().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), conn.wr.shutdown()).await;
        server.unregister_client(&handle, reason);
        // A kept session's subscriber stays subscribed, so messages keep arriving
        // for the next connection with this client ID.
        let keep = if conn.clean {
            conn.session.discard();
            None
        } else {
            Some(conn.session)
        };
        mqtt.sessions.release(&account.name, &client_id, cid, keep);
        debug!(reason = reason.as_str(), "MQTT connection closed");
        reason
    }
    .instrument(span)
    .await
}

/// CONNECT fields copied out of the read buffer.
struct OwnedConnect {
    protocol_name: String,
    level: u8,
    clean_session: bool,
    keep_alive: u16,
    client_id: String,
    will: Option<(String, Bytes, u8, bool)>,
    username: Option<String>,
    password: Option<String>,
}

fn owned_connect(c: &packet::Connect<'_>) -> OwnedConnect {
    OwnedConnect {
        protocol_name: c.protocol_name.to_string(),
        level: c.level,
        clean_session: c.clean_session,
        keep_alive: c.keep_alive,
        client_id: c.client_id.to_string(),
        will: c.will.as_ref().map(|w| {
            (
                w.topic.to_string(),
                Bytes::copy_from_slice(w.message),
                w.qos,
                w.retain,
            )
        }),
        username: c.username.map(str::to_string),
        password: c.password.map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

impl<W: AsyncWrite + Unpin> Conn<W> {
    async fn serve<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        mut rbuf: BytesMut,
        keep_alive: u16,
        token: &CancellationToken,
    ) -> CloseReason {
        let max = self.server.config.max_payload + PACKET_SLACK;
        // [MQTT-3.1.2-24]: one and a half times the keep-alive without a packet.
        let idle_limit =
            (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        let mut last_packet = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Handle every whole packet buffered.
            loop {
                match packet::parse(&rbuf, max) {
                    Ok(Some((p, n))) => {
                        let r = self.handle(p);
                        rbuf.advance(n);
                        if let Some(reason) = r {
                            return reason;
                        }
                        last_packet = Instant::now();
                        self.session.handle.touch();
                    }
                    Ok(None) => break,
                    Err(e) => {
                        debug!(error = %e, "MQTT protocol error");
                        return CloseReason::ProtocolViolation;
                    }
                }
            }
            if self.flush().await.is_err() {
                return CloseReason::WriteError;
            }
            if rbuf.capacity() - rbuf.len() < 1024 {
                rbuf.reserve(16 * 1024);
            }
            tokio::select! {
                biased;
                _ = token.cancelled() => {
                    return if self.server.shutdown.is_cancelled() {
                        CloseReason::ServerShutdown
                    } else {
                        CloseReason::ClientClosed
                    };
                }
                r = rd.read_buf(&mut rbuf) => match r {
                    Ok(0) => return CloseReason::ClientClosed,
                    Err(_) => return CloseReason::ReadError,
                    Ok(_) => {}
                },
                m = self.session.rx.recv() => {
                    if let Some(m) = m {
                        self.on_message(&m);
                        // Take what else is waiting, up to a batch.
                        for _ in 0..256 {
                            match self.session.rx.try_recv() {
                                Ok(m) => self.on_message(&m),
                                Err(_) => break,
                            }
                        }
                    }
                }
                _ = tick.tick() => {
                    if idle_limit.is_some_and(|l| last_packet.elapsed() > l) {
                        return CloseReason::StaleConnection;
                    }
                    self.redeliver();
                }
            }
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            let r = self.wr.write_all(&self.out).await;
            self.out.clear();
            if self.out.capacity() > 1024 * 1024 {
                self.out = Vec::new();
            }
            r?;
        }
        Ok(())
    }

    /// Handles one packet; `Some` closes the connection.
    fn handle(&mut self, p: Packet<'_>) -> Option<CloseReason> {
        match p {
            Packet::Connect(_) => return Some(CloseReason::ProtocolViolation),
            Packet::Publish(p) => return self.on_publish(&p),
            Packet::PubAck(id) => {
                if self.session.inflight.get(&id).is_some_and(|o| o.qos == 1) {
                    self.session.inflight.remove(&id);
                    self.fill_window();
                }
            }
            Packet::PubRec(id) => {
                if let Some(o) = self.session.inflight.get_mut(&id) {
                    o.released = true;
                    o.sent = Instant::now();
                }
                packet::pubrel(&mut self.out, id);
            }
            Packet::PubComp(id) => {
                self.session.inflight.remove(&id);
                self.fill_window();
            }
            Packet::PubRel(id) => {
                self.session.incoming_qos2.remove(&id);
                packet::pubcomp(&mut self.out, id);
            }
            Packet::Subscribe(id, filters) => self.on_subscribe(id, &filters),
            Packet::Unsubscribe(id, filters) => {
                for f in filters {
                    self.session.filters.remove(f);
                    session::unsubscribe_filter(&self.session.handle, f);
                }
                packet::unsuback(&mut self.out, id);
            }
            Packet::PingReq => packet::pingresp(&mut self.out),
            Packet::Disconnect => {
                self.will = None;
                return Some(CloseReason::ClientClosed);
            }
        }
        None
    }

    fn on_publish(&mut self, p: &Publish<'_>) -> Option<CloseReason> {
        if p.qos == 2 && self.mqtt.config.reject_qos2_publish {
            return Some(CloseReason::ProtocolViolation);
        }
        if topic::topic_to_subject(p.topic).is_err() {
            return Some(CloseReason::ProtocolViolation);
        }
        match p.qos {
            0 => {
                self.publish_msg(p.topic, p.payload, 0, p.retain);
            }
            1 => {
                self.publish_msg(p.topic, p.payload, 1, p.retain);
                packet::puback(&mut self.out, p.packet_id);
            }
            _ => {
                // Exactly once: a repeated PUBLISH before PUBREL is not routed again.
                if self.session.incoming_qos2.insert(p.packet_id) {
                    self.publish_msg(p.topic, p.payload, 2, p.retain);
                }
                packet::pubrec(&mut self.out, p.packet_id);
            }
        }
        None
    }

    /// Routes an MQTT publish to every subscriber (NATS and MQTT) of its subject.
    fn publish_msg(&mut self, topic_name: &str, payload: &[u8], qos: u8, retain: bool) {
        let Ok(subject) = topic::topic_to_subject(topic_name) else {
            return;
        };
        if let Some(p) = &self.permissions {
            if !p.can_publish(&subject) {
                debug!(subject, "MQTT publish not permitted");
                return;
            }
        }
        let account = self.session.account.clone();
        if retain {
            self.mqtt.retained.set(
                &account.name,
                RetainedMsg {
                    subject: subject.clone(),
                    topic: topic_name.to_string(),
                    qos,
                    payload: Bytes::copy_from_slice(payload),
                },
            );
        }
        // nats-server marks every MQTT-published message with its QoS, 0 included.
        let hdr = format!("NATS/1.0\r\n{}: {qos}\r\n\r\n", super::QOS_HEADER);
        let msg = Message {
            subject: subject.as_bytes(),
            reply: None,
            headers: Some(hdr.as_bytes()),
            payload,
        };
        let size = msg.size() as u64;
        self.session.handle.stats.add_in(1, size);
        self.server.stats.msgs.add_in(1, size);
        account.stats.add_in(1, size);
        self.server.publish(&account, &msg);
    }

    fn on_subscribe(&mut self, id: u16, filters: &[(&str, u8)]) {
        let mut granted = Vec::with_capacity(filters.len());
        let mut retained = Vec::new();
        for (f, q) in filters {
            let q = if *q == 2 && self.mqtt.config.downgrade_qos2_subscribe {
                1
            } else {
                *q
            };
            let Ok((subject, extra)) = topic::filter_to_subjects(f) else {
                granted.push(0x80);
                continue;
            };
            if let Some(p) = &self.permissions {
                if !p.can_subscribe(&subject, None) {
                    granted.push(0x80);
                    continue;
                }
            }
            if session::subscribe_filter(&self.server, &self.session.handle, f).is_err() {
                granted.push(0x80);
                continue;
            }
            self.session.filters.insert(f.to_string(), q);
            granted.push(q);
            let acct = &self.session.account.name;
            let mut found = self.mqtt.retained.matching(acct, &subject);
            if let Some(e) = extra {
                found.extend(self.mqtt.retained.matching(acct, &e));
            }
            retained.extend(found.into_iter().map(|m| Queued {
                topic: m.topic,
                payload: m.payload,
                qos: m.qos.min(q),
                retain: true,
            }));
        }
        packet::suback(&mut self.out, id, &granted);
        for m in retained {
            self.send(m);
        }
    }

    fn on_message(&mut self, m: &InternalMsg) {
        let sub_qos = self.session.qos_for(&m.subject);
        let q = session::queued_of(m, sub_qos);
        self.send(q);
    }

    /// Sends now, or queues when the in-flight window is full.
    fn send(&mut self, q: Queued) {
        if q.qos == 0 {
            packet::publish(
                &mut self.out,
                &Publish {
                    dup: false,
                    qos: 0,
                    retain: q.retain,
                    topic: &q.topic,
                    packet_id: 0,
                    payload: &q.payload,
                },
            );
            self.session.handle.stats.add_out(1, q.payload.len() as u64);
            return;
        }
        if self.session.inflight.len() >= self.max_inflight || !self.session.backlog.is_empty() {
            if self.session.backlog.len() < session::SINK_CAPACITY {
                self.session.backlog.push_back(q);
            }
            return;
        }
        let pid = self.session.alloc_pid();
        packet::publish(
            &mut self.out,
            &Publish {
                dup: false,
                qos: q.qos,
                retain: q.retain,
                topic: &q.topic,
                packet_id: pid,
                payload: &q.payload,
            },
        );
        self.session.handle.stats.add_out(1, q.payload.len() as u64);
        self.session.inflight.insert(
            pid,
            Outgoing {
                topic: q.topic,
                payload: q.payload,
                qos: q.qos,
                sent: Instant::now(),
                released: false,
            },
        );
    }

    /// Moves backlog messages into the in-flight window while there is room.
    fn fill_window(&mut self) {
        while self.session.inflight.len() < self.max_inflight {
            let Some(q) = self.session.backlog.pop_front() else {
                break;
            };
            if q.qos == 0 {
                self.send(q);
                continue;
            }
            let saved = std::mem::take(&mut self.session.backlog);
            self.send(q);
            self.session.backlog = saved;
        }
    }

    fn redeliver(&mut self) {
        self.redeliver_older_than(self.ack_wait);
    }

    /// Sends again (with DUP) every in-flight message sent `age` ago or earlier.
    fn redeliver_older_than(&mut self, age: Duration) {
        let now = Instant::now();
        for (pid, o) in self.session.inflight.iter_mut() {
            if now.duration_since(o.sent) < age {
                continue;
            }
            o.sent = now;
            if o.released {
                packet::pubrel(&mut self.out, *pid);
            } else {
                packet::publish(
                    &mut self.out,
                    &Publish {
                        dup: true,
                        qos: o.qos,
                        retain: false,
                        topic: &o.topic,
                        packet_id: *pid,
                        payload: &o.payload,
                    },
                );
            }
        }
    }
}
