//! Where each option's value came from (clap's `ArgMatches::value_source`): the command line, a
//! `DOCK_*` variable, or a default. A message names what the user actually set (`DOCK_GRACE_PERIOD`,
//! not a `--grace-period` they never typed), and an option that does nothing is refused when typed
//! but only warned about when it comes from the environment (often set for a whole image).
//!
//! Registers nothing.

use clap::parser::ValueSource;
use clap::ArgMatches;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Not given: the default (or absent).
    #[default]
    Default,
    /// The command line.
    CommandLine,
    /// Its `DOCK_*` environment variable.
    Env,
}

/// The origin of every value that was given (by clap's argument id: the field name).
#[derive(Debug, Clone, Default)]
pub struct Sources(Vec<(String, Origin)>);

impl Sources {
    /// Reads the origins out of clap's matches.
    pub fn from_matches(m: &ArgMatches) -> Sources {
        let found = m
            .ids()
            .filter_map(|id| {
                let origin = match m.value_source(id.as_str())? {
                    ValueSource::CommandLine => Origin::CommandLine,
                    ValueSource::EnvVariable => Origin::Env,
                    _ => return None,
                };
                Some((id.as_str().to_string(), origin))
            })
            .collect();
        Sources(found)
    }

    /// Where the value of `flag` (`--grace-period`) came from.
    pub fn origin(&self, flag: &str) -> Origin {
        let id = id_of(flag);
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(Origin::Default, |(_, o)| *o)
    }

    /// What to call `flag` in a message: its `DOCK_*` variable when the value came from there,
    /// else the flag.
    pub fn name(&self, flag: &str) -> String {
        match self.origin(flag) {
            Origin::Env => env_name(flag),
            _ => flag.to_string(),
        }
    }

    /// Marks `flag` as set from `origin` (tests).
    #[cfg(test)]
    pub fn set(&mut self, flag: &str, origin: Origin) {
        self.0.push((id_of(flag), origin));
    }
}

/// clap's id of `--grace-period`: `grace_period` (the field name).
fn id_of(flag: &str) -> String {
    flag.trim_start_matches('-').replace('-', "_")
}

/// The variable of `--grace-period`: `DOCK_GRACE_PERIOD` (the rule every option's `env` follows; a
/// unit test checks it against clap's).
pub fn env_name(flag: &str) -> String {
    format!("DOCK_{}", id_of(flag).to_ascii_uppercase())
}
