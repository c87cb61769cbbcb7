//! Integration tests: one binary, a module per topic.

mod support;

#[global_allocator]
static ALLOCATOR: alloc_free::CountingAllocator = alloc_free::CountingAllocator;

mod agreement;
mod alloc_free;
mod calls_captures;
mod calls_generated;
mod calls_generated_records;
mod capture_files;
mod cli;
mod clickhouse_export;
mod decode_captures;
mod diameter_captures;
mod floods;
mod generated;
mod grafana_dashboards;
mod gtpv2_captures;
mod live_capture;
mod privacy;
mod prometheus_export;
mod rtcp_captures;
mod security;
mod service_unit;
mod sip_counts;
mod soak;
mod volte_captures;
mod volte_generated;
mod workers;
