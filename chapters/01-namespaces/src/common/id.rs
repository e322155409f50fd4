//! Random ids from the kernel's random pool (random(4)).

use super::failure::FileError;
use std::io::Read;

/// `bytes` random bytes, as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String, FileError> {
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buffer))
        .map_err(|cause| FileError {
            action: "read",
            path: "/dev/urandom".into(),
            cause,
        })?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// A container id like Docker's: 32 random bytes, 64 hex digits.
pub fn random_id() -> Result<String, FileError> {
    random_hex(32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let (a, b) = (super::random_id().unwrap(), super::random_id().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
