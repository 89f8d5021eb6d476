//! Crash-safe file output for `sim` and the trainer: the one
//! implementation is [`policy::io::atomic_write`], re-exported here.

pub use policy::io::atomic_write;
