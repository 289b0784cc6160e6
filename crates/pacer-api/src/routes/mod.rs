//! The handlers: short — read the request, call one core service, answer.

pub(crate) mod feed;
pub(crate) mod meta;
pub(crate) mod records;
