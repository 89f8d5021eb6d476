//! TODO: cluster TOML file.
