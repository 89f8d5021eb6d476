//! Reproduces the heuristic columns of RLScheduler's published table
//! (README of DIR-LAB/deep-batch-scheduler, "Results of Scheduling Towards
//! average bounded slowdown") with `sim::rlsched`, cell by cell, to the
//! printed two decimals. It must not tune anything to the expected values:
//! the published numbers are only compared against.

use sim::rlsched::{self, Key};

/// (trace label, file, [FCFS, WFP3, UNICEP, SJF, F1] without backfilling,
/// the same with backfilling), as printed in RLScheduler's README.
const PUBLISHED: [(&str, &str, [f64; 5], [f64; 5]); 4] = [
    (
        "Lublin-1",
        "lublin_256.swf",
        [7273.77, 19753.53, 22274.74, 277.35, 258.37],
        [235.82, 133.87, 307.23, 73.31, 75.07],
    ),
    (
        "SDSC-SP2",
        "SDSC-SP2-1998-4.2-cln.swf.gz",
        [1727.54, 3000.88, 1848.45, 2680.55, 1232.06],
        [1595.12, 1083.12, 548.01, 2167.84, 1098.22],
    ),
    (
        "HPC2N",
        "HPC2N-2002-2.2-cln.swf.gz",
        [297.18, 426.99, 609.77, 157.71, 118.01],
        [127.38, 97.39, 175.12, 122.04, 71.95],
    ),
    (
        "Lublin-2",
        "lublin_256_new2.swf",
        [7842.47, 9523.18, 11265.31, 787.89, 698.34],
        [247.61, 318.35, 379.59, 91.99, 148.25],
    ),
];

/// Column order of [`PUBLISHED`].
const KEYS: [Key; 5] = [
    Key::Fcfs,
    Key::Wfp3Compat,
    Key::UnicepCompat,
    Key::Sjf,
    Key::F1,
];

#[test]
fn heuristic_cells_match_published_table() {
    let t0 = std::time::Instant::now();
    let mut mismatches = Vec::new();
    for (label, file, without, with) in PUBLISHED {
        let trace = rlsched::load(&sim::testdata::trace(file)).unwrap_or_else(|e| panic!("{e}"));
        for (backfill, row) in [(false, without), (true, with)] {
            for (key, published) in KEYS.into_iter().zip(row) {
                let (ours, util) = rlsched::table_cell(&trace, key, backfill).unwrap();
                let ok = (ours - published).abs() < 0.005 + 1e-9;
                println!(
                    "{label:9} backfill={backfill:5} {:14} ours {ours:10.4} published {published:9.2} util {util:.3} {}",
                    key.name(),
                    if ok { "ok" } else { "MISMATCH" }
                );
                if !ok {
                    mismatches.push(format!(
                        "{label} backfill={backfill} {}: {ours:.4} vs {published}",
                        key.name()
                    ));
                }
            }
        }
    }
    println!("table computed in {:.2?}", t0.elapsed());
    assert!(
        mismatches.is_empty(),
        "cells that do not match: {mismatches:#?}"
    );
}
