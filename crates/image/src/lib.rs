//! `berth_image`: Dockerfile-built images (OCI layouts, OCI archives,
//! `docker save` archives) into runtime bundles. See `unpack` for the
//! whole path, `apply` for the layer applier and its safety rules.

mod apply;
pub mod convert;
pub mod decompress;
pub mod digest;
mod error;
pub mod ids;
pub mod inspect;
mod prefetch;
pub mod resolve;
pub mod source;
pub mod unpack;
pub mod user;

pub use error::Error;
pub use ids::IdMap;
pub use resolve::Platform;
pub use unpack::{unpack, UnpackOptions, Unpacked};
