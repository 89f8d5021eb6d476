//! Benchmark of site_factor/rl's update pass on 10,000 fabricated pending
//! jobs (plus 500 running): views from raw 22.05 job records, the queue
//! context, features, the default-size model and the site-factor mapping —
//! everything `site_factor_p_update` does except walking `job_list` and
//! writing the factors back. Target: at most 10 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use policy::Model;
use policy::features::{FeatureSpec, N_FEATURES};
use policy::nn::Architecture;
use site_factor_rl::fabricate::{Job, Spec};
use site_factor_rl::host::TestHost;
use site_factor_rl::imp::{self, Buffers, Totals};
use site_factor_rl::slurm::{JobView, Weights};
use site_factor_rl::state::State;
use site_factor_rl::sys::job_states;

const NOW: u64 = 1_700_100_000;

fn jobs() -> Vec<Job> {
    let mut v: Vec<Job> = (0..10_000u32)
        .map(|i| {
            Job::new(&Spec {
                id: 1000 + i,
                submit: 1_700_000_000 + i as i64 * 7,
                begin: 0,
                time_limit_min: 5 + (i * 37) % 2880,
                min_cpus: 1 + (i * 13) % 256,
                min_nodes: 1 + i % 8,
                num_tasks: 1 + (i * 13) % 256,
                mem_per_cpu_mb: Some(500 + (i as u64 * 311) % 8000),
                tres_per_node: (i % 4 == 0).then(|| "gres:gpu:2".into()),
                factors: Some([i as f64 % 1000.0, 3000.0, 10.0, 0.0, 500.0]),
                ..Spec::default()
            })
        })
        .collect();
    v.extend((0..500u32).map(|i| {
        Job::new(&Spec {
            id: 100 + i,
            state: job_states::JOB_RUNNING,
            total_cpus: 32,
            ..Spec::default()
        })
    }));
    v
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rl.safetensors");
    Model::random(
        Architecture::default_for(N_FEATURES),
        FeatureSpec::current_identity(),
        1,
    )
    .and_then(|m| m.save(&path))
    .expect("model");
    let host = TestHost::default();
    let state = State::build(&host, Some(&format!("model={}", path.display())));
    assert!(!state.is_neutral(), "{:?}", host.log);
    let jobs = jobs();
    let w = Weights {
        fs: 10_000,
        qos: 1000,
    };
    let totals = Totals {
        cpus: 32_768,
        gpus: 1024,
    };
    let mut buf = Buffers::default();
    c.bench_function("update_10k_pending", |b| {
        b.iter(|| {
            // SAFETY: the fabricated records live for the whole benchmark.
            let views: Vec<JobView<'_>> = jobs
                .iter()
                .filter_map(|j| unsafe { JobView::from_raw(j.ptr()) })
                .collect();
            imp::plan(&state, &views, NOW, &w, totals, &mut buf);
            std::hint::black_box(&buf.factors);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
