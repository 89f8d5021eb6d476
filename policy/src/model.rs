//! The model file: a safetensors file holding the scoring network's weights
//! (`actor/l{i}/weight`, `actor/l{i}/bias`, f32, PyTorch layout) and, in its
//! `__metadata__`, the format version, architecture, feature spec with
//! normalization constants, reward and training summary. `docs/model-format.md`
//! is the specification; this module implements it.
//!
//! [`Model::from_bytes`] validates everything and returns a typed
//! [`ModelError`]; it must never panic, whatever the bytes (a test truncates
//! and corrupts files to prove it). [`Model::save`] writes atomically. This
//! module must not depend on `sim` and must not use `unsafe` (no mmap: the
//! file is small and read whole).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};

use crate::features::{self, FeatureSpec};
use crate::nn::{Architecture, Linear, Mlp, Scratch};
use crate::{JobObs, QueueContext};

/// Value of the `format` metadata key.
pub const FORMAT: &str = "slurm-rl-model";

/// The model-file format version this build reads and writes. A file with
/// another `format_version` is refused with [`ModelError::VersionMismatch`].
pub const FORMAT_VERSION: u32 = 1;

/// Metadata keys every model file carries.
pub mod keys {
    /// Always `"slurm-rl-model"`.
    pub const FORMAT: &str = "format";
    /// Decimal integer, see [`super::FORMAT_VERSION`].
    pub const FORMAT_VERSION: &str = "format_version";
    /// JSON [`crate::nn::Architecture`].
    pub const ARCHITECTURE: &str = "architecture";
    /// JSON [`crate::features::FeatureSpec`].
    pub const FEATURES: &str = "features";
    /// What the model was trained to optimize (free text, non-empty).
    pub const REWARD: &str = "reward";
    /// JSON summary of the training run and data (free-form).
    pub const TRAINING: &str = "training";
    /// Creation time, RFC 3339 (non-empty).
    pub const CREATED: &str = "created";
    /// Optional: the max-wait guard the model was trained and selected
    /// with, in seconds (a positive decimal integer); see
    /// [`super::Model::max_wait`].
    pub const MAX_WAIT: &str = "max_wait";
}

/// Name of the weight tensor of linear layer `layer` (1-based).
pub fn weight_name(layer: usize) -> String {
    format!("actor/l{layer}/weight")
}

/// Name of the bias tensor of linear layer `layer` (1-based).
pub fn bias_name(layer: usize) -> String {
    format!("actor/l{layer}/bias")
}

/// Why a model file could not be read, validated or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Any other error, with the file it came from.
    #[error("model file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: Box<ModelError>,
    },
    /// The bytes are not a valid safetensors file.
    #[error("not a safetensors file: {0}")]
    NotSafetensors(String),
    /// A required `__metadata__` key is absent.
    #[error("missing metadata key `{0}`")]
    MissingMetadata(String),
    /// A metadata value is malformed.
    #[error("metadata key `{key}`: {message}")]
    BadMetadata {
        /// The key.
        key: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The file's `format_version` is not the one this build reads.
    #[error("format_version {found} is not supported; this build reads version {supported}")]
    VersionMismatch {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The model was trained on a different feature list than this build
    /// computes.
    #[error("feature list does not match this build: {detail}")]
    FeatureMismatch {
        /// How the lists differ.
        detail: String,
    },
    /// A tensor the architecture requires is absent.
    #[error("missing tensor `{0}`")]
    MissingTensor(String),
    /// An `actor/` tensor that the architecture does not use.
    #[error("unexpected tensor `{0}` (not part of the architecture)")]
    UnexpectedTensor(String),
    /// A tensor has the wrong shape.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Tensor name.
        name: String,
        /// Shape the architecture requires.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is not f32.
    #[error("tensor `{name}` has dtype {found}, expected F32")]
    DType {
        /// Tensor name.
        name: String,
        /// Dtype in the file.
        found: String,
    },
    /// A tensor holds NaN or an infinity.
    #[error("tensor `{name}` holds a non-finite value")]
    NonFinite {
        /// Tensor name.
        name: String,
    },
    /// The in-memory model is inconsistent (caught before writing or when
    /// building one).
    #[error("invalid model: {0}")]
    Invalid(String),
}

impl ModelError {
    /// The error without its [`ModelError::File`] wrapper.
    pub fn kind(&self) -> &ModelError {
        match self {
            ModelError::File { source, .. } => source.kind(),
            e => e,
        }
    }

    fn in_file(self, path: &Path) -> ModelError {
        match self {
            e @ ModelError::Io { .. } => e,
            e => ModelError::File {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
        }
    }
}

/// A learned scoring policy: network, feature spec and provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    mlp: Mlp,
    spec: FeatureSpec,
    /// What the model was trained to optimize, e.g. `"-mean_bsld"`.
    pub reward: String,
    /// Free-form JSON summary of the training run and data.
    pub training: serde_json::Value,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The max-wait guard (seconds) the model was trained and selected
    /// with: a job that has waited this long outranks every job that has
    /// not, oldest first. `LearnedPolicy` applies it, and the plugin uses
    /// it unless `PrioritySiteFactorParameters` sets `max_wait`. `None`:
    /// the model names none, and both apply the default
    /// ([`crate::learned::DEFAULT_MAX_WAIT`], seven days).
    pub max_wait: Option<u64>,
}

fn bad(key: &str, message: impl Into<String>) -> ModelError {
    ModelError::BadMetadata {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Checks that `spec` and `arch` fit together and match this build.
fn check_spec(arch: &Architecture, spec: &FeatureSpec) -> Result<(), ModelError> {
    spec.validate()
        .map_err(|e| bad(keys::FEATURES, e.to_string()))?;
    if let Some(detail) = spec.mismatch_with_current() {
        return Err(ModelError::FeatureMismatch { detail });
    }
    if arch.inputs != spec.len() {
        return Err(bad(
            keys::ARCHITECTURE,
            format!(
                "{} inputs but the feature list has {} features",
                arch.inputs,
                spec.len()
            ),
        ));
    }
    Ok(())
}

/// SplitMix64, for reproducible random weights without a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn symmetric(&mut self) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        2.0 * u - 1.0
    }
}

/// A tensor to serialize: f32 data, little-endian.
struct F32Tensor {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl F32Tensor {
    fn new(shape: Vec<usize>, data: &[f32]) -> Self {
        F32Tensor {
            shape,
            bytes: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

impl View for &F32Tensor {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Reads one f32 tensor of the expected shape.
fn read_tensor(
    st: &SafeTensors<'_>,
    name: &str,
    expected: &[usize],
) -> Result<Vec<f32>, ModelError> {
    let t = st
        .tensor(name)
        .map_err(|_| ModelError::MissingTensor(name.to_string()))?;
    if t.dtype() != Dtype::F32 {
        return Err(ModelError::DType {
            name: name.to_string(),
            found: format!("{:?}", t.dtype()),
        });
    }
    if t.shape() != expected {
        return Err(ModelError::ShapeMismatch {
            name: name.to_string(),
            expected: expected.to_vec(),
            found: t.shape().to_vec(),
        });
    }
    let data: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n: usize = expected.iter().product();
    if data.len() != n {
        // safetensors already checks this; kept so a bug there cannot
        // become an out-of-bounds read here.
        return Err(ModelError::ShapeMismatch {
            name: name.to_string(),
            expected: expected.to_vec(),
            found: vec![data.len()],
        });
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::NonFinite {
            name: name.to_string(),
        });
    }
    Ok(data)
}

impl Model {
    /// Builds a model from its parts, checking that they fit together and
    /// match this build's features.
    pub fn new(
        mlp: Mlp,
        spec: FeatureSpec,
        reward: String,
        training: serde_json::Value,
        created: String,
    ) -> Result<Self, ModelError> {
        check_spec(mlp.architecture(), &spec)?;
        for (i, l) in mlp.layers().iter().enumerate() {
            if l.weight.iter().chain(&l.bias).any(|v| !v.is_finite()) {
                return Err(ModelError::NonFinite {
                    name: format!("actor/l{}", i + 1),
                });
            }
        }
        Ok(Model {
            mlp,
            spec,
            reward,
            training,
            created,
            max_wait: None,
        })
    }

    /// The same model with its max-wait guard set ([`Model::max_wait`]).
    pub fn with_max_wait(mut self, max_wait: Option<u64>) -> Self {
        self.max_wait = max_wait.filter(|&w| w > 0);
        self
    }

    /// A model with reproducible random weights (uniform, scaled by
    /// `1/sqrt(fan_in)` like PyTorch's `nn.Linear` default), for tests and
    /// benchmarks.
    pub fn random(arch: Architecture, spec: FeatureSpec, seed: u64) -> Result<Self, ModelError> {
        arch.validate().map_err(|m| bad(keys::ARCHITECTURE, m))?;
        check_spec(&arch, &spec)?;
        let mut rng = SplitMix64(seed);
        let sizes = arch.layer_sizes();
        let layers = sizes
            .windows(2)
            .map(|w| {
                let (inputs, outputs) = (w[0], w[1]);
                let k = 1.0 / (inputs as f32).sqrt();
                Linear {
                    inputs,
                    outputs,
                    weight: (0..inputs * outputs).map(|_| k * rng.symmetric()).collect(),
                    bias: (0..outputs).map(|_| k * rng.symmetric()).collect(),
                }
            })
            .collect();
        let mlp = Mlp::new(arch, layers).map_err(ModelError::Invalid)?;
        Model::new(
            mlp,
            spec,
            "none (random weights)".into(),
            serde_json::json!({ "random_seed": seed }),
            "1970-01-01T00:00:00Z".into(),
        )
    }

    /// The scoring network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The feature spec and normalization constants.
    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// The architecture.
    pub fn architecture(&self) -> &Architecture {
        self.mlp.architecture()
    }

    /// A scratch buffer for [`Model::score_job`] and [`Model::score_jobs`].
    pub fn scratch(&self) -> Scratch {
        self.mlp.scratch()
    }

    /// Scores one job: features, normalization, forward pass. Allocates
    /// nothing once `scratch` has been sized (see [`Model::scratch`]).
    #[inline]
    pub fn score_job(&self, job: &JobObs, ctx: &QueueContext, scratch: &mut Scratch) -> f32 {
        let mut x = features::features_array(job, ctx);
        self.spec.normalizer.apply(&mut x);
        // `check_spec` guarantees the network has N_FEATURES inputs.
        self.mlp.score_one(&x[..], scratch).unwrap_or(0.0)
    }

    /// Scores every job; writes `min(jobs.len(), out.len())` scores.
    pub fn score_jobs(
        &self,
        ctx: &QueueContext,
        jobs: &[JobObs],
        out: &mut [f32],
        scratch: &mut Scratch,
    ) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = self.score_job(j, ctx, scratch);
        }
    }

    /// Serializes the model to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let arch = serde_json::to_string(self.architecture())
            .map_err(|e| ModelError::Invalid(e.to_string()))?;
        let spec =
            serde_json::to_string(&self.spec).map_err(|e| ModelError::Invalid(e.to_string()))?;
        let max_wait = self.max_wait.map(|w| (keys::MAX_WAIT, w.to_string()));
        let meta: HashMap<String, String> = [
            (keys::FORMAT, FORMAT.to_string()),
            (keys::FORMAT_VERSION, FORMAT_VERSION.to_string()),
            (keys::ARCHITECTURE, arch),
            (keys::FEATURES, spec),
            (keys::REWARD, self.reward.clone()),
            (keys::TRAINING, self.training.to_string()),
            (keys::CREATED, self.created.clone()),
        ]
        .into_iter()
        .chain(max_wait)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let tensors: Vec<(String, F32Tensor)> = self
            .mlp
            .layers()
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                [
                    (
                        weight_name(i + 1),
                        F32Tensor::new(vec![l.outputs, l.inputs], &l.weight),
                    ),
                    (bias_name(i + 1), F32Tensor::new(vec![l.outputs], &l.bias)),
                ]
            })
            .collect();
        safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
            .map_err(|e| ModelError::Invalid(e.to_string()))
    }

    /// Parses and validates a model file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::NotSafetensors(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| ModelError::NotSafetensors(e.to_string()))?;
        let empty = HashMap::new();
        let meta = header.metadata().as_ref().unwrap_or(&empty);
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| ModelError::MissingMetadata(key.to_string()))
        };

        let format = get(keys::FORMAT)?;
        if format != FORMAT {
            return Err(bad(
                keys::FORMAT,
                format!("is `{format}`, expected `{FORMAT}`"),
            ));
        }
        let version = get(keys::FORMAT_VERSION)?;
        let found: u32 = version.trim().parse().map_err(|_| {
            bad(
                keys::FORMAT_VERSION,
                format!("`{version}` is not a non-negative integer"),
            )
        })?;
        if found != FORMAT_VERSION {
            return Err(ModelError::VersionMismatch {
                found,
                supported: FORMAT_VERSION,
            });
        }
        let arch: Architecture = serde_json::from_str(get(keys::ARCHITECTURE)?).map_err(|e| {
            bad(
                keys::ARCHITECTURE,
                format!("expected JSON {{inputs, hidden, activation}}: {e}"),
            )
        })?;
        arch.validate().map_err(|m| bad(keys::ARCHITECTURE, m))?;
        let spec: FeatureSpec = serde_json::from_str(get(keys::FEATURES)?).map_err(|e| {
            bad(
                keys::FEATURES,
                format!("expected JSON {{version, names, normalizer}}: {e}"),
            )
        })?;
        check_spec(&arch, &spec)?;
        let reward = get(keys::REWARD)?.clone();
        if reward.trim().is_empty() {
            return Err(bad(keys::REWARD, "is empty"));
        }
        let training: serde_json::Value = serde_json::from_str(get(keys::TRAINING)?)
            .map_err(|e| bad(keys::TRAINING, format!("expected JSON: {e}")))?;
        let created = get(keys::CREATED)?.clone();
        if created.trim().is_empty() {
            return Err(bad(keys::CREATED, "is empty"));
        }
        let max_wait = match meta.get(keys::MAX_WAIT) {
            None => None,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(w) if w > 0 => Some(w),
                _ => {
                    return Err(bad(
                        keys::MAX_WAIT,
                        format!("`{v}` is not a positive number of seconds"),
                    ));
                }
            },
        };

        let sizes = arch.layer_sizes();
        let n_layers = arch.n_layers();
        let mut expected_names = Vec::with_capacity(2 * n_layers);
        let mut layers = Vec::with_capacity(n_layers);
        for (i, w) in sizes.windows(2).enumerate() {
            let (inputs, outputs) = (w[0], w[1]);
            let (wn, bn) = (weight_name(i + 1), bias_name(i + 1));
            let weight = read_tensor(&st, &wn, &[outputs, inputs])?;
            let bias = read_tensor(&st, &bn, &[outputs])?;
            expected_names.push(wn);
            expected_names.push(bn);
            layers.push(Linear {
                inputs,
                outputs,
                weight,
                bias,
            });
        }
        let mut names = st.names();
        names.sort_unstable();
        if let Some(extra) = names
            .iter()
            .find(|n| n.starts_with("actor/") && !expected_names.iter().any(|e| e == *n))
        {
            return Err(ModelError::UnexpectedTensor(extra.to_string()));
        }
        let mlp = Mlp::new(arch, layers).map_err(ModelError::Invalid)?;
        Ok(Model::new(mlp, spec, reward, training, created)?.with_max_wait(max_wait))
    }

    /// Reads and validates a model file. Errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Model::from_bytes(&bytes).map_err(|e| e.in_file(path))
    }

    /// Writes the model file atomically: a temporary file in the same
    /// directory, fsync, rename over `path`, fsync of the directory.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let bytes = self.to_bytes().map_err(|e| e.in_file(path))?;
        crate::io::atomic_write(path, |w| w.write_all(&bytes)).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::N_FEATURES;

    #[test]
    fn splitmix_is_reproducible_and_in_range() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        for _ in 0..1000 {
            let x = a.symmetric();
            assert_eq!(x, b.symmetric());
            assert!((-1.0..1.0).contains(&x));
        }
    }

    #[test]
    fn random_models_differ_by_seed() {
        let arch = Architecture::default_for(N_FEATURES);
        let a = Model::random(arch.clone(), FeatureSpec::current_identity(), 1).unwrap();
        let b = Model::random(arch.clone(), FeatureSpec::current_identity(), 1).unwrap();
        let c = Model::random(arch, FeatureSpec::current_identity(), 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.mlp(), c.mlp());
    }

    #[test]
    fn error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        std::fs::write(&p, b"nope").unwrap();
        let e = Model::load(&p).unwrap_err();
        assert!(matches!(e.kind(), ModelError::NotSafetensors(_)), "{e}");
        assert!(e.to_string().contains("m.safetensors"), "{e}");
    }
}
