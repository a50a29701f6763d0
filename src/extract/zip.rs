//! Zip archives, unpacked from the verified file into the staging tree under the same rules as
//! tar: confined names, checked links, umask-bounded modes, the unpacked-size limit.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::tar::{Kind, Unpacker, check_size, check_symlink, clear, parents, refuse, sanitize};
use super::{umask, zip_lzma};
use crate::error::{Error, ErrorKind};
use crate::events::Level;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
/// A symlink member's content is its target; nothing real is longer.
const MAX_LINK: u64 = 4096;

impl Unpacker<'_> {
    /// Apply the zip in `file`. Members are taken in the central directory's order; a name that
    /// comes twice is refused (zip readers disagree on which one wins).
    /// A member's name as the archive wrote it (for messages) and its checked path below the
    /// target; `None` for one to pass over (`.`, or outside an oras prefix).
    fn member_path<R: Read>(
        &self,
        member: &zip::read::ZipFile<'_, R>,
        name: &str,
    ) -> Result<Option<(PathBuf, PathBuf)>, Error> {
        let lossy = String::from_utf8_lossy(member.name_raw()).into_owned();
        let shown = Path::new(&lossy);
        // Read as UTF-8 only: the reader would take other bytes as CP437 and make a name the
        // archive's author may not have meant.
        let Ok(text) = std::str::from_utf8(member.name_raw()).map(str::to_owned) else {
            return Err(refuse(name, shown, "the name is not valid UTF-8"));
        };
        if text.contains('\0') {
            return Err(refuse(name, shown, "the name contains NUL"));
        }
        // Windows zippers write `\` between components.
        let raw = PathBuf::from(text.replace('\\', "/"));
        check_size(name, &raw)?;
        let Some(rel) = sanitize(name, &raw)? else { return Ok(None) };
        let Some(rel) = self.under_prefix(rel, &raw, name)? else { return Ok(None) };
        Ok(Some((raw, rel)))
    }

    pub fn apply_zip(&mut self, file: File, name: &str) -> Result<(), Error> {
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad_zip(name, e))?;
        // The reader keeps one member per name; which one a reader keeps differs.
        if zip.has_duplicate_names() {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{name}: refusing entry: the archive holds a name twice"),
            ));
        }
        let mut seen: HashSet<PathBuf> = HashSet::new();
        for i in 0..zip.len() {
            self.check_cancel(name)?;
            // LZMA and xz members come raw, for liblzma ([`zip_lzma`]).
            let method = zip.by_index_raw(i).map_err(|e| bad_zip(name, e))?.compression();
            let lzma = zip_lzma::is_lzma(method);
            let opened = if lzma { zip.by_index_raw(i) } else { zip.by_index(i) };
            let mut member = opened.map_err(|e| bad_zip(name, e))?;
            let Some((raw, rel)) = self.member_path(&member, name)? else { continue };
            if !seen.insert(rel.clone()) {
                return Err(refuse(name, &raw, "the archive holds this name twice"));
            }
            let unix = member.unix_mode();
            let kind = match unix.map(|m| m & S_IFMT) {
                Some(S_IFLNK) => S_IFLNK,
                _ if member.is_dir() => S_IFDIR,
                Some(0) | Some(S_IFREG) | None => S_IFREG,
                Some(S_IFDIR) => S_IFDIR,
                Some(_) => {
                    self.obs.log(
                        Level::Warn,
                        format!("{name}: skipped device or FIFO {:?}", raw.display().to_string()),
                    );
                    continue;
                }
            };
            // Unix modes from the external attributes are kept (no setuid/setgid), else 0644.
            let perm = |default: u32| unix.map_or(default, |m| m & 0o1777) & !umask();
            let dest = parents(self.root, &rel, name, &raw)?;
            let (size, crc, flags) = (member.size(), member.crc32(), member.flags().as_u16());
            // A directory's content is never read: it needs no decoder.
            let mut content: Box<dyn Read + '_> = match lzma && kind != S_IFDIR {
                true => Box::new(zip_lzma::decoder(method, &mut member, size, crc, flags, name)?),
                false => Box::new(&mut member),
            };
            match kind {
                S_IFDIR => {
                    if !std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
                        clear(&dest)?;
                        std::fs::create_dir(&dest)
                            .map_err(|e| Error::io("create directory", &dest, e))?;
                    }
                    let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755));
                    self.dirs.push((rel.clone(), perm(0o755), None));
                }
                S_IFLNK => zip_symlink(&mut content, &rel, &raw, &dest, name)?,
                _ => self.write_file(&mut content, &dest, name, perm(0o644), None)?,
            }
            self.count += 1;
        }
        Ok(())
    }
}

fn bad_zip(name: &str, e: zip::result::ZipError) -> Error {
    Error::new(ErrorKind::Other, format!("{name}: corrupt zip archive")).with_source(e)
}

fn bad_member(name: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Other, format!("{name}: corrupt zip archive")).with_source(e)
}

/// A symlink member: its target is its content, bounded, and must stay inside (as a tar's).
fn zip_symlink(
    member: &mut dyn Read,
    rel: &Path,
    raw: &Path,
    dest: &Path,
    name: &str,
) -> Result<(), Error> {
    let mut target = Vec::new();
    member.take(MAX_LINK + 1).read_to_end(&mut target).map_err(|e| bad_member(name, e))?;
    let target = match String::from_utf8(target) {
        Ok(t) if t.len() as u64 <= MAX_LINK && !t.contains('\0') => t,
        _ => return Err(refuse(name, raw, "a symlink with an unusable target")),
    };
    let target = PathBuf::from(target);
    if let Err(why) = check_symlink(rel, &target, Kind::Archive) {
        let t = target.display().to_string();
        return Err(refuse(name, raw, &format!("symlink to {t:?} {why}")));
    }
    clear(dest)?;
    std::os::unix::fs::symlink(&target, dest).map_err(|e| Error::io("symlink", dest, e))
}
