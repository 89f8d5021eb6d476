//! `PrioritySiteFactorParameters` for site_factor/rl: the parser and the
//! typed [`Config`] it yields.
//!
//! This module owns the parameter names, their defaults and their syntax
//! (`key=value` items separated by commas and/or whitespace). Every
//! unknown key, duplicate key or malformed value is an error that names the
//! item; nothing is silently ignored. It must not touch Slurm or files (the
//! model path is only recorded here; `state` loads it).

use policy::learned::parse_duration as duration;
use std::path::PathBuf;

/// Default for `max_wait`: seven days, the guard the simulator applies to a
/// model that records none.
pub use policy::learned::DEFAULT_MAX_WAIT;

/// What the plugin does when it has no usable model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Give every job the neutral factor `NICE_OFFSET`, i.e. leave Slurm's
    /// multifactor order unchanged.
    Neutral,
}

/// The parsed parameters. See `docs/plugin.md` for their meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `model=PATH`: the model file. Without it the plugin is neutral.
    pub model: Option<PathBuf>,
    /// `scale=X`: site-factor units per unit of `asinh(score)`; see
    /// [`crate::factor::map_score`]. Positive and finite.
    pub scale: f64,
    /// `max_wait=DURATION`: after this much eligible wait a job's factor
    /// only rises (the starvation guard). `Some(0)` (`max_wait=0`)
    /// disables it; `None` (not given) means the model's own guard, else
    /// [`DEFAULT_MAX_WAIT`] (see [`Config::max_wait_for`]).
    pub max_wait: Option<u64>,
    /// `fallback=neutral`: behaviour without a usable model.
    pub fallback: Fallback,
    /// `verbose=0..2`: 0 logs only errors and the load summary, 1 adds a
    /// line per update, 2 adds a line per job.
    pub verbose: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model: None,
            scale: crate::factor::DEFAULT_SCALE,
            max_wait: None,
            fallback: Fallback::Neutral,
            verbose: 0,
        }
    }
}

impl Config {
    /// The guard in force with `model`: `max_wait=` when given, else the
    /// guard the model was trained with (its `max_wait` metadata), else
    /// [`DEFAULT_MAX_WAIT`].
    pub fn max_wait_for(&self, model: &policy::Model) -> Option<u64> {
        policy::learned::max_wait_in_force(model.max_wait, self.max_wait)
    }
}

/// The keys [`parse`] accepts.
pub const KEYS: [&str; 5] = ["model", "scale", "max_wait", "fallback", "verbose"];

/// A problem in `PrioritySiteFactorParameters`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// An item without `=`.
    #[error("PrioritySiteFactorParameters: item `{item}` is not key=value")]
    Syntax {
        /// The offending item.
        item: String,
    },
    /// A key this plugin does not know.
    #[error(
        "PrioritySiteFactorParameters: unknown key `{key}` (known keys: model, scale, max_wait, fallback, verbose)"
    )]
    UnknownKey {
        /// The key as written.
        key: String,
    },
    /// A key given twice.
    #[error("PrioritySiteFactorParameters: key `{key}` is given more than once")]
    Duplicate {
        /// The key.
        key: String,
    },
    /// A value that does not parse.
    #[error("PrioritySiteFactorParameters: {key}=`{value}`: expected {expected}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// Parses `PrioritySiteFactorParameters`. `None` or an empty string gives
/// the defaults (no model, so neutral factors).
pub fn parse(params: Option<&str>) -> Result<Config, ConfigError> {
    let mut c = Config::default();
    let mut seen: Vec<&str> = Vec::new();
    let items = params
        .unwrap_or("")
        .split(|ch: char| ch == ',' || ch.is_whitespace())
        .filter(|s| !s.is_empty());
    for item in items {
        let (key, value) = item.split_once('=').ok_or_else(|| ConfigError::Syntax {
            item: item.to_string(),
        })?;
        let Some(&known) = KEYS.iter().find(|k| **k == key) else {
            return Err(ConfigError::UnknownKey {
                key: key.to_string(),
            });
        };
        if seen.contains(&known) {
            return Err(ConfigError::Duplicate {
                key: key.to_string(),
            });
        }
        seen.push(known);
        let bad = |expected| ConfigError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
            expected,
        };
        match known {
            "model" => {
                if !value.starts_with('/') {
                    return Err(bad("an absolute path to a model file"));
                }
                c.model = Some(PathBuf::from(value));
            }
            "scale" => {
                let s: f64 = value.parse().map_err(|_| bad("a positive finite number"))?;
                if !(s.is_finite() && s > 0.0) {
                    return Err(bad("a positive finite number"));
                }
                c.scale = s;
            }
            "max_wait" => {
                let w = duration(value).ok_or_else(|| {
                    bad("a duration: seconds, or a number with suffix s, m, h or d (0 disables)")
                })?;
                c.max_wait = Some(w);
            }
            "fallback" => match value {
                "neutral" => c.fallback = Fallback::Neutral,
                _ => return Err(bad("`neutral`")),
            },
            "verbose" => {
                c.verbose = match value {
                    "0" => 0,
                    "1" => 1,
                    "2" => 2,
                    _ => return Err(bad("0, 1 or 2")),
                }
            }
            _ => unreachable!("every entry of KEYS is matched"),
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_gives_defaults() {
        assert_eq!(parse(None).unwrap(), Config::default());
        assert_eq!(parse(Some(" , ")).unwrap(), Config::default());
    }

    #[test]
    fn every_key_with_mixed_separators() {
        let c = parse(Some(
            "model=/etc/slurm/rl.safetensors, scale=1000 max_wait=2d,fallback=neutral verbose=2",
        ))
        .unwrap();
        assert_eq!(
            c.model.as_deref(),
            Some("/etc/slurm/rl.safetensors".as_ref())
        );
        assert_eq!(c.scale, 1000.0);
        assert_eq!(c.max_wait, Some(2 * 86_400));
        assert_eq!(c.fallback, Fallback::Neutral);
        assert_eq!(c.verbose, 2);
    }

    #[test]
    fn durations_and_disabling_the_guard() {
        for (v, want) in [
            ("90", Some(90)),
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("3h", Some(10_800)),
            ("0", Some(0)),
        ] {
            let c = parse(Some(&format!("max_wait={v}"))).unwrap();
            assert_eq!(c.max_wait, want, "max_wait={v}");
        }
        assert!(matches!(
            parse(Some("max_wait=3w")),
            Err(ConfigError::BadValue { .. })
        ));
    }

    #[test]
    fn the_guard_is_the_parameter_else_the_models_else_seven_days() {
        let arch = policy::nn::Architecture::default_for(policy::features::N_FEATURES);
        let plain =
            policy::Model::random(arch, policy::features::FeatureSpec::current_identity(), 1)
                .unwrap();
        let trained = plain.clone().with_max_wait(Some(3600));
        let none = parse(None).unwrap();
        assert_eq!(none.max_wait_for(&plain), Some(DEFAULT_MAX_WAIT));
        assert_eq!(none.max_wait_for(&trained), Some(3600));
        let set = parse(Some("max_wait=2h")).unwrap();
        assert_eq!(set.max_wait_for(&trained), Some(7200));
        let off = parse(Some("max_wait=0")).unwrap();
        assert_eq!(off.max_wait_for(&trained), None);
    }

    #[test]
    fn unknown_key_is_reported_by_name() {
        let e = parse(Some("model=/m,sclae=3")).unwrap_err();
        assert_eq!(
            e,
            ConfigError::UnknownKey {
                key: "sclae".into()
            }
        );
        assert!(e.to_string().contains("`sclae`"), "{e}");
    }

    #[test]
    fn malformed_items_are_errors() {
        assert!(matches!(
            parse(Some("model")),
            Err(ConfigError::Syntax { .. })
        ));
        assert!(matches!(
            parse(Some("scale=1,scale=2")),
            Err(ConfigError::Duplicate { .. })
        ));
        for bad in [
            "scale=-1",
            "scale=nan",
            "scale=inf",
            "scale=x",
            "verbose=3",
            "fallback=fifo",
            "model=relative/path",
        ] {
            assert!(
                matches!(parse(Some(bad)), Err(ConfigError::BadValue { .. })),
                "{bad} accepted"
            );
        }
    }
}
