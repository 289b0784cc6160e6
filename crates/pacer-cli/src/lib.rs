//! The `pacer` command line, as a library so the end-to-end suites drive exactly what
//! operators run.
//!
//! `main.rs` parses arguments and sets up logging; everything else is here: the config
//! file, opening the embedded or AWS backend, the demo, the local runtime loop, and the
//! operator commands.

pub mod args;
pub mod aws;
pub mod backend;
pub mod bench;
pub mod bench_aws;
pub mod commands;
pub mod config;
pub mod demo;
pub mod drive;
pub mod summary;
pub mod timeline;
