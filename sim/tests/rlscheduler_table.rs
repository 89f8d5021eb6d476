//! Reproduces the heuristic columns of RLScheduler's published tables
//! (README of DIR-LAB/deep-batch-scheduler: "Results of Scheduling Towards
//! average bounded slowdown" and "... resource utilization") with
//! `sim::rlsched`, cell by cell, to the printed precision. It must not tune
//! anything to the expected values: the published numbers are only compared
//! against. Run with `--nocapture` to see the table and the timings.

use sim::rlsched::{self, Key};

/// Column order of the published tables: FCFS, WFP3, UNICEP, SJF, F1 (the
/// WFP3 and UNICEP columns are RLScheduler's as-implemented formulas).
const KEYS: [Key; 5] = [
    Key::Fcfs,
    Key::Wfp3Compat,
    Key::UnicepCompat,
    Key::Sjf,
    Key::F1,
];

/// One trace's rows of the published tables.
struct Row {
    label: &'static str,
    file: &'static str,
    bsld: [[f64; 5]; 2],
    util: [[f64; 5]; 2],
}

/// As printed in RLScheduler's README; index 0 = without backfilling,
/// 1 = with backfilling.
const PUBLISHED: [Row; 4] = [
    Row {
        label: "Lublin-1",
        file: "lublin_256.swf",
        bsld: [
            [7273.77, 19753.53, 22274.74, 277.35, 258.37],
            [235.82, 133.87, 307.23, 73.31, 75.07],
        ],
        util: [
            [0.657, 0.747, 0.691, 0.762, 0.816],
            [0.868, 0.864, 0.883, 0.778, 0.840],
        ],
    },
    Row {
        label: "SDSC-SP2",
        file: "SDSC-SP2-1998-4.2-cln.swf.gz",
        bsld: [
            [1727.54, 3000.88, 1848.45, 2680.55, 1232.06],
            [1595.12, 1083.12, 548.01, 2167.84, 1098.22],
        ],
        util: [
            [0.670, 0.658, 0.688, 0.645, 0.674],
            [0.682, 0.681, 0.706, 0.661, 0.677],
        ],
    },
    Row {
        label: "HPC2N",
        file: "HPC2N-2002-2.2-cln.swf.gz",
        bsld: [
            [297.18, 426.99, 609.77, 157.71, 118.01],
            [127.38, 97.39, 175.12, 122.04, 71.95],
        ],
        util: [
            [0.638, 0.636, 0.636, 0.640, 0.637],
            [0.639, 0.637, 0.638, 0.641, 0.638],
        ],
    },
    Row {
        label: "Lublin-2",
        file: "lublin_256_new2.swf",
        bsld: [
            [7842.47, 9523.18, 11265.31, 787.89, 698.34],
            [247.61, 318.35, 379.59, 91.99, 148.25],
        ],
        util: [
            [0.404, 0.543, 0.510, 0.562, 0.478],
            [0.587, 0.583, 0.587, 0.593, 0.552],
        ],
    },
];

/// Utilization cells we do not reproduce to the printed digit (ours rounds
/// 0.0005 lower). Every bounded-slowdown cell matches.
const UTIL_KNOWN_OFF: [(&str, bool, Key); 1] = [("SDSC-SP2", true, Key::Sjf)];

/// True when `ours` rounds to `published` printed with `decimals` digits.
fn rounds_to(ours: f64, published: f64, decimals: i32) -> bool {
    (ours - published).abs() < 0.5 * 10f64.powi(-decimals) + 1e-9
}

#[test]
fn heuristic_cells_match_published_table() {
    let t0 = std::time::Instant::now();
    let (mut bsld_off, mut util_off) = (Vec::new(), Vec::new());
    for row in &PUBLISHED {
        let trace =
            rlsched::load(&sim::testdata::trace(row.file)).unwrap_or_else(|e| panic!("{e}"));
        for (b, backfill) in [false, true].into_iter().enumerate() {
            for (k, key) in KEYS.into_iter().enumerate() {
                let (bsld, util) = rlsched::table_cell(&trace, key, backfill).unwrap();
                let (pb, pu) = (row.bsld[b][k], row.util[b][k]);
                let (ok_b, ok_u) = (rounds_to(bsld, pb, 2), rounds_to(util, pu, 3));
                println!(
                    "{:9} backfill={backfill:5} {:14} bsld {bsld:10.4} (published {pb:9.2}) {}  util {util:.5} (published {pu:.3}) {}",
                    row.label,
                    key.name(),
                    if ok_b { "ok" } else { "MISMATCH" },
                    if ok_u { "ok" } else { "MISMATCH" },
                );
                if !ok_b {
                    bsld_off.push(format!(
                        "{} backfill={backfill} {}: {bsld:.4} vs {pb}",
                        row.label,
                        key.name()
                    ));
                }
                if !ok_u {
                    assert!(
                        (util - pu).abs() < 0.0015,
                        "{} {}: util {util} far from {pu}",
                        row.label,
                        key.name()
                    );
                    util_off.push((row.label, backfill, key));
                }
            }
        }
    }
    println!("40 cells computed in {:.2?}", t0.elapsed());
    assert!(
        bsld_off.is_empty(),
        "bounded-slowdown cells that do not match: {bsld_off:#?}"
    );
    assert_eq!(
        util_off, UTIL_KNOWN_OFF,
        "utilization cells off by one in the last digit"
    );
}

#[test]
fn textbook_keys_differ_from_as_implemented() {
    let trace = rlsched::load(&sim::testdata::trace("lublin_256.swf")).unwrap();
    for backfill in [false, true] {
        let mut cells = Vec::new();
        for key in [Key::Wfp3Compat, Key::Wfp3, Key::UnicepCompat, Key::Unicep] {
            let (bsld, util) = rlsched::table_cell(&trace, key, backfill).unwrap();
            println!(
                "Lublin-1 backfill={backfill:5} {:14} bsld {bsld:10.2} util {util:.3}",
                key.name()
            );
            assert!(bsld.is_finite() && bsld >= 1.0);
            cells.push(bsld);
        }
        assert!((cells[0] - cells[1]).abs() > 1.0, "WFP3 textbook vs compat");
        assert!(
            (cells[2] - cells[3]).abs() > 1.0,
            "UNICEP textbook vs compat"
        );
    }
}

#[test]
fn swf_reader_loads_hpc2n() {
    let t0 = std::time::Instant::now();
    let path = sim::testdata::trace("HPC2N-2002-2.2-cln.swf.gz");
    let (trace, report) = sim::trace::swf::read(&path, &Default::default()).unwrap();
    println!("swf::read HPC2N (19 MB uncompressed): {:.2?}", t0.elapsed());
    assert_eq!((trace.jobs.len(), report.lines), (202_871, 202_871));
    let t1 = std::time::Instant::now();
    let compat = rlsched::load(&path).unwrap();
    println!("rlsched::load HPC2N: {:.2?}", t1.elapsed());
    assert_eq!(compat.jobs.len(), 202_871);
}
