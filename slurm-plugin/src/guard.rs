//! The panic and error boundary between slurmctld and Rust: [`guard`]
//! runs one entry point under `catch_unwind`, logs a panic or the whole
//! chain of an error, and returns the C value the caller gets; and the
//! quiet panic hook that keeps a caught panic cheap.
//!
//! This module owns only that boundary. It must not hold plugin logic, and
//! nothing in it may panic itself.

use std::error::Error;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::host::{Host, Level};

/// An error and its `source()` chain on one line: `a: b: c`. A source
/// whose text the message already ends with (an error that prints its
/// source in its own `Display`, like `policy`'s `ModelError::File`) is not
/// repeated.
pub fn error_chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// A panic payload as text.
fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}

/// Runs entry point `name`. `Ok(v)` is returned as it is; an error is
/// logged with its chain and a panic is caught and logged, and both give
/// `on_error` (for example `SLURM_ERROR`, or `()` for void functions).
pub fn guard<H: Host, T, E: Error>(
    host: &H,
    name: &str,
    on_error: T,
    f: impl FnOnce() -> Result<T, E>,
) -> T {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            host.log(
                Level::Error,
                &format!("site_factor/rl: {name}: {}", error_chain(&e)),
            );
            on_error
        }
        Err(p) => {
            host.log(
                Level::Error,
                &format!(
                    "site_factor/rl: {name}: internal error (panic: {}); this call is skipped",
                    panic_message(&*p)
                ),
            );
            on_error
        }
    }
}

static QUIET_HOOK: Once = Once::new();

/// Replaces the default panic hook (which prints to stderr and, with
/// `RUST_BACKTRACE` set, captures a backtrace: slow inside slurmctld's job
/// lock) by one that does nothing; [`guard`] logs the panic instead.
/// Installed once per process.
pub fn install_quiet_panic_hook() {
    QUIET_HOOK.call_once(|| panic::set_hook(Box::new(|_| {})));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::TestHost;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn ok_passes_through() {
        let h = TestHost::default();
        let v = guard(&h, "f", -1, || Ok::<_, Outer>(7));
        assert_eq!(v, 7);
        assert!(h.messages(Level::Error).is_empty());
    }

    #[test]
    fn error_chain_is_logged_and_on_error_returned() {
        let h = TestHost::default();
        let v = guard(&h, "init", -1, || {
            Err::<i32, _>(Outer(std::io::Error::other("inner cause")))
        });
        assert_eq!(v, -1);
        assert_eq!(
            h.messages(Level::Error),
            vec!["site_factor/rl: init: outer: inner cause".to_string()]
        );
    }

    /// Bug found in slurmctld's log (tests/e2e_plugin.sh): a corrupt model
    /// was logged as "model file F: not a safetensors file: X: not a
    /// safetensors file: X", because `ModelError::File` prints its source
    /// and also returns it from `source()`.
    #[test]
    fn error_chain_does_not_repeat_a_source_already_in_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.safetensors");
        std::fs::write(&path, [0xffu8; 64]).unwrap();
        let e = policy::Model::load(&path).unwrap_err();
        assert!(
            e.source().is_some(),
            "the test needs an error with a source: {e}"
        );
        let msg = error_chain(&e);
        assert_eq!(msg.matches("not a safetensors file").count(), 1, "{msg}");
        assert!(msg.starts_with("model file "), "{msg}");
        assert!(msg.contains("garbage.safetensors"), "{msg}");
        // A source not already in the message is still appended.
        assert_eq!(
            error_chain(&Outer(std::io::Error::other("inner cause"))),
            "outer: inner cause"
        );
    }

    #[test]
    fn panic_is_caught_and_logged() {
        install_quiet_panic_hook();
        let h = TestHost::default();
        let v = guard(&h, "site_factor_p_update", 0, || -> Result<i32, Outer> {
            panic!("boom {}", 42)
        });
        assert_eq!(v, 0);
        let e = h.messages(Level::Error);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("site_factor_p_update") && e[0].contains("boom 42"),
            "{e:?}"
        );
    }
}
