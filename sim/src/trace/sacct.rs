//! TODO(sacct): filled by its owner.
