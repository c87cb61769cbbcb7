//! Integration tests: one binary, a module per topic.

mod support;

mod agreement;
mod capture_files;
mod cli;
mod decode_captures;
mod generated;
mod rtcp_captures;
