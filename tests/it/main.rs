//! The integration test binary: drives the real `oci-dl` binary against a real registry, and
//! against an in-process fake where a fault must be scripted.

mod support;

mod architecture;
mod attacks;
mod auth;
mod bad_input;
mod blob;
mod cache;
mod ci;
mod cli;
mod completions;
mod core_defects;
mod engine;
mod extract;
mod faults;
mod fleets;
mod formats;
mod help;
mod hostile;
mod hostile_files;
mod hostile_net;
mod hostile_sources;
mod interrupt;
mod manifest;
mod mirrors;
mod multiplatform;
mod multiplatform_seams;
mod platforms;
mod publishers;
mod pull;
mod ranged;
mod readme;
mod referrers;
mod registries;
mod seams;
mod seams_cache;
mod seams_sources;
mod setup;
mod transport;
mod trust;
