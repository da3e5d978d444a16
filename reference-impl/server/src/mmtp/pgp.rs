//! OpenPGP for MMTP, behind one small module: rPGP's API moves between minor versions
//! (DESIGN), so no other file names a `pgp` type.
//!
//! Seed §4.4: "A detached signature is created for the `content` object" and "The encrypted
//! data replaces the content with `{ encrypted: String }`". The original signed and encrypted
//! `JSON.stringify(content)` as an OpenPGP text message (openpgp.js `createMessage({text})`),
//! so signatures here are text signatures (type 0x01), which verify whatever the line endings.
//! The server only parses keys and verifies signatures; encryption, decryption, signing and
//! key generation are the client's.

use std::fmt;

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, EncryptionCaps, KeyType, Message,
    MessageBuilder, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::types::{KeyDetails, Password};

/// Why an OpenPGP operation failed (rPGP's message, for people).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgpError(pub String);

impl fmt::Display for PgpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgpError {}

fn error(context: &str) -> impl Fn(pgp::errors::Error) -> PgpError + '_ {
    move |e| PgpError(format!("{context}: {e}"))
}

/// A transferable public key whose self-signatures verified.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: SignedPublicKey,
}

impl PublicKey {
    /// Parses one ASCII-armored public key and checks its binding signatures.
    pub fn parse(armored: &str) -> Result<PublicKey, PgpError> {
        let (key, _headers) =
            SignedPublicKey::from_string(armored).map_err(error("not an OpenPGP public key"))?;
        key.verify_bindings()
            .map_err(error("the key's self-signatures do not verify"))?;
        Ok(PublicKey { key })
    }

    /// The primary key's fingerprint in uppercase hex.
    pub fn fingerprint(&self) -> String {
        format!("{:X}", self.key.fingerprint())
    }

    /// The key's user IDs, e.g. `Alice <(alice)%(example.com)>` (invalid UTF-8 replaced).
    pub fn user_ids(&self) -> Vec<String> {
        self.key
            .details
            .users
            .iter()
            .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
            .collect()
    }

    /// The key ASCII-armored, as REGISTER_KEY and the keystore's `.pub.asc` carry it.
    pub fn to_armored(&self) -> Result<String, PgpError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(error("cannot armor the key"))
    }

    /// True when `armored_signature` is a valid detached signature over `data` by the primary
    /// key or one of its subkeys.
    pub fn verify(&self, data: &[u8], armored_signature: &str) -> bool {
        let Ok((signature, _)) = DetachedSignature::from_string(armored_signature) else {
            return false;
        };
        signature.verify(&self.key.primary_key, data).is_ok()
            || self
                .key
                .public_subkeys
                .iter()
                .any(|subkey| signature.verify(subkey, data).is_ok())
    }

    /// Encrypts `data` to the key's first encryption-capable subkey, as an armored message.
    pub fn encrypt(&self, data: &[u8]) -> Result<String, PgpError> {
        let mut rng = rand::thread_rng();
        let subkey = self
            .key
            .public_subkeys
            .iter()
            .find(|s| s.key.algorithm().can_encrypt())
            .ok_or_else(|| PgpError("the key has no encryption subkey".into()))?;
        let mut builder = MessageBuilder::from_bytes("", data.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        builder
            .encrypt_to_key(&mut rng, subkey)
            .map_err(error("cannot encrypt to the key"))?;
        builder
            .to_armored_string(&mut rng, ArmorOptions::default())
            .map_err(error("cannot write the message"))
    }
}

/// A secret key with the passphrase that unlocks it.
#[derive(Clone, Debug)]
pub struct SecretKey {
    key: SignedSecretKey,
    password: String,
}

impl SecretKey {
    /// A new key: Ed25519 primary (certify, sign) and a Curve25519 encryption subkey, the
    /// shape GnuPG makes by default and reads.
    pub fn generate(user_id: &str, passphrase: Option<&str>) -> Result<SecretKey, PgpError> {
        let mut subkey = SubkeyParamsBuilder::default();
        subkey
            .key_type(KeyType::ECDH(ECCCurve::Curve25519Legacy))
            .can_encrypt(EncryptionCaps::All)
            .passphrase(passphrase.map(str::to_owned));
        let subkey = subkey
            .build()
            .map_err(|e| PgpError(format!("key parameters: {e}")))?;
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_owned())
            .passphrase(passphrase.map(str::to_owned))
            .preferred_hash_algorithms([HashAlgorithm::Sha256, HashAlgorithm::Sha512][..].into())
            .preferred_symmetric_algorithms([SymmetricKeyAlgorithm::AES256][..].into())
            .subkeys(vec![subkey]);
        let params = params
            .build()
            .map_err(|e| PgpError(format!("key parameters: {e}")))?;
        let key = params
            .generate(rand::thread_rng())
            .map_err(error("key generation failed"))?;
        Ok(SecretKey {
            key,
            password: passphrase.unwrap_or_default().to_owned(),
        })
    }

    /// Parses an armored secret key; `passphrase` is checked when it is used.
    pub fn parse(armored: &str, passphrase: Option<&str>) -> Result<SecretKey, PgpError> {
        let (key, _headers) =
            SignedSecretKey::from_string(armored).map_err(error("not an OpenPGP secret key"))?;
        key.verify_bindings()
            .map_err(error("the key's self-signatures do not verify"))?;
        Ok(SecretKey {
            key,
            password: passphrase.unwrap_or_default().to_owned(),
        })
    }

    /// The secret key ASCII-armored, as the keystore's `.priv.asc` holds it; a key generated
    /// with a passphrase stays protected by it.
    pub fn to_armored(&self) -> Result<String, PgpError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(error("cannot armor the key"))
    }

    /// The public half, to register or to encrypt to.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.to_public_key(),
        }
    }

    fn password(&self) -> Password {
        Password::from(self.password.as_str())
    }

    /// A detached text signature over `data`, armored.
    pub fn sign_text(&self, data: &[u8]) -> Result<String, PgpError> {
        let signature = DetachedSignature::sign_text_data(
            rand::thread_rng(),
            &self.key.primary_key,
            &self.password(),
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(error("signing failed"))?;
        signature
            .to_armored_string(ArmorOptions::default())
            .map_err(error("cannot armor the signature"))
    }

    /// Decrypts an armored message addressed to this key.
    pub fn decrypt(&self, armored: &str) -> Result<Vec<u8>, PgpError> {
        let (message, _) =
            Message::from_string(armored).map_err(error("not an OpenPGP message"))?;
        let mut message = message
            .decrypt(&self.password(), &self.key)
            .map_err(error("decryption failed"))?;
        if message.is_compressed() {
            message = message
                .decompress()
                .map_err(error("decompression failed"))?;
        }
        message
            .as_data_vec()
            .map_err(|e| PgpError(format!("cannot read the message: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_encrypt_decrypt() {
        let alice = SecretKey::generate("Alice <(alice)%(example.com)>", Some("pw")).unwrap();
        let public = PublicKey::parse(&alice.public_key().to_armored().unwrap()).unwrap();
        assert_eq!(public.fingerprint(), alice.public_key().fingerprint());
        assert_eq!(public.user_ids(), ["Alice <(alice)%(example.com)>"]);
        let data = br#"{"subject":"Hi","body":"line\nline"}"#;
        let signature = alice.sign_text(data).unwrap();
        assert!(signature.starts_with("-----BEGIN PGP SIGNATURE-----"));
        assert!(public.verify(data, &signature));
        assert!(!public.verify(b"{\"subject\":\"Hi\"}", &signature));
        assert!(!public.verify(data, "junk"));
        let other = SecretKey::generate("Mallory", None).unwrap();
        assert!(!public.verify(data, &other.sign_text(data).unwrap()));

        let armored = public.encrypt(data).unwrap();
        assert!(armored.starts_with("-----BEGIN PGP MESSAGE-----"));
        let reread = SecretKey::parse(&alice.to_armored().unwrap(), Some("pw")).unwrap();
        assert_eq!(reread.decrypt(&armored).unwrap(), data);
        assert!(other.decrypt(&armored).is_err());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(PublicKey::parse("").is_err());
        assert!(
            PublicKey::parse(
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"
            )
            .is_err()
        );
    }
}
