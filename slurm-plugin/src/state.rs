//! The plugin's state: the parsed configuration and the loaded model, built
//! once (in `init` and on reconfigure) and then immutable, published by
//! swapping an `Arc` behind a lock; and the scoring of a batch of jobs into
//! site factors.
//!
//! Building a [`State`] never fails: a bad configuration or an unusable
//! model is logged and gives a neutral state (the `fallback`). This module
//! must not touch Slurm types; jobs arrive as [`policy::JobObs`].

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use policy::{JobObs, Model, QueueContext};

use crate::config::{self, Config};
use crate::factor::{self, NICE_OFFSET};
use crate::guard::error_chain;
use crate::host::{Host, Level};

/// Configuration and model, immutable once built.
#[derive(Debug)]
pub struct State {
    /// The parameters in force (defaults if they did not parse).
    pub config: Config,
    /// The model, or `None` when the plugin is neutral.
    pub model: Option<Model>,
    /// The max-wait guard in force ([`Config::max_wait_for`]).
    pub max_wait: Option<u64>,
}

impl State {
    /// Parses `params` and loads the model, logging what happened. Any
    /// failure gives a neutral state and an error in the log.
    pub fn build<H: Host>(host: &H, params: Option<&str>) -> State {
        let config = match config::parse(params) {
            Ok(c) => c,
            Err(e) => {
                host.log(
                    Level::Error,
                    &format!("site_factor/rl: {e}; every job gets the neutral site factor"),
                );
                return State {
                    config: Config::default(),
                    model: None,
                    max_wait: None,
                };
            }
        };
        let model = match &config.model {
            None => {
                host.log(
                    Level::Info,
                    "site_factor/rl: no model= in PrioritySiteFactorParameters; every job gets the neutral site factor",
                );
                None
            }
            Some(path) => match Model::load(path) {
                Ok(m) => {
                    host.log(
                        Level::Info,
                        &format!(
                            "site_factor/rl: loaded model {} ({} features, layers {:?}, reward {}, created {}), scale {}, max_wait {}",
                            path.display(),
                            m.spec().len(),
                            m.architecture().layer_sizes(),
                            m.reward,
                            m.created,
                            config.scale,
                            match (config.max_wait_for(&m), config.max_wait) {
                                (None, _) => "off".to_string(),
                                (Some(w), Some(_)) => format!("{w}s"),
                                (Some(w), None) if m.max_wait.is_some() => format!("{w}s (the model's)"),
                                (Some(w), None) => format!("{w}s (the default)"),
                            },
                        ),
                    );
                    Some(m)
                }
                Err(e) => {
                    host.log(
                        Level::Error,
                        &format!(
                            "site_factor/rl: cannot use the model: {}; every job gets the neutral site factor",
                            error_chain(&e)
                        ),
                    );
                    None
                }
            },
        };
        let max_wait = model.as_ref().and_then(|m| config.max_wait_for(m));
        State {
            config,
            model,
            max_wait,
        }
    }

    /// Whether every job gets the neutral factor.
    pub fn is_neutral(&self) -> bool {
        self.model.is_none()
    }

    /// Writes one site factor per job into `out` (resized to `jobs.len()`):
    /// the model's scores mapped by [`factor::site_factor`], or
    /// `NICE_OFFSET` for every job when neutral. `scores` is scratch space.
    pub fn factors(
        &self,
        ctx: &QueueContext,
        jobs: &[JobObs],
        scores: &mut Vec<f32>,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        let Some(model) = &self.model else {
            out.resize(jobs.len(), NICE_OFFSET);
            return;
        };
        scores.clear();
        scores.resize(jobs.len(), 0.0);
        let mut scratch = model.scratch();
        model.score_jobs(ctx, jobs, scores, &mut scratch);
        let c = &self.config;
        out.extend(
            jobs.iter()
                .zip(scores.iter())
                .map(|(j, &s)| factor::site_factor(s, j.wait, c.scale, self.max_wait)),
        );
    }
}

/// The published state. `None` before `init` and after `fini`.
static CURRENT: RwLock<Option<Arc<State>>> = RwLock::new(None);

/// The state in force, if any. A poisoned lock is recovered: the value
/// behind it is a whole `Arc`, never half-written.
pub fn current() -> Option<Arc<State>> {
    CURRENT.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Publishes `state` (or clears it with `None`), returning the previous one.
pub fn publish(state: Option<State>) -> Option<Arc<State>> {
    let mut w = CURRENT.write().unwrap_or_else(|p| p.into_inner());
    std::mem::replace(&mut *w, state.map(Arc::new))
}

/// Model loads started by a reconfigure and not yet joined, and the
/// generation of the newest one: only the newest load may publish.
struct Loads {
    generation: u64,
    threads: Vec<JoinHandle<()>>,
}

static LOADS: Mutex<Loads> = Mutex::new(Loads {
    generation: 0,
    threads: Vec::new(),
});

fn loads() -> MutexGuard<'static, Loads> {
    LOADS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds a new state from `params` on a background thread and publishes
/// it when done, so the model file is never read while slurmctld holds the
/// locks it calls `site_factor_p_reconfig` under. The old state stays in
/// use until then. A later call (or [`stop_background_loads`]) supersedes a
/// load still in flight: only the newest one publishes.
pub fn load_in_background<H: Host + Clone + Send + 'static>(host: &H, params: Option<String>) {
    let generation = {
        let mut l = loads();
        l.generation += 1;
        l.threads.retain(|t| !t.is_finished());
        l.generation
    };
    let loader = host.clone();
    let spawned = std::thread::Builder::new()
        .name("site_factor_rl".into())
        .spawn(move || {
            let state = State::build(&loader, params.as_deref());
            let l = loads();
            if l.generation == generation {
                publish(Some(state));
            }
        });
    match spawned {
        Ok(t) => loads().threads.push(t),
        Err(e) => host.log(
            Level::Error,
            &format!("site_factor/rl: cannot start the model reload thread: {e}; the old model stays in use"),
        ),
    }
}

/// Supersedes every load in flight and waits for their threads, so none
/// runs after `fini` (when slurmctld may unload the library).
pub fn stop_background_loads() {
    let threads = {
        let mut l = loads();
        l.generation += 1;
        std::mem::take(&mut l.threads)
    };
    for t in threads {
        let _ = t.join();
    }
}

/// Waits for the loads in flight without superseding them.
#[cfg(test)]
fn join_background_loads() {
    let threads = std::mem::take(&mut loads().threads);
    for t in threads {
        let _ = t.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::features::FeatureSpec;
    use policy::nn::Architecture;

    pub(crate) fn model_file(dir: &std::path::Path) -> std::path::PathBuf {
        let m = Model::random(
            Architecture::default_for(policy::features::N_FEATURES),
            FeatureSpec::current_identity(),
            7,
        )
        .unwrap();
        let p = dir.join("m.safetensors");
        m.save(&p).unwrap();
        p
    }

    fn jobs() -> Vec<JobObs> {
        (0..50)
            .map(|i| JobObs {
                id: i,
                wait: i * 100,
                time_limit: 3600 * (1 + i % 7),
                cpus: 1 + (i as u32 * 13) % 64,
                nodes: 1,
                ..JobObs::default()
            })
            .collect()
    }

    #[test]
    fn no_model_is_neutral_and_says_so() {
        let h = crate::host::TestHost::default();
        let s = State::build(&h, None);
        assert!(s.is_neutral());
        let (mut sc, mut out) = (Vec::new(), Vec::new());
        s.factors(&QueueContext::default(), &jobs(), &mut sc, &mut out);
        assert_eq!(out, vec![NICE_OFFSET; 50]);
        assert!(h.messages(Level::Info)[0].contains("neutral"));
    }

    #[test]
    fn bad_config_and_missing_model_are_errors_and_neutral() {
        let h = crate::host::TestHost::default();
        assert!(State::build(&h, Some("modle=/x")).is_neutral());
        assert!(State::build(&h, Some("model=/nonexistent/m.safetensors")).is_neutral());
        let e = h.messages(Level::Error);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("unknown key `modle`"), "{e:?}");
        assert!(e[1].contains("/nonexistent/m.safetensors"), "{e:?}");
    }

    #[test]
    fn model_factors_follow_the_model_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = model_file(dir.path());
        let h = crate::host::TestHost::default();
        let s = State::build(&h, Some(&format!("model={},max_wait=0", p.display())));
        assert!(!s.is_neutral(), "{:?}", h.messages(Level::Error));
        // The one line admins check for (docs/plugin.md, tests/e2e_plugin.sh).
        let info = h.messages(Level::Info);
        assert_eq!(info.len(), 1, "{info:?}");
        let want = format!(
            "site_factor/rl: loaded model {} ({} features, layers [{}, 32, 16, 8, 1],",
            p.display(),
            policy::features::N_FEATURES,
            policy::features::N_FEATURES
        );
        assert!(info[0].starts_with(&want), "{info:?}");
        let ctx = QueueContext {
            total_cpus: 256,
            free_cpus: 64,
            queue_len: 50,
            ..QueueContext::default()
        };
        let js = jobs();
        let (mut sc, mut out) = (Vec::new(), Vec::new());
        s.factors(&ctx, &js, &mut sc, &mut out);
        let model = s.model.as_ref().unwrap();
        let mut scratch = model.scratch();
        let direct: Vec<f32> = js
            .iter()
            .map(|j| model.score_job(j, &ctx, &mut scratch))
            .collect();
        assert!(direct.windows(2).any(|w| w[0] != w[1]), "scores must vary");
        for i in 0..js.len() {
            for k in 0..js.len() {
                if direct[i] < direct[k] {
                    assert!(out[i] <= out[k], "jobs {i},{k}: order not kept");
                }
            }
        }
    }

    /// Serializes the tests that use the process-wide state.
    static GLOBAL: Mutex<()> = Mutex::new(());

    /// A cloneable host for background loads, sharing one log.
    #[derive(Clone, Default)]
    struct SharedHost(Arc<crate::host::TestHost>);

    impl Host for SharedHost {
        fn log(&self, level: Level, msg: &str) {
            self.0.log(level, msg)
        }
        fn now(&self) -> u64 {
            self.0.now()
        }
        fn params(&self) -> Option<String> {
            self.0.params()
        }
    }

    #[test]
    fn reconfigure_loads_off_the_calling_thread_and_the_newest_load_wins() {
        let _g = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let good = model_file(dir.path());
        let h = SharedHost::default();
        publish(Some(State::build(&h, Some("verbose=1"))));
        let caller = std::thread::current().id();
        // Two reloads in a row: a good model, then a missing one. The
        // second supersedes the first, whatever order they finish in.
        load_in_background(&h, Some(format!("model={}", good.display())));
        load_in_background(&h, Some("model=/nonexistent/model.safetensors".into()));
        join_background_loads();
        let s = current().unwrap();
        assert!(
            s.model.is_none(),
            "the newest load (a missing file) is the one in force"
        );
        let log = h.0.log.lock().unwrap();
        assert!(
            log.iter()
                .any(|(l, m)| *l == Level::Error && m.contains("/nonexistent/model.safetensors")),
            "{log:?}"
        );
        assert_eq!(std::thread::current().id(), caller);
        drop(log);
        // A single reload of the good model publishes it.
        load_in_background(&h, Some(format!("model={}", good.display())));
        join_background_loads();
        assert!(current().unwrap().model.is_some());
        // As in fini: after stop_background_loads no load is left running,
        // so nothing can publish after the state is cleared.
        load_in_background(&h, Some(format!("model={}", good.display())));
        stop_background_loads();
        publish(None);
        assert!(loads().threads.is_empty());
        assert!(current().is_none());
    }

    #[test]
    fn publish_swaps_whole_states() {
        let _g = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
        let h = crate::host::TestHost::default();
        publish(Some(State::build(&h, Some("verbose=1"))));
        assert_eq!(current().unwrap().config.verbose, 1);
        let old = publish(Some(State::build(&h, Some("verbose=2"))));
        assert_eq!(old.unwrap().config.verbose, 1);
        assert_eq!(current().unwrap().config.verbose, 2);
        publish(None);
        assert!(current().is_none());
    }
}
