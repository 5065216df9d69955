//! One module per `secpolctl` subcommand.

pub mod check;
pub mod clear;
pub mod diff;
pub mod export;
pub mod failures;
pub mod generator;
pub mod json;
pub mod keygen;
pub mod load;
pub mod merge;
pub mod on;
pub mod policy_view;
pub mod report;
pub mod report_html;
pub mod save;
pub mod show;
pub mod status;
