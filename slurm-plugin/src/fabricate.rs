//! Fabricated Slurm job records (of the release built against) for tests and benchmarks: zeroed
//! `#[repr(C)]` structures from the bindgen'd types with the fields the
//! plugin reads set, and nested pointers to records owned alongside (or
//! null, to test the views' null checks).
//!
//! This module only builds data; it never calls Slurm and is not used by
//! the plugin's entry points. It lives in the library (not under `tests/`)
//! so that the unit tests, the integration test and the benchmark share it.

use std::ffi::CString;

use crate::slurm::MEM_PER_CPU;
use crate::sys;
use crate::version::{Details, Factors};

/// What to put in a fabricated job. Times in Unix seconds, limits in
/// minutes as Slurm stores them.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `job_id`.
    pub id: u32,
    /// Base job state (`job_states::JOB_PENDING`, `JOB_RUNNING`, ...).
    pub state: u32,
    /// `details->submit_time`.
    pub submit: i64,
    /// `details->begin_time` (0 = unset).
    pub begin: i64,
    /// `time_limit` in minutes (or `NO_VAL`, `INFINITE`).
    pub time_limit_min: u32,
    /// `details->min_cpus`.
    pub min_cpus: u32,
    /// `details->min_nodes`.
    pub min_nodes: u32,
    /// `details->num_tasks`.
    pub num_tasks: u32,
    /// Memory in MB per CPU (sets `MEM_PER_CPU`); `None` uses `mem_per_node_mb`.
    pub mem_per_cpu_mb: Option<u64>,
    /// Memory in MB per node, when `mem_per_cpu_mb` is `None` (0 = unset).
    pub mem_per_node_mb: u64,
    /// `tres_per_node`, e.g. `gres:gpu:2`.
    pub tres_per_node: Option<String>,
    /// `tres_per_job`.
    pub tres_per_job: Option<String>,
    /// `total_cpus` (allocated CPUs of a running job).
    pub total_cpus: u32,
    /// Partition: `(priority_tier, default_time, max_time)`; `None` leaves
    /// `part_ptr` null.
    pub partition: Option<(u16, u32, u32)>,
    /// Cached multifactor terms, already weighted as multifactor leaves
    /// them: `(age, fs, js, part, qos)`; `None` leaves `prio_factors` null.
    pub factors: Option<[f64; 5]>,
    /// Whether `details` is set (false leaves it null).
    pub has_details: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            id: 1,
            state: sys::job_states::JOB_PENDING,
            submit: 1_700_000_000,
            begin: 1_700_000_000,
            time_limit_min: 60,
            min_cpus: 1,
            min_nodes: 1,
            num_tasks: 1,
            mem_per_cpu_mb: None,
            mem_per_node_mb: 0,
            tres_per_node: None,
            tres_per_job: None,
            total_cpus: 0,
            partition: Some((1, sys::NO_VAL, sys::INFINITE)),
            factors: None,
            has_details: true,
        }
    }
}

/// A fabricated job record and everything it points to. The boxes keep
/// every address stable for as long as the value lives.
pub struct Job {
    job: Box<sys::job_record_t>,
    _details: Option<Box<Details>>,
    _part: Option<Box<sys::part_record_t>>,
    _factors: Option<Box<Factors>>,
    _strings: Vec<CString>,
}

/// An all-zero value of a bindgen'd C struct.
///
/// # Safety
/// `T` must be a C struct of integers, floats and raw pointers, for which
/// all-zero bytes are a valid value (null pointers, zero numbers).
unsafe fn zeroed<T>() -> Box<T> {
    // SAFETY: the caller guarantees all-zero is a valid T.
    Box::new(unsafe { std::mem::zeroed() })
}

impl Job {
    /// Builds the records for `s`.
    pub fn new(s: &Spec) -> Job {
        let mut strings = Vec::new();
        let mut cstr = |v: &Option<String>| -> *mut std::ffi::c_char {
            match v {
                Some(t) => {
                    let c = CString::new(t.as_str()).unwrap_or_default();
                    let p = c.as_ptr().cast_mut();
                    strings.push(c);
                    p
                }
                None => std::ptr::null_mut(),
            }
        };
        // SAFETY: job_record_t is a C struct of integers, floats and pointers.
        let mut job: Box<sys::job_record_t> = unsafe { zeroed() };
        job.job_id = s.id;
        job.job_state = s.state;
        job.time_limit = s.time_limit_min;
        job.total_cpus = s.total_cpus;
        job.site_factor = sys::NICE_OFFSET;
        job.tres_per_node = cstr(&s.tres_per_node);
        job.tres_per_job = cstr(&s.tres_per_job);
        let details = s.has_details.then(|| {
            // SAFETY: as above, a plain C struct.
            let mut d: Box<Details> = unsafe { zeroed() };
            d.submit_time = s.submit;
            d.begin_time = s.begin;
            d.min_cpus = s.min_cpus;
            d.min_nodes = s.min_nodes;
            d.num_tasks = s.num_tasks;
            d.nice = sys::NICE_OFFSET;
            d.pn_min_memory = match s.mem_per_cpu_mb {
                Some(m) => m | MEM_PER_CPU,
                None => s.mem_per_node_mb,
            };
            d
        });
        let part = s.partition.map(|(tier, default_time, max_time)| {
            // SAFETY: as above, a plain C struct.
            let mut p: Box<sys::part_record_t> = unsafe { zeroed() };
            p.priority_tier = tier;
            p.default_time = default_time;
            p.max_time = max_time;
            p
        });
        let factors = s.factors.map(|[age, fs, js, part, qos]| {
            // SAFETY: as above, a plain C struct.
            let mut f: Box<Factors> = unsafe { zeroed() };
            f.priority_age = age;
            f.priority_fs = fs;
            f.priority_js = js;
            f.priority_part = part;
            f.priority_qos = qos;
            f.priority_site = sys::NICE_OFFSET;
            f.nice = sys::NICE_OFFSET;
            f
        });
        job.details = details.as_ref().map_or(std::ptr::null_mut(), |d| {
            (&**d as *const Details).cast_mut()
        });
        job.part_ptr = part.as_ref().map_or(std::ptr::null_mut(), |p| {
            (&**p as *const sys::part_record_t).cast_mut()
        });
        job.prio_factors = factors.as_ref().map_or(std::ptr::null_mut(), |f| {
            (&**f as *const Factors).cast_mut()
        });
        Job {
            job,
            _details: details,
            _part: part,
            _factors: factors,
            _strings: strings,
        }
    }

    /// The record, as slurmctld would pass it.
    pub fn ptr(&self) -> *const sys::job_record_t {
        &*self.job
    }

    /// The record's `site_factor`.
    pub fn site_factor(&self) -> u32 {
        self.job.site_factor
    }
}
