//! Adam whose state we own, so that checkpoints can save and restore it.
//!
//! tch's `nn::Optimizer` keeps Adam's moments inside libtorch and exposes
//! no way to read or write them, so a resumed run used to restart them from
//! zero. This is the same algorithm as `torch.optim.Adam` (β₁ = 0.9,
//! β₂ = 0.999, ε = 1e-8, no weight decay, bias-corrected), written over the
//! variables of a `VarStore`, with the first and second moments and the step
//! count as tensors we hold. [`Adam::state`] names them `adam/m/<variable>`,
//! `adam/v/<variable>` and `adam/step`, and [`Adam::load_state`] reads them
//! back; the trainer stores them in the checkpoint file beside the weights.

use anyhow::{Result, bail};
use tch::{Kind, Tensor, nn};

/// Adam over every trainable variable of a `VarStore`.
pub struct Adam {
    /// `(name, variable)`, sorted by name.
    vars: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i64,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
}

impl Adam {
    /// Adam with PyTorch's defaults and learning rate `lr`.
    pub fn new(vs: &nn::VarStore, lr: f64) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |t: &Tensor| t.zeros_like().detach();
        let m = vars.iter().map(|(_, t)| zeros(t)).collect();
        let v = vars.iter().map(|(_, t)| zeros(t)).collect();
        Adam {
            vars,
            m,
            v,
            step: 0,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Steps taken so far.
    pub fn steps(&self) -> i64 {
        self.step
    }

    /// Clears the gradients.
    pub fn zero_grad(&mut self) {
        for (_, t) in &mut self.vars {
            t.zero_grad();
        }
    }

    /// Scales the gradients so that their global L2 norm is at most `max`
    /// (like `torch.nn.utils.clip_grad_norm_`); returns the norm before.
    pub fn clip_grad_norm(&mut self, max: f64) -> f64 {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self
                .vars
                .iter()
                .map(|(_, t)| t.grad())
                .filter(|g| g.defined())
                .collect();
            let total = grads
                .iter()
                .map(|g| g.square().sum(Kind::Float).double_value(&[]))
                .sum::<f64>()
                .sqrt();
            let coef = max / (total + 1e-6);
            if coef < 1.0 {
                for g in &grads {
                    let mut g = g.shallow_clone();
                    let _ = g.f_mul_scalar_(coef);
                }
            }
            total
        })
    }

    /// One Adam step with the current gradients.
    pub fn step(&mut self) {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        tch::no_grad(|| {
            for (i, (_, var)) in self.vars.iter().enumerate() {
                let g = var.grad();
                if !g.defined() {
                    continue;
                }
                let m = &self.m[i] * self.beta1 + &g * (1.0 - self.beta1);
                let v = &self.v[i] * self.beta2 + g.square() * (1.0 - self.beta2);
                let update = (&m / bc1) / ((&v / bc2).sqrt() + self.eps) * self.lr;
                let mut var = var.shallow_clone();
                var.copy_(&(&var - update));
                self.m[i].copy_(&m);
                self.v[i].copy_(&v);
            }
        });
    }

    /// The state as named tensors (`adam/m/<var>`, `adam/v/<var>`,
    /// `adam/step`), on the CPU.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.vars.len() + 1);
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.push((
                format!("adam/m/{name}"),
                self.m[i].to_device(tch::Device::Cpu).copy(),
            ));
            out.push((
                format!("adam/v/{name}"),
                self.v[i].to_device(tch::Device::Cpu).copy(),
            ));
        }
        out.push(("adam/step".to_string(), Tensor::from_slice(&[self.step])));
        out
    }

    /// Restores the state from named tensors (extra names are ignored).
    /// Fails, changing nothing, when a moment is missing or has the wrong
    /// shape.
    pub fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<()> {
        let get = |n: &str| named.iter().find(|(k, _)| k == n).map(|(_, t)| t);
        let mut m = Vec::with_capacity(self.vars.len());
        let mut v = Vec::with_capacity(self.vars.len());
        for (name, var) in &self.vars {
            for (prefix, dst) in [("m", &mut m), ("v", &mut v)] {
                let key = format!("adam/{prefix}/{name}");
                let Some(t) = get(&key) else {
                    bail!("the optimizer state has no `{key}`");
                };
                if t.size() != var.size() {
                    bail!(
                        "`{key}` has shape {:?}, the variable {:?}",
                        t.size(),
                        var.size()
                    );
                }
                dst.push(t.to_device(var.device()).to_kind(var.kind()).copy());
            }
        }
        let Some(step) = get("adam/step") else {
            bail!("the optimizer state has no `adam/step`");
        };
        self.step = step.int64_value(&[0]);
        self.m = m;
        self.v = v;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, nn::OptimizerConfig};

    /// A small quadratic problem: loss = Σ (w·x − y)², with data from a
    /// seeded Rust RNG (tch's global seed is shared by parallel tests).
    fn setup(seed: u64) -> (nn::VarStore, Tensor, Tensor, Tensor) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut data = |n: usize, shape: &[i64]| {
            let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            Tensor::from_slice(&v).view(shape)
        };
        let w0 = data(6, &[3, 2]);
        let x = data(24, &[8, 3]);
        let y = data(16, &[8, 2]);
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().zeros("w", &[3, 2]);
        tch::no_grad(|| w.shallow_clone().copy_(&w0));
        (vs, w, x, y)
    }

    fn loss(w: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
        (x.matmul(w) - y).square().sum(Kind::Float)
    }

    #[test]
    fn matches_tch_adam_step_for_step() {
        let (vs_a, wa, x, y) = setup(3);
        let (vs_b, wb, _, _) = setup(3);
        let mut ours = Adam::new(&vs_a, 0.05);
        let mut theirs = nn::Adam::default().build(&vs_b, 0.05).unwrap();
        for _ in 0..20 {
            ours.zero_grad();
            loss(&wa, &x, &y).backward();
            ours.clip_grad_norm(1.0);
            ours.step();
            theirs.zero_grad();
            loss(&wb, &x, &y).backward();
            theirs.clip_grad_norm(1.0);
            theirs.step();
        }
        let diff = (&wa - &wb).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "weights differ by {diff}");
        assert!(loss(&wa, &x, &y).double_value(&[]) < loss(&setup(3).1, &x, &y).double_value(&[]));
    }

    #[test]
    fn a_restored_state_continues_exactly() {
        // Run A: 10 steps straight. Run B: 5 steps, save weights and state,
        // load them into a fresh store and optimizer, 5 more steps.
        let (vs_a, wa, x, y) = setup(5);
        let mut a = Adam::new(&vs_a, 0.05);
        for _ in 0..10 {
            a.zero_grad();
            loss(&wa, &x, &y).backward();
            a.step();
        }
        let (vs_b, wb, _, _) = setup(5);
        let mut b = Adam::new(&vs_b, 0.05);
        for _ in 0..5 {
            b.zero_grad();
            loss(&wb, &x, &y).backward();
            b.step();
        }
        let state = b.state();
        let saved = wb.detach().copy();
        let (vs_c, wc, _, _) = setup(99);
        tch::no_grad(|| wc.shallow_clone().copy_(&saved));
        let mut c = Adam::new(&vs_c, 0.05);
        c.load_state(&state).unwrap();
        assert_eq!(c.steps(), 5);
        for _ in 0..5 {
            c.zero_grad();
            loss(&wc, &x, &y).backward();
            c.step();
        }
        let diff = (&wa - &wc).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "resumed run differs by {diff}");
        // Restarting the moments (the old behaviour) gives another result.
        let (vs_d, wd, _, _) = setup(99);
        tch::no_grad(|| wd.shallow_clone().copy_(&saved));
        let mut d = Adam::new(&vs_d, 0.05);
        for _ in 0..5 {
            d.zero_grad();
            loss(&wd, &x, &y).backward();
            d.step();
        }
        assert!((&wa - &wd).abs().max().double_value(&[]) > 1e-4);
        // A state with a missing moment is refused.
        let partial: Vec<_> = state
            .iter()
            .filter(|(k, _)| !k.starts_with("adam/v/"))
            .map(|(k, t)| (k.clone(), t.shallow_clone()))
            .collect();
        assert!(d.load_state(&partial).is_err());
    }
}
