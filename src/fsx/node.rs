//! What `stat` says about a file, and the one ownership rule ([`Node::private`]).

use std::fs::File;

use rustix::fs as rfs;

/// What `stat` says about a file, in the few fields the checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub size: u64,
    /// Last written (seconds, nanoseconds).
    pub mtime: (i64, u32),
    /// Last changed in any way — written, chmod, linked, renamed, its times set: nobody but
    /// root can set it back.
    pub ctime: (i64, u32),
}

impl Node {
    pub(super) fn of(st: &rfs::Stat) -> Node {
        Node {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime, st.st_ctime_nsec as u32),
        }
    }

    /// The open file's own node.
    pub fn of_file(f: &File) -> std::io::Result<Node> {
        Ok(Node::of(&rfs::fstat(f)?))
    }

    fn kind(&self) -> rfs::FileType {
        rfs::FileType::from_raw_mode(self.mode)
    }

    pub fn is_file(&self) -> bool {
        self.kind() == rfs::FileType::RegularFile
    }

    pub fn is_symlink(&self) -> bool {
        self.kind() == rfs::FileType::Symlink
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == rfs::FileType::Directory
    }

    /// Whether `other` is the same file.
    pub fn same(&self, other: &Node) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// Whether the running user owns it and nobody else may write it (no group or other write
    /// bit): the one ownership rule for `.part` files, cache entries and their stamps, records
    /// of verified outputs and remembered challenges.
    pub fn private(&self) -> bool {
        self.uid == rustix::process::geteuid().as_raw() && self.mode & 0o022 == 0
    }

    /// Why oci-dl must not take this file over as its own (resume into it, truncate it, trust
    /// a record of it): `None` for a regular file with no other link that is [`Node::private`].
    pub fn unfit(&self) -> Option<String> {
        if self.is_symlink() {
            Some("is a symlink".into())
        } else if !self.is_file() {
            Some("is not a regular file".into())
        } else if self.nlink == 0 {
            // Removed while it was open (by another run, or a cleanup): no name holds it.
            Some("is no longer linked".into())
        } else if self.nlink != 1 {
            Some(format!("has {} other hard link(s)", self.nlink - 1))
        } else if self.uid != rustix::process::geteuid().as_raw() {
            Some(format!("is owned by uid {}", self.uid))
        } else if self.mode & 0o022 != 0 {
            Some("is writable by others".into())
        } else {
            None
        }
    }
}
