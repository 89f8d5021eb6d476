//! TODO(synth): filled by its owner.
