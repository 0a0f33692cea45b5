//! The binary's own modules: parsing the command line and rendering.

pub(crate) mod args;
pub(crate) mod render;
pub(crate) mod trace;
