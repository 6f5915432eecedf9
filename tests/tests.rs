//! gridflow's integration tests, one binary split by topic (one link, faster CI).

mod common;

mod asia_pacific;
mod bad_input;
mod codemap;
mod docs;
mod dst;
mod end_to_end;
mod forecast_commands;
mod forecasts;
mod global;
mod http;
mod oracle;
mod regimes;
mod shutdown;
mod validation;
mod watch;
