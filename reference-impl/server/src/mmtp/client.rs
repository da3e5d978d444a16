//! The reference MMTP client: connects over plain TCP or implicit TLS, reads the welcome,
//! sends one request at a time and reads responses through the core's streaming decoder
//! (responses are kept as ordered [`Json`], so a received packet's messageHash can be checked).
//! Composing a packet (content, tags, signature, encryption, HashCash) is [`compose`].

use std::fmt;
use std::io;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mtp_proto::mmtp::framing::{FrameLimits, JsonDecoder};
use mtp_proto::mmtp::hashcash::Stamp;
use mtp_proto::mmtp::json::{Json, Object};
use mtp_proto::mmtp::packet::{NewPacket, PacketType, build, plain_content};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::mint::{MintError, MintOptions, Progress, mint_parallel};
use super::pgp::{PgpError, PublicKey, SecretKey};
use crate::client::tls::{Verify, client_config};

/// Why a client operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting, reading or writing failed.
    Io(io::Error),
    /// Nothing within [`ClientOptions::timeout`]; says what was awaited ("connecting", "in the
    /// TLS handshake", "waiting for a response").
    Timeout(&'static str),
    /// The TLS configuration, the server name or the handshake failed.
    Tls(String),
    /// The server sent something that is not an MMTP response.
    Protocol(String),
    /// The server closed the connection.
    Closed,
    /// Minting the HashCash stamp was cancelled or timed out.
    Mint(MintError),
    /// Signing or encrypting the content failed.
    Pgp(PgpError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "connection error: {e}"),
            Self::Timeout(what) => write!(f, "timed out {what}"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Closed => f.write_str("the server closed the connection"),
            Self::Mint(e) => e.fmt(f),
            Self::Pgp(e) => write!(f, "OpenPGP: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Implicit TLS with this certificate check; `None` for plain TCP.
    pub tls: Option<Verify>,
    /// For connecting and for each response.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            tls: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the welcome said (seed §5.2, DESIGN's `difficulty`).
#[derive(Clone, Debug)]
pub struct Welcome {
    /// The welcome's `message` text, e.g. `MMTP Server Ready`.
    pub message: String,
    /// `features.tls`: the server offers TLS.
    pub tls: bool,
    /// `features.pgp`: the server handles OpenPGP-signed and encrypted messages.
    pub pgp: bool,
    /// Absent from servers that do not announce it (the original).
    pub difficulty: Option<u32>,
}

/// One response.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply(pub Json);

impl Reply {
    /// The member `key` of the response object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.as_object()?.get(key)
    }

    /// The member `key` when it is a string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// Whether `status` is `"OK"`.
    pub fn is_ok(&self) -> bool {
        self.str("status") == Some("OK")
    }

    /// `(code, message)` of an `ERROR` response; the code is empty when the server gave none.
    pub fn error(&self) -> Option<(&str, &str)> {
        (self.str("status") == Some("ERROR")).then(|| {
            (
                self.str("code").unwrap_or(""),
                self.str("message").unwrap_or(""),
            )
        })
    }

    /// The member `key` when it is a non-negative integer (e.g. `count`).
    pub fn u64(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The packets of a RECEIVE or RECEIVE_FILTERED.
    pub fn messages(&self) -> &[Json] {
        match self.get("messages") {
            Some(Json::Array(messages)) => messages,
            _ => &[],
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connection to an MMTP server.
pub struct Client {
    stream: Box<dyn Stream>,
    decoder: JsonDecoder,
    welcome: Welcome,
    timeout: Duration,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to `addr` (`host:port`) and reads the welcome.
    pub async fn connect(addr: &str, options: &ClientOptions) -> Result<Client, ClientError> {
        let tcp = tokio::time::timeout(options.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout("connecting"))??;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Stream> = match &options.tls {
            None => Box::new(tcp),
            Some(verify) => {
                let config = client_config(verify).map_err(|e| ClientError::Tls(e.to_string()))?;
                let host = crate::client::host_of(addr)
                    .trim_matches(['[', ']'])
                    .to_owned();
                let name =
                    ServerName::try_from(host).map_err(|e| ClientError::Tls(e.to_string()))?;
                let handshake = TlsConnector::from(config).connect(name, tcp);
                let tls = tokio::time::timeout(options.timeout, handshake)
                    .await
                    .map_err(|_| ClientError::Timeout("in the TLS handshake"))?
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                Box::new(tls)
            }
        };
        let mut client = Client {
            stream,
            // Responses to RECEIVE can be large: allow more than the server's request limit.
            decoder: JsonDecoder::new(FrameLimits {
                max_value: 256 * 1024 * 1024,
                ..FrameLimits::default()
            }),
            welcome: Welcome {
                message: String::new(),
                tls: false,
                pgp: false,
                difficulty: None,
            },
            timeout: options.timeout,
            buf: vec![0; 64 * 1024],
        };
        let welcome = client.response().await?;
        if !welcome.is_ok() {
            return Err(ClientError::Protocol(format!("refused: {welcome}")));
        }
        let feature = |name| {
            welcome
                .get("features")
                .and_then(|f| f.as_object()?.get(name).cloned())
                == Some(Json::Bool(true))
        };
        client.welcome = Welcome {
            message: welcome.str("message").unwrap_or("").to_owned(),
            tls: feature("tls"),
            pgp: feature("pgp"),
            difficulty: welcome
                .u64("difficulty")
                .and_then(|d| u32::try_from(d).ok()),
        };
        Ok(client)
    }

    /// What the server's welcome announced.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Writes raw bytes (tests and the harness send malformed input this way).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The next response value.
    pub async fn response(&mut self) -> Result<Reply, ClientError> {
        loop {
            if let Some(value) = self.decoder.next_value() {
                let value = value.map_err(|e| ClientError::Protocol(e.to_string()))?;
                let json = Json::from_slice(&value)
                    .map_err(|e| ClientError::Protocol(format!("invalid JSON: {e}")))?;
                return Ok(Reply(json));
            }
            let read = tokio::time::timeout(self.timeout, self.stream.read(&mut self.buf))
                .await
                .map_err(|_| ClientError::Timeout("waiting for a response"))??;
            if read == 0 {
                return Err(ClientError::Closed);
            }
            self.decoder.push(&self.buf[..read]);
        }
    }

    /// Sends `{"action": action, "data": data}` and reads the response.
    pub async fn request(&mut self, action: &str, data: Object) -> Result<Reply, ClientError> {
        let mut request = Object::new();
        request.insert("action", Json::from(action));
        request.insert("data", Json::Object(data));
        let mut bytes = Json::Object(request).to_compact_string().into_bytes();
        bytes.push(b'\n');
        self.write_raw(&bytes).await?;
        self.response().await
    }

    /// SEND (seed §6.1): delivers a built packet (see [`compose`]) to its recipient's mailbox.
    pub async fn send(&mut self, packet: Json) -> Result<Reply, ClientError> {
        self.request("SEND", data([("packet", packet)])).await
    }

    /// RECEIVE (seed §6.2): every message of mailbox `email`, which the server then removes.
    pub async fn receive(&mut self, email: &str) -> Result<Reply, ClientError> {
        self.request("RECEIVE", data([("email", Json::from(email))]))
            .await
    }

    /// RECEIVE_FILTERED (seed §6.6): the messages of `email` matching the tag `filters`
    /// (`{"category": ["value", ...]}`), which the server then removes.
    pub async fn receive_filtered(
        &mut self,
        email: &str,
        filters: Json,
    ) -> Result<Reply, ClientError> {
        let data = data([("email", Json::from(email)), ("tagFilters", filters)]);
        self.request("RECEIVE_FILTERED", data).await
    }

    /// CHECK (seed §6.3): how many messages `email` holds (`totalCount`), how many match
    /// `filters` (`count`) and how many carry each tag; nothing is removed.
    pub async fn check(
        &mut self,
        email: &str,
        filters: Option<Json>,
    ) -> Result<Reply, ClientError> {
        let mut data = data([("email", Json::from(email))]);
        if let Some(filters) = filters {
            data.insert("tagFilters", filters);
        }
        self.request("CHECK", data).await
    }

    /// REGISTER_KEY (seed §6.4): registers the ASCII-armored OpenPGP public key for `email`.
    pub async fn register_key(&mut self, email: &str, armored: &str) -> Result<Reply, ClientError> {
        let data = data([
            ("email", Json::from(email)),
            ("publicKey", Json::from(armored)),
        ]);
        self.request("REGISTER_KEY", data).await
    }

    /// REQUEST_PUBLIC_KEY (seed §6.5): the armored public key registered for `email`.
    pub async fn request_public_key(&mut self, email: &str) -> Result<Reply, ClientError> {
        self.request("REQUEST_PUBLIC_KEY", data([("email", Json::from(email))]))
            .await
    }

    /// GET_TAG_CATEGORIES (seed §6.7): the tag categories and their values (seed §8.2).
    pub async fn tag_categories(&mut self) -> Result<Reply, ClientError> {
        self.request("GET_TAG_CATEGORIES", Object::new()).await
    }
}

/// An object of the given members, in order.
pub fn data<const N: usize>(members: [(&str, Json); N]) -> Object {
    members
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// What a message to send is made of.
#[derive(Clone, Debug)]
pub struct Compose {
    /// The sender, `(name)%(domain)`.
    pub sender: String,
    /// The recipient, `(name)%(domain)`.
    pub recipient: String,
    /// `content.subject`.
    pub subject: String,
    /// `content.body`.
    pub body: String,
    /// `meta.tags`, as given.
    pub tags: Option<Json>,
    /// `meta.type`: SEND, REPLY or FORWARD (seed §4.2).
    pub kind: PacketType,
    /// Sign the content with this key.
    pub sign: Option<SecretKey>,
    /// Encrypt the content to this key.
    pub encrypt_to: Option<PublicKey>,
    /// HashCash difficulty to mint at: leading `0` hex digits of the token's SHA-256 (seed
    /// §3.4).
    pub difficulty: u32,
    /// `meta.timestamp`, Unix milliseconds; also part of the HashCash token.
    pub timestamp_ms: u64,
    /// `meta.messageId`; see [`new_message_id`].
    pub message_id: String,
}

/// A new random message id (32 hex digits, as the original's).
pub fn new_message_id() -> String {
    mtp_proto::mmtp::digest::hex(&rand::random::<[u8; 16]>())
}

/// Builds the packet, minting its HashCash (blocking; see [`mint_parallel`] for the options).
pub fn compose(
    message: Compose,
    mint: &MintOptions,
    cancel: &AtomicBool,
    progress: impl FnMut(Progress),
) -> Result<Json, ClientError> {
    let content = plain_content(&message.subject, &message.body);
    let plaintext = content.to_compact_string();
    let signature = match &message.sign {
        Some(key) => Some(
            key.sign_text(plaintext.as_bytes())
                .map_err(ClientError::Pgp)?,
        ),
        None => None,
    };
    let encrypted = match &message.encrypt_to {
        Some(key) => Some(
            key.encrypt(plaintext.as_bytes())
                .map_err(ClientError::Pgp)?,
        ),
        None => None,
    };
    let stamp = Stamp {
        difficulty: message.difficulty,
        timestamp_ms: message.timestamp_ms,
        sender: message.sender.clone(),
        recipient: message.recipient.clone(),
    };
    let counter = mint_parallel(&stamp, mint, cancel, progress).map_err(ClientError::Mint)?;
    Ok(build(NewPacket {
        kind: message.kind,
        message_id: message.message_id,
        timestamp_ms: message.timestamp_ms,
        sender: message.sender,
        recipient: message.recipient,
        content,
        hashcash: stamp.hashcash_token(counter),
        tags: message.tags,
        signature,
        encrypted,
    }))
}
