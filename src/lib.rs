//! llmpipe: the OpenAI and Anthropic model APIs in shell pipelines.
//!
//! `main.rs` only parses, runs and maps the outcome to an exit code; everything lives here
//! so tests can reach the clap command and the pure parts.

pub mod cache;
pub mod chat;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cost;
pub mod dotenv;
pub mod effort;
pub mod error;
#[cfg(test)]
mod fuzz_tests;
pub mod image;
pub mod input;
pub mod jsonx;
pub mod models;
pub mod output;
pub mod prices;
pub mod prompts;
pub mod provider;
pub mod result;
pub mod secrets;
pub mod signals;
pub mod store;
pub mod tokens;
pub mod tools;
