//! `$JS.API.>` request handling for one account: routing by subject, request parsing,
//! and the JSON responses (each with its `type`). Stream changes go through
//! [`super::JetStream`] (create/update/delete) or the stream's `apply` (purge, delete).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::server::account::Account;
use crate::server::client::InternalMsg;
use crate::server::router::Message;
use crate::server::ServerShared;

use super::config::StreamConfig;
use super::errors::ApiError;
use super::info::{self, error_response, typed, InfoOpts};
use super::ops::{Op, OpResult};
use super::stream::GetRequest;
use super::JetStream;

/// Page size of STREAM.NAMES.
const NAMES_LIMIT: usize = 1024;
/// Page size of STREAM.LIST.
const LIST_LIMIT: usize = 256;

/// Serves the API of one account until its channel closes or the server stops.
pub async fn serve(
    server: Arc<ServerShared>,
    js: Arc<JetStream>,
    account: Arc<Account>,
    mut rx: mpsc::Receiver<InternalMsg>,
) {
    loop {
        let m = tokio::select! {
            _ = server.shutdown.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        let Some(reply) = m.reply.clone() else {
            continue;
        };
        let Some(resp) = handle(&server, &js, &account, &m).await else {
            continue;
        };
        js.count_api(resp.get("error").is_some());
        let body = serde_json::to_vec(&resp).unwrap_or_default();
        server.publish(
            &account,
            &Message {
                subject: reply.as_bytes(),
                reply: None,
                headers: None,
                payload: &body,
            },
        );
    }
}

/// Serves an account that has no JetStream: every request gets 10039.
pub async fn serve_disabled(
    server: Arc<ServerShared>,
    account: Arc<Account>,
    mut rx: mpsc::Receiver<InternalMsg>,
) {
    loop {
        let m = tokio::select! {
            _ = server.shutdown.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        let Some(reply) = m.reply else { continue };
        let domain = server
            .config
            .jetstream
            .as_ref()
            .and_then(|j| j.domain.as_deref());
        let kind = response_type(api_rest(&m.subject, domain).unwrap_or(""));
        let body = serde_json::to_vec(&error_response(kind, &ApiError::not_enabled_for_account()))
            .unwrap_or_default();
        server.publish(
            &account,
            &Message {
                subject: reply.as_bytes(),
                reply: None,
                headers: None,
                payload: &body,
            },
        );
    }
}

/// The part of an API subject after `$JS.API.` or, with a JetStream domain, after
/// `$JS.<domain>.API.` (the two are the same API).
pub fn api_rest<'a>(subject: &'a str, domain: Option<&str>) -> Option<&'a str> {
    if let Some(rest) = subject.strip_prefix("$JS.API.") {
        return Some(rest);
    }
    let d = domain?;
    subject
        .strip_prefix("$JS.")?
        .strip_prefix(d)?
        .strip_prefix(".API.")
}

/// The response `type` suffix for an API subject (without `$JS.API.`).
fn response_type(rest: &str) -> &'static str {
    let mut t = rest.split('.');
    match (t.next(), t.next(), t.next()) {
        (Some("INFO"), None, _) => "account_info_response",
        (Some("STREAM"), Some("CREATE"), _) => "stream_create_response",
        (Some("STREAM"), Some("UPDATE"), _) => "stream_update_response",
        (Some("STREAM"), Some("DELETE"), _) => "stream_delete_response",
        (Some("STREAM"), Some("INFO"), _) => "stream_info_response",
        (Some("STREAM"), Some("NAMES"), _) => "stream_names_response",
        (Some("STREAM"), Some("LIST"), _) => "stream_list_response",
        (Some("STREAM"), Some("PURGE"), _) => "stream_purge_response",
        (Some("STREAM"), Some("MSG"), Some("GET")) => "stream_msg_get_response",
        (Some("STREAM"), Some("MSG"), Some("DELETE")) => "stream_msg_delete_response",
        (Some("CONSUMER"), Some("CREATE" | "DURABLE"), _) => "consumer_create_response",
        (Some("CONSUMER"), Some("INFO"), _) => "consumer_info_response",
        (Some("CONSUMER"), Some("NAMES"), _) => "consumer_names_response",
        (Some("CONSUMER"), Some("LIST"), _) => "consumer_list_response",
        (Some("CONSUMER"), Some("DELETE"), _) => "consumer_delete_response",
        _ => "api_response",
    }
}

/// Parses an optional JSON body (empty = defaults).
fn parse<T: for<'de> Deserialize<'de> + Default>(payload: &[u8]) -> Result<T, ApiError> {
    let trimmed = payload.trim_ascii();
    if trimmed.is_empty() || trimmed == b"\"\"" || trimmed == b"null" || trimmed == b"{}" {
        return Ok(T::default());
    }
    serde_json::from_slice(trimmed).map_err(|e| ApiError::invalid_json(&e.to_string()))
}

#[derive(Debug, Default, Deserialize)]
struct InfoRequest {
    #[serde(default)]
    subjects_filter: Option<String>,
    #[serde(default)]
    deleted_details: bool,
    #[serde(default)]
    offset: usize,
}

#[derive(Debug, Default, Deserialize)]
struct ListRequest {
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    subject: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PurgeRequest {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    keep: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct DeleteMsgRequest {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    no_erase: bool,
}

async fn handle(
    server: &Arc<ServerShared>,
    js: &Arc<JetStream>,
    account: &Arc<Account>,
    m: &InternalMsg,
) -> Option<Value> {
    let rest = api_rest(&m.subject, js.config.domain.as_deref())?;
    let kind = response_type(rest);
    let tokens: Vec<&str> = rest.split('.').collect();
    if !answers_here(js, account, &tokens) {
        return None;
    }
    let res = match tokens.as_slice() {
        ["INFO"] => Ok(js.account_info(server, account)),
        ["STREAM", "CREATE", name] => match parse_config(&m.payload, name) {
            Ok(cfg) => match js
                .create_stream(server, account, cfg, m.reply.clone())
                .await
            {
                Ok(super::streams_api::Created::Now(v)) => Ok(v),
                Ok(super::streams_api::Created::ByLeader) => return None,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        ["STREAM", "UPDATE", name] => match parse_config(&m.payload, name) {
            Ok(cfg) => js.update_stream(server, account, cfg).await,
            Err(e) => Err(e),
        },
        ["STREAM", "DELETE", name] => js
            .delete_stream(server, account, name)
            .await
            .map(|()| json!({ "success": true })),
        ["STREAM", "INFO", name] => parse::<InfoRequest>(&m.payload).and_then(|r| {
            let s = js
                .stream(account, name)
                .ok_or_else(ApiError::stream_not_found)?;
            let opts = InfoOpts {
                subjects_filter: r.subjects_filter,
                deleted_details: r.deleted_details,
                offset: r.offset,
            };
            let mut v = js.stream_info(&s, &opts);
            let core = s.core.lock();
            let (total, offset, limit) = info::subjects_paging(&core.state, &opts);
            if let Value::Object(o) = &mut v {
                o.insert("total".into(), json!(total));
                o.insert("offset".into(), json!(offset));
                o.insert("limit".into(), json!(limit));
            }
            Ok(v)
        }),
        ["STREAM", "NAMES"] => parse::<ListRequest>(&m.payload).map(|r| {
            let names = js.stream_names(account, r.subject.as_deref());
            let total = names.len();
            let page: Vec<String> = names.into_iter().skip(r.offset).take(NAMES_LIMIT).collect();
            json!({
                "total": total,
                "offset": r.offset,
                "limit": NAMES_LIMIT,
                "streams": if page.is_empty() { Value::Null } else { json!(page) },
            })
        }),
        ["STREAM", "LIST"] => parse::<ListRequest>(&m.payload).map(|r| {
            let names = js.stream_names(account, r.subject.as_deref());
            let total = names.len();
            let infos: Vec<Value> = names
                .into_iter()
                .skip(r.offset)
                .take(LIST_LIMIT)
                .filter_map(|n| js.meta.get(&account.name, &n))
                .map(|a| js.info_of(server, &a, &InfoOpts::default()))
                .collect();
            json!({
                "total": total,
                "offset": r.offset,
                "limit": LIST_LIMIT,
                "streams": infos,
            })
        }),
        ["STREAM", "PURGE", name] => match parse::<PurgeRequest>(&m.payload) {
            Ok(r) => match js.stream(account, name) {
                None => Err(ApiError::stream_not_found()),
                Some(s) => {
                    let res = s
                        .propose_one(Op::Purge {
                            filter: r.filter,
                            seq: r.seq,
                            keep: r.keep,
                        })
                        .await;
                    match res {
                        Ok(OpResult::Purged { purged }) => {
                            Ok(json!({ "success": true, "purged": purged }))
                        }
                        Ok(_) => Err(ApiError::bad_request()),
                        Err(e) => Err(e),
                    }
                }
            },
            Err(e) => Err(e),
        },
        ["STREAM", "MSG", "GET", name] => parse::<GetRequest>(&m.payload).and_then(|r| {
            let s = js
                .stream(account, name)
                .ok_or_else(ApiError::stream_not_found)?;
            if !r.valid() {
                return Err(ApiError::bad_request());
            }
            let (seq, msg) = s.get_msg(&r)?;
            Ok(info::stored_msg_json(seq, &msg))
        }),
        ["STREAM", "MSG", "DELETE", name] => match parse::<DeleteMsgRequest>(&m.payload) {
            Ok(r) => match js.stream(account, name) {
                None => Err(ApiError::stream_not_found()),
                Some(s) => match s
                    .propose_one(Op::DeleteMsg {
                        seq: r.seq,
                        no_erase: r.no_erase,
                    })
                    .await
                {
                    Ok(_) => scrub_erased(&s, r.seq, r.no_erase)
                        .await
                        .map(|()| json!({ "success": true })),
                    Err(e) => Err(e),
                },
            },
            Err(e) => Err(e),
        },
        ["CONSUMER", rest @ ..] => {
            super::consumer::api::handle(server, js, account, rest, m).await?
        }
        ["DIRECT", ..] => return None,
        _ => return None,
    };
    Some(match res {
        Ok(v) => typed(kind, v),
        Err(e) => error_response(kind, &e),
    })
}

/// The stream a request is about, when it is answered by that stream's leader.
fn stream_of<'a>(tokens: &[&'a str]) -> Option<&'a str> {
    match tokens {
        ["STREAM", "INFO" | "UPDATE" | "PURGE", name] => Some(name),
        ["STREAM", "MSG", "GET" | "DELETE", name] => Some(name),
        ["CONSUMER", "DURABLE", "CREATE", name, ..] => Some(name),
        ["CONSUMER", "MSG", "NEXT", name, ..] => Some(name),
        ["CONSUMER", "CREATE" | "INFO" | "DELETE" | "NAMES" | "LIST", name, ..] => Some(name),
        _ => None,
    }
}

/// Whether this node answers the request: exactly one node of the cluster does —
/// the stream's leader for a stream's requests, the meta leader for the rest (and
/// for a stream that does not exist).
fn answers_here(js: &JetStream, account: &Account, tokens: &[&str]) -> bool {
    match stream_of(tokens) {
        Some(name) => match js.stream(account, name) {
            Some(s) => s.is_leader(),
            None => js.meta.get(&account.name, name).is_none() && js.is_meta_leader(),
        },
        None => js.is_meta_leader(),
    }
}

/// After a secure erase from file storage, removes the old record from the database
/// files too (off the runtime: it flushes and compacts).
async fn scrub_erased(
    s: &Arc<super::stream::Stream>,
    seq: u64,
    no_erase: bool,
) -> Result<(), ApiError> {
    if no_erase || s.storage() != super::config::Storage::File {
        return Ok(());
    }
    let (db, id) = (s.db.clone(), s.id);
    tokio::task::spawn_blocking(move || super::file_store::FileStore::scrub(&db, id, seq))
        .await
        .map_err(|e| ApiError::msg_delete_failed(e.to_string()))?
        .map_err(|e| ApiError::msg_delete_failed(e.to_string()))
}

/// Parses a create/update body; the name in the subject must match the body's.
fn parse_config(payload: &[u8], name: &str) -> Result<StreamConfig, ApiError> {
    let trimmed = payload.trim_ascii();
    if trimmed.is_empty() {
        return Err(ApiError::invalid_json("empty request"));
    }
    let mut cfg: StreamConfig =
        serde_json::from_slice(trimmed).map_err(|e| ApiError::invalid_json(&e.to_string()))?;
    if cfg.name.is_empty() {
        cfg.name = name.to_string();
    }
    if cfg.name != name {
        return Err(ApiError::name_mismatch());
    }
    Ok(cfg)
}
