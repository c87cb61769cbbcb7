//! Privacy of subscriber data: what identifies a person — IMSI, MSISDN,
//! phone numbers, the user part and display name of SIP URIs — is masked or
//! replaced by a keyed hash in every record before any output (JSON, tables,
//! ClickHouse, alert files, logs), so an operator can meet data-protection
//! rules. Off by default.
//!
//! - `mask`: digits and letters replaced by `*` but for the last two
//!   characters; an IMSI keeps its first five digits (MCC and MNC: the
//!   network, not the person). Not reversible, and not joinable.
//! - `hash`: `h` and the first 16 hex digits of HMAC-SHA-256 under a key
//!   of the operator's (`--privacy-key-file`): the same identifier always
//!   gives the same pseudonym under the same key, so records still join
//!   (per subscriber, per agent), and without the key it cannot be looked
//!   up from a list of numbers.
//!
//! The host of a URI is kept: it names a network or a provider (carrier
//! rules match it), not a person.

use crate::analyze::FileAnalysis;
use crate::call::signal_log::SignalEntry;
use crate::call::CallRecord;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How identifiers leave the probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyMode {
    /// As seen (the default).
    #[default]
    Off,
    /// Masked.
    Mask,
    /// Keyed hash (pseudonyms).
    Hash,
}

/// The privacy settings.
#[derive(Clone)]
pub struct Privacy {
    mode: PrivacyMode,
    key: Vec<u8>,
}

/// Why privacy settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// `hash` without a key.
    #[error("--privacy hash needs --privacy-key-file FILE (a secret of at least 16 bytes, e.g. `head -c 32 /dev/urandom > FILE`)")]
    NoKey,
    /// A key too short to be a secret.
    #[error("the privacy key file holds {0} bytes; use at least 16 random bytes")]
    ShortKey(usize),
}

impl Privacy {
    /// Settings for `mode` with `key` (needed for `hash`).
    ///
    /// # Errors
    /// `hash` without a key of at least 16 bytes.
    pub fn new(mode: PrivacyMode, key: Option<Vec<u8>>) -> Result<Privacy, PrivacyError> {
        let key = match (mode, key) {
            (PrivacyMode::Hash, None) => return Err(PrivacyError::NoKey),
            (PrivacyMode::Hash, Some(k)) if k.len() < 16 => {
                return Err(PrivacyError::ShortKey(k.len()))
            }
            (_, k) => k.unwrap_or_default(),
        };
        Ok(Privacy { mode, key })
    }

    /// Whether anything is changed.
    pub fn is_on(&self) -> bool {
        self.mode != PrivacyMode::Off
    }

    /// A phone number, MSISDN or SIP user.
    pub fn identifier(&self, s: &str) -> String {
        match self.mode {
            PrivacyMode::Off => s.to_owned(),
            PrivacyMode::Mask => mask(s, 0),
            PrivacyMode::Hash => self.pseudonym(s),
        }
    }

    /// An IMSI (masked, it keeps the network: MCC and MNC).
    pub fn imsi(&self, s: &str) -> String {
        match self.mode {
            PrivacyMode::Off => s.to_owned(),
            PrivacyMode::Mask => mask(s, 5),
            PrivacyMode::Hash => self.pseudonym(s),
        }
    }

    /// A From/To/P-Asserted-Identity value or a URI: the display name
    /// dropped, the user part rewritten, the host and parameters kept.
    pub fn uri(&self, value: &str) -> String {
        if !self.is_on() {
            return value.to_owned();
        }
        // `"Name" <sip:user@host>;tag=x` → `<sip:USER@host>;tag=x`.
        let (uri, rest) = match (value.find('<'), value.find('>')) {
            (Some(a), Some(b)) if a < b => (&value[a + 1..b], &value[b + 1..]),
            _ => (value, ""),
        };
        let rewritten = match uri.split_once(':') {
            // tel:NUMBER;params — the number is the person.
            Some((scheme, after)) if scheme.eq_ignore_ascii_case("tel") => {
                let (number, params) = after.split_once(';').unwrap_or((after, ""));
                let mut out = format!("{scheme}:{}", self.identifier(number));
                if !params.is_empty() {
                    out.push(';');
                    out.push_str(params);
                }
                out
            }
            // sip:USER[;params]@host — the user is; a URI with no user
            // names a host only.
            Some((scheme, after)) => match after.split_once('@') {
                Some((user, host)) => {
                    let (user, params) = user.split_once(';').unwrap_or((user, ""));
                    let mut out = format!("{scheme}:{}", self.identifier(user));
                    if !params.is_empty() {
                        out.push(';');
                        out.push_str(params);
                    }
                    out.push('@');
                    out.push_str(host);
                    out
                }
                None => uri.to_owned(),
            },
            None => self.identifier(uri),
        };
        format!("<{rewritten}>{rest}")
    }

    fn pseudonym(&self, s: &str) -> String {
        // A key of any length is valid for HMAC.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return mask(s, 0);
        };
        mac.update(s.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(17);
        out.push('h');
        for b in digest.iter().take(8) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Applies the settings to a call record (its parties, its VoLTE
    /// subscriber).
    pub fn call(&self, r: &mut CallRecord) {
        if !self.is_on() {
            return;
        }
        let uri = |v: &str| self.uri(v);
        let user = |v: &str| self.identifier(v);
        r.call.dialog.rewrite_identities(&uri, &user);
        if let Some(v) = &mut r.volte {
            v.ue.imsi = v.ue.imsi.as_deref().map(|s| self.imsi(s));
            v.ue.msisdn = v.ue.msisdn.as_deref().map(|s| self.identifier(s));
        }
    }

    /// Applies the settings to a DIAMETER or GTPv2-C message.
    pub fn signal(&self, s: &mut SignalEntry) {
        if self.is_on() {
            s.imsi = s.imsi.as_deref().map(|i| self.imsi(i));
        }
    }

    /// Applies the settings to everything an analysis holds.
    pub fn analysis(&self, a: &mut FileAnalysis) {
        if !self.is_on() {
            return;
        }
        for c in &mut a.calls {
            self.call(c);
        }
        for s in &mut a.subscribers {
            s.subscriber.imsi = self.imsi(&s.subscriber.imsi).into();
            s.subscriber.msisdn =
                (s.subscriber.msisdn.as_deref()).map(|m| self.identifier(m).into());
        }
        a.signals.rewrite(|s| self.signal(s));
    }
}

/// Keeps the first `keep` characters and the last two, masking the
/// letters and digits between (short values are masked whole).
fn mask(s: &str, keep: usize) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            let visible = i < keep || (n > keep + 4 && i + 2 >= n);
            if visible || !c.is_alphanumeric() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashing() -> Privacy {
        Privacy::new(PrivacyMode::Hash, Some(b"0123456789abcdef".to_vec())).unwrap()
    }

    #[test]
    fn masks_keep_the_network_and_the_last_digits() {
        let p = Privacy::new(PrivacyMode::Mask, None).unwrap();
        assert_eq!(p.imsi("001010123456789"), "00101********89");
        assert_eq!(p.identifier("+15551234567"), "+*********67");
        assert_eq!(p.identifier("bob"), "***");
        assert_eq!(
            p.uri("\"Alice\" <sip:alice.smith@example.com;transport=tcp>;tag=9"),
            "<sip:*****.***th@example.com;transport=tcp>;tag=9"
        );
        assert_eq!(
            p.uri("<tel:+15551234567;phone-context=x>"),
            "<tel:+*********67;phone-context=x>"
        );
    }

    #[test]
    fn hashes_are_stable_keyed_pseudonyms() {
        let p = hashing();
        let a = p.identifier("+15551234567");
        assert_eq!(a, p.identifier("+15551234567"));
        assert_eq!(a.len(), 17);
        assert!(a.starts_with('h'));
        assert_ne!(a, p.identifier("+15551234568"));
        let other = Privacy::new(PrivacyMode::Hash, Some(b"another key 1234".to_vec())).unwrap();
        assert_ne!(a, other.identifier("+15551234567"));
        let uri = p.uri("<sip:+15551234567@ims.example.net>");
        assert_eq!(uri, format!("<sip:{a}@ims.example.net>"));
        assert!(!p.uri("Bob <sip:bob@10.0.0.1>").contains("bob"));
    }

    #[test]
    fn hash_needs_a_real_key() {
        assert!(matches!(
            Privacy::new(PrivacyMode::Hash, None),
            Err(PrivacyError::NoKey)
        ));
        assert!(matches!(
            Privacy::new(PrivacyMode::Hash, Some(vec![1; 8])),
            Err(PrivacyError::ShortKey(8))
        ));
        let off = Privacy::new(PrivacyMode::Off, None).unwrap();
        assert_eq!(off.uri("\"A\" <sip:a@b>"), "\"A\" <sip:a@b>");
    }
}
