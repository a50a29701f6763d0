//! The overwrite policy: what happens to a file that exists with other content, wherever an
//! output is committed (a downloaded file's rename, an archive's merge into its target).

use std::path::Path;

use crate::error::{Error, ErrorKind, Hint};
use crate::events::Observer;

/// What to do when a file exists with other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overwrite {
    /// Fail that file (exit 1) and leave it untouched.
    Error,
    /// Leave it and go on.
    Skip,
    /// Replace it.
    Force,
    /// Ask the observer.
    Prompt,
}

impl Overwrite {
    /// Whether `path`, which exists with other content, may be replaced (`false`: keep it and
    /// go on); `Error` refuses with the one-line conflict error.
    pub fn allows(self, path: &Path, obs: &dyn Observer) -> Result<bool, Error> {
        match self {
            Overwrite::Force => Ok(true),
            Overwrite::Skip => Ok(false),
            Overwrite::Prompt => Ok(obs.confirm_overwrite(path)),
            Overwrite::Error => Err(Error::hinted(
                ErrorKind::Conflict,
                &format!("{} exists with other content; ", path.display()),
                Hint::Overwrite,
                "",
            )),
        }
    }
}
