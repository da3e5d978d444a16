//! The mtpspec scenario format: what a case is (the model: steps, expected replies, JSON
//! patterns, delivery checks, listeners, profiles), its YAML and terse transcript forms,
//! variables, and loading with errors that name the file, line, column and field; and SPEC.md
//! read mechanically ([`spec`]). No network, no runtime: the runner, the simulator's loader and
//! the fuzz target build on it.

#![warn(missing_docs, unreachable_pub)]

pub mod error;
pub mod expect;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod json_pattern;
pub mod json_template;
pub mod listener;
pub mod load;
pub mod model;
pub mod names;
pub mod payload;
pub mod profile;
pub mod spec;
pub mod transcript;
pub mod vars;

pub use error::ScenarioError;
pub use expect::{
    CodePattern, CodeSet, EnhancedPattern, ExpectReply, Keyword, Pattern, ReplyMatch,
};
pub use filter::Filter;
pub use json_pattern::JsonPattern;
pub use json_template::JsonTemplate;
pub use listener::Listener;
pub use load::{is_spec_id, load_file, load_paths, load_sources, load_str, section_of};
pub use model::{
    BdatStep, Branch, BranchOn, Branches, Case, Level, LocatedStep, MailboxCheck, MessageCheck,
    Protocol, Step, WriteJsonStep, WriteStep,
};
pub use names::check_citations;
pub use payload::Payload;
pub use profile::Profile;
pub use vars::{Template, VarConfig, Vars};
