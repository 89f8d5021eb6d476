//! The learned policy's scoring network and its plain-Rust f32 forward
//! pass: a "kernel network" (as in RLScheduler) that maps each job's
//! normalized feature vector to one scalar score with weights shared across
//! jobs, so scoring is permutation-invariant and works for any queue length.
//! Also the masked softmax, log-softmax and Plackett–Luce helpers over those
//! scores.
//!
//! This module owns the architecture description and the arithmetic. It must
//! not read files (see `model`), must not allocate per job in the hot loop
//! (callers pass a [`Scratch`]) and must never panic on mismatched lengths:
//! such calls return [`ShapeError`].

use serde::{Deserialize, Serialize};

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    fn apply(self, x: &mut [f32]) {
        match self {
            Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Tanh => x.iter_mut().for_each(|v| *v = v.tanh()),
        }
    }
}

/// Largest width of any layer that [`Architecture::validate`] accepts.
pub const MAX_WIDTH: usize = 4096;
/// Largest number of hidden layers that [`Architecture::validate`] accepts.
pub const MAX_HIDDEN_LAYERS: usize = 16;

/// Shape of the scoring MLP: `inputs → hidden[0] → … → 1`, with
/// `activation` after every hidden layer and none after the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// Number of input features.
    pub inputs: usize,
    /// Hidden layer widths, input side first.
    pub hidden: Vec<usize>,
    /// Activation after each hidden layer.
    pub activation: Activation,
}

impl Architecture {
    /// The default kernel network, `inputs → 32 → 16 → 8 → 1` with ReLU.
    pub fn default_for(inputs: usize) -> Self {
        Architecture {
            inputs,
            hidden: vec![32, 16, 8],
            activation: Activation::Relu,
        }
    }

    /// All layer widths, `[inputs, hidden…, 1]`.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut s = Vec::with_capacity(self.hidden.len() + 2);
        s.push(self.inputs);
        s.extend_from_slice(&self.hidden);
        s.push(1);
        s
    }

    /// Number of linear layers (hidden layers + the output layer).
    pub fn n_layers(&self) -> usize {
        self.hidden.len() + 1
    }

    /// Checks that every width is in `1..=MAX_WIDTH` and that there are at
    /// most [`MAX_HIDDEN_LAYERS`] hidden layers.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden.len() > MAX_HIDDEN_LAYERS {
            return Err(format!(
                "{} hidden layers; at most {MAX_HIDDEN_LAYERS} are supported",
                self.hidden.len()
            ));
        }
        for (i, &w) in self.layer_sizes().iter().enumerate() {
            if w == 0 || w > MAX_WIDTH {
                return Err(format!("layer width {i} is {w}; expected 1..={MAX_WIDTH}"));
            }
        }
        Ok(())
    }

    /// Largest layer width (the size a [`Scratch`] buffer needs).
    pub fn max_width(&self) -> usize {
        self.layer_sizes().into_iter().max().unwrap_or(1)
    }
}

/// One linear layer, `y = W x + b`, with `W` stored row-major as
/// `[outputs, inputs]` (PyTorch's `nn.Linear` layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// `outputs × inputs` weights, row-major.
    pub weight: Vec<f32>,
    /// `outputs` biases.
    pub bias: Vec<f32>,
}

/// `out = W x + b`, with `W` given transposed (`wt` is `[inputs, outputs]`
/// row-major). Accumulating one input column at a time into all outputs
/// keeps the inner loop a plain elementwise multiply-add over contiguous
/// slices, which the compiler vectorizes without reassociating any sum.
/// Lengths are the caller's ([`Mlp`]'s) guarantee; a mismatch would only
/// shorten the loops, never panic.
#[inline]
fn affine(wt: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(bias) {
        *o = b;
    }
    for (&xk, col) in x.iter().zip(wt.chunks_exact(out.len().max(1))) {
        for (o, &w) in out.iter_mut().zip(col) {
            *o += xk * w;
        }
    }
}

/// A length mismatch in a call to the forward pass or a score helper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: expected {expected}, found {found}")]
pub struct ShapeError {
    /// Which argument was the wrong size.
    pub what: &'static str,
    /// The length it should have had.
    pub expected: usize,
    /// The length it had.
    pub found: usize,
}

/// Reusable buffers for the forward pass, so that scoring allocates nothing
/// per job. Make one per thread with [`Mlp::scratch`].
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Scratch {
    /// Grows the buffers to at least `width` (allocates only when too small).
    fn ensure(&mut self, width: usize) {
        if self.a.len() < width {
            self.a.resize(width, 0.0);
        }
        if self.b.len() < width {
            self.b.resize(width, 0.0);
        }
    }
}

/// The scoring network: a validated [`Architecture`] with its layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    arch: Architecture,
    layers: Vec<Linear>,
    /// Each layer's weights transposed to `[inputs, outputs]`, for [`affine`].
    transposed: Vec<Vec<f32>>,
    max_width: usize,
}

impl Mlp {
    /// Builds a network from an architecture and its layers, input side
    /// first. Checks that the architecture is valid and that every layer has
    /// the right shape.
    pub fn new(arch: Architecture, layers: Vec<Linear>) -> Result<Self, String> {
        arch.validate()?;
        let sizes = arch.layer_sizes();
        if layers.len() != arch.n_layers() {
            return Err(format!(
                "{} layers for an architecture of {}",
                layers.len(),
                arch.n_layers()
            ));
        }
        for (i, l) in layers.iter().enumerate() {
            let (inp, out) = (sizes[i], sizes[i + 1]);
            if l.inputs != inp
                || l.outputs != out
                || l.weight.len() != inp * out
                || l.bias.len() != out
            {
                return Err(format!(
                    "layer {} has shape {}x{} ({} weights, {} biases); expected {out}x{inp}",
                    i + 1,
                    l.outputs,
                    l.inputs,
                    l.weight.len(),
                    l.bias.len()
                ));
            }
        }
        let max_width = arch.max_width();
        let transposed = layers
            .iter()
            .map(|l| {
                let mut t = vec![0.0; l.weight.len()];
                for (r, row) in l.weight.chunks_exact(l.inputs).enumerate() {
                    for (c, &w) in row.iter().enumerate() {
                        t[c * l.outputs + r] = w;
                    }
                }
                t
            })
            .collect();
        Ok(Mlp {
            arch,
            layers,
            transposed,
            max_width,
        })
    }

    /// The architecture.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Number of input features.
    pub fn inputs(&self) -> usize {
        self.arch.inputs
    }

    /// A scratch buffer big enough for this network.
    pub fn scratch(&self) -> Scratch {
        let mut s = Scratch::default();
        s.ensure(self.max_width);
        s
    }

    /// Scores one normalized feature vector of length [`Mlp::inputs`].
    pub fn score_one(&self, x: &[f32], scratch: &mut Scratch) -> Result<f32, ShapeError> {
        if x.len() != self.arch.inputs {
            return Err(ShapeError {
                what: "features",
                expected: self.arch.inputs,
                found: x.len(),
            });
        }
        Ok(self.forward(x, scratch))
    }

    /// The forward pass; `x.len() == inputs` is the caller's guarantee.
    #[inline]
    fn forward(&self, x: &[f32], scratch: &mut Scratch) -> f32 {
        scratch.ensure(self.max_width);
        let Scratch { a, b } = scratch;
        let last = self.layers.len() - 1;
        let mut input: &[f32] = x;
        let (mut cur, mut next) = (a, b);
        for (i, (layer, wt)) in self.layers.iter().zip(&self.transposed).enumerate() {
            let out = &mut cur[..layer.outputs];
            affine(wt, &layer.bias, input, out);
            if i != last {
                self.arch.activation.apply(out);
            }
            std::mem::swap(&mut cur, &mut next);
            input = &next[..layer.outputs];
        }
        input.first().copied().unwrap_or(0.0)
    }

    /// Scores `n` jobs: `features` is `n × inputs` row-major (normalized),
    /// `out` is `n` long. Allocates only if `scratch` is too small.
    pub fn score_batch_with(
        &self,
        features: &[f32],
        out: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<(), ShapeError> {
        let d = self.arch.inputs;
        if features.len() != out.len() * d {
            return Err(ShapeError {
                what: "features (jobs × inputs)",
                expected: out.len() * d,
                found: features.len(),
            });
        }
        for (o, x) in out.iter_mut().zip(features.chunks_exact(d)) {
            *o = self.forward(x, scratch);
        }
        Ok(())
    }

    /// [`Mlp::score_batch_with`] with a scratch buffer made for this call
    /// (one allocation per batch, none per job).
    pub fn score_batch(&self, features: &[f32], out: &mut [f32]) -> Result<(), ShapeError> {
        self.score_batch_with(features, out, &mut self.scratch())
    }
}

fn check_mask(n: usize, mask: Option<&[bool]>) -> Result<(), ShapeError> {
    match mask {
        Some(m) if m.len() != n => Err(ShapeError {
            what: "mask",
            expected: n,
            found: m.len(),
        }),
        _ => Ok(()),
    }
}

fn allowed(mask: Option<&[bool]>, i: usize) -> bool {
    mask.is_none_or(|m| m.get(i).copied().unwrap_or(false))
}

/// The stable pieces of a masked log-sum-exp: `(max, ln Σ exp(s_i − max))`
/// over the allowed entries; `max` is `-∞` when nothing is allowed.
fn lse_parts(scores: &[f32], mask: Option<&[bool]>) -> (f64, f64) {
    let mut max = f64::NEG_INFINITY;
    for (i, &s) in scores.iter().enumerate() {
        if allowed(mask, i) && (s as f64 > max || s.is_nan()) {
            max = s as f64;
        }
    }
    if !max.is_finite() {
        return (max, 0.0);
    }
    let sum: f64 = scores
        .iter()
        .enumerate()
        .filter(|&(i, _)| allowed(mask, i))
        .map(|(_, &s)| (s as f64 - max).exp())
        .sum();
    (max, sum.ln())
}

/// `ln Σ exp(s_i)` over the allowed entries, computed stably in f64;
/// `-∞` when no entry is allowed. NaN scores propagate.
/// `mask[i] == true` means "allowed"; `None` allows every entry.
pub fn log_sum_exp(scores: &[f32], mask: Option<&[bool]>) -> Result<f64, ShapeError> {
    check_mask(scores.len(), mask)?;
    let (max, ln_sum) = lse_parts(scores, mask);
    Ok(max + ln_sum)
}

/// Masked log-softmax: `out[i] = s_i − ln Σ_{j allowed} exp(s_j)` for allowed
/// `i`, and `-∞` for masked-out `i` (all `-∞` when nothing is allowed).
/// `mask[i] == true` means "allowed"; `None` allows every entry. Computed
/// as `(s_i − max) − ln Σ exp(s_j − max)` in f64, so huge scores keep their
/// differences.
pub fn log_softmax(
    scores: &[f32],
    mask: Option<&[bool]>,
    out: &mut [f32],
) -> Result<(), ShapeError> {
    if out.len() != scores.len() {
        return Err(ShapeError {
            what: "out",
            expected: scores.len(),
            found: out.len(),
        });
    }
    check_mask(scores.len(), mask)?;
    let (max, ln_sum) = lse_parts(scores, mask);
    for (i, (o, &s)) in out.iter_mut().zip(scores).enumerate() {
        *o = if !allowed(mask, i) || max == f64::NEG_INFINITY {
            f32::NEG_INFINITY
        } else {
            ((s as f64 - max) - ln_sum) as f32
        };
    }
    Ok(())
}

/// Masked softmax: probabilities over the allowed entries (summing to 1),
/// 0 for masked-out entries (all 0 when nothing is allowed).
pub fn softmax(scores: &[f32], mask: Option<&[bool]>, out: &mut [f32]) -> Result<(), ShapeError> {
    log_softmax(scores, mask, out)?;
    for o in out.iter_mut() {
        *o = o.exp();
    }
    Ok(())
}

/// Errors from [`plackett_luce_log_prob`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// An index in the order is not a valid item.
    #[error("order[{position}] = {index} is out of range for {n} items")]
    OutOfRange {
        /// Position in `order`.
        position: usize,
        /// The bad index.
        index: usize,
        /// Number of items.
        n: usize,
    },
    /// An item appears twice in the order.
    #[error("item {index} appears twice in the order")]
    Duplicate {
        /// The repeated index.
        index: usize,
    },
}

/// Log-probability, under the Plackett–Luce model with weights
/// `exp(scores)`, that the items are picked in `order` (without
/// replacement): `Σ_k [ s_{o_k} − ln Σ_{j not yet picked} exp(s_j) ]`.
///
/// `order` may be a prefix of a ranking (the first picks only); items not in
/// it stay in every denominator. Computed stably in f64 from the back, with
/// one allocation (the "picked" marks).
pub fn plackett_luce_log_prob(scores: &[f32], order: &[usize]) -> Result<f64, OrderError> {
    let n = scores.len();
    let mut picked = vec![false; n];
    for (position, &index) in order.iter().enumerate() {
        match picked.get_mut(index) {
            None => return Err(OrderError::OutOfRange { position, index, n }),
            Some(true) => return Err(OrderError::Duplicate { index }),
            Some(p) => *p = true,
        }
    }
    // ln Σ exp over the items never picked.
    let mut lse = f64::NEG_INFINITY;
    for (&s, _) in scores.iter().zip(&picked).filter(|(_, p)| !**p) {
        lse = log_add_exp(lse, s as f64);
    }
    let mut logp = 0.0;
    for &i in order.iter().rev() {
        let s = scores[i] as f64;
        lse = log_add_exp(lse, s);
        logp += s - lse;
    }
    Ok(logp)
}

/// `ln(exp(a) + exp(b))`, stable.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 → 2 → 1 with ReLU, weights chosen to be checked by hand.
    fn tiny(act: Activation) -> Mlp {
        let arch = Architecture {
            inputs: 2,
            hidden: vec![2],
            activation: act,
        };
        Mlp::new(
            arch,
            vec![
                Linear {
                    inputs: 2,
                    outputs: 2,
                    weight: vec![1.0, 2.0, -1.0, 0.5],
                    bias: vec![0.5, -1.0],
                },
                Linear {
                    inputs: 2,
                    outputs: 1,
                    weight: vec![2.0, -3.0],
                    bias: vec![0.25],
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn tiny_network_by_hand() {
        let m = tiny(Activation::Relu);
        let mut s = m.scratch();
        // x = (1, 2): h = (1+4+0.5, -1+1-1) = (5.5, -1) → relu (5.5, 0);
        // y = 2*5.5 - 0 + 0.25 = 11.25.
        assert_eq!(m.score_one(&[1.0, 2.0], &mut s).unwrap(), 11.25);
        // x = (-1, 1): h = (-1+2+0.5, 1+0.5-1) = (1.5, 0.5); y = 3 - 1.5 + 0.25.
        assert_eq!(m.score_one(&[-1.0, 1.0], &mut s).unwrap(), 1.75);
        let t = tiny(Activation::Tanh);
        let want = 2.0 * 5.5f32.tanh() - 3.0 * (-1.0f32).tanh() + 0.25;
        assert!((t.score_one(&[1.0, 2.0], &mut s).unwrap() - want).abs() < 1e-6);
    }

    #[test]
    fn batch_equals_one_by_one_and_is_permutation_invariant() {
        let m = tiny(Activation::Relu);
        let x = [1.0, 2.0, -1.0, 1.0, 0.0, 0.0];
        let mut out = [0.0; 3];
        m.score_batch(&x, &mut out).unwrap();
        assert_eq!(out, [11.25, 1.75, 2.0 * 0.5 + 0.25]);
        let swapped = [0.0, 0.0, 1.0, 2.0, -1.0, 1.0];
        let mut out2 = [0.0; 3];
        m.score_batch(&swapped, &mut out2).unwrap();
        assert_eq!(out2, [out[2], out[0], out[1]]);
        let mut empty: [f32; 0] = [];
        m.score_batch(&[], &mut empty).unwrap();
    }

    #[test]
    fn shape_errors_instead_of_panics() {
        let m = tiny(Activation::Relu);
        let mut out = [0.0; 2];
        let e = m.score_batch(&[1.0, 2.0, 3.0], &mut out).unwrap_err();
        assert_eq!((e.expected, e.found), (4, 3));
        assert!(m.score_one(&[1.0], &mut Scratch::default()).is_err());
        assert!(log_softmax(&[1.0], None, &mut [0.0; 2]).is_err());
        assert!(softmax(&[1.0], Some(&[true, false]), &mut [0.0]).is_err());
    }

    #[test]
    fn architecture_validation() {
        assert!(Architecture::default_for(20).validate().is_ok());
        assert_eq!(
            Architecture::default_for(20).layer_sizes(),
            vec![20, 32, 16, 8, 1]
        );
        assert!(Architecture::default_for(0).validate().is_err());
        let wide = Architecture {
            inputs: 3,
            hidden: vec![MAX_WIDTH + 1],
            activation: Activation::Tanh,
        };
        assert!(wide.validate().is_err());
        let json = serde_json::to_string(&Architecture::default_for(20)).unwrap();
        assert_eq!(
            json,
            r#"{"inputs":20,"hidden":[32,16,8],"activation":"relu"}"#
        );
    }

    #[test]
    fn masked_softmax_and_log_softmax() {
        let s = [1.0f32, 2.0, 3.0, 1000.0];
        let mask = [true, true, true, false];
        let mut p = [0.0f32; 4];
        softmax(&s, Some(&mask), &mut p).unwrap();
        let z = 1f64.exp() + 2f64.exp() + 3f64.exp();
        for (i, &pi) in p[..3].iter().enumerate() {
            assert!((pi as f64 - ((i + 1) as f64).exp() / z).abs() < 1e-6);
        }
        assert_eq!(p[3], 0.0);
        let mut lp = [0.0f32; 4];
        log_softmax(&s, Some(&mask), &mut lp).unwrap();
        assert!((lp[2] as f64 - (3.0 - z.ln())).abs() < 1e-6);
        assert_eq!(lp[3], f32::NEG_INFINITY);
        // Stable with huge scores: no overflow to NaN.
        log_softmax(&[1e30, 1e30], None, &mut lp[..2]).unwrap();
        assert!((lp[0] - (-(2f32.ln()))).abs() < 1e-6);
        // Nothing allowed: zero probabilities, not NaN.
        softmax(&s, Some(&[false; 4]), &mut p).unwrap();
        assert_eq!(p, [0.0; 4]);
    }

    #[test]
    fn plackett_luce_three_items_by_hand() {
        // Weights exp(s) = 1, 2, 3. Order (2, 0, 1):
        // P = 3/6 · 1/3 · 2/2 = 1/6.
        let s = [1f32.ln(), 2f32.ln(), 3f32.ln()];
        let lp = plackett_luce_log_prob(&s, &[2, 0, 1]).unwrap();
        assert!((lp - (1.0f64 / 6.0).ln()).abs() < 1e-6, "{lp}");
        // Order (1, 2, 0): 2/6 · 3/4 · 1 = 1/4.
        let lp = plackett_luce_log_prob(&s, &[1, 2, 0]).unwrap();
        assert!((lp - 0.25f64.ln()).abs() < 1e-6, "{lp}");
        // Prefix (1): 2/6.
        let lp = plackett_luce_log_prob(&s, &[1]).unwrap();
        assert!((lp - (1.0f64 / 3.0).ln()).abs() < 1e-6, "{lp}");
        // All orders of a full ranking sum to probability 1.
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let total: f64 = perms
            .iter()
            .map(|o| plackett_luce_log_prob(&s, o).unwrap().exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(
            plackett_luce_log_prob(&s, &[0, 3]),
            Err(OrderError::OutOfRange {
                position: 1,
                index: 3,
                n: 3
            })
        );
        assert_eq!(
            plackett_luce_log_prob(&s, &[1, 1]),
            Err(OrderError::Duplicate { index: 1 })
        );
    }
}
