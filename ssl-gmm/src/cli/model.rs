//! Choosing a model: a named preset or a JSON file.

use std::path::PathBuf;

use anyhow::Context;
use gmm_core::{ClipGmm, Gmm, Model};

/// `--preset NAME | --config FILE.json` (one of them; the default is the `pca-trap` preset).
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// A preset mixture (see `ssl-gmm presets`); without --preset and --config: pca-trap.
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<String>,
    /// A JSON file: `{"weights", "means", "covariance"}` for a mixture, or
    /// `{"weights", "x": {...}, "y": {...}}` for a CLIP-GMM (see README).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl ModelArgs {
    /// The name shown in reports.
    pub fn label(&self) -> String {
        match (&self.preset, &self.config) {
            (_, Some(path)) => path.display().to_string(),
            (Some(name), None) => name.clone(),
            (None, None) => DEFAULT_PRESET.to_string(),
        }
    }

    /// Loads the model.
    pub fn load(&self) -> anyhow::Result<Model> {
        match (&self.preset, &self.config) {
            (_, Some(path)) => load_config(path),
            (name, None) => Ok(gmm_core::preset(name.as_deref().unwrap_or(DEFAULT_PRESET))?),
        }
    }
}

const DEFAULT_PRESET: &str = "pca-trap";

/// Reads a model from JSON: a CLIP-GMM when the object has an `"x"` field, a mixture otherwise.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<Model> {
    let text = super::io::read_text(path, "model")?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let model = if value.get("x").is_some() {
        Model::Clip(Box::new(
            serde_json::from_value::<ClipGmm>(value)
                .with_context(|| format!("invalid CLIP-GMM in {}", path.display()))?,
        ))
    } else {
        Model::Gmm(
            serde_json::from_value::<Gmm>(value).with_context(|| format!("invalid mixture in {}", path.display()))?,
        )
    };
    // The commands decompose d x d matrices (covariance, its factors, S_B, eigenvectors).
    let d = match &model {
        Model::Gmm(g) => g.dim(),
        Model::Clip(c) => c.modality(gmm_core::Side::X).dim().max(c.modality(gmm_core::Side::Y).dim()),
    };
    super::memory::check(&format!("the d x d matrices of the model in {} (d = {d})", path.display()), &[d, d, 16])?;
    Ok(model)
}
