//! Whiteouts: how a layer says "this file is deleted".
//!
//! A layer is a list of files to *add*. To delete a file of a lower layer, the OCI image spec
//! (`layer.md`, "Whiteouts") puts an empty file named `.wh.<name>` beside it; to hide *all* of a
//! directory's lower contents (a directory deleted and created again), it puts `.wh..wh..opq`
//! inside it. Overlayfs (read `Documentation/filesystems/overlayfs.rst` in the kernel) marks the
//! same things differently in its upper and lower directories:
//!
//! | meaning | in a layer tar | on an overlay directory |
//! |---|---|---|
//! | `name` deleted | empty file `.wh.name` | character device 0/0 called `name` |
//! | directory `d` opaque | empty file `d/.wh..wh..opq` | xattr `trusted.overlay.opaque=y` on `d` (`user.overlay.opaque` in a user namespace) |
//!
//! Unpacking turns the left column into the right ([`classify`], then `unpack`); commit turns the
//! right into the left (`pack`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The prefix of whiteout file names.
pub const PREFIX: &str = ".wh.";
/// The name of the opaque-directory marker.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The overlay xattr that makes a directory opaque, and its value.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
pub const OPAQUE_VALUE: &[u8] = b"y";

/// What a tar entry's file name means.
#[derive(Debug, PartialEq, Eq)]
pub enum EntryName {
    /// An ordinary file name.
    Plain,
    /// `.wh.NAME`: NAME, from lower layers, is deleted.
    Whiteout(OsString),
    /// `.wh..wh..opq`: the directory holding it hides its lower contents.
    Opaque,
    /// Another `.wh..wh.*` name: aufs bookkeeping, meaningless here; skipped.
    AufsMeta,
    /// `.wh.`, `.wh..`, `.wh...`: a whiteout of nothing, of the directory itself, or of its
    /// parent. Never legitimate; following it would delete outside the entry's directory.
    BadWhiteout,
}

/// Classify the last component of a tar entry's path.
pub fn classify(file_name: &OsStr) -> EntryName {
    // exercise 04.3: whiteouts: what a tar entry's name means (.wh.NAME, the opaque marker)
    let bytes = file_name.as_bytes();
    if bytes == OPAQUE_MARKER.as_bytes() {
        EntryName::Opaque
    } else if bytes.starts_with(b".wh..wh.") {
        EntryName::AufsMeta
    } else if let Some(target) = bytes.strip_prefix(PREFIX.as_bytes()) {
        match target {
            b"" | b"." | b".." => EntryName::BadWhiteout,
            _ => EntryName::Whiteout(OsString::from_vec(target.to_vec())),
        }
    } else {
        EntryName::Plain
    }
    // end of exercise 04.3
}

/// The tar file name that deletes `name` (`passwd` → `.wh.passwd`).
pub fn whiteout_name(name: &OsStr) -> OsString {
    let mut out = OsString::from(PREFIX);
    out.push(name);
    out
}

/// Is this file, found in an overlay upper directory, a whiteout (a character device 0/0)?
pub fn is_overlay_whiteout(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    metadata.file_type().is_char_device() && metadata.rdev() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_as_the_spec_says() {
        assert_eq!(classify(OsStr::new("passwd")), EntryName::Plain);
        assert_eq!(
            classify(OsStr::new(".wh.passwd")),
            EntryName::Whiteout("passwd".into())
        );
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), EntryName::Opaque);
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")), EntryName::AufsMeta);
        for bad in [".wh.", ".wh..", ".wh..."] {
            assert_eq!(classify(OsStr::new(bad)), EntryName::BadWhiteout, "{bad}");
        }
        assert_eq!(classify(OsStr::new(".whatever")), EntryName::Plain);
        // A whiteout of a dot file keeps the dot.
        assert_eq!(
            classify(OsStr::new(".wh..profile")),
            EntryName::Whiteout(".profile".into())
        );
    }

    #[test]
    fn whiteout_names_round_trip() {
        for name in ["passwd", ".profile", "a b"] {
            let wh = whiteout_name(OsStr::new(name));
            assert_eq!(classify(&wh), EntryName::Whiteout(name.into()));
        }
    }
}
