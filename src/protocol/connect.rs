//! The `CONNECT` JSON a client sends.

use serde::Deserialize;

/// Fields of `CONNECT`. Missing fields take nats-server's defaults (verbose, pedantic and
/// echo default to true); `null` counts as missing; unknown fields are ignored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ConnectInfo {
    #[serde(deserialize_with = "null_true")]
    pub verbose: bool,
    #[serde(deserialize_with = "null_true")]
    pub pedantic: bool,
    #[serde(deserialize_with = "null_false")]
    pub tls_required: bool,
    pub auth_token: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: Option<i64>,
    #[serde(deserialize_with = "null_true")]
    pub echo: bool,
    #[serde(deserialize_with = "null_false")]
    pub headers: bool,
    #[serde(deserialize_with = "null_false")]
    pub no_responders: bool,
    pub account: Option<serde_json::Value>,
    pub new_account: Option<serde_json::Value>,
}

impl Default for ConnectInfo {
    fn default() -> Self {
        ConnectInfo {
            verbose: true,
            pedantic: true,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            nkey: None,
            sig: None,
            jwt: None,
            name: None,
            lang: None,
            version: None,
            protocol: None,
            echo: true,
            headers: false,
            no_responders: false,
            account: None,
            new_account: None,
        }
    }
}

fn null_true<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

fn null_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

impl ConnectInfo {
    /// Parses CONNECT JSON; `None` when it is not valid JSON of the right shape.
    pub fn parse(json: &[u8]) -> Option<ConnectInfo> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_nulls() {
        let c = ConnectInfo::parse(b"{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo && !c.headers);
        let c = ConnectInfo::parse(
            br#"{"verbose":false,"pedantic":null,"user":null,"echo":null,"headers":true,"x":1}"#,
        )
        .unwrap();
        assert!(!c.verbose && c.pedantic && c.echo && c.headers && c.user.is_none());
        assert!(ConnectInfo::parse(b"{").is_none());
    }
}
