//! DIAMETER names: applications, command codes and the AVPs voxprobe knows.
//!
//! Every value here was taken from Wireshark's DIAMETER dictionary
//! (`diameter/dictionary.xml`, `nasreq.xml`, `chargecontrol.xml`, `TGPP.xml`
//! of the Wireshark source tree) and checked against the clause named next
//! to it. Unknown codes are data, not errors: [`application_name`] and
//! [`command_name`] return `None`, and [`avp()`] returns `None`, so the caller
//! shows the number and, for AVPs, does not descend into them.
//!
//! The AVP table decides which AVPs are walked into as grouped (see
//! [`super::avp::walk`]); it covers the base protocol (RFC 6733 §4.5), NASREQ
//! (RFC 7155), credit control (RFC 4006 §8), Rx (3GPP TS 29.214 §5.3), Gx
//! (3GPP TS 29.212 §5.3), and the grouped AVPs of Cx (TS 29.229 §6.3) and S6a
//! (TS 29.272 §7.3) that hold other AVPs.

/// The 3GPP vendor id (IANA enterprise number 10415), used by every AVP of
/// TS 29.212, 29.214, 29.229 and 29.272.
pub const VENDOR_3GPP: u32 = 10415;

/// Application ids (RFC 6733 §11.3, IANA "Application IDs", TS 29.230 §7).
pub mod app {
    /// Diameter common messages (RFC 6733 §2.4).
    pub const COMMON: u32 = 0;
    /// NASREQ (RFC 7155).
    pub const NASREQ: u32 = 1;
    /// Base accounting (RFC 6733 §2.4).
    pub const BASE_ACCOUNTING: u32 = 3;
    /// Credit control (RFC 4006), used by Gy and Ro.
    pub const CREDIT_CONTROL: u32 = 4;
    /// EAP (RFC 4072).
    pub const EAP: u32 = 5;
    /// 3GPP Cx/Dx (TS 29.229 §6.2).
    pub const CX: u32 = 16_777_216;
    /// 3GPP Sh/Dh (TS 29.329 §6.2).
    pub const SH: u32 = 16_777_217;
    /// 3GPP Rx (TS 29.214 §5.6).
    pub const RX: u32 = 16_777_236;
    /// 3GPP Gx (TS 29.212 §5.6).
    pub const GX: u32 = 16_777_238;
    /// 3GPP S6a/S6d (TS 29.272 §7.1).
    pub const S6A: u32 = 16_777_251;
    /// 3GPP S13/S13' (TS 29.272 §7.1).
    pub const S13: u32 = 16_777_252;
    /// 3GPP SLg (TS 29.172).
    pub const SLG: u32 = 16_777_255;
    /// 3GPP SWm (TS 29.273).
    pub const SWM: u32 = 16_777_264;
    /// 3GPP SWx (TS 29.273).
    pub const SWX: u32 = 16_777_265;
    /// 3GPP Gxx (TS 29.212).
    pub const GXX: u32 = 16_777_266;
    /// 3GPP S9 (TS 29.215).
    pub const S9: u32 = 16_777_267;
    /// 3GPP S6b (TS 29.273).
    pub const S6B: u32 = 16_777_272;
    /// 3GPP SLh (TS 29.173).
    pub const SLH: u32 = 16_777_291;
    /// 3GPP Sy (TS 29.219).
    pub const SY: u32 = 16_777_302;
    /// 3GPP S6c (TS 29.338).
    pub const S6C: u32 = 16_777_312;
    /// Relay (RFC 6733 §2.4).
    pub const RELAY: u32 = 0xffff_ffff;
}

/// Command codes (RFC 6733 §3.1 and IANA "Command Codes").
pub mod cmd {
    /// Capabilities-Exchange (RFC 6733 §5.3).
    pub const CAPABILITIES_EXCHANGE: u32 = 257;
    /// Re-Auth (RFC 6733 §8.3); Gx RAR/RAA, Rx RAR/RAA.
    pub const RE_AUTH: u32 = 258;
    /// AA (RFC 7155 §3.1); Rx AAR/AAA.
    pub const AA: u32 = 265;
    /// Diameter-EAP (RFC 4072).
    pub const DIAMETER_EAP: u32 = 268;
    /// Accounting (RFC 6733 §9.7).
    pub const ACCOUNTING: u32 = 271;
    /// Credit-Control (RFC 4006 §3.1); Gx, Gy, Ro CCR/CCA.
    pub const CREDIT_CONTROL: u32 = 272;
    /// Abort-Session (RFC 6733 §8.5).
    pub const ABORT_SESSION: u32 = 274;
    /// Session-Termination (RFC 6733 §8.4).
    pub const SESSION_TERMINATION: u32 = 275;
    /// Device-Watchdog (RFC 6733 §5.5).
    pub const DEVICE_WATCHDOG: u32 = 280;
    /// Disconnect-Peer (RFC 6733 §5.4).
    pub const DISCONNECT_PEER: u32 = 282;
}

/// AVP data formats (RFC 6733 §4.2–§4.3, RFC 4006 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AvpType {
    /// Arbitrary bytes.
    OctetString,
    /// 32-bit signed.
    Integer32,
    /// 64-bit signed.
    Integer64,
    /// 32-bit unsigned.
    Unsigned32,
    /// 64-bit unsigned.
    Unsigned64,
    /// A sequence of AVPs (RFC 6733 §4.4).
    Grouped,
    /// 2-byte address family then the address (RFC 6733 §4.3.1).
    Address,
    /// NTP seconds.
    Time,
    /// UTF-8 text.
    Utf8String,
    /// A fully qualified domain name (DiameterIdentity).
    DiameterIdentity,
    /// An Integer32 with named values.
    Enumerated,
    /// An IP filter rule (RFC 6733 §4.3.1), text.
    IpFilterRule,
    /// Framed-IP-Address / Framed-IPv6-Prefix style raw address bytes.
    RawAddress,
}

/// One AVP definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvpDef {
    /// Vendor id, 0 for IETF AVPs.
    pub vendor: u32,
    /// AVP code.
    pub code: u32,
    /// Name as in the defining document.
    pub name: &'static str,
    /// Data format.
    pub ty: AvpType,
}

/// AVP codes by name; `V3_` marks 3GPP-vendor AVPs ([`VENDOR_3GPP`]).
pub mod avp {
    /// User-Name (RFC 6733 §8.14).
    pub const USER_NAME: u32 = 1;
    /// Framed-IP-Address (RFC 7155 §4.4.5.1), 4 raw bytes.
    pub const FRAMED_IP_ADDRESS: u32 = 8;
    /// Class (RFC 6733 §8.20).
    pub const CLASS: u32 = 25;
    /// Called-Station-Id (RFC 7155 §4.2), the APN on Gx.
    pub const CALLED_STATION_ID: u32 = 30;
    /// Framed-IPv6-Prefix (RFC 7155 §4.4.6.2): reserved, length, prefix.
    pub const FRAMED_IPV6_PREFIX: u32 = 97;
    /// Host-IP-Address (RFC 6733 §5.3.5).
    pub const HOST_IP_ADDRESS: u32 = 257;
    /// Auth-Application-Id (RFC 6733 §6.8).
    pub const AUTH_APPLICATION_ID: u32 = 258;
    /// Acct-Application-Id (RFC 6733 §6.9).
    pub const ACCT_APPLICATION_ID: u32 = 259;
    /// Vendor-Specific-Application-Id (RFC 6733 §6.11).
    pub const VENDOR_SPECIFIC_APPLICATION_ID: u32 = 260;
    /// Session-Id (RFC 6733 §8.8).
    pub const SESSION_ID: u32 = 263;
    /// Origin-Host (RFC 6733 §6.3).
    pub const ORIGIN_HOST: u32 = 264;
    /// Supported-Vendor-Id (RFC 6733 §5.3.6).
    pub const SUPPORTED_VENDOR_ID: u32 = 265;
    /// Vendor-Id (RFC 6733 §5.3.3).
    pub const VENDOR_ID: u32 = 266;
    /// Firmware-Revision (RFC 6733 §5.3.4).
    pub const FIRMWARE_REVISION: u32 = 267;
    /// Result-Code (RFC 6733 §7.1).
    pub const RESULT_CODE: u32 = 268;
    /// Product-Name (RFC 6733 §5.3.7).
    pub const PRODUCT_NAME: u32 = 269;
    /// Auth-Session-State (RFC 6733 §8.11).
    pub const AUTH_SESSION_STATE: u32 = 277;
    /// Origin-State-Id (RFC 6733 §8.16).
    pub const ORIGIN_STATE_ID: u32 = 278;
    /// Failed-AVP (RFC 6733 §7.5).
    pub const FAILED_AVP: u32 = 279;
    /// Proxy-Host (RFC 6733 §6.7.3).
    pub const PROXY_HOST: u32 = 280;
    /// Error-Message (RFC 6733 §7.3).
    pub const ERROR_MESSAGE: u32 = 281;
    /// Route-Record (RFC 6733 §6.7.1).
    pub const ROUTE_RECORD: u32 = 282;
    /// Destination-Realm (RFC 6733 §6.6).
    pub const DESTINATION_REALM: u32 = 283;
    /// Proxy-Info (RFC 6733 §6.7.2).
    pub const PROXY_INFO: u32 = 284;
    /// Re-Auth-Request-Type (RFC 6733 §8.12).
    pub const RE_AUTH_REQUEST_TYPE: u32 = 285;
    /// Destination-Host (RFC 6733 §6.5).
    pub const DESTINATION_HOST: u32 = 293;
    /// Termination-Cause (RFC 6733 §8.15).
    pub const TERMINATION_CAUSE: u32 = 295;
    /// Origin-Realm (RFC 6733 §6.4).
    pub const ORIGIN_REALM: u32 = 296;
    /// Experimental-Result (RFC 6733 §7.6).
    pub const EXPERIMENTAL_RESULT: u32 = 297;
    /// Experimental-Result-Code (RFC 6733 §7.7).
    pub const EXPERIMENTAL_RESULT_CODE: u32 = 298;
    /// CC-Request-Number (RFC 4006 §8.2).
    pub const CC_REQUEST_NUMBER: u32 = 415;
    /// CC-Request-Type (RFC 4006 §8.3).
    pub const CC_REQUEST_TYPE: u32 = 416;
    /// Granted-Service-Unit (RFC 4006 §8.17).
    pub const GRANTED_SERVICE_UNIT: u32 = 431;
    /// Rating-Group (RFC 4006 §8.29).
    pub const RATING_GROUP: u32 = 432;
    /// Requested-Service-Unit (RFC 4006 §8.18).
    pub const REQUESTED_SERVICE_UNIT: u32 = 437;
    /// Service-Identifier (RFC 4006 §8.28).
    pub const SERVICE_IDENTIFIER: u32 = 439;
    /// Subscription-Id (RFC 4006 §8.46).
    pub const SUBSCRIPTION_ID: u32 = 443;
    /// Subscription-Id-Data (RFC 4006 §8.48).
    pub const SUBSCRIPTION_ID_DATA: u32 = 444;
    /// Used-Service-Unit (RFC 4006 §8.19).
    pub const USED_SERVICE_UNIT: u32 = 446;
    /// Subscription-Id-Type (RFC 4006 §8.47).
    pub const SUBSCRIPTION_ID_TYPE: u32 = 450;
    /// Multiple-Services-Credit-Control (RFC 4006 §8.16).
    pub const MULTIPLE_SERVICES_CREDIT_CONTROL: u32 = 456;
    /// User-Equipment-Info (RFC 4006 §8.49).
    pub const USER_EQUIPMENT_INFO: u32 = 458;
    /// Service-Context-Id (RFC 4006 §8.42).
    pub const SERVICE_CONTEXT_ID: u32 = 461;

    /// Abort-Cause (TS 29.214 §5.3).
    pub const V3_ABORT_CAUSE: u32 = 500;
    /// AF-Application-Identifier (TS 29.214 §5.3).
    pub const V3_AF_APPLICATION_IDENTIFIER: u32 = 504;
    /// AF-Charging-Identifier (TS 29.214 §5.3), the IMS ICID.
    pub const V3_AF_CHARGING_IDENTIFIER: u32 = 505;
    /// Flow-Description (TS 29.214 §5.3), an IPFilterRule.
    pub const V3_FLOW_DESCRIPTION: u32 = 507;
    /// Flow-Number (TS 29.214 §5.3).
    pub const V3_FLOW_NUMBER: u32 = 509;
    /// Flows (TS 29.214 §5.3).
    pub const V3_FLOWS: u32 = 510;
    /// Flow-Status (TS 29.214 §5.3).
    pub const V3_FLOW_STATUS: u32 = 511;
    /// Flow-Usage (TS 29.214 §5.3).
    pub const V3_FLOW_USAGE: u32 = 512;
    /// Specific-Action (TS 29.214 §5.3).
    pub const V3_SPECIFIC_ACTION: u32 = 513;
    /// Max-Requested-Bandwidth-DL (TS 29.214 §5.3).
    pub const V3_MAX_REQUESTED_BANDWIDTH_DL: u32 = 515;
    /// Max-Requested-Bandwidth-UL (TS 29.214 §5.3).
    pub const V3_MAX_REQUESTED_BANDWIDTH_UL: u32 = 516;
    /// Media-Component-Description (TS 29.214 §5.3).
    pub const V3_MEDIA_COMPONENT_DESCRIPTION: u32 = 517;
    /// Media-Component-Number (TS 29.214 §5.3).
    pub const V3_MEDIA_COMPONENT_NUMBER: u32 = 518;
    /// Media-Sub-Component (TS 29.214 §5.3).
    pub const V3_MEDIA_SUB_COMPONENT: u32 = 519;
    /// Media-Type (TS 29.214 §5.3).
    pub const V3_MEDIA_TYPE: u32 = 520;
    /// RR-Bandwidth (TS 29.214 §5.3).
    pub const V3_RR_BANDWIDTH: u32 = 521;
    /// RS-Bandwidth (TS 29.214 §5.3).
    pub const V3_RS_BANDWIDTH: u32 = 522;
    /// Codec-Data (TS 29.214 §5.3).
    pub const V3_CODEC_DATA: u32 = 524;
    /// Rx-Request-Type (TS 29.214 §5.3).
    pub const V3_RX_REQUEST_TYPE: u32 = 533;
    /// Public-Identity (TS 29.229 §6.3).
    pub const V3_PUBLIC_IDENTITY: u32 = 601;
    /// Server-Name (TS 29.229 §6.3).
    pub const V3_SERVER_NAME: u32 = 602;
    /// Server-Capabilities (TS 29.229 §6.3).
    pub const V3_SERVER_CAPABILITIES: u32 = 603;
    /// SIP-Auth-Data-Item (TS 29.229 §6.3).
    pub const V3_SIP_AUTH_DATA_ITEM: u32 = 612;
    /// Server-Assignment-Type (TS 29.229 §6.3).
    pub const V3_SERVER_ASSIGNMENT_TYPE: u32 = 614;
    /// Deregistration-Reason (TS 29.229 §6.3).
    pub const V3_DEREGISTRATION_REASON: u32 = 615;
    /// Charging-Information (TS 29.229 §6.3).
    pub const V3_CHARGING_INFORMATION: u32 = 618;
    /// Supported-Features (TS 29.229 §6.3).
    pub const V3_SUPPORTED_FEATURES: u32 = 628;
    /// Feature-List-ID (TS 29.229 §6.3).
    pub const V3_FEATURE_LIST_ID: u32 = 629;
    /// Feature-List (TS 29.229 §6.3).
    pub const V3_FEATURE_LIST: u32 = 630;
    /// Charging-Rule-Install (TS 29.212 §5.3).
    pub const V3_CHARGING_RULE_INSTALL: u32 = 1001;
    /// Charging-Rule-Remove (TS 29.212 §5.3).
    pub const V3_CHARGING_RULE_REMOVE: u32 = 1002;
    /// Charging-Rule-Definition (TS 29.212 §5.3).
    pub const V3_CHARGING_RULE_DEFINITION: u32 = 1003;
    /// Charging-Rule-Base-Name (TS 29.212 §5.3).
    pub const V3_CHARGING_RULE_BASE_NAME: u32 = 1004;
    /// Charging-Rule-Name (TS 29.212 §5.3).
    pub const V3_CHARGING_RULE_NAME: u32 = 1005;
    /// Event-Trigger (TS 29.212 §5.3).
    pub const V3_EVENT_TRIGGER: u32 = 1006;
    /// Precedence (TS 29.212 §5.3).
    pub const V3_PRECEDENCE: u32 = 1010;
    /// QoS-Information (TS 29.212 §5.3).
    pub const V3_QOS_INFORMATION: u32 = 1016;
    /// Charging-Rule-Report (TS 29.212 §5.3).
    pub const V3_CHARGING_RULE_REPORT: u32 = 1018;
    /// PCC-Rule-Status (TS 29.212 §5.3).
    pub const V3_PCC_RULE_STATUS: u32 = 1019;
    /// Bearer-Identifier (TS 29.212 §5.3).
    pub const V3_BEARER_IDENTIFIER: u32 = 1020;
    /// Bearer-Operation (TS 29.212 §5.3).
    pub const V3_BEARER_OPERATION: u32 = 1021;
    /// Guaranteed-Bitrate-DL (TS 29.212 §5.3).
    pub const V3_GUARANTEED_BITRATE_DL: u32 = 1025;
    /// Guaranteed-Bitrate-UL (TS 29.212 §5.3).
    pub const V3_GUARANTEED_BITRATE_UL: u32 = 1026;
    /// IP-CAN-Type (TS 29.212 §5.3).
    pub const V3_IP_CAN_TYPE: u32 = 1027;
    /// QoS-Class-Identifier (TS 29.212 §5.3).
    pub const V3_QOS_CLASS_IDENTIFIER: u32 = 1028;
    /// RAT-Type (TS 29.212 §5.3).
    pub const V3_RAT_TYPE: u32 = 1032;
    /// Allocation-Retention-Priority (TS 29.212 §5.3).
    pub const V3_ALLOCATION_RETENTION_PRIORITY: u32 = 1034;
    /// APN-Aggregate-Max-Bitrate-DL (TS 29.212 §5.3).
    pub const V3_APN_AGGREGATE_MAX_BITRATE_DL: u32 = 1040;
    /// APN-Aggregate-Max-Bitrate-UL (TS 29.212 §5.3).
    pub const V3_APN_AGGREGATE_MAX_BITRATE_UL: u32 = 1041;
    /// Priority-Level (TS 29.212 §5.3).
    pub const V3_PRIORITY_LEVEL: u32 = 1046;
    /// Pre-emption-Capability (TS 29.212 §5.3).
    pub const V3_PRE_EMPTION_CAPABILITY: u32 = 1047;
    /// Pre-emption-Vulnerability (TS 29.212 §5.3).
    pub const V3_PRE_EMPTION_VULNERABILITY: u32 = 1048;
    /// Default-EPS-Bearer-QoS (TS 29.212 §5.3).
    pub const V3_DEFAULT_EPS_BEARER_QOS: u32 = 1049;
    /// Flow-Information (TS 29.212 §5.3).
    pub const V3_FLOW_INFORMATION: u32 = 1058;
    /// Subscription-Data (TS 29.272 §7.3).
    pub const V3_SUBSCRIPTION_DATA: u32 = 1400;
    /// ULR-Flags (TS 29.272 §7.3).
    pub const V3_ULR_FLAGS: u32 = 1405;
    /// ULA-Flags (TS 29.272 §7.3).
    pub const V3_ULA_FLAGS: u32 = 1406;
    /// Visited-PLMN-Id (TS 29.272 §7.3).
    pub const V3_VISITED_PLMN_ID: u32 = 1407;
    /// Requested-EUTRAN-Authentication-Info (TS 29.272 §7.3).
    pub const V3_REQUESTED_EUTRAN_AUTHENTICATION_INFO: u32 = 1408;
    /// Number-Of-Requested-Vectors (TS 29.272 §7.3).
    pub const V3_NUMBER_OF_REQUESTED_VECTORS: u32 = 1410;
    /// Authentication-Info (TS 29.272 §7.3).
    pub const V3_AUTHENTICATION_INFO: u32 = 1413;
    /// E-UTRAN-Vector (TS 29.272 §7.3).
    pub const V3_E_UTRAN_VECTOR: u32 = 1414;
}

use AvpType::*;

const fn ietf(code: u32, name: &'static str, ty: AvpType) -> AvpDef {
    AvpDef {
        vendor: 0,
        code,
        name,
        ty,
    }
}

const fn tgpp(code: u32, name: &'static str, ty: AvpType) -> AvpDef {
    AvpDef {
        vendor: VENDOR_3GPP,
        code,
        name,
        ty,
    }
}

/// The AVP table, sorted by (vendor, code) for binary search (a test checks
/// the order). Types as in Wireshark's dictionary; `OctetStringOrUTF8` there
/// is [`AvpType::OctetString`] here, `AppId`/`VendorId` are Unsigned32.
const AVPS: &[AvpDef] = &[
    ietf(avp::USER_NAME, "User-Name", Utf8String),
    ietf(avp::FRAMED_IP_ADDRESS, "Framed-IP-Address", RawAddress),
    ietf(avp::CLASS, "Class", OctetString),
    ietf(avp::CALLED_STATION_ID, "Called-Station-Id", Utf8String),
    ietf(avp::FRAMED_IPV6_PREFIX, "Framed-IPv6-Prefix", OctetString),
    ietf(avp::HOST_IP_ADDRESS, "Host-IP-Address", Address),
    ietf(avp::AUTH_APPLICATION_ID, "Auth-Application-Id", Unsigned32),
    ietf(avp::ACCT_APPLICATION_ID, "Acct-Application-Id", Unsigned32),
    ietf(
        avp::VENDOR_SPECIFIC_APPLICATION_ID,
        "Vendor-Specific-Application-Id",
        Grouped,
    ),
    ietf(avp::SESSION_ID, "Session-Id", Utf8String),
    ietf(avp::ORIGIN_HOST, "Origin-Host", DiameterIdentity),
    ietf(avp::SUPPORTED_VENDOR_ID, "Supported-Vendor-Id", Unsigned32),
    ietf(avp::VENDOR_ID, "Vendor-Id", Unsigned32),
    ietf(avp::FIRMWARE_REVISION, "Firmware-Revision", Unsigned32),
    ietf(avp::RESULT_CODE, "Result-Code", Unsigned32),
    ietf(avp::PRODUCT_NAME, "Product-Name", Utf8String),
    ietf(avp::AUTH_SESSION_STATE, "Auth-Session-State", Enumerated),
    ietf(avp::ORIGIN_STATE_ID, "Origin-State-Id", Unsigned32),
    ietf(avp::FAILED_AVP, "Failed-AVP", Grouped),
    ietf(avp::PROXY_HOST, "Proxy-Host", DiameterIdentity),
    ietf(avp::ERROR_MESSAGE, "Error-Message", Utf8String),
    ietf(avp::ROUTE_RECORD, "Route-Record", DiameterIdentity),
    ietf(
        avp::DESTINATION_REALM,
        "Destination-Realm",
        DiameterIdentity,
    ),
    ietf(avp::PROXY_INFO, "Proxy-Info", Grouped),
    ietf(
        avp::RE_AUTH_REQUEST_TYPE,
        "Re-Auth-Request-Type",
        Enumerated,
    ),
    ietf(avp::DESTINATION_HOST, "Destination-Host", DiameterIdentity),
    ietf(avp::TERMINATION_CAUSE, "Termination-Cause", Enumerated),
    ietf(avp::ORIGIN_REALM, "Origin-Realm", DiameterIdentity),
    ietf(avp::EXPERIMENTAL_RESULT, "Experimental-Result", Grouped),
    ietf(
        avp::EXPERIMENTAL_RESULT_CODE,
        "Experimental-Result-Code",
        Unsigned32,
    ),
    ietf(avp::CC_REQUEST_NUMBER, "CC-Request-Number", Unsigned32),
    ietf(avp::CC_REQUEST_TYPE, "CC-Request-Type", Enumerated),
    ietf(avp::GRANTED_SERVICE_UNIT, "Granted-Service-Unit", Grouped),
    ietf(avp::RATING_GROUP, "Rating-Group", Unsigned32),
    ietf(
        avp::REQUESTED_SERVICE_UNIT,
        "Requested-Service-Unit",
        Grouped,
    ),
    ietf(avp::SERVICE_IDENTIFIER, "Service-Identifier", Unsigned32),
    ietf(avp::SUBSCRIPTION_ID, "Subscription-Id", Grouped),
    ietf(
        avp::SUBSCRIPTION_ID_DATA,
        "Subscription-Id-Data",
        Utf8String,
    ),
    ietf(avp::USED_SERVICE_UNIT, "Used-Service-Unit", Grouped),
    ietf(
        avp::SUBSCRIPTION_ID_TYPE,
        "Subscription-Id-Type",
        Enumerated,
    ),
    ietf(
        avp::MULTIPLE_SERVICES_CREDIT_CONTROL,
        "Multiple-Services-Credit-Control",
        Grouped,
    ),
    ietf(avp::USER_EQUIPMENT_INFO, "User-Equipment-Info", Grouped),
    ietf(avp::SERVICE_CONTEXT_ID, "Service-Context-Id", Utf8String),
    tgpp(avp::V3_ABORT_CAUSE, "Abort-Cause", Enumerated),
    tgpp(
        avp::V3_AF_APPLICATION_IDENTIFIER,
        "AF-Application-Identifier",
        OctetString,
    ),
    tgpp(
        avp::V3_AF_CHARGING_IDENTIFIER,
        "AF-Charging-Identifier",
        OctetString,
    ),
    tgpp(avp::V3_FLOW_DESCRIPTION, "Flow-Description", IpFilterRule),
    tgpp(avp::V3_FLOW_NUMBER, "Flow-Number", Unsigned32),
    tgpp(avp::V3_FLOWS, "Flows", Grouped),
    tgpp(avp::V3_FLOW_STATUS, "Flow-Status", Enumerated),
    tgpp(avp::V3_FLOW_USAGE, "Flow-Usage", Enumerated),
    tgpp(avp::V3_SPECIFIC_ACTION, "Specific-Action", Enumerated),
    tgpp(
        avp::V3_MAX_REQUESTED_BANDWIDTH_DL,
        "Max-Requested-Bandwidth-DL",
        Unsigned32,
    ),
    tgpp(
        avp::V3_MAX_REQUESTED_BANDWIDTH_UL,
        "Max-Requested-Bandwidth-UL",
        Unsigned32,
    ),
    tgpp(
        avp::V3_MEDIA_COMPONENT_DESCRIPTION,
        "Media-Component-Description",
        Grouped,
    ),
    tgpp(
        avp::V3_MEDIA_COMPONENT_NUMBER,
        "Media-Component-Number",
        Unsigned32,
    ),
    tgpp(avp::V3_MEDIA_SUB_COMPONENT, "Media-Sub-Component", Grouped),
    tgpp(avp::V3_MEDIA_TYPE, "Media-Type", Enumerated),
    tgpp(avp::V3_RR_BANDWIDTH, "RR-Bandwidth", Unsigned32),
    tgpp(avp::V3_RS_BANDWIDTH, "RS-Bandwidth", Unsigned32),
    tgpp(avp::V3_CODEC_DATA, "Codec-Data", OctetString),
    tgpp(avp::V3_RX_REQUEST_TYPE, "Rx-Request-Type", Enumerated),
    tgpp(avp::V3_PUBLIC_IDENTITY, "Public-Identity", Utf8String),
    tgpp(avp::V3_SERVER_NAME, "Server-Name", Utf8String),
    tgpp(avp::V3_SERVER_CAPABILITIES, "Server-Capabilities", Grouped),
    tgpp(avp::V3_SIP_AUTH_DATA_ITEM, "SIP-Auth-Data-Item", Grouped),
    tgpp(
        avp::V3_SERVER_ASSIGNMENT_TYPE,
        "Server-Assignment-Type",
        Enumerated,
    ),
    tgpp(
        avp::V3_DEREGISTRATION_REASON,
        "Deregistration-Reason",
        Grouped,
    ),
    tgpp(
        avp::V3_CHARGING_INFORMATION,
        "Charging-Information",
        Grouped,
    ),
    tgpp(avp::V3_SUPPORTED_FEATURES, "Supported-Features", Grouped),
    tgpp(avp::V3_FEATURE_LIST_ID, "Feature-List-ID", Unsigned32),
    tgpp(avp::V3_FEATURE_LIST, "Feature-List", Unsigned32),
    tgpp(
        avp::V3_CHARGING_RULE_INSTALL,
        "Charging-Rule-Install",
        Grouped,
    ),
    tgpp(
        avp::V3_CHARGING_RULE_REMOVE,
        "Charging-Rule-Remove",
        Grouped,
    ),
    tgpp(
        avp::V3_CHARGING_RULE_DEFINITION,
        "Charging-Rule-Definition",
        Grouped,
    ),
    tgpp(
        avp::V3_CHARGING_RULE_BASE_NAME,
        "Charging-Rule-Base-Name",
        Utf8String,
    ),
    tgpp(
        avp::V3_CHARGING_RULE_NAME,
        "Charging-Rule-Name",
        OctetString,
    ),
    tgpp(avp::V3_EVENT_TRIGGER, "Event-Trigger", Enumerated),
    tgpp(avp::V3_PRECEDENCE, "Precedence", Unsigned32),
    tgpp(avp::V3_QOS_INFORMATION, "QoS-Information", Grouped),
    tgpp(
        avp::V3_CHARGING_RULE_REPORT,
        "Charging-Rule-Report",
        Grouped,
    ),
    tgpp(avp::V3_PCC_RULE_STATUS, "PCC-Rule-Status", Enumerated),
    tgpp(avp::V3_BEARER_IDENTIFIER, "Bearer-Identifier", OctetString),
    tgpp(avp::V3_BEARER_OPERATION, "Bearer-Operation", Enumerated),
    tgpp(
        avp::V3_GUARANTEED_BITRATE_DL,
        "Guaranteed-Bitrate-DL",
        Unsigned32,
    ),
    tgpp(
        avp::V3_GUARANTEED_BITRATE_UL,
        "Guaranteed-Bitrate-UL",
        Unsigned32,
    ),
    tgpp(avp::V3_IP_CAN_TYPE, "IP-CAN-Type", Enumerated),
    tgpp(
        avp::V3_QOS_CLASS_IDENTIFIER,
        "QoS-Class-Identifier",
        Enumerated,
    ),
    tgpp(avp::V3_RAT_TYPE, "RAT-Type", Enumerated),
    tgpp(
        avp::V3_ALLOCATION_RETENTION_PRIORITY,
        "Allocation-Retention-Priority",
        Grouped,
    ),
    tgpp(
        avp::V3_APN_AGGREGATE_MAX_BITRATE_DL,
        "APN-Aggregate-Max-Bitrate-DL",
        Unsigned32,
    ),
    tgpp(
        avp::V3_APN_AGGREGATE_MAX_BITRATE_UL,
        "APN-Aggregate-Max-Bitrate-UL",
        Unsigned32,
    ),
    tgpp(avp::V3_PRIORITY_LEVEL, "Priority-Level", Unsigned32),
    tgpp(
        avp::V3_PRE_EMPTION_CAPABILITY,
        "Pre-emption-Capability",
        Enumerated,
    ),
    tgpp(
        avp::V3_PRE_EMPTION_VULNERABILITY,
        "Pre-emption-Vulnerability",
        Enumerated,
    ),
    tgpp(
        avp::V3_DEFAULT_EPS_BEARER_QOS,
        "Default-EPS-Bearer-QoS",
        Grouped,
    ),
    tgpp(avp::V3_FLOW_INFORMATION, "Flow-Information", Grouped),
    tgpp(avp::V3_SUBSCRIPTION_DATA, "Subscription-Data", Grouped),
    tgpp(avp::V3_ULR_FLAGS, "ULR-Flags", Unsigned32),
    tgpp(avp::V3_ULA_FLAGS, "ULA-Flags", Unsigned32),
    tgpp(avp::V3_VISITED_PLMN_ID, "Visited-PLMN-Id", OctetString),
    tgpp(
        avp::V3_REQUESTED_EUTRAN_AUTHENTICATION_INFO,
        "Requested-EUTRAN-Authentication-Info",
        Grouped,
    ),
    tgpp(
        avp::V3_NUMBER_OF_REQUESTED_VECTORS,
        "Number-Of-Requested-Vectors",
        Unsigned32,
    ),
    tgpp(avp::V3_AUTHENTICATION_INFO, "Authentication-Info", Grouped),
    tgpp(avp::V3_E_UTRAN_VECTOR, "E-UTRAN-Vector", Grouped),
];

/// The definition of AVP `code` of `vendor` (0 for IETF AVPs), if known.
pub fn avp(vendor: u32, code: u32) -> Option<&'static AvpDef> {
    AVPS.binary_search_by(|d| (d.vendor, d.code).cmp(&(vendor, code)))
        .ok()
        .and_then(|i| AVPS.get(i))
}

/// The short name of an application, as operators say it ("Gx", "S6a").
pub fn application_name(id: u32) -> Option<&'static str> {
    Some(match id {
        app::COMMON => "Base",
        app::NASREQ => "NASREQ",
        app::BASE_ACCOUNTING => "Accounting",
        app::CREDIT_CONTROL => "Gy/Ro",
        app::EAP => "EAP",
        app::CX => "Cx",
        app::SH => "Sh",
        app::RX => "Rx",
        app::GX => "Gx",
        app::S6A => "S6a",
        app::S13 => "S13",
        app::SLG => "SLg",
        app::SWM => "SWm",
        app::SWX => "SWx",
        app::GXX => "Gxx",
        app::S9 => "S9",
        app::S6B => "S6b",
        app::SLH => "SLh",
        app::SY => "Sy",
        app::S6C => "S6c",
        app::RELAY => "Relay",
        _ => return None,
    })
}

/// The request/answer abbreviation of a command ("CCR", "CCA"), whatever
/// the application: the codes below are unique across IANA's registry.
pub fn command_name(code: u32, request: bool) -> Option<&'static str> {
    // RFC 6733 §3.1, RFC 4006 §3, RFC 7155 §3, TS 29.229 §6.1, TS 29.329
    // §6.1, TS 29.272 §7.2 (Wireshark dictionary.xml, TGPP.xml).
    let (r, a) = match code {
        257 => ("CER", "CEA"),
        258 => ("RAR", "RAA"),
        265 => ("AAR", "AAA"),
        268 => ("DER", "DEA"),
        271 => ("ACR", "ACA"),
        272 => ("CCR", "CCA"),
        274 => ("ASR", "ASA"),
        275 => ("STR", "STA"),
        280 => ("DWR", "DWA"),
        282 => ("DPR", "DPA"),
        300 => ("UAR", "UAA"),
        301 => ("SAR", "SAA"),
        302 => ("LIR", "LIA"),
        303 => ("MAR", "MAA"),
        304 => ("RTR", "RTA"),
        305 => ("PPR", "PPA"),
        306 => ("UDR", "UDA"),
        307 => ("PUR", "PUA"),
        308 => ("SNR", "SNA"),
        309 => ("PNR", "PNA"),
        316 => ("ULR", "ULA"),
        317 => ("CLR", "CLA"),
        318 => ("AIR", "AIA"),
        319 => ("IDR", "IDA"),
        320 => ("DSR", "DSA"),
        321 => ("PUER", "PUEA"),
        322 => ("RSR", "RSA"),
        323 => ("NOR", "NOA"),
        324 => ("ECR", "ECA"),
        _ => return None,
    };
    Some(if request { r } else { a })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avp_table_is_sorted_for_binary_search() {
        for w in AVPS.windows(2) {
            assert!(
                (w[0].vendor, w[0].code) < (w[1].vendor, w[1].code),
                "{} before {}",
                w[0].name,
                w[1].name
            );
        }
    }

    #[test]
    fn looks_up_ietf_and_3gpp_avps() {
        assert_eq!(avp(0, 263).map(|d| d.name), Some("Session-Id"));
        assert_eq!(avp(VENDOR_3GPP, 517).map(|d| d.ty), Some(AvpType::Grouped));
        assert_eq!(avp(0, 517), None, "vendor matters");
        assert_eq!(avp(VENDOR_3GPP, 9999), None);
    }

    #[test]
    fn names_applications_and_commands() {
        assert_eq!(application_name(16_777_238), Some("Gx"));
        assert_eq!(application_name(4), Some("Gy/Ro"));
        assert_eq!(application_name(16_777_251), Some("S6a"));
        assert_eq!(application_name(16_777_216), Some("Cx"));
        assert_eq!(application_name(42), None);
        assert_eq!(command_name(272, true), Some("CCR"));
        assert_eq!(command_name(265, false), Some("AAA"));
        assert_eq!(command_name(999, true), None);
    }
}
