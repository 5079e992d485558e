//! `$JS.API.CONSUMER.*` requests: CREATE (legacy, named and named-with-filter forms),
//! DURABLE.CREATE, INFO, DELETE, NAMES, LIST, and MSG.NEXT arriving through the API
//! service (domain-prefixed subjects). Parses and checks requests, then hands them
//! to the stream's consumer registry.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::jetstream::errors::ApiError;
use crate::jetstream::JetStream;
use crate::server::account::Account;
use crate::server::client::InternalMsg;
use crate::server::ServerShared;

use super::config::{valid_name, CreateRequest};
use super::registry::Action;

/// Page size of CONSUMER.NAMES.
const NAMES_LIMIT: usize = 1024;
/// Page size of CONSUMER.LIST.
const LIST_LIMIT: usize = 256;

#[derive(Debug, Default, Deserialize)]
struct ListRequest {
    #[serde(default)]
    offset: usize,
}

/// Handles `$JS.API.CONSUMER.<rest>`; `None` when nothing is to be answered (a pull
/// request handed to its consumer).
pub async fn handle(
    server: &Arc<ServerShared>,
    js: &Arc<JetStream>,
    account: &Arc<Account>,
    rest: &[&str],
    m: &InternalMsg,
) -> Option<Result<Value, ApiError>> {
    Some(match rest {
        ["CREATE", stream] => create(server, js, account, stream, None, None, m).await,
        ["CREATE", stream, name] => create(server, js, account, stream, Some(name), None, m).await,
        ["CREATE", stream, name, filter @ ..] => {
            let filter = filter.join(".");
            create(server, js, account, stream, Some(name), Some(filter), m).await
        }
        ["DURABLE", "CREATE", stream, name] => {
            durable_create(server, js, account, stream, name, m).await
        }
        ["INFO", stream, name] => js
            .stream(account, stream)
            .ok_or_else(ApiError::stream_not_found)
            .and_then(|s| s.consumer(name).ok_or_else(ApiError::consumer_not_found))
            .map(|c| c.info(&server.name)),
        ["DELETE", stream, name] => match js.stream(account, stream) {
            None => Err(ApiError::stream_not_found()),
            Some(s) => {
                if s.delete_consumer_committed(server, name).await {
                    match s.sync().await {
                        Ok(()) => Ok(json!({ "success": true })),
                        Err(e) => Err(e),
                    }
                } else {
                    Err(ApiError::consumer_not_found())
                }
            }
        },
        ["NAMES", stream] => parse_list(&m.payload).and_then(|r| {
            let s = js
                .stream(account, stream)
                .ok_or_else(ApiError::stream_not_found)?;
            let names: Vec<String> = s.consumer_list().iter().map(|c| c.name.clone()).collect();
            Ok(json!({
                "total": names.len(),
                "offset": r.offset,
                "limit": NAMES_LIMIT,
                "consumers": names.into_iter().skip(r.offset).take(NAMES_LIMIT).collect::<Vec<_>>(),
            }))
        }),
        ["LIST", stream] => parse_list(&m.payload).and_then(|r| {
            let s = js
                .stream(account, stream)
                .ok_or_else(ApiError::stream_not_found)?;
            let all = s.consumer_list();
            let infos: Vec<Value> = all
                .iter()
                .skip(r.offset)
                .take(LIST_LIMIT)
                .map(|c| c.info(&server.name))
                .collect();
            Ok(json!({
                "total": all.len(),
                "offset": r.offset,
                "limit": LIST_LIMIT,
                "consumers": infos,
                "missing": Value::Null,
            }))
        }),
        ["MSG", "NEXT", stream, name] => {
            // Only requests that came in on a domain-prefixed subject reach here; the
            // plain subject goes straight to the consumer's own subscription.
            if m.subject.starts_with("$JS.API.") {
                return None;
            }
            if let Some(c) = js.stream(account, stream).and_then(|s| s.consumer(name)) {
                let mut fwd = m.clone();
                fwd.sid = bytes::Bytes::from_static(super::runner::SID_NEXT.as_bytes());
                let _ = c.tx.try_send(fwd);
            }
            return None;
        }
        _ => Err(ApiError::bad_request()),
    })
}

fn parse_list(payload: &[u8]) -> Result<ListRequest, ApiError> {
    let t = payload.trim_ascii();
    if t.is_empty() || t == b"{}" || t == b"null" {
        return Ok(ListRequest::default());
    }
    serde_json::from_slice(t).map_err(|e| ApiError::invalid_json(&e.to_string()))
}

fn parse_create(payload: &[u8]) -> Result<CreateRequest, ApiError> {
    let t = payload.trim_ascii();
    if t.is_empty() {
        return Err(ApiError::consumer_config_required());
    }
    serde_json::from_slice(t).map_err(|e| ApiError::invalid_json(&e.to_string()))
}

/// The account may hold one more consumer.
fn account_room(server: &ServerShared, js: &JetStream, account: &Account) -> bool {
    let max = js.account_max_consumers(server, account);
    max < 0 || (js.consumer_total(account) as i64) < max
}

async fn durable_create(
    server: &Arc<ServerShared>,
    js: &Arc<JetStream>,
    account: &Arc<Account>,
    stream: &str,
    name: &str,
    m: &InternalMsg,
) -> Result<Value, ApiError> {
    let req = parse_create(&m.payload)?;
    let cfg = req
        .config
        .clone()
        .ok_or_else(ApiError::consumer_config_required)?;
    match cfg.durable_name.as_deref() {
        None | Some("") => return Err(ApiError::consumer_durable_not_set()),
        Some(d) if d != name => return Err(ApiError::consumer_durable_subject_mismatch()),
        _ => {}
    }
    finish_create(server, js, account, stream, name.to_string(), req).await
}

async fn create(
    server: &Arc<ServerShared>,
    js: &Arc<JetStream>,
    account: &Arc<Account>,
    stream: &str,
    name: Option<&str>,
    filter: Option<String>,
    m: &InternalMsg,
) -> Result<Value, ApiError> {
    let mut req = parse_create(&m.payload)?;
    let cfg = req
        .config
        .as_mut()
        .ok_or_else(ApiError::consumer_config_required)?;
    let name = match name {
        Some(n) => {
            if !valid_name(n) {
                return Err(ApiError::consumer_bad_durable_name());
            }
            for given in [&cfg.name, &cfg.durable_name].into_iter().flatten() {
                if !given.is_empty() && given != n {
                    return Err(ApiError::consumer_durable_subject_mismatch());
                }
            }
            if cfg.name.as_deref().unwrap_or("").is_empty() {
                cfg.name = Some(n.to_string());
            }
            n.to_string()
        }
        None => match cfg.consumer_name() {
            Some(n) => n.to_string(),
            None => crate::util::ids::token(8),
        },
    };
    if let Some(f) = filter {
        if !cfg.filter_subjects.is_empty() {
            return Err(ApiError::consumer_multiple_filters_not_allowed());
        }
        if cfg.filter_subject.as_deref().unwrap_or("") != f {
            return Err(ApiError::consumer_filter_mismatch());
        }
    }
    finish_create(server, js, account, stream, name, req).await
}

async fn finish_create(
    server: &Arc<ServerShared>,
    js: &Arc<JetStream>,
    account: &Arc<Account>,
    stream: &str,
    name: String,
    req: CreateRequest,
) -> Result<Value, ApiError> {
    if !req.stream_name.is_empty() && req.stream_name != stream {
        return Err(ApiError::name_mismatch());
    }
    let action = Action::parse(&req.action)?;
    let s = js
        .stream(account, stream)
        .ok_or_else(ApiError::stream_not_found)?;
    let cfg = req
        .config
        .ok_or_else(ApiError::consumer_config_required)?
        .normalize(&s.config())?;
    let room = account_room(server, js, account);
    let (c, _created) = s.create_consumer(server, name, cfg, action, room).await?;
    Ok(c.info(&server.name))
}
