//! `oci-dl cache`: where the blob cache is, and pruning it.

use clap::Subcommand;
use indicatif::HumanBytes;

use super::{Global, usage};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the cache directory.
    Dir,
    /// Delete least recently used blobs until the cache holds at most SIZE.
    Prune {
        /// Like 10G, 500M or 2048 (bytes).
        #[arg(long, value_name = "SIZE")]
        max_size: String,
    },
}

pub fn run(command: &CacheCommand, global: &Global) -> anyhow::Result<()> {
    let Some(dir) = global.cache_dir() else {
        return Err(
            usage("no cache directory: pass --cache DIR or set XDG_CACHE_HOME or HOME").into()
        );
    };
    let cache = oci_dl::Cache::new(dir);
    match command {
        CacheCommand::Dir => println!("{}", cache.root().display()),
        CacheCommand::Prune { max_size } => {
            let max = oci_dl::parse_size(max_size)?;
            let p = cache.prune(max)?;
            eprintln!(
                "removed {} blob(s), {} freed, {} kept in {}",
                p.removed,
                HumanBytes(p.freed),
                HumanBytes(p.kept),
                cache.root().display()
            );
        }
    }
    Ok(())
}
