//! The carrier and the agent of a call: the two labels every export groups
//! by. A carrier is named by configuration (`--carrier NAME=CIDR` or
//! `--carrier NAME=DOMAIN`, first match wins, checked against the caller's
//! and the callee's signalling address and the From/To host), never made up
//! from traffic, so a metric's label set stays as small as the configuration.
//! The agent is the SIP user on the configured side of the call.

use crate::call::dialog::Dialog;
use std::net::IpAddr;

/// The carrier of calls no rule matches.
pub const UNKNOWN_CARRIER: &str = "unknown";

/// What a carrier rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Matcher {
    /// An address block.
    Network { base: IpAddr, prefix: u8 },
    /// A SIP domain (the host of a From or To URI), lower case.
    Domain(String),
}

/// One `NAME=CIDR|DOMAIN` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierRule {
    name: String,
    matcher: Matcher,
}

/// Why a carrier rule could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    /// No `=`.
    #[error("carrier rule {0:?}: expected NAME=CIDR or NAME=DOMAIN (e.g. acme=192.0.2.0/24)")]
    Shape(String),
    /// A prefix longer than the address.
    #[error("carrier rule {0:?}: prefix length too long for the address")]
    Prefix(String),
}

impl std::str::FromStr for CarrierRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || RuleError::Shape(s.to_owned());
        let (name, target) = s.split_once('=').ok_or_else(shape)?;
        let (name, target) = (name.trim(), target.trim());
        if name.is_empty() || target.is_empty() {
            return Err(shape());
        }
        let (addr, prefix) = match target.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (target, None),
        };
        let matcher = match addr.parse::<IpAddr>() {
            Ok(base) => {
                let bits = if base.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    Some(p) => p.parse::<u8>().map_err(|_| shape())?,
                    None => bits,
                };
                if prefix > bits {
                    return Err(RuleError::Prefix(s.to_owned()));
                }
                Matcher::Network { base, prefix }
            }
            Err(_) if prefix.is_none() && !target.contains(char::is_whitespace) => {
                Matcher::Domain(target.to_ascii_lowercase())
            }
            Err(_) => return Err(shape()),
        };
        Ok(CarrierRule {
            name: name.to_owned(),
            matcher,
        })
    }
}

impl CarrierRule {
    /// The carrier's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn matches(&self, ips: [IpAddr; 2], hosts: [Option<&str>; 2]) -> bool {
        match &self.matcher {
            Matcher::Network { base, prefix } => {
                ips.iter().any(|ip| in_network(*ip, *base, *prefix))
            }
            Matcher::Domain(d) => hosts.iter().flatten().any(|h| h.eq_ignore_ascii_case(d)),
        }
    }
}

fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    let (ip, base, bits) = match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        (IpAddr::V6(a), IpAddr::V4(b)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let host_bits = bits - u32::from(prefix);
    let shift = |v: u128| v.checked_shr(host_bits).unwrap_or(0);
    shift(ip) == shift(base)
}

/// The side of the call whose SIP user is the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentSide {
    /// The caller (outbound contact centres).
    Caller,
    /// The callee (inbound contact centres).
    #[default]
    Callee,
}

/// How calls are labelled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labeller {
    /// Carrier rules in order.
    pub carriers: Vec<CarrierRule>,
    /// Which side is the agent.
    pub agent_side: AgentSide,
}

impl Labeller {
    /// The carrier of a call: the first rule matching either signalling
    /// address or the From/To host, else [`UNKNOWN_CARRIER`].
    pub fn carrier(&self, call: &Dialog) -> &str {
        let ips = [call.caller_ip(), call.callee_ip()];
        let hosts = [uri_host(call.from()), uri_host(call.to())];
        self.carriers
            .iter()
            .find(|r| r.matches(ips, hosts))
            .map_or(UNKNOWN_CARRIER, CarrierRule::name)
    }

    /// The agent of a call: the SIP user of the configured side (empty when
    /// its URI has none).
    pub fn agent<'a>(&self, call: &'a Dialog) -> &'a str {
        match self.agent_side {
            AgentSide::Caller => call.from_user(),
            AgentSide::Callee => call.to_user(),
        }
        .unwrap_or_default()
    }

    /// Every carrier name the rules can give, then [`UNKNOWN_CARRIER`]: the
    /// whole label set of a per-carrier metric.
    pub fn carrier_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.carriers {
            if !names.contains(&r.name()) {
                names.push(r.name());
            }
        }
        names.push(UNKNOWN_CARRIER);
        names
    }
}

/// The host of a SIP URI in a From/To value (`"A" <sip:alice@example.com;x>`
/// → `example.com`), without port or parameters.
pub fn uri_host(value: &str) -> Option<&str> {
    let uri = match value.find('<') {
        Some(start) => {
            let rest = value.get(start + 1..)?;
            rest.get(..rest.find('>')?)?
        }
        None => value.split(';').next()?,
    };
    let after_scheme = uri.split_once(':').map_or(uri, |(_, r)| r);
    let host_part = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, h)| h);
    let host_part = host_part.split([';', '?', '>']).next()?.trim();
    let host = if let Some(v6) = host_part.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_part.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_reject() {
        let r: CarrierRule = "acme=192.0.2.0/24".parse().unwrap();
        assert_eq!(r.name(), "acme");
        assert!(r.matches(
            ["192.0.2.77".parse().unwrap(), "10.0.0.1".parse().unwrap()],
            [None, None]
        ));
        assert!(!r.matches(
            ["192.0.3.1".parse().unwrap(), "10.0.0.1".parse().unwrap()],
            [None, None]
        ));
        let r: CarrierRule = "v6=2001:db8::/32".parse().unwrap();
        assert!(r.matches(
            [
                "2001:db8:1::5".parse().unwrap(),
                "10.0.0.1".parse().unwrap()
            ],
            [None, None]
        ));
        let r: CarrierRule = "host=198.51.100.7".parse().unwrap();
        assert!(r.matches(
            [
                "::ffff:198.51.100.7".parse().unwrap(),
                "10.0.0.1".parse().unwrap()
            ],
            [None, None]
        ));
        let r: CarrierRule = "globex=Sip.Globex.example".parse().unwrap();
        assert!(r.matches(
            ["10.0.0.1".parse().unwrap(); 2],
            [Some("sip.globex.EXAMPLE"), None]
        ));
        let all: CarrierRule = "any=0.0.0.0/0".parse().unwrap();
        assert!(all.matches(["10.1.2.3".parse().unwrap(); 2], [None, None]));
        assert_eq!(
            "x=10.0.0.0/33".parse::<CarrierRule>(),
            Err(RuleError::Prefix("x=10.0.0.0/33".into()))
        );
        for bad in ["acme", "=10.0.0.0/8", "acme=", "a=10.0.0.0/x", "a=b c"] {
            assert!(bad.parse::<CarrierRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn uri_hosts() {
        assert_eq!(
            uri_host("\"Alice\" <sip:alice@example.com;transport=tcp>;tag=1"),
            Some("example.com")
        );
        assert_eq!(uri_host("sip:bob@10.0.0.2:5062;tag=9"), Some("10.0.0.2"));
        assert_eq!(uri_host("<sip:[2001:db8::1]:5060>"), Some("2001:db8::1"));
        assert_eq!(uri_host("<tel:+15551234>"), Some("+15551234"));
        assert_eq!(uri_host("<sip:@>"), None);
        assert_eq!(uri_host(""), None);
    }
}
