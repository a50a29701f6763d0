//! The integration test binary: drives the real `oci-dl` binary against a real registry, and
//! against an in-process fake where a fault must be scripted.

mod support;

mod architecture;
mod auth;
mod bad_input;
mod blob;
mod cache;
mod cli;
mod core_defects;
mod engine;
mod extract;
mod faults;
mod fleets;
mod formats;
mod hostile;
mod hostile_files;
mod hostile_net;
mod hostile_sources;
mod keyless;
mod manifest;
mod mirrors;
mod multiplatform;
mod multiplatform_seams;
mod platforms;
mod publishers;
mod pull;
mod ranged;
mod referrers;
mod registries;
mod seams;
mod seams_cache;
mod seams_sources;
mod transport;
mod trust;
