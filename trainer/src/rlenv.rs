//! The RLScheduler-style environment: Gymnasium-shaped (`reset`, `step`,
//! `terminated` apart from `truncated`) over `sim::rlsched`, the
//! compatibility simulator that follows RLScheduler's (SC'20) protocol.
//!
//! Use it only to compare with RLScheduler's table; everything said about
//! Slurm goes through the Slurm-faithful [`crate::env`].
//!
//! - **Observation**: the *visible* jobs, at most [`MAX_QUEUE_SIZE`] (128,
//!   RLScheduler's `MAX_QUEUE_SIZE`): the queue is put in submit order (ties
//!   by trace position) and its first 128 jobs are visible. Each visible job
//!   is one row of the policy crate's features (v1; the ones RLScheduler's
//!   kernel uses are there: wait, request time, processors, fits-now),
//!   normalized by the model's normalizer. `action_mask` is 128 long and
//!   marks the real rows; the padded ones are invalid.
//! - **Action**: the index of a visible job. It becomes the committed head;
//!   the simulator then applies the configured backfill (none, or
//!   RLScheduler's simplified backfill) until the head fits, starts it and
//!   runs to the next decision. A masked action is an error.
//! - **Reward**: RLScheduler's: 0 at every step, and −(mean bounded
//!   slowdown of the window) at the step that starts its last job.
//! - **`terminated`**: every job of the window has started. **`truncated`**:
//!   `max_decisions` was reached first (reward 0; bootstrap from the
//!   observation if you use a critic).
//! - **Windows** (`reset`): random training windows of `jobs_per_episode`
//!   jobs drawn from the allowed starts of a [`Split`]: either only from
//!   jobs outside the ten test windows of the table and outside the
//!   validation windows ([`Split::new`]), or, as RLScheduler trains, from
//!   the whole trace ([`Split::whole`]).

use policy::features::{N_FEATURES, Normalizer, features_array};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::rlsched::{
    self, CompatJob, CompatTrace, Episode, PickContext, Queue, RlschedError, job_obs, queue_context,
};
use std::sync::Arc;

/// RLScheduler's `MAX_QUEUE_SIZE`: jobs visible to the policy.
pub const MAX_QUEUE_SIZE: usize = 128;

/// Environment settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RlEnvConfig {
    /// RLScheduler's simplified backfilling (true) or none.
    pub backfill: bool,
    /// Jobs per training window (RLScheduler trains on 256).
    pub jobs_per_episode: usize,
    /// Visible jobs (128 in RLScheduler).
    pub max_visible: usize,
    /// Cut an episode after this many decisions (`truncated`).
    pub max_decisions: Option<usize>,
}

impl Default for RlEnvConfig {
    fn default() -> Self {
        RlEnvConfig {
            backfill: false,
            jobs_per_episode: 256,
            max_visible: MAX_QUEUE_SIZE,
            max_decisions: None,
        }
    }
}

/// Errors of the environment.
#[derive(Debug, thiserror::Error)]
pub enum RlEnvError {
    /// The simulator refused (window outside the trace, unrunnable job).
    #[error(transparent)]
    Sim(#[from] RlschedError),
    /// `step` before `reset`, or after the episode ended.
    #[error("step called without a running episode: call reset first")]
    NotRunning,
    /// The action is not a visible job.
    #[error("action {action} is masked: {visible} jobs are visible")]
    InvalidAction {
        /// The action.
        action: usize,
        /// Visible jobs.
        visible: usize,
    },
    /// No training window fits outside the held-out jobs.
    #[error("no window of {len} jobs fits outside the test and validation windows")]
    NoTrainingWindow {
        /// Window length.
        len: usize,
    },
}

/// What the agent sees at a decision point.
#[derive(Debug, Clone, Default)]
pub struct RlObservation {
    /// `n × N_FEATURES` normalized features, one row per visible job.
    pub features: Vec<f32>,
    /// The visible jobs, in the order of the rows (submit order).
    pub jobs: Vec<CompatJob>,
    /// `max_visible` entries: true for the `n` real rows.
    pub action_mask: Vec<bool>,
    /// Jobs in the queue (visible or not).
    pub queue_len: usize,
}

impl RlObservation {
    /// Visible jobs (the valid actions are `0..n`).
    pub fn n(&self) -> usize {
        self.jobs.len()
    }
}

/// Diagnostics of a step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RlInfo {
    /// Decisions so far in the episode.
    pub decisions: usize,
    /// The window's mean bounded slowdown, at termination.
    pub mean_bsld: Option<f64>,
    /// The window's utilization (RLScheduler's definition), at termination.
    pub utilization: Option<f64>,
}

/// The outcome of a step.
#[derive(Debug, Clone)]
pub struct RlStep {
    /// The next observation (empty when terminated).
    pub obs: RlObservation,
    /// 0, or −mean bounded slowdown at termination.
    pub reward: f64,
    /// Every job of the window started.
    pub terminated: bool,
    /// `max_decisions` reached before the end.
    pub truncated: bool,
    /// Diagnostics.
    pub info: RlInfo,
}

/// Which jobs serve which purpose: windows are `[start, start + len)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Inclusive ranges of allowed training start indices.
    pub train_starts: Vec<(usize, usize)>,
    /// Start indices of the validation windows (`jobs_per_episode` long).
    pub val_starts: Vec<usize>,
    /// Jobs usable for training.
    pub train_jobs: usize,
}

impl Split {
    /// Holds out the test windows (`test_starts`, `test_len` jobs each) and
    /// `val_windows` consecutive validation windows of `len` jobs, taken
    /// from the end of the largest gap that ends at a test window (the
    /// trace's tail only when no such gap is long enough); training windows
    /// of `len` jobs lie wholly in what is left.
    pub fn new(
        n_jobs: usize,
        test_starts: &[usize],
        test_len: usize,
        len: usize,
        val_windows: usize,
    ) -> Result<Split, RlEnvError> {
        let mut blocked: Vec<(usize, usize)> = test_starts
            .iter()
            .map(|&s| (s.min(n_jobs), (s + test_len).min(n_jobs)))
            .collect();
        blocked.sort_unstable();
        let mut free = Vec::new();
        let mut at = 0;
        for (a, b) in blocked {
            if a > at {
                free.push((at, a));
            }
            at = at.max(b);
        }
        if at < n_jobs {
            free.push((at, n_jobs));
        }
        let mut val_starts = Vec::new();
        if val_windows > 0 {
            let need = val_windows * len;
            // Prefer the gaps between or before test windows (close in time
            // to them) over the trace's tail, which can be much lighter.
            let inner = free.iter().any(|&(a, b)| b < n_jobs && b - a >= need);
            let Some(big) = free
                .iter_mut()
                .filter(|(a, b)| b - *a >= need && (!inner || *b < n_jobs))
                .max_by_key(|(a, b)| b - a)
            else {
                return Err(RlEnvError::NoTrainingWindow { len: need });
            };
            let v0 = big.1 - need;
            val_starts = (0..val_windows).map(|i| v0 + i * len).collect();
            big.1 = v0;
        }
        let train_starts: Vec<(usize, usize)> = free
            .iter()
            .filter(|(a, b)| b - a >= len)
            .map(|&(a, b)| (a, b - len))
            .collect();
        if train_starts.is_empty() {
            return Err(RlEnvError::NoTrainingWindow { len });
        }
        let train_jobs = free
            .iter()
            .filter(|(a, b)| b - a >= len)
            .map(|(a, b)| b - a)
            .sum();
        Ok(Split {
            train_starts,
            val_starts,
            train_jobs,
        })
    }

    /// RLScheduler's own protocol: training windows of `len` jobs start
    /// anywhere in the trace (they may hold jobs of the test windows, as
    /// RLScheduler's training windows do), and `val_windows` validation
    /// windows of `val_len` jobs are spread evenly over the trace, the first
    /// at job 0 and the last ending at its last job.
    pub fn whole(
        n_jobs: usize,
        len: usize,
        val_windows: usize,
        val_len: usize,
    ) -> Result<Split, RlEnvError> {
        for l in [len, val_len] {
            if l == 0 || n_jobs < l {
                return Err(RlEnvError::NoTrainingWindow { len: l });
            }
        }
        let last = n_jobs - len;
        let val_last = n_jobs - val_len;
        let val_starts = match val_windows {
            0 => Vec::new(),
            1 => vec![0],
            v => (0..v).map(|i| i * val_last / (v - 1)).collect(),
        };
        Ok(Split {
            train_starts: vec![(0, last)],
            val_starts,
            train_jobs: n_jobs,
        })
    }

    /// `k` training starts spread evenly over the allowed ones (a systematic
    /// sample: a random offset, then equal steps), in trace order.
    pub fn spread(&self, k: usize, rng: &mut impl Rng) -> Vec<usize> {
        let total: usize = self.train_starts.iter().map(|(a, b)| b - a + 1).sum();
        let k = k.max(1);
        let step = total as f64 / k as f64;
        let offset = rng.r#gen::<f64>() * step;
        (0..k)
            .map(|i| self.nth_start(((offset + i as f64 * step) as usize).min(total - 1)))
            .collect()
    }

    /// A uniformly random allowed training start.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total: usize = self.train_starts.iter().map(|(a, b)| b - a + 1).sum();
        self.nth_start(rng.gen_range(0..total))
    }

    /// The `r`-th allowed training start, counting through the ranges in order.
    fn nth_start(&self, mut r: usize) -> usize {
        for &(a, b) in &self.train_starts {
            let n = b - a + 1;
            if r < n {
                return a + r;
            }
            r -= n;
        }
        unreachable!("r is below the number of allowed starts")
    }
}

/// The environment.
pub struct RlEnv {
    trace: Arc<CompatTrace>,
    cfg: RlEnvConfig,
    normalizer: Normalizer,
    split: Split,
    ep: Option<Episode>,
}

impl RlEnv {
    /// An environment over `trace`, drawing training windows from `split`.
    pub fn new(
        trace: Arc<CompatTrace>,
        cfg: RlEnvConfig,
        normalizer: Normalizer,
        split: Split,
    ) -> RlEnv {
        RlEnv {
            trace,
            cfg,
            normalizer,
            split,
            ep: None,
        }
    }

    /// Starts a random training window (seeded: the same seed gives the
    /// same window).
    pub fn reset(&mut self, seed: u64) -> Result<RlObservation, RlEnvError> {
        let start = self.split.sample(&mut ChaCha8Rng::seed_from_u64(seed));
        self.reset_at(start, self.cfg.jobs_per_episode)
    }

    /// Starts the window `[start, start + len)`, e.g. a test window.
    pub fn reset_at(&mut self, start: usize, len: usize) -> Result<RlObservation, RlEnvError> {
        self.ep = Some(Episode::new(&self.trace, start, len, self.cfg.backfill)?);
        Ok(self.observe())
    }

    fn observe(&mut self) -> RlObservation {
        let Some(ep) = self.ep.as_mut() else {
            return RlObservation::default();
        };
        let mut obs = RlObservation {
            action_mask: vec![false; self.cfg.max_visible],
            queue_len: ep.queue().len(),
            ..RlObservation::default()
        };
        if ep.is_done() {
            return obs;
        }
        ep.queue_mut().sort_by_key(|j| (j.submit, j.index));
        let ctx = ep.context();
        let n = ep.queue().len().min(self.cfg.max_visible);
        obs.jobs.extend_from_slice(&ep.queue()[..n]);
        visible_features(&ctx, &obs.jobs, obs.queue_len, &mut obs.features);
        for row in obs.features.chunks_mut(N_FEATURES) {
            self.normalizer.apply(row);
        }
        obs.action_mask[..n].fill(true);
        obs
    }

    /// Commits to visible job `action`; see the module doc.
    pub fn step(&mut self, action: usize) -> Result<RlStep, RlEnvError> {
        let ep = self.ep.as_mut().ok_or(RlEnvError::NotRunning)?;
        if ep.is_done() {
            return Err(RlEnvError::NotRunning);
        }
        let visible = ep.queue().len().min(self.cfg.max_visible);
        if action >= visible {
            return Err(RlEnvError::InvalidAction { action, visible });
        }
        // The queue is still in the submit order of the last observation.
        let terminated = ep.commit(action)?;
        let decisions = ep.decisions();
        let mut info = RlInfo {
            decisions,
            ..RlInfo::default()
        };
        let mut reward = 0.0;
        if terminated {
            let r = ep.result();
            reward = -r.mean_bsld;
            info.mean_bsld = Some(r.mean_bsld);
            info.utilization = Some(r.utilization);
        }
        let truncated = !terminated && self.cfg.max_decisions.is_some_and(|m| decisions >= m);
        let obs = self.observe();
        if terminated || truncated {
            self.ep = None;
        }
        Ok(RlStep {
            obs,
            reward,
            terminated,
            truncated,
            info,
        })
    }
}

/// Raw (unnormalized) features of `jobs` at `ctx`, appended to `out`.
pub fn visible_features(
    ctx: &PickContext,
    jobs: &[CompatJob],
    queue_len: usize,
    out: &mut Vec<f32>,
) {
    let qctx = queue_context(ctx, queue_len);
    for j in jobs {
        out.extend_from_slice(&features_array(&job_obs(ctx, j), &qctx));
    }
}

/// Fits the normalizer on the raw features of the visible jobs seen while
/// F1 schedules `starts` (windows of `len` jobs), as RLScheduler's
/// heuristics would present them.
pub fn fit_normalizer(
    trace: &CompatTrace,
    starts: &[usize],
    len: usize,
    backfill: bool,
    max_visible: usize,
) -> anyhow::Result<Normalizer> {
    let mut rows: Vec<Vec<f32>> = Vec::new();
    let mut buf = Vec::new();
    for &s in starts {
        let mut picker = |ctx: &PickContext, q: &mut Queue<'_>| {
            q.sort_by_key(|j| (j.submit, j.index));
            let n = q.len().min(max_visible);
            buf.clear();
            visible_features(ctx, &q[..n], q.len(), &mut buf);
            if rows.len() < 200_000 {
                rows.extend(buf.chunks(N_FEATURES).map(|r| r.to_vec()));
            }
            let mut f1 = rlsched::Key::F1;
            rlsched::Picker::pick(&mut f1, ctx, q)
        };
        rlsched::run_window_with(trace, s, len, &mut picker, backfill)?;
    }
    Ok(Normalizer::fit(&rows)?)
}

/// Runs a scoring function greedily (argmax over the visible jobs, the
/// first on ties) over the window `[start, start + len)`; returns its
/// metrics. `score` gets the observation and writes one score per row.
pub fn run_greedy(
    env: &mut RlEnv,
    start: usize,
    len: usize,
    score: &mut dyn FnMut(&RlObservation, &mut Vec<f32>),
) -> Result<(f64, f64, usize), RlEnvError> {
    let mut obs = env.reset_at(start, len)?;
    let mut scores = Vec::new();
    loop {
        scores.clear();
        score(&obs, &mut scores);
        let mut best = 0;
        for (i, &s) in scores.iter().enumerate().take(obs.n()) {
            if s > scores[best] {
                best = i;
            }
        }
        let step = env.step(best)?;
        if step.terminated {
            return Ok((
                step.info.mean_bsld.unwrap_or(f64::NAN),
                step.info.utilization.unwrap_or(f64::NAN),
                step.info.decisions,
            ));
        }
        if step.truncated {
            return Ok((f64::NAN, f64::NAN, step.info.decisions));
        }
        obs = step.obs;
    }
}

/// Greedy evaluation of a model file's network on the windows `starts`:
/// the mean bounded slowdown of each window.
pub fn evaluate_model(
    env: &mut RlEnv,
    model: &policy::Model,
    starts: &[usize],
    len: usize,
) -> Result<Vec<f64>, RlEnvError> {
    evaluate_mlp(env, model.mlp(), starts, len)
}

/// [`evaluate_model`] for a bare network (the features are the env's own).
pub fn evaluate_mlp(
    env: &mut RlEnv,
    mlp: &policy::nn::Mlp,
    starts: &[usize],
    len: usize,
) -> Result<Vec<f64>, RlEnvError> {
    let mut scratch = mlp.scratch();
    let mut out = Vec::with_capacity(starts.len());
    for &s in starts {
        let (bsld, _, _) = run_greedy(env, s, len, &mut |obs, scores| {
            scores.resize(obs.n(), 0.0);
            // Shapes agree by construction (N_FEATURES rows).
            let _ = mlp.score_batch_with(&obs.features, scores, &mut scratch);
        })?;
        out.push(bsld);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::rlsched::{Key, TABLE_STARTS, WINDOW_LEN, run_window};

    fn env(trace: Arc<CompatTrace>, backfill: bool, max_visible: usize) -> RlEnv {
        let split = Split::new(trace.jobs.len(), &TABLE_STARTS, WINDOW_LEN, 256, 1).unwrap();
        RlEnv::new(
            trace,
            RlEnvConfig {
                backfill,
                max_visible,
                ..RlEnvConfig::default()
            },
            Normalizer::identity(N_FEATURES),
            split,
        )
    }

    /// A key's choice among the visible jobs: the smallest key, ties to the
    /// earlier row (submit order).
    fn key_score(key: Key) -> impl FnMut(&RlObservation, &mut Vec<f32>) {
        move |obs, scores| {
            let now = 0;
            let mut order: Vec<usize> = (0..obs.n()).collect();
            let k = |j: &CompatJob| match key {
                Key::Sjf => (j.request as f64, j.submit as f64),
                _ => (key.value(now, j), 0.0),
            };
            order.sort_by(|&a, &b| {
                k(&obs.jobs[a])
                    .partial_cmp(&k(&obs.jobs[b]))
                    .unwrap()
                    .then(a.cmp(&b))
            });
            scores.resize(obs.n(), 0.0);
            for (rank, &i) in order.iter().enumerate() {
                scores[i] = -(rank as f32);
            }
        }
    }

    #[test]
    fn heuristics_through_the_env_match_run_window() {
        let t = Arc::new(rlsched::load(&sim::testdata::trace("lublin_256.swf")).unwrap());
        for backfill in [false, true] {
            for key in [Key::Fcfs, Key::Sjf, Key::F1] {
                // All jobs visible: exactly the protocol's results.
                let mut e = env(t.clone(), backfill, WINDOW_LEN);
                for &s in &TABLE_STARTS[..3] {
                    let want = run_window(&t, s, WINDOW_LEN, key, backfill).unwrap();
                    let got = run_greedy(&mut e, s, WINDOW_LEN, &mut key_score(key)).unwrap();
                    assert_eq!(
                        (got.0, got.1),
                        (want.mean_bsld, want.utilization),
                        "{key:?} backfill={backfill} window {s}"
                    );
                }
            }
            // 128 visible: FCFS's choice (the oldest) is always visible.
            let mut e = env(t.clone(), backfill, MAX_QUEUE_SIZE);
            let s = TABLE_STARTS[0];
            let want = run_window(&t, s, WINDOW_LEN, Key::Fcfs, backfill).unwrap();
            let got = run_greedy(&mut e, s, WINDOW_LEN, &mut key_score(Key::Fcfs)).unwrap();
            assert_eq!(got.0, want.mean_bsld);
        }
    }

    /// (id, submit, run, request, procs) on `nodes` nodes.
    fn tiny(nodes: u64, jobs: &[(u64, i64, i64, i64, i64)]) -> Arc<CompatTrace> {
        Arc::new(CompatTrace {
            file: "tiny".into(),
            jobs: jobs
                .iter()
                .enumerate()
                .map(|(index, &(id, submit, run, request, procs))| CompatJob {
                    index,
                    id,
                    submit,
                    run,
                    request,
                    procs,
                })
                .collect(),
            max_nodes: nodes,
            max_procs: nodes,
            dropped_run_zero: 0,
        })
    }

    #[test]
    fn step_semantics_masking_and_rewards() {
        // 1 node: A runs 0..100; B (run 50) and C (run 10) queue behind it.
        let t = tiny(
            1,
            &[(1, 0, 100, 100, 1), (2, 1, 50, 50, 1), (3, 2, 10, 10, 1)],
        );
        let split = Split {
            train_starts: vec![(0, 0)],
            val_starts: vec![],
            train_jobs: 3,
        };
        let cfg = RlEnvConfig {
            jobs_per_episode: 3,
            max_visible: 2,
            ..RlEnvConfig::default()
        };
        let mut e = RlEnv::new(
            t.clone(),
            cfg.clone(),
            Normalizer::identity(N_FEATURES),
            split.clone(),
        );
        assert!(matches!(e.step(0), Err(RlEnvError::NotRunning)));
        let o = e.reset(7).unwrap();
        assert_eq!((o.n(), o.action_mask.clone()), (1, vec![true, false]));
        assert!(matches!(
            e.step(1),
            Err(RlEnvError::InvalidAction {
                action: 1,
                visible: 1
            })
        ));
        // A starts at 0; B arrives at 1 and is the only job: a decision.
        let s = e.step(0).unwrap();
        assert!(!s.terminated && !s.truncated && s.reward == 0.0);
        assert_eq!(s.obs.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![2]);
        // Commit B: it waits until 100; C arrives meanwhile (2) and the
        // next decision is at 100 with C alone.
        let s = e.step(0).unwrap();
        assert_eq!(s.obs.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![3]);
        let s = e.step(0).unwrap();
        assert!(s.terminated && !s.truncated);
        // bsld: A 1, B (99 + 50)/50, C (148 + 10)/10.
        let want = (1.0 + 149.0 / 50.0 + 158.0 / 10.0) / 3.0;
        assert!((s.reward + want).abs() < 1e-12, "{}", s.reward);
        assert_eq!(s.info.mean_bsld, Some(-s.reward));
        assert!(matches!(e.step(0), Err(RlEnvError::NotRunning)));
        // A job's features: fits_now is 0 while A holds the node.
        let mut e = RlEnv::new(
            t.clone(),
            RlEnvConfig {
                max_decisions: Some(2),
                ..cfg
            },
            Normalizer::identity(N_FEATURES),
            split,
        );
        e.reset(0).unwrap();
        let s = e.step(0).unwrap();
        let fits = policy::features::FEATURE_NAMES
            .iter()
            .position(|&n| n == "fits_now")
            .unwrap();
        assert_eq!(s.obs.features[fits], 0.0);
        let s = e.step(0).unwrap();
        assert!(s.truncated && !s.terminated && s.reward == 0.0);
    }

    #[test]
    fn whole_trace_split_spreads_validation_and_trains_anywhere() {
        let sp = Split::whole(10_000, 1024, 5, 1024).unwrap();
        assert_eq!(sp.val_starts, vec![0, 2244, 4488, 6732, 8976]);
        assert_eq!(sp.train_starts, vec![(0, 8976)]);
        assert_eq!(sp.train_jobs, 10_000);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let draws: Vec<usize> = (0..2000).map(|_| sp.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&s| s <= 8976));
        // Windows inside the test region are drawn too (RLScheduler's protocol).
        assert!(draws.iter().any(|&s| (7085..8000).contains(&s)));
        let spread = sp.spread(8, &mut rng);
        assert_eq!(spread.len(), 8);
        assert!(
            spread
                .windows(2)
                .all(|w| w[1] - w[0] >= 1121 && w[1] - w[0] <= 1123)
        );
        assert!(spread[0] < 1123 && spread[7] <= 8976);
        assert_eq!(
            Split::whole(10_000, 256, 2, 1024).unwrap().val_starts,
            vec![0, 8976]
        );
        assert!(Split::whole(100, 256, 1, 64).is_err());
        assert!(Split::whole(1000, 256, 1, 2000).is_err());
    }

    #[test]
    fn training_windows_avoid_test_and_validation_windows() {
        let sp = Split::new(10_000, &TABLE_STARTS, WINDOW_LEN, 256, 2).unwrap();
        // Lublin-sized: free gaps are [0,1981), [6252,7085), [9874,10000);
        // validation takes the end of the largest.
        assert_eq!(sp.val_starts, vec![1469, 1725]);
        assert_eq!(sp.train_starts, vec![(0, 1213), (6252, 6829)]);
        // A long tail is not preferred for validation.
        let sp = Split::new(200_000, &TABLE_STARTS, WINDOW_LEN, 256, 2).unwrap();
        assert_eq!(sp.val_starts, vec![1469, 1725]);
        assert_eq!(sp.train_starts.last(), Some(&(9874, 200_000 - 256)));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..2000 {
            let s = sp.sample(&mut rng);
            for &t in &TABLE_STARTS {
                assert!(s + 256 <= t || s >= t + WINDOW_LEN, "{s} overlaps test {t}");
            }
            assert!(s + 256 <= 1469 || s >= 1981, "{s} overlaps validation");
        }
    }
}
