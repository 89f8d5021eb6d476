//! What each plugin entry point does, between the shims in `lib.rs` and the
//! Slurm access in the version module: build and publish the state, turn a
//! snapshot of job views into a [`QueueContext`] and observations, score
//! them and write the site factors back.
//!
//! Every function here returns a `Result` for the guard; none may panic on
//! C data. Logic that needs no Slurm ([`context`], [`plan`]) takes views
//! and plain values so that tests and benchmarks drive it with fabricated
//! records. This module must not read C fields itself (the version module
//! does).

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Instant;

use policy::{JobObs, QueueContext};

use crate::guard::install_quiet_panic_hook;
use crate::host::{Host, Level};
use crate::slurm::{self, JobView, Weights};
use crate::state::{self, State};
use crate::sys;

/// The cluster's total CPUs and GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// All CPUs.
    pub cpus: u64,
    /// All GPUs.
    pub gpus: u64,
}

/// The queue context of a snapshot: pending and running counts, and free
/// resources as the totals minus what running jobs hold.
pub fn context(views: &[JobView<'_>], now: u64, totals: Totals) -> QueueContext {
    let (mut pending, mut running, mut used_cpus, mut used_gpus) = (0u32, 0u32, 0u64, 0u64);
    for v in views {
        if v.is_pending() {
            pending = pending.saturating_add(1);
        } else if v.is_running() {
            running = running.saturating_add(1);
            used_cpus = used_cpus.saturating_add(v.cpus() as u64);
            used_gpus = used_gpus.saturating_add(v.gpus());
        }
    }
    QueueContext {
        now,
        free_cpus: totals.cpus.saturating_sub(used_cpus),
        total_cpus: totals.cpus,
        free_gpus: totals.gpus.saturating_sub(used_gpus),
        total_gpus: totals.gpus,
        queue_len: pending,
        running,
    }
}

/// Reusable buffers for [`plan`].
#[derive(Debug, Default)]
pub struct Buffers {
    /// Observations of the pending jobs, in view order.
    pub obs: Vec<JobObs>,
    /// Index into the views of each observation.
    pub index: Vec<usize>,
    /// Model scores (scratch).
    pub scores: Vec<f32>,
    /// Site factor of each observation.
    pub factors: Vec<u32>,
}

/// Scores the pending jobs among `views`: fills `buf.obs`, `buf.index` and
/// `buf.factors`, and returns the context they were scored in.
pub fn plan(
    state: &State,
    views: &[JobView<'_>],
    now: u64,
    weights: &Weights,
    totals: Totals,
    buf: &mut Buffers,
) -> QueueContext {
    let ctx = context(views, now, totals);
    buf.obs.clear();
    buf.index.clear();
    for (i, v) in views.iter().enumerate() {
        if v.is_pending() {
            buf.obs.push(v.obs(now, weights, &ctx));
            buf.index.push(i);
        }
    }
    state.factors(&ctx, &buf.obs, &mut buf.scores, &mut buf.factors);
    ctx
}

/// The context of the last update, reused (with a fresh clock) by
/// `site_factor_p_set` so that a submission does not walk the job list.
static LAST_CONTEXT: Mutex<Option<QueueContext>> = Mutex::new(None);

fn last_context() -> Option<QueueContext> {
    *LAST_CONTEXT.lock().unwrap_or_else(|p| p.into_inner())
}

fn remember_context(ctx: Option<QueueContext>) {
    *LAST_CONTEXT.lock().unwrap_or_else(|p| p.into_inner()) = ctx;
}

/// `init`: builds the state from the parameters and publishes it. Cheap
/// and idempotent (slurmctld may call it again after a failed load).
pub fn init<H: Host>(host: &H) -> Result<i32, Infallible> {
    install_quiet_panic_hook();
    let params = host.params();
    state::publish(Some(State::build(host, params.as_deref())));
    Ok(sys::SLURM_SUCCESS as i32)
}

/// `fini`: drops the state.
pub fn fini() -> Result<i32, Infallible> {
    state::stop_background_loads();
    state::publish(None);
    remember_context(None);
    Ok(sys::SLURM_SUCCESS as i32)
}

/// `site_factor_p_reconfig`: copies the parameters and rebuilds the state
/// (parameters and model) on a background thread, so no file is read while
/// slurmctld holds its locks; the old state stays in use until the swap.
pub fn reconfig<H: Host + Clone + Send + 'static>(host: &H) -> Result<(), Infallible> {
    state::load_in_background(host, host.params());
    Ok(())
}

/// The state in force, building it if `init` has not run (never expected,
/// but cheaper than failing).
fn state_or_init<H: Host>(host: &H) -> std::sync::Arc<State> {
    if let Some(s) = state::current() {
        return s;
    }
    let _ = init(host);
    state::current().unwrap_or_else(|| std::sync::Arc::new(State::build(host, None)))
}

/// `site_factor_p_update`: rescores every pending job.
///
/// # Safety
/// Called by slurmctld with the job write lock held (priority/multifactor's
/// decay thread takes it around site_factor_g_update).
pub unsafe fn update<H: Host>(host: &H) -> Result<(), slurm::SlurmError> {
    let t0 = Instant::now();
    let state = state_or_init(host);
    // SAFETY: the caller holds the job lock.
    let ptrs = unsafe { slurm::job_pointers() }?;
    let now = host.now();
    let (cpus, gpus) = slurm::cluster_totals();
    let mut buf = Buffers::default();
    // The pointers of the records that have a view, in view order.
    let mut live = Vec::with_capacity(ptrs.len());
    let ctx = {
        let mut views: Vec<JobView<'_>> = Vec::with_capacity(ptrs.len());
        for &p in &ptrs {
            // SAFETY: job_list's records are valid under the job lock.
            if let Some(v) = unsafe { JobView::from_raw(p) } {
                views.push(v);
                live.push(p);
            }
        }
        let totals = Totals { cpus, gpus };
        plan(&state, &views, now, &slurm::weights(), totals, &mut buf)
        // The views (shared borrows of the records) end here.
    };
    for ((&i, &f), o) in buf.index.iter().zip(&buf.factors).zip(&buf.obs) {
        if let Some(&p) = live.get(i) {
            if state.config.verbose >= 2 {
                host.log(
                    Level::Debug,
                    &format!(
                        "site_factor/rl: JobId={} wait={}s site_factor={f}",
                        o.id, o.wait
                    ),
                );
            }
            // SAFETY: a record of job_list under the job write lock; no
            // view is alive any more.
            unsafe { slurm::set_site_factor(p, f) };
        }
    }
    remember_context(Some(ctx));
    if state.config.verbose >= 1 {
        host.log(
            Level::Info,
            &format!(
                "site_factor/rl: update: {} pending jobs ({}) in {:.3} ms",
                buf.obs.len(),
                if state.is_neutral() {
                    "neutral"
                } else {
                    "model"
                },
                t0.elapsed().as_secs_f64() * 1e3
            ),
        );
    }
    Ok(())
}

/// `site_factor_p_set`: scores one job at submission, in the context of
/// the last update (or of a fresh walk of the job list before the first).
///
/// # Safety
/// `p` is null or a valid job record, and slurmctld holds the job write
/// lock (site_factor_g_set is called from priority_p_set under it).
pub unsafe fn set<H: Host>(host: &H, p: *mut sys::job_record_t) -> Result<(), slurm::SlurmError> {
    let state = state_or_init(host);
    let now = host.now();
    let mut ctx = match last_context() {
        Some(c) => c,
        None => {
            // SAFETY: the caller holds the job lock.
            let ptrs = unsafe { slurm::job_pointers() }?;
            // SAFETY: job_list's records are valid under the job lock.
            let views: Vec<JobView<'_>> = ptrs
                .iter()
                .filter_map(|&p| unsafe { JobView::from_raw(p) })
                .collect();
            let (cpus, gpus) = slurm::cluster_totals();
            context(&views, now, Totals { cpus, gpus })
        }
    };
    ctx.now = now;
    let factor = {
        // SAFETY: the caller guarantees `p` is null or valid under the lock.
        let Some(view) = (unsafe { JobView::from_raw(p) }) else {
            return Ok(());
        };
        let obs = [view.obs(now, &slurm::weights(), &ctx)];
        let (mut scores, mut out) = (Vec::with_capacity(1), Vec::with_capacity(1));
        state.factors(&ctx, &obs, &mut scores, &mut out);
        if state.config.verbose >= 2 {
            host.log(
                Level::Debug,
                &format!(
                    "site_factor/rl: set JobId={} site_factor={:?}",
                    obs[0].id,
                    out.first()
                ),
            );
        }
        out.first().copied()
    };
    if let Some(f) = factor {
        // SAFETY: `p` is valid (from_raw returned a view) and the view is gone.
        unsafe { slurm::set_site_factor(p, f) };
    }
    Ok(())
}
