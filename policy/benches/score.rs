//! Criterion benchmarks of learned-policy scoring: features, normalization
//! and forward pass for the default architecture (20 → 32 → 16 → 8 → 1),
//! per job and for a 10,000-job queue through [`policy::Policy::score`].
//! Targets (docs/model-format.md): ≤ 1 µs per job on one core, ≤ 10 ms for
//! 10,000 jobs. This file only measures; it asserts nothing.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use policy::features::{FeatureSpec, N_FEATURES, Normalizer, features_array};
use policy::nn::Architecture;
use policy::{JobObs, LearnedPolicy, Model, Policy, QueueContext};

fn job(i: u64) -> JobObs {
    JobObs {
        id: i,
        submit: 1_700_000_000 + i,
        wait: (i * 977) % 86_400,
        time_limit: 60 + (i * 7919) % 172_800,
        nodes: 1 + (i % 4) as u32,
        cpus: 1 + (i * 13 % 256) as u32,
        mem_mb: 1024 * (1 + i % 64),
        gpus: (i % 9) as u32,
        fits_now: i.is_multiple_of(3),
        partition_tier: (i % 2) as u32,
        qos: (i % 5) as f64 / 4.0,
        fairshare: 1.0 / (1.0 + (i % 7) as f64),
        multifactor: (i * 1000 % 50_000) as f64,
    }
}

const CTX: QueueContext = QueueContext {
    now: 1_700_100_000,
    free_cpus: 300,
    total_cpus: 2048,
    free_gpus: 5,
    total_gpus: 64,
    queue_len: 10_000,
    running: 120,
};

fn model() -> Model {
    let rows: Vec<Vec<f32>> = (0..1000)
        .map(|i| features_array(&job(i), &CTX).to_vec())
        .collect();
    let spec = FeatureSpec::current(Normalizer::fit(&rows).unwrap());
    Model::random(Architecture::default_for(N_FEATURES), spec, 1).unwrap()
}

fn bench(c: &mut Criterion) {
    let m = model();
    let jobs: Vec<JobObs> = (0..10_000).map(job).collect();

    let mut g = c.benchmark_group("per_job");
    g.throughput(Throughput::Elements(1));
    let mut scratch = m.scratch();
    let mut i = 0usize;
    g.bench_function("features_normalize_forward", |b| {
        b.iter(|| {
            i = (i + 1) % jobs.len();
            black_box(m.score_job(black_box(&jobs[i]), &CTX, &mut scratch))
        })
    });
    g.bench_function("features_only", |b| {
        b.iter(|| {
            i = (i + 1) % jobs.len();
            black_box(features_array(black_box(&jobs[i]), &CTX))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("queue");
    g.throughput(Throughput::Elements(jobs.len() as u64));
    let mut p = LearnedPolicy::new(m.clone());
    let mut out = vec![0.0f64; jobs.len()];
    g.bench_with_input(
        BenchmarkId::new("policy_score", jobs.len()),
        &jobs,
        |b, jobs| b.iter(|| p.score(&CTX, black_box(jobs), &mut out)),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
