//! Loaders shared by the subcommands: traces by file type, clusters by file
//! type.
