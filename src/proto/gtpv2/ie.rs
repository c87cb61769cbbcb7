//! GTPv2-C information elements (3GPP TS 29.274 §8): the TLIV walk and the
//! decoders of the values voxprobe reads.
//!
//! ```text
//! | type (1) | length (2, value octets) | spare (4 bits) | instance (4 bits) | value |
//! ```
//!
//! [`Ies`] iterates over a list of IEs (a message body or the value of a
//! grouped IE), yielding `(rest, Ie)`; a length running past the end stops the
//! iteration with [`Error::BadIeLength`] after every earlier IE has been
//! yielded. [`walk`] visits a whole message, recursing into grouped IEs
//! ([`IeType::is_grouped`]) up to [`MAX_GROUPED_DEPTH`] and stopping after
//! [`MAX_IES_PER_MESSAGE`] IEs in all.
//!
//! The value decoders are pure functions from the value bytes to small owned
//! values; they never panic and return [`Error::BadIeValue`] when the value is
//! too short or inconsistent. Unknown IE types are data ([`IeType::Unknown`]).

use super::Error;
use crate::proto::bytes::{be_u16, be_u32};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const LENGTH: Range<usize> = 1..3;
    pub const INSTANCE: usize = 3;
}

/// Length of an IE header (type, length, spare/instance).
pub const IE_HEADER_LEN: usize = field::INSTANCE + 1;
/// Grouped IEs nest at most this deep (the message body is depth 0). The
/// deepest real nesting in TS 29.274 is a Bearer Context inside a PDN
/// Connection (depth 2); 4 leaves room and stops a nesting bomb.
pub const MAX_GROUPED_DEPTH: usize = 4;
/// IEs read from one message at most, grouped members included. A Create
/// Session Request with 11 bearers holds about 80; a 1500-byte datagram
/// could hold 375 empty IEs, which is only noise.
pub const MAX_IES_PER_MESSAGE: usize = 256;

macro_rules! ie_types {
    ($($(#[$doc:meta])* $name:ident = $v:literal, $label:literal;)*) => {
        /// IE types (TS 29.274 Table 8.1-1) that voxprobe names.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum IeType {
            $($(#[$doc])* $name,)*
            /// Any other value.
            Unknown(u8),
        }

        impl From<u8> for IeType {
            fn from(v: u8) -> Self {
                match v {
                    $($v => IeType::$name,)*
                    n => IeType::Unknown(n),
                }
            }
        }

        impl From<IeType> for u8 {
            fn from(t: IeType) -> u8 {
                match t {
                    $(IeType::$name => $v,)*
                    IeType::Unknown(n) => n,
                }
            }
        }

        impl IeType {
            /// Stable name (`imsi`, `bearer_context`, `unknown`).
            pub fn name(self) -> &'static str {
                match self {
                    $(IeType::$name => $label,)*
                    IeType::Unknown(_) => "unknown",
                }
            }
        }
    };
}

ie_types! {
    /// 1, IMSI (TBCD).
    Imsi = 1, "imsi";
    /// 2, Cause.
    Cause = 2, "cause";
    /// 3, Recovery (restart counter).
    Recovery = 3, "recovery";
    /// 71, Access Point Name.
    Apn = 71, "apn";
    /// 72, Aggregate Maximum Bit Rate.
    Ambr = 72, "ambr";
    /// 73, EPS Bearer ID.
    Ebi = 73, "ebi";
    /// 74, IP Address.
    IpAddress = 74, "ip_address";
    /// 75, Mobile Equipment Identity (TBCD).
    Mei = 75, "mei";
    /// 76, MSISDN (TBCD).
    Msisdn = 76, "msisdn";
    /// 77, Indication flags.
    Indication = 77, "indication";
    /// 78, Protocol Configuration Options.
    Pco = 78, "pco";
    /// 79, PDN Address Allocation.
    Paa = 79, "paa";
    /// 80, Bearer Level QoS.
    BearerQos = 80, "bearer_qos";
    /// 81, Flow QoS.
    FlowQos = 81, "flow_qos";
    /// 82, RAT Type.
    RatType = 82, "rat_type";
    /// 83, Serving Network (PLMN).
    ServingNetwork = 83, "serving_network";
    /// 84, EPS Bearer Level TFT.
    BearerTft = 84, "bearer_tft";
    /// 85, Traffic Aggregate Description.
    Tad = 85, "tad";
    /// 86, User Location Information.
    Uli = 86, "uli";
    /// 87, Fully Qualified TEID.
    Fteid = 87, "f_teid";
    /// 93, Bearer Context (grouped).
    BearerContext = 93, "bearer_context";
    /// 94, Charging ID.
    ChargingId = 94, "charging_id";
    /// 95, Charging Characteristics.
    ChargingCharacteristics = 95, "charging_characteristics";
    /// 99, PDN Type.
    PdnType = 99, "pdn_type";
    /// 109, PDN Connection (grouped).
    PdnConnection = 109, "pdn_connection";
    /// 114, UE Time Zone.
    UeTimeZone = 114, "ue_time_zone";
    /// 127, APN Restriction.
    ApnRestriction = 127, "apn_restriction";
    /// 128, Selection Mode.
    SelectionMode = 128, "selection_mode";
    /// 136, Fully Qualified Domain Name.
    Fqdn = 136, "fqdn";
    /// 180, Overload Control Information (grouped).
    OverloadControl = 180, "overload_control_information";
    /// 181, Load Control Information (grouped).
    LoadControl = 181, "load_control_information";
    /// 191, Remote UE Context (grouped).
    RemoteUeContext = 191, "remote_ue_context";
    /// 195, SCEF PDN Connection (grouped).
    ScefPdnConnection = 195, "scef_pdn_connection";
    /// 255, Private Extension.
    PrivateExtension = 255, "private_extension";
}

impl IeType {
    /// Whether the value of this IE is itself a list of IEs.
    pub fn is_grouped(self) -> bool {
        matches!(
            self,
            IeType::BearerContext
                | IeType::PdnConnection
                | IeType::OverloadControl
                | IeType::LoadControl
                | IeType::RemoteUeContext
                | IeType::ScefPdnConnection
        )
    }
}

/// One IE: a view into the message bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ie<'a> {
    /// Type.
    pub ie_type: IeType,
    /// Instance (low 4 bits of the fourth octet): tells apart IEs of one
    /// type in one message (e.g. the S11 and S5/S8 F-TEIDs).
    pub instance: u8,
    /// The high 4 bits of the fourth octet (spare, or CR flags).
    pub spare: u8,
    /// Value octets, exactly `length` of them.
    pub value: &'a [u8],
}

impl<'a> Ie<'a> {
    /// The members of a grouped IE, or `None` when this type is not grouped.
    pub fn members(&self) -> Option<Ies<'a>> {
        self.ie_type.is_grouped().then(|| Ies::new(self.value))
    }
}

/// Iterator over a list of IEs, yielding `(rest, ie)`; stops after the first
/// error (the error is yielded once).
#[derive(Clone, Debug)]
pub struct Ies<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Ies<'a> {
    /// IEs in `bytes` (a message body or a grouped IE's value).
    pub fn new(bytes: &'a [u8]) -> Self {
        Ies {
            rest: bytes,
            done: false,
        }
    }
}

impl<'a> Iterator for Ies<'a> {
    type Item = Result<(&'a [u8], Ie<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let Some(header) = self.rest.get(..IE_HEADER_LEN) else {
            self.done = true;
            return Some(Err(Error::BadIeLength));
        };
        let len = usize::from(be_u16(&header[field::LENGTH]));
        let Some(value) = self.rest.get(IE_HEADER_LEN..IE_HEADER_LEN + len) else {
            self.done = true;
            return Some(Err(Error::BadIeLength));
        };
        let ie = Ie {
            ie_type: IeType::from(header[field::TYPE]),
            instance: header[field::INSTANCE] & 0x0f,
            spare: header[field::INSTANCE] >> 4,
            value,
        };
        self.rest = self.rest.get(IE_HEADER_LEN + len..).unwrap_or_default();
        Some(Ok((self.rest, ie)))
    }
}

/// Visits every IE of `body` depth first, grouped members after their group
/// (`visit(depth, ie)`, the body's own IEs at depth 0), and returns how many
/// IEs were visited.
///
/// # Errors
///
/// The first error met: a lying length ([`Error::BadIeLength`]), a nesting
/// deeper than [`MAX_GROUPED_DEPTH`] ([`Error::TooDeep`]) or more than
/// [`MAX_IES_PER_MESSAGE`] IEs ([`Error::TooManyIes`]). IEs before the error
/// have been visited.
pub fn walk<'a>(body: &'a [u8], visit: &mut dyn FnMut(usize, &Ie<'a>)) -> Result<usize, Error> {
    let mut count = 0;
    walk_at(body, 0, &mut count, visit)?;
    Ok(count)
}

fn walk_at<'a>(
    bytes: &'a [u8],
    depth: usize,
    count: &mut usize,
    visit: &mut dyn FnMut(usize, &Ie<'a>),
) -> Result<(), Error> {
    for item in Ies::new(bytes) {
        let (_, ie) = item?;
        *count += 1;
        if *count > MAX_IES_PER_MESSAGE {
            return Err(Error::TooManyIes);
        }
        visit(depth, &ie);
        if ie.ie_type.is_grouped() {
            if depth + 1 > MAX_GROUPED_DEPTH {
                return Err(Error::TooDeep);
            }
            walk_at(ie.value, depth + 1, count, visit)?;
        }
    }
    Ok(())
}

fn byte(value: &[u8], i: usize) -> Result<u8, Error> {
    value.get(i).copied().ok_or(Error::BadIeValue)
}

fn u32_at(value: &[u8], at: usize) -> Result<u32, Error> {
    value.get(at..at + 4).map(be_u32).ok_or(Error::BadIeValue)
}

fn u40_at(value: &[u8], at: usize) -> Result<u64, Error> {
    let b = value.get(at..at + 5).ok_or(Error::BadIeValue)?;
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

fn ipv4_at(value: &[u8], at: usize) -> Result<Ipv4Addr, Error> {
    u32_at(value, at).map(Ipv4Addr::from)
}

fn ipv6_at(value: &[u8], at: usize) -> Result<Ipv6Addr, Error> {
    let b: [u8; 16] = value
        .get(at..at + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::BadIeValue)?;
    Ok(Ipv6Addr::from(b))
}

/// Longest TBCD string decoded (IMSI 15, MEI/IMEISV 16, MSISDN 15 digits;
/// some stacks pad): more is an error, not an allocation.
pub const MAX_TBCD_DIGITS: usize = 32;

/// Decodes TBCD digits (TS 29.274 §8.3, TS 29.002): two digits an octet, low
/// nibble first; a filler `F` may end the string (high nibble of the last
/// octet). Used by IMSI, MEI and MSISDN.
///
/// # Errors
///
/// [`Error::BadIeValue`] on an empty value, more than [`MAX_TBCD_DIGITS`]
/// digits, a nibble A–E, or digits after a filler.
pub fn tbcd(value: &[u8]) -> Result<String, Error> {
    if value.is_empty() || value.len() * 2 > MAX_TBCD_DIGITS {
        return Err(Error::BadIeValue);
    }
    let mut out = String::with_capacity(value.len() * 2);
    let mut ended = false;
    for &b in value {
        for nibble in [b & 0x0f, b >> 4] {
            match nibble {
                0x0f => ended = true,
                d @ 0..=9 if !ended => out.push(char::from(b'0' + d)),
                _ => return Err(Error::BadIeValue),
            }
        }
    }
    if out.is_empty() {
        return Err(Error::BadIeValue);
    }
    Ok(out)
}

/// Longest APN or FQDN decoded (TS 23.003 §9.1: 100 octets for an APN,
/// RFC 1035: 255 for a name).
pub const MAX_NAME_LEN: usize = 255;

/// Decodes a name in DNS label encoding (TS 23.003 §9.1; APN 71, FQDN 136) to
/// a dotted string: `08 69 6e 74 65 72 6e 65 74` → `internet`.
///
/// # Errors
///
/// [`Error::BadIeValue`] on a label running past the value, an empty or
/// over-long name, or a label that is not printable ASCII.
pub fn dotted_name(value: &[u8]) -> Result<String, Error> {
    if value.is_empty() || value.len() > MAX_NAME_LEN {
        return Err(Error::BadIeValue);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            // A root label: only allowed last (some stacks send it).
            if tail.is_empty() {
                break;
            }
            return Err(Error::BadIeValue);
        }
        let label = tail.get(..usize::from(len)).ok_or(Error::BadIeValue)?;
        if !label.iter().all(|c| c.is_ascii_graphic() && *c != b'.') {
            return Err(Error::BadIeValue);
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(label.iter().map(|&c| char::from(c)));
        rest = tail.get(usize::from(len)..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(Error::BadIeValue);
    }
    Ok(out)
}

/// Cause (IE 2, TS 29.274 §8.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cause {
    /// Cause value (Table 8.4-1).
    pub value: u8,
    /// PDN Connection IE Error.
    pub pce: bool,
    /// Bearer Context IE Error.
    pub bce: bool,
    /// Cause Source: set when the error originated in the remote node.
    pub cs: bool,
    /// The offending IE (type, instance) when present.
    pub offending_ie: Option<(u8, u8)>,
}

impl Cause {
    /// Decodes a Cause value: 2 octets, or 6 with the offending IE.
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter than 2 octets.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        let flags = byte(value, 1)?;
        let offending_ie = value.get(2..6).map(|o| (o[0], o[3] & 0x0f));
        Ok(Cause {
            value: byte(value, 0)?,
            pce: flags & 0x04 != 0,
            bce: flags & 0x02 != 0,
            cs: flags & 0x01 != 0,
            offending_ie,
        })
    }

    /// Whether the value means the request was accepted: 16–63 ("Acceptance
    /// in a Response / triggered message", Table 8.4-1: 16 Request accepted,
    /// 17 Request accepted partially, 18 and 19 New PDN type ...).
    pub fn is_accepted(self) -> bool {
        (16..=63).contains(&self.value)
    }

    /// Name of the cause value for the common ones, else `None`.
    pub fn name(self) -> Option<&'static str> {
        cause_name(self.value)
    }
}

/// Names of the common cause values (TS 29.274 Table 8.4-1).
pub fn cause_name(value: u8) -> Option<&'static str> {
    Some(match value {
        2 => "Local Detach",
        3 => "Complete Detach",
        4 => "RAT changed from 3GPP to Non-3GPP",
        5 => "ISR deactivation",
        8 => "Reactivation Requested",
        16 => "Request accepted",
        17 => "Request accepted partially",
        18 => "New PDN type due to network preference",
        19 => "New PDN type due to single address bearer only",
        64 => "Context Not Found",
        65 => "Invalid Message Format",
        66 => "Version not supported by next peer",
        67 => "Invalid length",
        68 => "Service not supported",
        69 => "Mandatory IE incorrect",
        70 => "Mandatory IE missing",
        72 => "System failure",
        73 => "No resources available",
        78 => "Missing or unknown APN",
        83 => "Preferred PDN type not supported",
        84 => "All dynamic addresses are occupied",
        87 => "UE not responding",
        88 => "UE refuses",
        89 => "Service denied",
        90 => "Unable to page UE",
        91 => "No memory available",
        92 => "User authentication failed",
        93 => "APN access denied - no subscription",
        94 => "Request rejected (reason not specified)",
        100 => "Remote peer not responding",
        110 => "Temporarily rejected due to handover/TAU/RAU procedure in progress",
        _ => return None,
    })
}

/// Aggregate Maximum Bit Rate (IE 72), kbps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ambr {
    /// Uplink, kbps.
    pub uplink_kbps: u32,
    /// Downlink, kbps.
    pub downlink_kbps: u32,
}

impl Ambr {
    /// Decodes 8 octets.
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        Ok(Ambr {
            uplink_kbps: u32_at(value, 0)?,
            downlink_kbps: u32_at(value, 4)?,
        })
    }
}

/// EPS Bearer ID (IE 73): the low 4 bits of the first octet.
///
/// # Errors
///
/// [`Error::BadIeValue`] on an empty value.
pub fn ebi(value: &[u8]) -> Result<u8, Error> {
    Ok(byte(value, 0)? & 0x0f)
}

/// A single octet (Recovery 3, RAT Type 82, APN Restriction 127, Charging
/// ID-like one-octet values).
///
/// # Errors
///
/// [`Error::BadIeValue`] on an empty value.
pub fn octet(value: &[u8]) -> Result<u8, Error> {
    byte(value, 0)
}

/// PDN Type (IE 99): the low 3 bits of the first octet.
///
/// # Errors
///
/// [`Error::BadIeValue`] on an empty value.
pub fn pdn_type(value: &[u8]) -> Result<PdnType, Error> {
    byte(value, 0).map(PdnType::from)
}

/// Selection Mode (IE 128): the low 2 bits (0: MS or network provided APN,
/// subscription verified; 1: MS provided, not verified; 2: network
/// provided, not verified).
///
/// # Errors
///
/// [`Error::BadIeValue`] on an empty value.
pub fn selection_mode(value: &[u8]) -> Result<u8, Error> {
    Ok(byte(value, 0)? & 0x03)
}

/// Charging ID (IE 94): 4 octets.
///
/// # Errors
///
/// [`Error::BadIeValue`] when shorter.
pub fn charging_id(value: &[u8]) -> Result<u32, Error> {
    u32_at(value, 0)
}

/// IP Address (IE 74): 4 octets IPv4 or 16 IPv6.
///
/// # Errors
///
/// [`Error::BadIeValue`] on any other length.
pub fn ip_address(value: &[u8]) -> Result<IpAddr, Error> {
    match value.len() {
        4 => ipv4_at(value, 0).map(IpAddr::V4),
        16 => ipv6_at(value, 0).map(IpAddr::V6),
        _ => Err(Error::BadIeValue),
    }
}

/// PDN Type (IE 99, and the PAA's first octet), low 3 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum PdnType {
    /// 1.
    Ipv4,
    /// 2.
    Ipv6,
    /// 3.
    Ipv4v6,
    /// 4.
    NonIp,
    /// 5.
    Ethernet,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for PdnType {
    fn from(v: u8) -> Self {
        match v & 0x07 {
            1 => PdnType::Ipv4,
            2 => PdnType::Ipv6,
            3 => PdnType::Ipv4v6,
            4 => PdnType::NonIp,
            5 => PdnType::Ethernet,
            n => PdnType::Unknown(n),
        }
    }
}

/// PDN Address Allocation (IE 79): the UE's address(es).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Paa {
    /// PDN type.
    pub pdn_type: PdnType,
    /// UE IPv4 address (IPv4 and IPv4v6).
    pub ipv4: Option<Ipv4Addr>,
    /// UE IPv6 prefix and its length (IPv6 and IPv4v6).
    pub ipv6: Option<(Ipv6Addr, u8)>,
}

impl Paa {
    /// Decodes a PAA value (TS 29.274 §8.14).
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter than its PDN type needs.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        let pdn_type = PdnType::from(byte(value, 0)?);
        let (ipv4, ipv6) = match pdn_type {
            PdnType::Ipv4 => (Some(ipv4_at(value, 1)?), None),
            PdnType::Ipv6 => (None, Some((ipv6_at(value, 2)?, byte(value, 1)?))),
            PdnType::Ipv4v6 => (
                Some(ipv4_at(value, 18)?),
                Some((ipv6_at(value, 2)?, byte(value, 1)?)),
            ),
            _ => (None, None),
        };
        Ok(Paa {
            pdn_type,
            ipv4,
            ipv6,
        })
    }
}

/// Bearer Level QoS (IE 80, TS 29.274 §8.15), bit rates in kbps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BearerQos {
    /// Pre-emption capability flag (1: may not pre-empt).
    pub pci: bool,
    /// ARP priority level, 1 (highest) to 15.
    pub priority_level: u8,
    /// Pre-emption vulnerability flag (1: may not be pre-empted).
    pub pvi: bool,
    /// QoS class identifier (1: conversational voice).
    pub qci: u8,
    /// Maximum bit rate uplink.
    pub mbr_uplink_kbps: u64,
    /// Maximum bit rate downlink.
    pub mbr_downlink_kbps: u64,
    /// Guaranteed bit rate uplink.
    pub gbr_uplink_kbps: u64,
    /// Guaranteed bit rate downlink.
    pub gbr_downlink_kbps: u64,
}

impl BearerQos {
    /// Decodes 22 octets.
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        let arp = byte(value, 0)?;
        Ok(BearerQos {
            pci: arp & 0x40 != 0,
            priority_level: (arp >> 2) & 0x0f,
            pvi: arp & 0x01 != 0,
            qci: byte(value, 1)?,
            mbr_uplink_kbps: u40_at(value, 2)?,
            mbr_downlink_kbps: u40_at(value, 7)?,
            gbr_uplink_kbps: u40_at(value, 12)?,
            gbr_downlink_kbps: u40_at(value, 17)?,
        })
    }

    /// Whether the bearer has a guaranteed bit rate.
    pub fn is_gbr(&self) -> bool {
        self.gbr_uplink_kbps > 0 || self.gbr_downlink_kbps > 0
    }
}

/// Flow QoS (IE 81, §8.16): QCI and bit rates, kbps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FlowQos {
    /// QoS class identifier.
    pub qci: u8,
    /// MBR uplink.
    pub mbr_uplink_kbps: u64,
    /// MBR downlink.
    pub mbr_downlink_kbps: u64,
    /// GBR uplink.
    pub gbr_uplink_kbps: u64,
    /// GBR downlink.
    pub gbr_downlink_kbps: u64,
}

impl FlowQos {
    /// Decodes 21 octets.
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        Ok(FlowQos {
            qci: byte(value, 0)?,
            mbr_uplink_kbps: u40_at(value, 1)?,
            mbr_downlink_kbps: u40_at(value, 6)?,
            gbr_uplink_kbps: u40_at(value, 11)?,
            gbr_downlink_kbps: u40_at(value, 16)?,
        })
    }
}

/// RAT Type (IE 82, §8.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RatType(pub u8);

impl RatType {
    /// Name of the RAT (`EUTRAN`, `NR` ...), `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "UTRAN",
            2 => "GERAN",
            3 => "WLAN",
            4 => "GAN",
            5 => "HSPA Evolution",
            6 => "EUTRAN",
            7 => "Virtual",
            8 => "EUTRAN-NB-IoT",
            9 => "LTE-M",
            10 => "NR",
            _ => "unknown",
        }
    }
}

/// A PLMN identity (MCC, MNC) as coded in TS 24.008 §10.5.1.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Plmn {
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// 2 or 3: how many digits the MNC has.
    pub mnc_digits: u8,
}

impl Plmn {
    /// Decodes 3 octets (Serving Network 83, and inside ULI).
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter or a digit is not 0–9.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        let b = value.get(..3).ok_or(Error::BadIeValue)?;
        let digit = |n: u8| -> Result<u16, Error> {
            if n <= 9 {
                Ok(u16::from(n))
            } else {
                Err(Error::BadIeValue)
            }
        };
        let mcc = digit(b[0] & 0x0f)? * 100 + digit(b[0] >> 4)? * 10 + digit(b[1] & 0x0f)?;
        let mnc12 = digit(b[2] & 0x0f)? * 10 + digit(b[2] >> 4)?;
        let (mnc, mnc_digits) = match b[1] >> 4 {
            0x0f => (mnc12, 2),
            d => (mnc12 * 10 + digit(d)?, 3),
        };
        Ok(Plmn {
            mcc,
            mnc,
            mnc_digits,
        })
    }
}

impl fmt::Display for Plmn {
    /// `001-01`, `310-260`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mnc_digits == 3 {
            write!(f, "{:03}-{:03}", self.mcc, self.mnc)
        } else {
            write!(f, "{:03}-{:02}", self.mcc, self.mnc)
        }
    }
}

/// Tracking Area Identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tai {
    /// PLMN.
    pub plmn: Plmn,
    /// Tracking area code.
    pub tac: u16,
}

/// E-UTRAN Cell Global Identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ecgi {
    /// PLMN.
    pub plmn: Plmn,
    /// E-UTRAN cell identifier (28 bits).
    pub eci: u32,
}

/// User Location Information (IE 86, §8.21): the TAI and ECGI parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct Uli {
    /// TAI, when its flag is set.
    pub tai: Option<Tai>,
    /// ECGI, when its flag is set.
    pub ecgi: Option<Ecgi>,
}

impl Uli {
    /// Decodes the flags and walks the parts in their fixed order (CGI 7,
    /// SAI 7, RAI 7, TAI 5, ECGI 7, LAI 5, macro eNB 6, extended macro eNB 6
    /// octets), keeping TAI and ECGI.
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when a flagged part runs past the value.
    pub fn parse(value: &[u8]) -> Result<Self, Error> {
        const SIZES: [usize; 8] = [7, 7, 7, 5, 7, 5, 6, 6];
        let flags = byte(value, 0)?;
        let mut at = 1;
        let mut uli = Uli::default();
        for (bit, size) in SIZES.iter().enumerate() {
            if flags & (1 << bit) == 0 {
                continue;
            }
            let part = value.get(at..at + size).ok_or(Error::BadIeValue)?;
            match bit {
                3 => {
                    uli.tai = Some(Tai {
                        plmn: Plmn::parse(part)?,
                        tac: be_u16(&part[3..5]),
                    })
                }
                4 => {
                    uli.ecgi = Some(Ecgi {
                        plmn: Plmn::parse(part)?,
                        eci: be_u32(&part[3..7]) & 0x0fff_ffff,
                    })
                }
                _ => {}
            }
            at += size;
        }
        Ok(uli)
    }
}

/// Fully qualified TEID (IE 87, §8.22).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Fteid {
    /// IE instance (tells apart e.g. the S11 and S5/S8 F-TEIDs).
    pub instance: u8,
    /// Interface type (low 6 bits of the first octet).
    pub interface_type: u8,
    /// TEID or GRE key.
    pub teid: u32,
    /// IPv4 address when the V4 flag is set.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address when the V6 flag is set.
    pub ipv6: Option<Ipv6Addr>,
}

impl Fteid {
    /// Decodes an F-TEID value; `instance` comes from the IE header.
    ///
    /// # Errors
    ///
    /// [`Error::BadIeValue`] when shorter than its flags say.
    pub fn parse(value: &[u8], instance: u8) -> Result<Self, Error> {
        let flags = byte(value, 0)?;
        let teid = u32_at(value, 1)?;
        let mut at = 5;
        let ipv4 = if flags & 0x80 != 0 {
            at += 4;
            Some(ipv4_at(value, 5)?)
        } else {
            None
        };
        let ipv6 = if flags & 0x40 != 0 {
            Some(ipv6_at(value, at)?)
        } else {
            None
        };
        Ok(Fteid {
            instance,
            interface_type: flags & 0x3f,
            teid,
            ipv4,
            ipv6,
        })
    }

    /// Name of the interface type (Table 8.22-1), `unknown` past the table.
    pub fn interface_name(&self) -> &'static str {
        interface_type_name(self.interface_type)
    }
}

/// Names of the F-TEID interface types (TS 29.274 Table 8.22-1).
pub fn interface_type_name(t: u8) -> &'static str {
    const NAMES: [&str; 40] = [
        "S1-U eNodeB GTP-U",
        "S1-U SGW GTP-U",
        "S12 RNC GTP-U",
        "S12 SGW GTP-U",
        "S5/S8 SGW GTP-U",
        "S5/S8 PGW GTP-U",
        "S5/S8 SGW GTP-C",
        "S5/S8 PGW GTP-C",
        "S5/S8 SGW PMIPv6",
        "S5/S8 PGW PMIPv6",
        "S11 MME GTP-C",
        "S11/S4 SGW GTP-C",
        "S10/N26 MME GTP-C",
        "S3 MME GTP-C",
        "S3 SGSN GTP-C",
        "S4 SGSN GTP-U",
        "S4 SGW GTP-U",
        "S4 SGSN GTP-C",
        "S16 SGSN GTP-C",
        "eNodeB/gNodeB GTP-U for DL data forwarding",
        "eNodeB GTP-U for UL data forwarding",
        "RNC GTP-U for data forwarding",
        "SGSN GTP-U for data forwarding",
        "SGW/UPF GTP-U for DL data forwarding",
        "Sm MBMS GW GTP-C",
        "Sn MBMS GW GTP-C",
        "Sm MME GTP-C",
        "Sn SGSN GTP-C",
        "SGW GTP-U for UL data forwarding",
        "Sn SGSN GTP-U",
        "S2b ePDG GTP-C",
        "S2b-U ePDG GTP-U",
        "S2b PGW GTP-C",
        "S2b-U PGW GTP-U",
        "S2a TWAN GTP-U",
        "S2a TWAN GTP-C",
        "S2a PGW GTP-C",
        "S2a PGW GTP-U",
        "S11 MME GTP-U",
        "S11 SGW GTP-U",
    ];
    NAMES.get(usize::from(t)).copied().unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbcd_stops_at_filler() {
        // Made up: IMSI 001011234567895 (15 digits, filler F in the last octet).
        let v = [0x00, 0x01, 0x11, 0x32, 0x54, 0x76, 0x98, 0xf5];
        assert_eq!(tbcd(&v).unwrap(), "001011234567895");
        assert_eq!(tbcd(&[0x21, 0xf3]).unwrap(), "123");
    }

    #[test]
    fn tbcd_rejects_digits_after_filler_and_hex() {
        assert_eq!(tbcd(&[0xf1, 0x22]), Err(Error::BadIeValue));
        assert_eq!(tbcd(&[0x1a]), Err(Error::BadIeValue));
        assert_eq!(tbcd(&[0xff]), Err(Error::BadIeValue));
        assert_eq!(tbcd(&[]), Err(Error::BadIeValue));
    }

    #[test]
    fn dotted_name_decodes_labels() {
        let v = b"\x03ims\x06mnc001\x06mcc001\x04gprs";
        assert_eq!(dotted_name(v).unwrap(), "ims.mnc001.mcc001.gprs");
        assert_eq!(dotted_name(b"\x03ims\x09mnc"), Err(Error::BadIeValue));
        assert_eq!(dotted_name(b"\x00"), Err(Error::BadIeValue));
    }

    #[test]
    fn plmn_two_and_three_digit_mnc() {
        // gtpv2-csr-dsr-minimal.pcap frame 1, Serving Network: 89 47 56.
        let p = Plmn::parse(&[0x89, 0x47, 0x56]).unwrap();
        assert_eq!((p.mcc, p.mnc, p.mnc_digits), (987, 654, 3));
        assert_eq!(p.to_string(), "987-654");
        let p = Plmn::parse(&[0x00, 0xf1, 0x10]).unwrap();
        assert_eq!(p.to_string(), "001-01");
    }

    #[test]
    fn bearer_qos_reads_40_bit_rates() {
        // Made up: PCI=1, PL=2, PVI=0, QCI 1, MBR/GBR UL 41 kbps, DL 0x0100000000.
        let mut v = [0u8; 22];
        v[0] = 0x48;
        v[1] = 1;
        v[6] = 41;
        v[7] = 1;
        v[16] = 41;
        let q = BearerQos::parse(&v).unwrap();
        assert!(q.pci && !q.pvi);
        assert_eq!((q.priority_level, q.qci), (2, 1));
        assert_eq!(q.mbr_uplink_kbps, 41);
        assert_eq!(q.mbr_downlink_kbps, 1 << 32);
        assert_eq!(q.gbr_uplink_kbps, 41);
        assert!(q.is_gbr());
        assert_eq!(BearerQos::parse(&v[..21]), Err(Error::BadIeValue));
    }

    #[test]
    fn fteid_with_ipv4() {
        // gtpv2-csr-dsr-minimal.pcap frame 1: 86 35 52 92 04 0a 65 00 02.
        let f = Fteid::parse(&[0x86, 0x35, 0x52, 0x92, 0x04, 10, 101, 0, 2], 0).unwrap();
        assert_eq!(f.interface_type, 6);
        assert_eq!(f.interface_name(), "S5/S8 SGW GTP-C");
        assert_eq!(f.teid, 0x3552_9204);
        assert_eq!(f.ipv4, Some(Ipv4Addr::new(10, 101, 0, 2)));
        assert_eq!(f.ipv6, None);
        assert_eq!(
            Fteid::parse(&[0xc6, 0, 0, 0, 1, 1, 2, 3, 4], 0),
            Err(Error::BadIeValue)
        );
    }

    #[test]
    fn paa_ipv4v6() {
        let mut v = vec![3, 64];
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v.extend_from_slice(&[0; 12]);
        v.extend_from_slice(&[10, 45, 0, 2]);
        let p = Paa::parse(&v).unwrap();
        assert_eq!(p.ipv4, Some(Ipv4Addr::new(10, 45, 0, 2)));
        assert_eq!(p.ipv6.map(|(_, l)| l), Some(64));
        assert_eq!(Paa::parse(&v[..21]), Err(Error::BadIeValue));
    }

    #[test]
    fn uli_tai_and_ecgi() {
        // gtpv2-csr-dsr-minimal.pcap frame 1, ULI: flags 0x18, TAI, ECGI.
        let v = [
            0x18, 0x98, 0x76, 0x54, 0x12, 0x34, 0x98, 0x76, 0x54, 0x12, 0x34, 0x56, 0x78,
        ];
        let u = Uli::parse(&v).unwrap();
        assert_eq!(u.tai.unwrap().tac, 0x1234);
        assert_eq!(u.tai.unwrap().plmn.to_string(), "896-457");
        assert_eq!(u.ecgi.unwrap().eci, 0x0234_5678);
        assert_eq!(Uli::parse(&v[..12]), Err(Error::BadIeValue));
    }

    #[test]
    fn lying_ie_length_stops_after_earlier_ies() {
        // Made up: Recovery (3) ok, then an EBI claiming 9 octets with 1.
        let body = [3, 0, 1, 0, 7, 73, 0, 9, 0, 5];
        let mut it = Ies::new(&body);
        let (rest, ie) = it.next().unwrap().unwrap();
        assert_eq!((ie.ie_type, ie.value), (IeType::Recovery, &[7u8][..]));
        assert_eq!(rest.len(), 5);
        assert_eq!(it.next(), Some(Err(Error::BadIeLength)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn grouped_depth_bomb_is_bounded() {
        // Made up: Bearer Contexts nested 10 deep around an EBI.
        let mut v = vec![73, 0, 1, 0, 5];
        for _ in 0..10 {
            let len = u16::try_from(v.len()).unwrap().to_be_bytes();
            let mut g = vec![93, len[0], len[1], 0];
            g.extend_from_slice(&v);
            v = g;
        }
        let mut deepest = 0;
        let r = walk(&v, &mut |d, _| deepest = deepest.max(d));
        assert_eq!(r, Err(Error::TooDeep));
        assert_eq!(deepest, MAX_GROUPED_DEPTH);
    }

    #[test]
    fn too_many_ies_is_bounded() {
        let v = [3u8, 0, 0, 0].repeat(MAX_IES_PER_MESSAGE + 1);
        assert_eq!(walk(&v, &mut |_, _| {}), Err(Error::TooManyIes));
        assert_eq!(walk(&v[4..], &mut |_, _| {}), Ok(MAX_IES_PER_MESSAGE));
    }

    #[test]
    fn cause_with_offending_ie() {
        let c = Cause::parse(&[70, 0x05, 87, 0, 0, 1]).unwrap();
        assert!(c.pce && !c.bce && c.cs && !c.is_accepted());
        assert_eq!(c.offending_ie, Some((87, 1)));
        assert_eq!(c.name(), Some("Mandatory IE missing"));
        assert!(Cause::parse(&[16, 0]).unwrap().is_accepted());
        assert_eq!(Cause::parse(&[16]), Err(Error::BadIeValue));
    }
}
