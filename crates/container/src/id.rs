//! Container id rules: the id names a directory under `--root`, so it must
//! never be a path.

use crate::Error;

/// Longest id accepted. Generous for engines (64 hex chars plus prefixes),
/// and short enough that `<root>/<id>/exec.sock` needs no special casing.
pub const MAX_ID_LEN: usize = 1024;

/// Accepts ids made of letters, digits, and `_ + - .`, as runc does, and
/// rejects `.`/`..`, which would name the root itself or its parent.
pub fn validate(id: &str) -> Result<(), Error> {
    let fail = |reason| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return fail("must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        return fail("longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return fail("must not be \".\" or \"..\"");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return fail("only letters, digits and \"_+-.\" are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn rules() {
        assert!(validate("abc-1_2.3+x").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert!(validate(&"a".repeat(1025)).is_err());
        assert!(validate(&"a".repeat(1024)).is_ok());
    }
}
