//! Client requests (seed §6): `{"action": NAME, "data": {...}}`, one table of actions, each
//! with the parser of its `data`.
//!
//! Unknown fields are ignored, as the original did. Fields the action needs are checked here,
//! so a request that reaches the session is well formed: an address that is not
//! `(name)%(domain)` is refused with the original's "Invalid email format" (seed §3.3 is a
//! MUST), a `tagFilters` of the wrong shape with `BAD_TAG_FILTER`.

use super::address::Address;
use super::json::{Json, Object};
use super::response::{ErrorCode, Refusal};
use super::tags::TagFilter;

/// A parsed request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Request {
    /// Seed §6.1. The packet is checked by the session (it needs the clock and the policy).
    Send {
        /// `data.packet`, an object, as received.
        packet: Json,
    },
    /// Seed §6.2: every message, drained.
    Receive {
        /// `data.email`: whose mailbox.
        email: Address,
    },
    /// Seed §6.6: the messages matching the filter, drained; `tag_filters` is echoed as sent.
    ReceiveFiltered {
        /// `data.email`: whose mailbox.
        email: Address,
        /// `data.tagFilters`, parsed; absent or empty matches every message.
        filter: TagFilter,
        /// `data.tagFilters` as sent, for the reply.
        tag_filters: Option<Json>,
    },
    /// Seed §6.3: counts, nothing drained.
    Check {
        /// `data.email`: whose mailbox.
        email: Address,
        /// `data.tagFilters`, parsed; absent or empty matches every message.
        filter: TagFilter,
    },
    /// Seed §6.4.
    RegisterKey {
        /// `data.email`: whose key.
        email: Address,
        /// `data.publicKey`: the ASCII-armored OpenPGP public key, not yet checked.
        public_key: String,
    },
    /// Seed §6.5.
    RequestPublicKey {
        /// `data.email`: whose key.
        email: Address,
    },
    /// Seed §6.7.
    GetTagCategories,
}

type Parser = fn(&Object) -> Result<Request, Refusal>;

/// Every action: its name on the wire and the parser of its `data`.
pub const ACTIONS: [(&str, Parser); 7] = [
    ("SEND", parse_send),
    ("RECEIVE", parse_receive),
    ("RECEIVE_FILTERED", parse_receive_filtered),
    ("CHECK", parse_check),
    ("REGISTER_KEY", parse_register_key),
    ("REQUEST_PUBLIC_KEY", parse_request_public_key),
    ("GET_TAG_CATEGORIES", |_| Ok(Request::GetTagCategories)),
];

impl Request {
    /// Parses one framed JSON value.
    pub fn parse(frame: &[u8]) -> Result<Request, Refusal> {
        let value = Json::from_slice(frame).map_err(|_| Refusal::bad_json())?;
        let Json::Object(request) = value else {
            return Err(bad_request("a request must be a JSON object"));
        };
        let action = match request.get("action") {
            Some(Json::String(action)) => action.as_str(),
            Some(_) => return Err(bad_request("action must be a string")),
            None => return Err(bad_request("missing action")),
        };
        let Some((_, parser)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
            return Err(Refusal::new(ErrorCode::UnknownAction, "Unknown action"));
        };
        let empty = Object::new();
        let data = match request.get("data") {
            Some(Json::Object(data)) => data,
            None | Some(Json::Null) => &empty,
            Some(_) => return Err(bad_request("data must be an object")),
        };
        parser(data)
    }

    /// The action's wire name.
    pub fn action(&self) -> &'static str {
        match self {
            Request::Send { .. } => "SEND",
            Request::Receive { .. } => "RECEIVE",
            Request::ReceiveFiltered { .. } => "RECEIVE_FILTERED",
            Request::Check { .. } => "CHECK",
            Request::RegisterKey { .. } => "REGISTER_KEY",
            Request::RequestPublicKey { .. } => "REQUEST_PUBLIC_KEY",
            Request::GetTagCategories => "GET_TAG_CATEGORIES",
        }
    }
}

fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::BadRequest, message)
}

/// `data.email`: present, a string, and an MMTP address.
fn email(data: &Object) -> Result<Address, Refusal> {
    match data.get("email") {
        Some(Json::String(email)) => Address::parse(email).map_err(|_| Refusal::invalid_address()),
        Some(_) => Err(bad_request("data.email must be a string")),
        None => Err(bad_request("missing data.email")),
    }
}

fn filter(data: &Object) -> Result<TagFilter, Refusal> {
    TagFilter::parse(data.get("tagFilters"))
        .map_err(|e| Refusal::new(ErrorCode::BadTagFilter, e.to_string()))
}

fn parse_send(data: &Object) -> Result<Request, Refusal> {
    match data.get("packet") {
        Some(packet @ Json::Object(_)) => Ok(Request::Send {
            packet: packet.clone(),
        }),
        Some(_) => Err(bad_request("data.packet must be an object")),
        None => Err(bad_request("missing data.packet")),
    }
}

fn parse_receive(data: &Object) -> Result<Request, Refusal> {
    Ok(Request::Receive {
        email: email(data)?,
    })
}

fn parse_receive_filtered(data: &Object) -> Result<Request, Refusal> {
    Ok(Request::ReceiveFiltered {
        email: email(data)?,
        filter: filter(data)?,
        tag_filters: data.get("tagFilters").cloned(),
    })
}

fn parse_check(data: &Object) -> Result<Request, Refusal> {
    Ok(Request::Check {
        email: email(data)?,
        filter: filter(data)?,
    })
}

fn parse_register_key(data: &Object) -> Result<Request, Refusal> {
    let email = email(data)?;
    match data.get("publicKey") {
        Some(Json::String(key)) => Ok(Request::RegisterKey {
            email,
            public_key: key.clone(),
        }),
        Some(_) => Err(bad_request("data.publicKey must be a string")),
        None => Err(bad_request("missing data.publicKey")),
    }
}

fn parse_request_public_key(data: &Object) -> Result<Request, Refusal> {
    Ok(Request::RequestPublicKey {
        email: email(data)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(frame: &str) -> ErrorCode {
        Request::parse(frame.as_bytes()).unwrap_err().code
    }

    #[test]
    fn every_action_parses() {
        let bob = r#""email":"(bob)%(example.com)""#;
        for (frame, action) in [
            (
                r#"{"action":"SEND","data":{"packet":{}}}"#.to_owned(),
                "SEND",
            ),
            (
                format!(r#"{{"action":"RECEIVE","data":{{{bob}}}}}"#),
                "RECEIVE",
            ),
            (
                format!(
                    r#"{{"action":"RECEIVE_FILTERED","data":{{{bob},"tagFilters":{{"priority":["high"]}}}}}}"#
                ),
                "RECEIVE_FILTERED",
            ),
            (format!(r#"{{"action":"CHECK","data":{{{bob}}}}}"#), "CHECK"),
            (
                format!(r#"{{"action":"REGISTER_KEY","data":{{{bob},"publicKey":"K"}}}}"#),
                "REGISTER_KEY",
            ),
            (
                format!(r#"{{"action":"REQUEST_PUBLIC_KEY","data":{{{bob}}}}}"#),
                "REQUEST_PUBLIC_KEY",
            ),
            (
                r#"{"action":"GET_TAG_CATEGORIES"}"#.to_owned(),
                "GET_TAG_CATEGORIES",
            ),
            (
                r#"{"action":"GET_TAG_CATEGORIES","data":{},"x":1}"#.to_owned(),
                "GET_TAG_CATEGORIES",
            ),
        ] {
            assert_eq!(Request::parse(frame.as_bytes()).unwrap().action(), action);
        }
        assert_eq!(ACTIONS.len(), 7);
    }

    #[test]
    fn errors_have_codes() {
        assert_eq!(code("{\"action\":"), ErrorCode::BadJson);
        assert_eq!(code("{\"a\":\"\u{0}\"}"), ErrorCode::BadJson);
        assert_eq!(code("[1]"), ErrorCode::BadRequest);
        assert_eq!(code("{}"), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"action":7}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"action":"send"}"#), ErrorCode::UnknownAction);
        assert_eq!(
            code(r#"{"action":"RECEIVE","data":[]}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(code(r#"{"action":"RECEIVE"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"action":"RECEIVE","data":{"email":1}}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"action":"RECEIVE","data":{"email":"bob@example.com"}}"#),
            ErrorCode::InvalidAddress
        );
        assert_eq!(
            code(
                r#"{"action":"CHECK","data":{"email":"(b)%(c)","tagFilters":{"priority":"high"}}}"#
            ),
            ErrorCode::BadTagFilter
        );
        assert_eq!(
            code(r#"{"action":"SEND","data":{"packet":"x"}}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"action":"REGISTER_KEY","data":{"email":"(b)%(c)"}}"#),
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn huge_numbers_and_bad_utf8_are_bad_json() {
        assert_eq!(code(r#"{"action":"CHECK","n":1e999}"#), ErrorCode::BadJson);
        assert_eq!(
            Request::parse(b"{\"action\":\"CHECK\",\"s\":\"\xc3\x28\"}")
                .unwrap_err()
                .code,
            ErrorCode::BadJson
        );
    }
}
