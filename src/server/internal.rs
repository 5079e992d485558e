//! Services inside the server subscribe and publish like clients: an internal client
//! receives its messages on a bounded channel, and [`ServerShared::publish`] routes a
//! server-originated message exactly as a client's PUB is routed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::sublist::SublistError;

use super::account::Account;
use super::client::{ClientHandle, InternalSink};
use super::outbound::FlushSet;
use super::router::{self, DeliveryCtx, Message};
use super::subscription::{SubRef, Subscription};
use super::ServerShared;

impl ServerShared {
    /// Creates an internal client in `account` whose deliveries go to `sink`.
    pub fn internal_client(&self, account: &Arc<Account>, sink: InternalSink) -> Arc<ClientHandle> {
        let cid = self.next_cid.fetch_add(1, Ordering::Relaxed);
        Arc::new(ClientHandle::new_internal(
            cid,
            account.clone(),
            sink,
            self.shutdown.child_token(),
        ))
    }

    /// Subscribes an internal client; `sid` identifies the subscription in deliveries.
    pub fn subscribe_internal(
        &self,
        client: &Arc<ClientHandle>,
        subject: &str,
        queue: Option<&str>,
        sid: &str,
    ) -> Result<Arc<Subscription>, SublistError> {
        let sub = Arc::new(Subscription::new(
            client.clone(),
            subject,
            queue,
            sid.as_bytes(),
        ));
        client
            .account()
            .sublist
            .insert(subject, queue, SubRef(sub.clone()))?;
        client
            .subs
            .lock()
            .insert(sid.as_bytes().into(), sub.clone());
        let account = client.account();
        account.interest.add(&account.name, subject, queue);
        Ok(sub)
    }

    /// Removes one internal subscription.
    pub fn unsubscribe_internal(&self, sub: &Arc<Subscription>) {
        router::remove_subscription(&SubRef(sub.clone()));
    }

    /// Publishes a message that originates in the server (API replies, deliveries of
    /// stored messages, advisories). Returns whether any subscription matched.
    pub fn publish(&self, account: &Account, msg: &Message<'_>) -> bool {
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        self.publish_routed(account, subject, None, msg)
    }

    /// Delivers `msg` to the subscribers of `to` (a push consumer's deliver subject or
    /// a pull request's inbox) while showing `msg.subject` (the stored message's
    /// subject), as nats-server does for JetStream deliveries.
    pub fn publish_to(&self, account: &Account, to: &str, msg: &Message<'_>) -> bool {
        self.publish_routed(account, to, Some(to.as_bytes()), msg)
    }

    fn publish_routed(
        &self,
        account: &Account,
        subject: &str,
        deliver: Option<&[u8]>,
        msg: &Message<'_>,
    ) -> bool {
        let result = account.sublist.matches(subject);
        let mut flush: FlushSet<Arc<ClientHandle>> = FlushSet::new();
        let mut ctx = DeliveryCtx {
            stats: &self.stats,
            flush: &mut flush,
            publisher: None,
            out_msgs: 0,
            out_bytes: 0,
            deliver,
        };
        router::deliver(&result, msg, &mut ctx);
        let (m, b) = (ctx.out_msgs, ctx.out_bytes);
        flush.flush();
        self.stats.msgs.add_out(m, b);
        account.stats.add_out(m, b);
        !result.is_empty()
    }
}
