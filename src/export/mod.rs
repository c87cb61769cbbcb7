//! Output of results: JSON lines and the terminal table now; ClickHouse and
//! Prometheus later.

pub mod json;
pub mod pcap;
pub mod table;
