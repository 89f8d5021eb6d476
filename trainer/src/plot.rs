//! PNG figures for `simulate` and `evaluate`: a policy comparison (bars with
//! 95% confidence intervals, one panel per metric), the same against the
//! load factor (`evaluate --load-factor F1,F2,..`) and a schedule overview
//! (queue length and utilization over time, and the wait-time CDF).
//!
//! This module only draws what it is given: it must not simulate or compute
//! statistics beyond unit conversion. Every PNG is rendered to a temporary
//! file in the target's directory and renamed over the target, so a reader
//! never sees half an image.

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sim::eval::{Report, Verdict};
use sim::metrics::{MetricDef, TimelinePoint};
use std::path::Path;

const FONT: &str = "sans-serif";
const REF_COLOR: RGBColor = RGBColor(150, 150, 150);
const BAR_COLOR: RGBColor = RGBColor(70, 120, 190);
const WORSE_COLOR: RGBColor = RGBColor(210, 70, 60);
const BETTER_COLOR: RGBColor = RGBColor(60, 160, 90);

/// Renders `draw` into a `width`×`height` PNG at `path`, atomically.
pub(crate) fn write_png(
    path: &Path,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    // The backend picks the encoder from the extension, so the temporary name ends in .png.
    let tmp = dir.join(format!(
        ".{}.{}.tmp.png",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        {
            let root = BitMapBackend::new(&tmp, (width, height)).into_drawing_area();
            root.fill(&WHITE)?;
            draw(&root)?;
            root.present()
                .with_context(|| format!("{}: cannot write the image", tmp.display()))?;
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("{}: cannot sync", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("{}: cannot rename into place", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing plot {}", path.display()))
}

/// A time unit chosen so that axis numbers stay readable.
#[derive(Clone, Copy)]
struct TimeUnit {
    seconds: f64,
    name: &'static str,
}

fn time_unit(max_seconds: f64) -> TimeUnit {
    if max_seconds >= 2.0 * 86400.0 {
        TimeUnit {
            seconds: 86400.0,
            name: "days",
        }
    } else if max_seconds >= 3.0 * 3600.0 {
        TimeUnit {
            seconds: 3600.0,
            name: "h",
        }
    } else if max_seconds >= 180.0 {
        TimeUnit {
            seconds: 60.0,
            name: "min",
        }
    } else {
        TimeUnit {
            seconds: 1.0,
            name: "s",
        }
    }
}

/// How a metric's values are shown: a scale factor and the unit text.
fn display_scale(def: &MetricDef, max_value: f64) -> (f64, String) {
    match def.unit {
        "%" => (100.0, "%".into()),
        "s" => {
            let u = time_unit(max_value);
            (1.0 / u.seconds, u.name.into())
        }
        "" => (1.0, String::new()),
        other => (1.0, other.into()),
    }
}

/// A value axis from 0 for `def`'s values up to `raw_max` (in the metric's
/// own unit): the display scale and unit, the axis top with `headroom`
/// (1.15 = 15% above the largest value) and the caption with the unit.
fn value_axis(def: &MetricDef, raw_max: f64, headroom: f64) -> (f64, String, f64, String) {
    let (scale, unit) = display_scale(def, raw_max);
    let top = if raw_max > 0.0 {
        raw_max * scale * headroom
    } else {
        1.0
    };
    let caption = if unit.is_empty() {
        def.label.to_string()
    } else {
        format!("{} ({unit})", def.label)
    };
    (scale, unit, top, caption)
}

/// One bar chart panel per metric: each policy's mean with its 95% CI as an
/// error bar. Bars are coloured by the paired verdict against the reference:
/// grey for the reference, red when significantly worse, green when
/// significantly better, blue otherwise.
pub fn comparison(path: &Path, report: &Report, metrics: &[&MetricDef], title: &str) -> Result<()> {
    anyhow::ensure!(!metrics.is_empty(), "no metric to plot");
    anyhow::ensure!(!report.policies.is_empty(), "no policy to plot");
    let cols = metrics.len().min(2);
    let rows = metrics.len().div_ceil(cols);
    let (pw, ph) = (640u32, 420u32);
    let names: Vec<String> = report.policies.iter().map(|p| p.policy.clone()).collect();
    let reference = report.reference.clone();
    write_png(path, pw * cols as u32, ph * rows as u32 + 90, |root| {
        let (head, body) = root.split_vertically(60);
        head.titled(title, (FONT, 26))?;
        let (body, foot) = body.split_vertically(ph * rows as u32);
        let legend = match &reference {
            Some(r) => format!(
                "Bars: mean over {} sequences of {} jobs; whiskers: 95% Student-t CI. Colour vs {r} (paired 95% CI): red = significantly worse, green = significantly better, grey = {r}.",
                report.starts.len(),
                report.jobs_per_sequence
            ),
            None => format!(
                "Bars: mean over {} sequences of {} jobs; whiskers: 95% Student-t CI.",
                report.starts.len(),
                report.jobs_per_sequence
            ),
        };
        foot.draw(&Text::new(
            legend,
            (20, 8),
            (FONT, 15).into_font().color(&BLACK),
        ))?;
        let panels = body.split_evenly((rows, cols));
        for (panel, def) in panels.iter().zip(metrics) {
            let mut bars = Vec::new();
            for p in &report.policies {
                let s = p
                    .summary_of(def.name)
                    .with_context(|| format!("metric `{}` missing for `{}`", def.name, p.policy))?;
                let verdict = p.diff_of(def.name).map(|d| d.verdict);
                let colour = if Some(&p.policy) == reference.as_ref() {
                    REF_COLOR
                } else {
                    match verdict {
                        Some(Verdict::Worse) => WORSE_COLOR,
                        Some(Verdict::Better) => BETTER_COLOR,
                        _ => BAR_COLOR,
                    }
                };
                bars.push((s.mean, s.ci95.unwrap_or(0.0), colour));
            }
            let raw_max = bars.iter().map(|(m, c, _)| m + c).fold(0.0f64, f64::max);
            let (scale, unit, top, caption) = value_axis(def, raw_max, 1.15);
            let n = bars.len() as i32;
            let mut chart = ChartBuilder::on(panel)
                .caption(&caption, (FONT, 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..top)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(TRANSPARENT)
                .y_desc(if unit.is_empty() {
                    def.label.to_string()
                } else {
                    unit.clone()
                })
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                        names.get(*i as usize).cloned().unwrap_or_default()
                    }
                    SegmentValue::Last => String::new(),
                })
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 15))
                .draw()?;
            chart.draw_series(bars.iter().enumerate().map(|(i, &(mean, _, colour))| {
                let i = i as i32;
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), mean * scale),
                    ],
                    colour.filled(),
                );
                r.set_margin(0, 0, 18, 18);
                r
            }))?;
            // Whiskers: a vertical line from mean − ci to mean + ci with 14 px caps.
            for (i, &(mean, ci, _)) in bars.iter().enumerate().filter(|(_, b)| b.1 > 0.0) {
                let x = SegmentValue::CenterOf(i as i32);
                let (lo, hi) = (((mean - ci) * scale).max(0.0), (mean + ci) * scale);
                let style = BLACK.stroke_width(2);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x.clone(), lo), (x.clone(), hi)],
                    style,
                )))?;
                for y in [lo, hi] {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x.clone(), y))
                            + PathElement::new(vec![(-7, 0), (7, 0)], style),
                    ))?;
                }
            }
            // The mean printed above each bar.
            chart.draw_series(bars.iter().enumerate().map(|(i, &(mean, ci, _))| {
                Text::new(
                    format_value(mean * scale),
                    (
                        SegmentValue::CenterOf(i as i32),
                        (mean + ci) * scale + top * 0.02,
                    ),
                    TextStyle::from((FONT, 14).into_font())
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))?;
        }
        Ok(())
    })
}

/// Short human form of a number for labels.
fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Timelines longer than this are time-averaged before plotting.
const RAW_POINTS_MAX: usize = 2000;
/// Number of bins of a summarised (binned) timeline curve.
const UTIL_BINS: usize = 400;

/// Time-weighted mean and maximum of a step function over `bins` equal
/// bins of `[t0, t_end)`. `points` are `(time, value)` ascending; each value
/// holds until the next point. Returns `(bin start − t0 in seconds, mean,
/// max)` per bin.
fn bin_stats(points: &[(u64, f64)], t0: u64, t_end: u64, bins: usize) -> Vec<(f64, f64, f64)> {
    let span = (t_end - t0) as f64;
    let width = span / bins as f64;
    let mut acc = vec![0.0; bins];
    let mut max = vec![0.0f64; bins];
    for (k, &(t, v)) in points.iter().enumerate() {
        let next = points.get(k + 1).map_or(t_end, |p| p.0).min(t_end);
        if next <= t || t < t0 {
            continue;
        }
        let (mut a, b) = ((t - t0) as f64, (next - t0) as f64);
        while a < b {
            let i = ((a / width) as usize).min(bins - 1);
            let bin_end = if i == bins - 1 {
                span
            } else {
                (i + 1) as f64 * width
            };
            let seg_end = b.min(bin_end);
            acc[i] += v * (seg_end - a);
            if seg_end > a {
                max[i] = max[i].max(v);
            }
            if seg_end <= a {
                break;
            }
            a = seg_end;
        }
    }
    acc.iter()
        .zip(&max)
        .enumerate()
        .map(|(i, (s, m))| (i as f64 * width, s / width, *m))
        .collect()
}

/// A duration in seconds as a short label: `45 s`, `17 min`, `2.8 h`, `1.2 d`.
fn human_seconds(s: f64) -> String {
    let trim = |x: f64| {
        if x >= 10.0 || (x - x.round()).abs() < 0.05 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        }
    };
    if s < 60.0 {
        format!("{} s", trim(s))
    } else if s < 3600.0 {
        format!("{} min", trim(s / 60.0))
    } else if s < 86400.0 {
        format!("{} h", trim(s / 3600.0))
    } else {
        format!("{} d", trim(s / 86400.0))
    }
}

/// Points of a step function through `(x_i, y_i)`: y holds until the next x.
fn steps(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if let Some(&(_, prev)) = out.last() {
            out.push((x, prev));
        }
        out.push((x, y));
    }
    out
}

/// The schedule of one simulation: pending jobs over time, CPU (and GPU)
/// utilization over time, and the CDF of the waits of started jobs.
///
/// `waits` are in seconds; `timeline` comes from [`sim::metrics::timeline`].
pub fn schedule(
    path: &Path,
    title: &str,
    timeline: &[TimelinePoint],
    total_cpus: u64,
    total_gpus: u64,
    waits: &[f64],
) -> Result<()> {
    anyhow::ensure!(
        !timeline.is_empty(),
        "the schedule is empty: nothing to plot"
    );
    let t0 = timeline[0].time;
    let span = (timeline.last().map_or(t0, |p| p.time) - t0) as f64;
    let tu = time_unit(span);
    let x_max = (span / tu.seconds).max(1e-9);
    write_png(path, 1100, 1250, |root| {
        let (head, body) = root.split_vertically(50);
        head.titled(title, (FONT, 24))?;
        let panels = body.split_evenly((3, 1));

        // Long schedules are summarised per bin (thousands of one-second
        // spikes are unreadable): the time-weighted mean, and for the queue
        // also the maximum.
        let t_end = timeline.last().map_or(t0, |p| p.time);
        let binned = timeline.len() > RAW_POINTS_MAX && t_end > t0;
        let series = |f: &dyn Fn(&TimelinePoint) -> f64, take_max: bool| -> Vec<(f64, f64)> {
            let pts: Vec<(u64, f64)> = timeline.iter().map(|p| (p.time, f(p))).collect();
            if binned {
                let st = bin_stats(&pts, t0, t_end, UTIL_BINS);
                steps(
                    st.into_iter()
                        .map(|(t, mean, max)| (t / tu.seconds, if take_max { max } else { mean })),
                )
            } else {
                steps(
                    pts.into_iter()
                        .map(|(t, v)| ((t - t0) as f64 / tu.seconds, v)),
                )
            }
        };
        let bin_text = {
            let bin = (t_end - t0) as f64 / UTIL_BINS as f64;
            let bu = time_unit(bin);
            format!("{:.1} {} bin", bin / bu.seconds, bu.name)
        };

        // 1. Queue length.
        let max_pending = timeline.iter().map(|p| p.pending).max().unwrap_or(0).max(1) as f64;
        let caption = if binned {
            format!("Pending jobs (mean and max per {bin_text})")
        } else {
            "Pending jobs".to_string()
        };
        let mut c = ChartBuilder::on(&panels[0])
            .caption(caption, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..max_pending * 1.05)?;
        c.configure_mesh()
            .x_desc(format!("time since first event ({})", tu.name))
            .y_desc("jobs")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(TRANSPARENT)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()?;
        let pending = |p: &TimelinePoint| p.pending as f64;
        if binned {
            let light = RGBColor(170, 195, 230);
            c.draw_series(LineSeries::new(
                series(&pending, true),
                light.stroke_width(1),
            ))?
            .label("max")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], light.stroke_width(3)));
        }
        c.draw_series(LineSeries::new(
            series(&pending, false),
            BAR_COLOR.stroke_width(2),
        ))?
        .label(if binned { "mean" } else { "pending" })
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BAR_COLOR.stroke_width(3)));
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .draw()?;

        // 2. Utilization.
        let pct = |busy: u64, total: u64| {
            if total == 0 {
                0.0
            } else {
                100.0 * busy as f64 / total as f64
            }
        };
        let caption = if binned {
            format!("Utilization (time-averaged per {bin_text})")
        } else {
            "Utilization".to_string()
        };
        let mut c = ChartBuilder::on(&panels[1])
            .caption(caption, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..105f64)?;
        c.configure_mesh()
            .x_desc(format!("time since first event ({})", tu.name))
            .y_desc("busy (%)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(TRANSPARENT)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()?;
        c.draw_series(LineSeries::new(
            series(&|p| pct(p.busy_cpus, total_cpus), false),
            BAR_COLOR.stroke_width(2),
        ))?
        .label(format!("CPUs ({total_cpus})"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BAR_COLOR.stroke_width(3)));
        if total_gpus > 0 {
            c.draw_series(LineSeries::new(
                series(&|p| pct(p.busy_gpus, total_gpus), false),
                WORSE_COLOR.stroke_width(2),
            ))?
            .label(format!("GPUs ({total_gpus})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], WORSE_COLOR.stroke_width(3)));
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .draw()?;

        // 3. Wait-time CDF on a log axis (waits span seconds to days); waits
        // under 1 s are drawn at 1 s.
        let mut sorted: Vec<f64> = waits.iter().map(|w| w.max(1.0)).collect();
        sorted.sort_by(f64::total_cmp);
        let wmax = sorted.last().copied().unwrap_or(1.0).max(10.0);
        let mut c = ChartBuilder::on(&panels[2])
            .caption(
                format!("Wait-time CDF ({} started jobs)", sorted.len()),
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((1f64..wmax * 1.5).log_scale(), 0f64..100f64)?;
        c.configure_mesh()
            .x_desc("wait (log scale; waits under 1 s drawn at 1 s)")
            .y_desc("jobs waiting at most x (%)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|v| human_seconds(*v))
            .light_line_style(TRANSPARENT)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()?;
        let n = sorted.len() as f64;
        let mut cdf = vec![(1.0, 0.0)];
        for (i, &w) in sorted.iter().enumerate() {
            // Only the last of equal waits matters for the step's height.
            if sorted.get(i + 1) != Some(&w) {
                cdf.push((w, 100.0 * (i + 1) as f64 / n));
            }
        }
        c.draw_series(LineSeries::new(steps(cdf), BETTER_COLOR.stroke_width(2)))?;
        Ok(())
    })
}

/// One panel of [`curves`].
pub struct Curve<'a> {
    /// The metric's stable name (the panel's caption).
    pub name: &'a str,
    /// `(update, value)`; non-finite values (not measured) are skipped.
    pub points: Vec<(f64, f64)>,
    /// A level drawn dashed in grey, e.g. the `slurm` baseline.
    pub reference: Option<f64>,
}

/// Training curves: one line panel per metric against the update number.
pub fn curves(path: &Path, title: &str, series: &[Curve<'_>]) -> Result<()> {
    anyhow::ensure!(!series.is_empty(), "no curve to plot");
    let cols = series.len().min(2);
    let rows = series.len().div_ceil(cols);
    let (pw, ph) = (560u32, 340u32);
    write_png(path, pw * cols as u32, ph * rows as u32 + 50, |root| {
        let (head, body) = root.split_vertically(50);
        head.titled(title, (FONT, 24))?;
        let panels = body.split_evenly((rows, cols));
        for (panel, curve) in panels.iter().zip(series) {
            let (name, reference) = (curve.name, &curve.reference);
            let pts: Vec<(f64, f64)> = curve
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            let x_max = pts.iter().map(|p| p.0).fold(1.0f64, f64::max);
            let x_min = pts
                .iter()
                .map(|p| p.0)
                .fold(x_max, f64::min)
                .min(x_max - 1.0);
            let ys = pts.iter().map(|p| p.1).chain(reference.iter().copied());
            let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                (a.min(y), b.max(y))
            });
            let (lo, hi) = if lo.is_finite() && hi > lo {
                let pad = 0.05 * (hi - lo);
                (lo - pad, hi + pad)
            } else if lo.is_finite() {
                (lo - 1.0, lo + 1.0)
            } else {
                (0.0, 1.0)
            };
            let mut c = ChartBuilder::on(panel)
                .caption(name, (FONT, 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(x_min..x_max, lo..hi)?;
            c.configure_mesh()
                .x_desc("update")
                .light_line_style(TRANSPARENT)
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 13))
                .draw()?;
            if let Some(r) = reference {
                c.draw_series(DashedLineSeries::new(
                    [(x_min, *r), (x_max, *r)],
                    6,
                    4,
                    REF_COLOR.stroke_width(2),
                ))?;
            }
            if pts.len() == 1 {
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, BAR_COLOR.filled())))?;
            } else {
                c.draw_series(LineSeries::new(pts, BAR_COLOR.stroke_width(2)))?;
            }
        }
        Ok(())
    })
}

/// `slurm-rl fidelity`'s figure: each job's simulated start against its
/// real start (seconds after the first submit), with the diagonal where a
/// perfect simulator puts every point. `points` are (real, simulated,
/// started by backfill in the real cluster).
pub fn fidelity(path: &Path, title: &str, points: &[(f64, f64, bool)]) -> Result<()> {
    anyhow::ensure!(
        !points.is_empty(),
        "no job started in both schedules: nothing to plot"
    );
    let max = points.iter().map(|&(r, s, _)| r.max(s)).fold(1.0, f64::max) * 1.03;
    write_png(path, 900, 900, |root| {
        let (head, body) = root.split_vertically(50);
        head.titled(title, (FONT, 18))?;
        let mut c = ChartBuilder::on(&body)
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..max, 0f64..max)?;
        c.configure_mesh()
            .x_desc("real start (s after the first submit)")
            .y_desc("simulated start (s after the first submit)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()?;
        c.draw_series(LineSeries::new(
            [(0.0, 0.0), (max, max)],
            REF_COLOR.stroke_width(1),
        ))?
        .label("simulated = real")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], REF_COLOR.stroke_width(2)));
        for (bf, color, label) in [
            (false, BAR_COLOR, "started by the main scheduler (real)"),
            (true, WORSE_COLOR, "started by backfill (real)"),
        ] {
            c.draw_series(
                points
                    .iter()
                    .filter(|p| p.2 == bf)
                    .map(|&(r, s, _)| Circle::new((r, s), 4, color.filled())),
            )?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .draw()?;
        Ok(())
    })
}

/// Colours of the policies' lines in [`load_sweep`] (the reference is grey).
const PALETTE: [RGBColor; 8] = [
    RGBColor(70, 120, 190),
    RGBColor(210, 70, 60),
    RGBColor(60, 160, 90),
    RGBColor(150, 90, 180),
    RGBColor(230, 150, 40),
    RGBColor(40, 170, 190),
    RGBColor(160, 110, 70),
    RGBColor(200, 90, 160),
];

/// `evaluate --load-factor F1,F2,..`'s figure: one panel per metric, each
/// policy's mean against the load factor, with its 95% CI as whiskers
/// (nudged sideways per policy so they do not hide each other). The
/// reference is drawn last, dashed grey, so a policy that equals it stays
/// visible. `reports[i]` was measured at `factors[i]`; every report holds
/// the same policies in the same order.
pub fn load_sweep(
    path: &Path,
    title: &str,
    factors: &[f64],
    reports: &[Report],
    metrics: &[&MetricDef],
) -> Result<()> {
    anyhow::ensure!(!metrics.is_empty(), "no metric to plot");
    anyhow::ensure!(
        factors.len() == reports.len() && !reports.is_empty(),
        "one report per load factor"
    );
    let names: Vec<&str> = reports[0]
        .policies
        .iter()
        .map(|p| p.policy.as_str())
        .collect();
    let is_ref = |i: usize| reports[0].reference.as_deref() == Some(names[i]);
    let colour = |i: usize| {
        if is_ref(i) {
            REF_COLOR
        } else {
            PALETTE[i % PALETTE.len()]
        }
    };
    // The reference last, so it is drawn on top.
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| is_ref(i));
    let cols = metrics.len().min(2);
    let rows = metrics.len().div_ceil(cols);
    let (pw, ph) = (640u32, 420u32);
    write_png(path, pw * cols as u32, ph * rows as u32 + 120, |root| {
        let (head, body) = root.split_vertically(60);
        head.titled(title, (FONT, 26))?;
        let (body, foot) = body.split_vertically(ph * rows as u32);
        foot.draw(&Text::new(
            format!(
                "Lines: mean over {} sequences of {} jobs at each load factor F (arrivals F times as fast); whiskers: 95% Student-t CI.",
                reports[0].starts.len(),
                reports[0].jobs_per_sequence
            ),
            (20, 8),
            (FONT, 15).into_font().color(&BLACK),
        ))?;
        let mut x = 20;
        for &i in &order {
            let style = colour(i).stroke_width(3);
            if is_ref(i) {
                for k in 0..3 {
                    foot.draw(&PathElement::new(
                        [(x + 10 * k, 44), (x + 10 * k + 6, 44)],
                        style,
                    ))?;
                }
            } else {
                foot.draw(&PathElement::new([(x, 44), (x + 26, 44)], style))?;
            }
            let label = names[i].to_string();
            let width = 9 * label.chars().count() as i32;
            foot.draw(&Text::new(
                label,
                (x + 32, 36),
                (FONT, 15).into_font().color(&BLACK),
            ))?;
            x += 32 + width + 24;
        }
        let (x_lo, x_hi) = (factors[0], factors[factors.len() - 1]);
        let span = (x_hi - x_lo).max(0.1);
        let pad = 0.06 * span;
        let nudge = |k: usize| (k as f64 - (names.len() as f64 - 1.0) / 2.0) * 0.008 * span;
        let panels = body.split_evenly((rows, cols));
        for (panel, def) in panels.iter().zip(metrics) {
            // (factor, mean, ci) per policy.
            let mut lines: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); names.len()];
            for (f, r) in factors.iter().zip(reports) {
                for (i, name) in names.iter().enumerate() {
                    let s = r
                        .policy(name)
                        .and_then(|p| p.summary_of(def.name))
                        .with_context(|| format!("metric `{}` missing for `{name}`", def.name))?;
                    lines[i].push((*f, s.mean, s.ci95.unwrap_or(0.0)));
                }
            }
            let raw_max = lines
                .iter()
                .flatten()
                .map(|(_, m, c)| m + c)
                .fold(0.0f64, f64::max);
            let (scale, _, top, caption) = value_axis(def, raw_max, 1.05);
            let mut c = ChartBuilder::on(panel)
                .caption(caption, (FONT, 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d((x_lo - pad)..(x_hi + pad), 0.0..top)?;
            c.configure_mesh()
                .x_desc("load factor")
                .light_line_style(TRANSPARENT)
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 13))
                .draw()?;
            for (k, &i) in order.iter().enumerate() {
                let col = colour(i);
                let pts: Vec<(f64, f64)> =
                    lines[i].iter().map(|&(f, m, _)| (f, m * scale)).collect();
                if is_ref(i) {
                    c.draw_series(DashedLineSeries::new(
                        pts.clone(),
                        8,
                        5,
                        col.stroke_width(3),
                    ))?;
                } else {
                    c.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))?;
                }
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))?;
                // Whiskers: mean − ci to mean + ci, with 8 px caps, nudged sideways.
                for &(f, m, h) in lines[i].iter().filter(|w| w.2 > 0.0) {
                    let f = f + nudge(k);
                    let (lo, hi) = (((m - h) * scale).max(0.0), (m + h) * scale);
                    let style = col.stroke_width(1);
                    c.draw_series(std::iter::once(PathElement::new([(f, lo), (f, hi)], style)))?;
                    for y in [lo, hi] {
                        c.draw_series(std::iter::once(
                            EmptyElement::at((f, y)) + PathElement::new([(-4, 0), (4, 0)], style),
                        ))?;
                    }
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::eval::summarise;
    use sim::metrics::Metrics;

    fn png_size(path: &Path) -> (u32, u32) {
        let b = std::fs::read(path).unwrap();
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
        (w, h)
    }

    #[test]
    fn steps_hold_until_next_point() {
        assert_eq!(
            steps([(0.0, 1.0), (2.0, 3.0), (5.0, 0.0)]),
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (5.0, 3.0), (5.0, 0.0)]
        );
    }

    #[test]
    fn bin_stats_weight_by_duration() {
        // 0 on [0, 5), 10 on [5, 20), span [0, 20) in 2 bins of 10 s:
        // bin 0 mean (0·5 + 10·5)/10 = 5, max 10; bin 1 mean 10, max 10.
        assert_eq!(
            bin_stats(&[(0, 0.0), (5, 10.0), (20, 0.0)], 0, 20, 2),
            vec![(0.0, 5.0, 10.0), (10.0, 10.0, 10.0)]
        );
        // A spike of 100 for 1 s in a 10 s bin: mean 10, max 100.
        let avg = bin_stats(
            &[(100, 0.0), (103, 100.0), (104, 0.0), (110, 0.0)],
            100,
            110,
            1,
        );
        assert_eq!(avg, vec![(0.0, 10.0, 100.0)]);
    }

    #[test]
    fn human_seconds_labels() {
        assert_eq!(human_seconds(1.0), "1 s");
        assert_eq!(human_seconds(1000.0), "17 min");
        assert_eq!(human_seconds(10000.0), "2.8 h");
        assert_eq!(human_seconds(100000.0), "1.2 d");
    }

    #[test]
    fn time_units_scale_with_span() {
        assert_eq!(time_unit(100.0).name, "s");
        assert_eq!(time_unit(600.0).name, "min");
        assert_eq!(time_unit(5.0 * 3600.0).name, "h");
        assert_eq!(time_unit(9.0 * 86400.0).name, "days");
    }

    #[test]
    fn comparison_png_is_written_atomically() {
        let m = |b: f64| Metrics {
            bsld_mean: b,
            cpu_util: 0.5,
            ..Metrics::default()
        };
        let r = summarise(
            4,
            vec![0, 1, 2],
            Some("a"),
            vec![
                ("a".into(), vec![m(1.0), m(2.0), m(3.0)]),
                ("b".into(), vec![m(2.0), m(3.0), m(4.5)]),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cmp.png");
        let defs = [
            sim::metrics::metric("bsld_mean").unwrap(),
            sim::metrics::metric("cpu_util").unwrap(),
        ];
        comparison(&out, &r, &defs, "test").unwrap();
        // Two panels side by side: 2·640 wide, one row of 420 plus 90 for title and legend.
        assert_eq!(png_size(&out), (1280, 510));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn schedule_png_and_failure_leaves_nothing() {
        let p = |time, pending, busy_cpus| TimelinePoint {
            time,
            pending,
            running: 1,
            busy_cpus,
            busy_gpus: 0,
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.png");
        schedule(
            &out,
            "t",
            &[p(0, 1, 2), p(3600, 0, 4), p(7200, 0, 0)],
            4,
            0,
            &[0.0, 30.0, 600.0],
        )
        .unwrap();
        assert_eq!(png_size(&out), (1100, 1250));
        // An empty schedule is an error and writes nothing.
        let none = dir.path().join("none.png");
        assert!(schedule(&none, "t", &[], 4, 0, &[]).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
