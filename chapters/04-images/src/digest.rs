//! Content addressing: a blob's name is the SHA-256 of its bytes.
//!
//! Three digests describe a layer, and the OCI image spec (`config.md`, "Layer DiffID" and
//! "Layer ChainID") defines them:
//! - the **digest** of the blob as stored and shipped (usually a gzip'd tar): it names the file
//!   in `blobs/sha256/` and appears in the manifest;
//! - the **diff id**, the digest of the *uncompressed* tar: it appears in the config's
//!   `rootfs.diff_ids`, so the image id (the config's digest) does not depend on how a registry
//!   chose to compress;
//! - the **chain id**, which names a layer *together with everything below it*:
//!   `ChainID(L0) = DiffID(L0)`, `ChainID(L0|...|Ln) = SHA256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))`.
//!   The same layer on top of a different base has a different chain id, because the file
//!   system it produces is different. The snapshotter keys unpacked layers by chain id.

use crate::error::{Error, Result};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};
use std::str::FromStr;

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> Digest {
    from_hasher(Sha256::new_with_prefix(bytes))
}

fn from_hasher(hasher: Sha256) -> Digest {
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Digest::from_str(&format!("sha256:{hex}")).expect("a sha256 hex string is a valid digest")
}

/// Parse `sha256:<64 lowercase hex>`; any other algorithm is refused (it is all we write).
pub fn parse_sha256(text: &str) -> Result<Digest> {
    let digest = Digest::from_str(text)
        .map_err(|error| Error::Invalid(format!("bad digest {text:?}: {error}")))?;
    if digest.algorithm().to_string() != "sha256" {
        return Err(Error::Invalid(format!(
            "digest {text}: only sha256 is supported"
        )));
    }
    Ok(digest)
}

/// The chain ids of a stack of layers, bottom first, from their diff ids (bottom first).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    // exercise 04.2: the chain ids of a stack of layers
    let mut chain: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id.clone(),
            Some(below) => sha256(format!("{below} {diff_id}").as_bytes()),
        };
        chain.push(next);
    }
    chain
    // end of exercise 04.2
}

/// A writer that hashes and counts everything passing through it on its way to `inner`.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// The digest and size of what was written, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (from_hasher(self.hasher), self.written, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            read: 0,
        }
    }

    /// The digest and size of what was read so far.
    pub fn finish(self) -> (Digest, u64) {
        (from_hasher(self.hasher), self.read)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// The first 12 hex digits, as `docker images` shows ids.
pub fn short(digest: &Digest) -> &str {
    &digest.digest()[..12]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_strings() {
        // Known answers (FIPS 180-2 test vectors and `printf '' | sha256sum`).
        assert_eq!(
            sha256(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chain_id_of_one_layer_is_its_diff_id() {
        let diff = sha256(b"layer");
        assert_eq!(chain_ids(std::slice::from_ref(&diff)), vec![diff]);
    }

    #[test]
    fn chain_ids_follow_the_spec_formula() {
        // Diff ids as they appear in the OCI image spec's examples. The spec (config.md, "Layer
        // ChainID"): the chain id of a layer is sha256("<chain id below> <diff id>").
        let a =
            parse_sha256("sha256:a9561eb1b190625c9adb5a9513e72c4dedafc1cb2d4c5236c9a6957ec7dfd5a9")
                .unwrap();
        let b =
            parse_sha256("sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1")
                .unwrap();
        let c =
            parse_sha256("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
                .unwrap();
        let chain = chain_ids(&[a.clone(), b, c]);
        assert_eq!(chain[0], a, "the bottom layer's chain id is its diff id");
        // Computed independently with coreutils:
        // printf '%s' "sha256:a956...d5a9 sha256:c6f9...bbd1" | sha256sum
        assert_eq!(
            chain[1].to_string(),
            "sha256:0338ef430142a7c820c611a6a60759ff8870c03d52e4813e1c18578109e7ee12"
        );
        // printf '%s' "sha256:0338...ee12 sha256:5f70...c6ef" | sha256sum
        assert_eq!(
            chain[2].to_string(),
            "sha256:d01a5e8105f007f1ffa18374101db35b1fb963f92f5d2423932833f119fd8a18"
        );
    }

    #[test]
    fn hashing_writer_and_reader_agree_with_sha256() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"abc").unwrap();
        let (digest, size, inner) = writer.finish();
        assert_eq!((digest, size, inner), (sha256(b"abc"), 3, b"abc".to_vec()));

        let mut reader = HashingReader::new(&b"abc"[..]);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(reader.finish(), (sha256(b"abc"), 3));
    }

    #[test]
    fn only_sha256_digests_are_accepted() {
        assert!(parse_sha256("sha256:abc").is_err());
        assert!(parse_sha256("md5:d41d8cd98f00b204e9800998ecf8427e").is_err());
        assert!(parse_sha256(sha256(b"").as_ref()).is_ok());
    }
}
