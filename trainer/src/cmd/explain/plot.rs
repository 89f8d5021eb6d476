//! The bar chart of `slurm-rl explain --plot`: one horizontal bar per
//! feature, its contribution to the score, largest |contribution| on top,
//! green when it raises the score and red when it lowers it, each labelled
//! with the feature's raw value.
//!
//! This file only draws what it is given; the PNG is written atomically by
//! `crate::plot::write_png`.

use anyhow::Result;
use plotters::prelude::*;
use policy::explain::JobExplanation;
use std::path::Path;

const UP: RGBColor = RGBColor(60, 160, 90);
const DOWN: RGBColor = RGBColor(210, 70, 60);

/// Draws `e`'s contributions into a PNG at `path`.
pub fn contributions(path: &Path, e: &JobExplanation, title: &str) -> Result<()> {
    let order = e.ranked();
    let n = order.len().max(1);
    let max = e
        .features
        .iter()
        .map(|f| f.contribution.abs())
        .fold(0.0f64, f64::max)
        .max(1e-6);
    // Room on both sides for the value labels.
    let (lo, hi) = (-1.35 * max, 1.35 * max);
    let height = 140 + 26 * n as u32;
    // About three significant digits of the largest bar.
    let d = (2.0 - max.log10().floor()).clamp(1.0, 9.0) as usize;
    let labels: Vec<String> = order
        .iter()
        .map(|&i| {
            let f = &e.features[i];
            format!("{} = {:.2}", f.name, f.raw)
        })
        .collect();
    crate::plot::write_png(path, 1000, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(230)
            .build_cartesian_2d(lo..hi, (0..(n as i32 - 1).max(1)).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(k) => {
                    // Largest contribution at the top.
                    usize::try_from(*k)
                        .ok()
                        .and_then(|k| (n - 1).checked_sub(k))
                        .and_then(|i| labels.get(i).cloned())
                        .unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_desc("contribution to the score (score units; + raises the job's priority)")
            .label_style(("sans-serif", 14))
            .draw()?;
        for (rank, &i) in order.iter().enumerate() {
            let v = e.features[i].contribution;
            let y = (n - 1 - rank) as i32;
            let color = if v >= 0.0 { UP } else { DOWN };
            let (x0, x1) = if v >= 0.0 { (0.0, v) } else { (v, 0.0) };
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (x0, SegmentValue::Exact(y)),
                    (x1, SegmentValue::Exact(y + 1)),
                ],
                color.filled(),
            )))?;
            let anchor = if v >= 0.0 {
                v + 0.02 * max
            } else {
                v - 0.02 * max
            };
            let pos = if v >= 0.0 {
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                )
            } else {
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Right,
                    plotters::style::text_anchor::VPos::Center,
                )
            };
            chart.draw_series(std::iter::once(Text::new(
                format!("{v:+.d$}"),
                (anchor, SegmentValue::CenterOf(y)),
                ("sans-serif", 13).into_font().color(&BLACK).pos(pos),
            )))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (0.0, SegmentValue::Exact(0)),
                (0.0, SegmentValue::Exact(n as i32)),
            ],
            BLACK,
        )))?;
        Ok(())
    })
}
