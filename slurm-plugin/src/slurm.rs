//! Everything that depends on Slurm's structures and symbols: the
//! read-only [`JobView`] over a `job_record_t`, the walk over `job_list`,
//! the node table, `slurm_conf`, the log, and writing `site_factor` back.
//!
//! All field access of Slurm's C structures lives in this module. The
//! fields it reads have the same names in every supported release; what
//! differs between releases (type names, the entry points Slurm requires)
//! is in the release module, [`crate::version`] (`v22_05` or `v24_11`,
//! chosen by `build.rs` from the configured tree's `SLURM_VERSION_NUMBER`),
//! so supporting another release is one reviewed diff there. Raw pointers are
//! turned into views once, at the boundary, with every nested pointer
//! null-checked; the logic in `imp` sees only views and `policy` types.
//! Nothing here may panic on C data or keep a reference to it past the
//! call it came with.

use std::ffi::{CStr, CString, c_char};

use policy::{JobObs, QueueContext};

use crate::gres::gpus_in;
use crate::host::{Host, Level};
use crate::sys;
use crate::version::{Details, Factors};

/// Slurm's "no value" for `uint32_t` fields.
pub const NO_VAL: u32 = sys::NO_VAL;
/// Slurm's "unlimited" for `uint32_t` fields (time limits in minutes).
pub const INFINITE: u32 = sys::INFINITE;
/// Slurm's "no value" for `uint64_t` fields (bindgen types the macro as
/// `i32`; the sign-extending cast gives the C value).
pub const NO_VAL64: u64 = sys::NO_VAL64 as u64;
/// The flag in `pn_min_memory` that makes it per CPU instead of per node.
pub const MEM_PER_CPU: u64 = sys::MEM_PER_CPU as u64;
/// The time limit, in seconds, given to a job whose limit (and its
/// partition's) is unlimited: one year.
pub const UNLIMITED_SECS: u64 = 365 * 86_400;

/// The multifactor weights the plugin needs to undo the weighting that
/// priority/multifactor applies in place to `prio_factors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weights {
    /// `PriorityWeightFairshare`.
    pub fs: u32,
    /// `PriorityWeightQOS`.
    pub qos: u32,
}

/// A read-only view of one job record, its details, partition and cached
/// priority factors, valid while slurmctld holds the job lock.
#[derive(Clone, Copy)]
pub struct JobView<'a> {
    job: &'a sys::job_record_t,
    details: Option<&'a Details>,
    part: Option<&'a sys::part_record_t>,
    factors: Option<&'a Factors>,
    tres_factors: &'a [f64],
    tres_per_job: Option<&'a CStr>,
    tres_per_node: Option<&'a CStr>,
    tres_per_task: Option<&'a CStr>,
}

/// `p` as a C string, or `None` if it is null.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that lives and is not
/// modified for `'a`.
unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller guarantees a live NUL-terminated string.
        Some(unsafe { CStr::from_ptr(p) })
    }
}

impl<'a> JobView<'a> {
    /// Builds a view of the job record at `p`, or `None` if `p` is null.
    ///
    /// # Safety
    /// `p` is null or points to a valid `job_record_t` whose pointers
    /// `details`, `part_ptr`, `prio_factors` (and its `priority_tres`,
    /// `tres_cnt` long), `tres_per_job`, `tres_per_node` and `tres_per_task`
    /// are each null or valid, and none of it is modified or freed during
    /// `'a`. Inside slurmctld this holds while the caller holds the job lock
    /// (site_factor_p_set and site_factor_p_update are called with the job
    /// write lock held).
    pub unsafe fn from_raw(p: *const sys::job_record_t) -> Option<JobView<'a>> {
        // SAFETY: the caller guarantees `p` is null or valid for 'a.
        let job = unsafe { p.as_ref() }?;
        // SAFETY: `details` is null or valid for 'a, as the caller guarantees.
        let details = unsafe { job.details.as_ref() };
        // SAFETY: as above.
        let part = unsafe { job.part_ptr.as_ref() };
        // SAFETY: as above.
        let factors = unsafe { job.prio_factors.as_ref() };
        let tres_factors = match factors {
            Some(f) if !f.priority_tres.is_null() && f.tres_cnt > 0 => {
                // SAFETY: multifactor allocates priority_tres with tres_cnt
                // doubles (priority_multifactor.c), the caller guarantees it
                // is valid for 'a.
                unsafe { std::slice::from_raw_parts(f.priority_tres, f.tres_cnt as usize) }
            }
            _ => &[],
        };
        // SAFETY: null or a NUL-terminated string owned by the job record,
        // valid for 'a as the caller guarantees.
        let tres_per_job = unsafe { c_str(job.tres_per_job) };
        // SAFETY: as above.
        let tres_per_node = unsafe { c_str(job.tres_per_node) };
        // SAFETY: as above.
        let tres_per_task = unsafe { c_str(job.tres_per_task) };
        Some(JobView {
            job,
            details,
            part,
            factors,
            tres_factors,
            tres_per_job,
            tres_per_node,
            tres_per_task,
        })
    }

    /// The job id.
    pub fn job_id(&self) -> u32 {
        self.job.job_id
    }

    fn base_state(&self) -> u32 {
        self.job.job_state & sys::JOB_STATE_BASE
    }

    /// Whether the job is pending.
    pub fn is_pending(&self) -> bool {
        self.base_state() == sys::job_states::JOB_PENDING
    }

    /// Whether the job is running (it holds resources).
    pub fn is_running(&self) -> bool {
        self.base_state() == sys::job_states::JOB_RUNNING
    }

    /// Requested nodes (`details->min_nodes`, at least 1).
    pub fn nodes(&self) -> u32 {
        self.details.map_or(1, |d| d.min_nodes).max(1)
    }

    /// CPUs: allocated (`total_cpus`) for a running job, else requested
    /// (`details->min_cpus`, or `num_tasks` if that is unset), at least 1.
    pub fn cpus(&self) -> u32 {
        if self.is_running() && self.job.total_cpus > 0 && self.job.total_cpus != NO_VAL {
            return self.job.total_cpus;
        }
        let d = match self.details {
            Some(d) => d,
            None => return 1,
        };
        let c = if d.min_cpus == 0 || d.min_cpus == NO_VAL {
            d.num_tasks
        } else {
            d.min_cpus
        };
        if c == NO_VAL { 1 } else { c.max(1) }
    }

    /// Requested memory in MB: `pn_min_memory` per CPU (with the
    /// `MEM_PER_CPU` flag) or per node; 0 when unset or "all of the node".
    pub fn mem_mb(&self) -> u64 {
        let Some(d) = self.details else { return 0 };
        let m = d.pn_min_memory;
        if m == NO_VAL64 || m == 0 {
            return 0;
        }
        if m & MEM_PER_CPU != 0 {
            (m & !MEM_PER_CPU).saturating_mul(self.cpus() as u64)
        } else {
            m.saturating_mul(self.nodes() as u64)
        }
    }

    /// Requested GPUs: `tres_per_job` + `tres_per_node` × nodes +
    /// `tres_per_task` × tasks (`tres_per_socket` is not counted).
    pub fn gpus(&self) -> u64 {
        let count = |s: Option<&CStr>| s.map_or(0, |s| gpus_in(&s.to_string_lossy()));
        let tasks = self.details.map_or(1, |d| {
            if d.num_tasks == NO_VAL {
                1
            } else {
                d.num_tasks.max(1)
            }
        });
        count(self.tres_per_job)
            .saturating_add(count(self.tres_per_node).saturating_mul(self.nodes() as u64))
            .saturating_add(count(self.tres_per_task).saturating_mul(tasks as u64))
    }

    /// The time limit in seconds: the job's, else its partition's default,
    /// else its partition's maximum; [`UNLIMITED_SECS`] when unlimited.
    pub fn time_limit_secs(&self) -> u64 {
        let set = |m: u32| m != NO_VAL && m != INFINITE;
        let t = self.job.time_limit;
        let minutes = if set(t) {
            Some(t)
        } else if t == INFINITE {
            None
        } else {
            self.part.and_then(|p| {
                if set(p.default_time) {
                    Some(p.default_time)
                } else if set(p.max_time) {
                    Some(p.max_time)
                } else {
                    None
                }
            })
        };
        minutes.map_or(UNLIMITED_SECS, |m| m as u64 * 60)
    }

    /// Submit time (Unix seconds; 0 when unknown).
    pub fn submit(&self) -> u64 {
        self.details.map_or(0, |d| d.submit_time.max(0) as u64)
    }

    /// Seconds the job has been eligible: since `details->begin_time`
    /// (which Slurm resets to the time the job first became eligible) or,
    /// when that is unset, since submission; 0 before it is eligible.
    pub fn wait(&self, now: u64) -> u64 {
        let submit = self.submit();
        let begin = self.details.map_or(0, |d| d.begin_time.max(0) as u64);
        let start = if begin > 0 { begin.max(submit) } else { submit };
        now.saturating_sub(start)
    }

    /// `PriorityTier` of the job's partition (0 without one).
    pub fn partition_tier(&self) -> u32 {
        self.part.map_or(0, |p| p.priority_tier as u32)
    }

    /// A weighted factor divided by its weight, clamped to [0, 1].
    fn unweighted(v: f64, weight: u32) -> Option<f64> {
        (weight > 0 && v.is_finite()).then(|| (v / weight as f64).clamp(0.0, 1.0))
    }

    /// The QOS factor in [0, 1] from the last multifactor calculation, or
    /// 0 when there is none (new job, or `PriorityWeightQOS=0`).
    pub fn qos(&self, w: &Weights) -> f64 {
        self.factors
            .and_then(|f| Self::unweighted(f.priority_qos, w.qos))
            .unwrap_or(0.0)
    }

    /// The fairshare factor in [0, 1] from the last multifactor
    /// calculation, or 1 when there is none.
    pub fn fairshare(&self, w: &Weights) -> f64 {
        self.factors
            .and_then(|f| Self::unweighted(f.priority_fs, w.fs))
            .unwrap_or(1.0)
    }

    /// The priority multifactor gave the job at its last calculation,
    /// without the site factor: the weighted age, association, fairshare,
    /// job size, partition, QOS and TRES terms minus the nice offset,
    /// floored as Slurm stores it. 0 before the first calculation.
    pub fn multifactor(&self) -> f64 {
        let Some(f) = self.factors else { return 0.0 };
        let tres: f64 = self.tres_factors.iter().sum();
        let p = f.priority_age
            + f.priority_assoc
            + f.priority_fs
            + f.priority_js
            + f.priority_part
            + f.priority_qos
            + tres
            - (f.nice as f64 - sys::NICE_OFFSET as f64);
        if p.is_finite() { p.floor() } else { 0.0 }
    }

    /// The job as the policy sees it. `fits_now` is the aggregate check
    /// against the cluster's free CPUs and GPUs in `ctx`.
    pub fn obs(&self, now: u64, w: &Weights, ctx: &QueueContext) -> JobObs {
        let cpus = self.cpus();
        let gpus = self.gpus();
        JobObs {
            id: self.job_id() as u64,
            submit: self.submit(),
            wait: self.wait(now),
            time_limit: self.time_limit_secs(),
            nodes: self.nodes(),
            cpus,
            mem_mb: self.mem_mb(),
            gpus: gpus.min(u32::MAX as u64) as u32,
            fits_now: (cpus as u64) <= ctx.free_cpus && gpus <= ctx.free_gpus,
            partition_tier: self.partition_tier(),
            qos: self.qos(w),
            fairshare: self.fairshare(w),
            multifactor: self.multifactor(),
        }
    }
}

/// The host inside slurmctld: Slurm's log, the system clock and
/// `slurm_conf.site_factor_params`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SlurmHost;

impl Host for SlurmHost {
    fn log(&self, level: Level, msg: &str) {
        let lvl = match level {
            Level::Error => sys::log_level_t_LOG_LEVEL_ERROR,
            Level::Info => sys::log_level_t_LOG_LEVEL_INFO,
            Level::Verbose => sys::log_level_t_LOG_LEVEL_VERBOSE,
            Level::Debug => sys::log_level_t_LOG_LEVEL_DEBUG,
        };
        let msg = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: slurm_log_var is libslurmfull's logger, callable from any
        // slurmctld thread; the format is the literal "%s" and its one
        // argument a NUL-terminated string that outlives the call.
        unsafe { sys::slurm_log_var(lvl, c"%s".as_ptr(), msg.as_ptr()) };
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn params(&self) -> Option<String> {
        // SAFETY: slurm_conf is slurmctld's configuration, written only on
        // reconfigure, which does not run concurrently with the plugin's
        // calls (init/reconfig run from the reconfigure path itself, set
        // and update under the job lock that reconfigure also takes).
        let p = unsafe { (*std::ptr::addr_of!(sys::slurm_conf)).site_factor_params };
        // SAFETY: null or a NUL-terminated string owned by slurm_conf.
        unsafe { c_str(p) }.map(|s| s.to_string_lossy().into_owned())
    }
}

/// The multifactor weights from `slurm_conf`.
pub fn weights() -> Weights {
    // SAFETY: see SlurmHost::params: slurm_conf is stable during our calls.
    let c = unsafe { &*std::ptr::addr_of!(sys::slurm_conf) };
    Weights {
        fs: c.priority_weight_fs,
        qos: c.priority_weight_qos,
    }
}

/// The cluster's CPUs (`cluster_cpus`) and GPUs (the sum of the nodes'
/// `Gres=` GPU counts).
pub fn cluster_totals() -> (u64, u64) {
    // SAFETY: slurmctld's globals, changed only under the node write lock;
    // site_factor_p_update runs with the job write lock and node read lock.
    let cpus = unsafe { sys::cluster_cpus } as u64;
    // SAFETY: as above.
    let (table, count) = unsafe { (sys::node_record_table_ptr, sys::node_record_count) };
    let mut gpus = 0u64;
    if !table.is_null() {
        for i in 0..count.max(0) as usize {
            // SAFETY: node_record_table_ptr has node_record_count entries,
            // each null (a removed dynamic node) or a valid node record.
            let node = unsafe { (*table.add(i)).as_ref() };
            // SAFETY: node->gres is null or a NUL-terminated string.
            if let Some(g) = node.and_then(|n| unsafe { c_str(n.gres) }) {
                gpus = gpus.saturating_add(gpus_in(&g.to_string_lossy()));
            }
        }
    }
    (cpus, gpus)
}

/// Errors of the Slurm side.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// `job_list` is not there (called before slurmctld built it).
    #[error("job_list is NULL")]
    NoJobList,
}

/// Every job record pointer in `job_list`, in list order.
///
/// # Safety
/// Must be called by slurmctld with the job lock held (as
/// site_factor_p_update is), so that `job_list` and its records are stable.
pub unsafe fn job_pointers() -> Result<Vec<*mut sys::job_record_t>, SlurmError> {
    // SAFETY: reading slurmctld's global under the job lock the caller holds.
    let list = unsafe { sys::job_list };
    if list.is_null() {
        return Err(SlurmError::NoJobList);
    }
    let mut out = Vec::new();
    // SAFETY: list is a valid List; the iterator is destroyed below.
    let it = unsafe { sys::slurm_list_iterator_create(list) };
    loop {
        // SAFETY: `it` is a live iterator over job_list.
        let p = unsafe { sys::slurm_list_next(it) };
        if p.is_null() {
            break;
        }
        out.push(p.cast::<sys::job_record_t>());
    }
    // SAFETY: created above, destroyed once.
    unsafe { sys::slurm_list_iterator_destroy(it) };
    Ok(out)
}

/// Writes a job's site factor.
///
/// # Safety
/// `p` points to a valid job record, the caller holds the job write lock,
/// and no view of that record is alive.
pub unsafe fn set_site_factor(p: *mut sys::job_record_t, factor: u32) {
    // SAFETY: the caller guarantees a valid record under the write lock.
    unsafe { (*p).site_factor = factor };
}

/// The job's current site factor.
///
/// # Safety
/// As for [`JobView::from_raw`], with `p` non-null.
pub unsafe fn site_factor(p: *const sys::job_record_t) -> u32 {
    // SAFETY: the caller guarantees a valid record.
    unsafe { (*p).site_factor }
}
