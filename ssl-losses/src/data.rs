//! Where batches come from: fresh pairs of a mixture every step (infinite data), CLIP pairs,
//! or epochs over a fixed labelled data set (real data).

use gmm_core::nalgebra::DMatrix;
use gmm_core::{ClipGmm, Gmm, PairSampler, Pairs, SeedRng};
use rand::RngExt;
use rand::seq::SliceRandom;

use gmm_core::{GmmError, check_at_least, check_finite, check_shape};

use crate::error::Result;
use crate::objective::{Batch, ensure_shape};
use crate::scalar::{Real, from_f64};

/// A source of batches of positive pairs (scalar `f64` unless stated).
pub trait PairSource<T: Real = f64> {
    /// The next batch; the matrices are owned by the source and overwritten by the next call.
    fn next_batch(&mut self, rng: &mut SeedRng) -> Result<Batch<'_, T>>;
    /// Input dimensions `(d_left, d_right)`.
    fn dims(&self) -> (usize, usize);
}

/// Fresh augmentation pairs of a [`Gmm`] each step (coupling `delta`), in reused buffers.
#[derive(Clone, Debug)]
pub struct GmmStream<'a> {
    sampler: PairSampler<'a>,
    buf: Pairs,
}

impl<'a> GmmStream<'a> {
    /// # Errors
    /// `batch < 1` or `delta` outside `[0, 1]`.
    pub fn new(gmm: &'a Gmm, delta: f64, batch: usize) -> Result<Self> {
        check_at_least(batch, 1, "pairs per batch")?;
        Ok(Self { sampler: PairSampler::new(gmm, delta)?, buf: Pairs::zeros(batch, gmm.dim()) })
    }
}

impl PairSource for GmmStream<'_> {
    fn next_batch(&mut self, rng: &mut SeedRng) -> Result<Batch<'_>> {
        self.sampler.fill(rng, &mut self.buf)?;
        // Fresh draws: a mixture at the ends of the f64 range can overflow, so checked.
        Batch::new(&self.buf.x, &self.buf.x_plus)
    }

    fn dims(&self) -> (usize, usize) {
        (self.buf.x.ncols(), self.buf.x.ncols())
    }
}

/// Fresh pairs `(x, y)` of a [`ClipGmm`] each step.
#[derive(Clone, Debug)]
pub struct ClipStream<'a> {
    clip: &'a ClipGmm,
    batch: usize,
    x: DMatrix<f64>,
    y: DMatrix<f64>,
}

impl<'a> ClipStream<'a> {
    /// # Errors
    /// `batch < 1`.
    pub fn new(clip: &'a ClipGmm, batch: usize) -> Result<Self> {
        check_at_least(batch, 1, "pairs per batch")?;
        let (dx, dy) = (clip.modality(gmm_core::Side::X).dim(), clip.modality(gmm_core::Side::Y).dim());
        Ok(Self { clip, batch, x: DMatrix::zeros(batch, dx), y: DMatrix::zeros(batch, dy) })
    }
}

impl PairSource for ClipStream<'_> {
    fn next_batch(&mut self, rng: &mut SeedRng) -> Result<Batch<'_>> {
        let p = self.clip.sample_pairs(self.batch, rng)?;
        self.x = p.x;
        self.y = p.y;
        Batch::new(&self.x, &self.y)
    }

    fn dims(&self) -> (usize, usize) {
        (self.x.ncols(), self.y.ncols())
    }
}

/// The visiting order of epochs over `n` items, `batch` at a time: a fresh seeded permutation
/// whenever the current one has fewer than `batch` items left.
#[derive(Clone, Debug)]
struct Epochs {
    order: Vec<usize>,
    pos: usize,
    batch: usize,
}

impl Epochs {
    fn new(n: usize, batch: usize) -> Self {
        Self { order: (0..n).collect(), pos: usize::MAX, batch }
    }

    /// The indices of the next batch.
    fn next(&mut self, rng: &mut SeedRng) -> &[usize] {
        if self.pos.saturating_add(self.batch) > self.order.len() {
            self.order.shuffle(rng);
            self.pos = 0;
        }
        self.pos += self.batch;
        &self.order[self.pos - self.batch..self.pos]
    }
}

/// Epochs over a fixed sample of pairs ([`Pairs`] already drawn, or any anchors and positives
/// with one pair per row): each epoch visits the pairs in a fresh random order, `batch` at a
/// time (a last partial batch is skipped, so every batch has `batch` pairs).
#[derive(Clone, Debug)]
pub struct FixedPairs {
    x: DMatrix<f64>,
    x_plus: DMatrix<f64>,
    epochs: Epochs,
    left: DMatrix<f64>,
    right: DMatrix<f64>,
}

impl FixedPairs {
    /// # Errors
    /// Sides with different row counts, non-finite values, `batch` outside `1..=n`.
    pub fn new(x: DMatrix<f64>, x_plus: DMatrix<f64>, batch: usize) -> Result<Self> {
        let n = x.nrows();
        check_shape(&x_plus, n, x_plus.ncols(), "rows of the positives against the anchors")?;
        check_finite(&x, "fixed pairs (anchors)")?;
        check_finite(&x_plus, "fixed pairs (positives)")?;
        if batch < 1 || batch > n {
            return Err(GmmError::out_of_range(
                "batch size",
                batch as f64,
                format!("between 1 and the number of pairs {n}"),
            )
            .into());
        }
        let (dl, dr) = (x.ncols(), x_plus.ncols());
        Ok(Self {
            epochs: Epochs::new(n, batch),
            x,
            x_plus,
            left: DMatrix::zeros(batch, dl),
            right: DMatrix::zeros(batch, dr),
        })
    }

    /// Epochs over drawn augmentation pairs (their labels are not used).
    ///
    /// # Errors
    /// As [`FixedPairs::new`].
    pub fn from_pairs(pairs: &Pairs, batch: usize) -> Result<Self> {
        Self::new(pairs.x.clone(), pairs.x_plus.clone(), batch)
    }
}

impl PairSource for FixedPairs {
    fn next_batch(&mut self, rng: &mut SeedRng) -> Result<Batch<'_>> {
        for (b, &i) in self.epochs.next(rng).iter().enumerate() {
            self.left.set_row(b, &self.x.row(i));
            self.right.set_row(b, &self.x_plus.row(i));
        }
        // Rows of the data checked by the constructor.
        Ok(Batch::from_checked(&self.left, &self.right))
    }

    fn dims(&self) -> (usize, usize) {
        (self.x.ncols(), self.x_plus.ncols())
    }
}

/// Epochs over a fixed labelled data set (`n x d`, rows are samples): each epoch visits the
/// anchors in a fresh random order, `batch` at a time; an anchor's positive is, with probability
/// `delta`, another sample of its class (itself only if the class has one sample), otherwise a
/// sample drawn uniformly from the whole set.
#[derive(Clone, Debug)]
pub struct LabelledPairs {
    x: DMatrix<f64>,
    labels: Vec<usize>,
    by_class: Vec<Vec<usize>>,
    delta: f64,
    epochs: Epochs,
    left: DMatrix<f64>,
    right: DMatrix<f64>,
}

impl LabelledPairs {
    /// # Errors
    /// Non-finite data, labels not one per row, `batch` outside `2..=n`, `delta` outside `[0, 1]`.
    pub fn new(x: DMatrix<f64>, labels: Vec<usize>, delta: f64, batch: usize) -> Result<Self> {
        check_finite(&x, "training data")?;
        gmm_core::check_delta(delta)?;
        check_shape(&x, labels.len(), x.ncols(), "rows of the data against the labels")?;
        if batch < 2 || batch > x.nrows() {
            return Err(GmmError::out_of_range(
                "batch size",
                batch as f64,
                format!("between 2 and the number of samples {}", x.nrows()),
            )
            .into());
        }
        let classes = labels.iter().max().map_or(0, |m| m.saturating_add(1));
        if classes > x.nrows() {
            // More classes than samples means labels that are not 0..c: refuse instead of
            // allocating a table sized by the largest label.
            return Err(GmmError::out_of_range(
                "largest label",
                (classes - 1) as f64,
                format!("below the number of samples {} (labels 0..c)", x.nrows()),
            )
            .into());
        }
        let mut by_class = vec![Vec::new(); classes];
        for (i, &z) in labels.iter().enumerate() {
            by_class[z].push(i);
        }
        let d = x.ncols();
        Ok(Self {
            epochs: Epochs::new(x.nrows(), batch),
            x,
            labels,
            by_class,
            delta,
            left: DMatrix::zeros(batch, d),
            right: DMatrix::zeros(batch, d),
        })
    }
}

impl PairSource for LabelledPairs {
    fn next_batch(&mut self, rng: &mut SeedRng) -> Result<Batch<'_>> {
        let n = self.x.nrows();
        let (by_class, labels, delta) = (&self.by_class, &self.labels, self.delta);
        let (x, left, right) = (&self.x, &mut self.left, &mut self.right);
        let anchors = self.epochs.next(rng);
        for (b, &anchor) in anchors.iter().enumerate() {
            let positive = if rng.random::<f64>() < delta {
                let same = &by_class[labels[anchor]];
                if same.len() == 1 {
                    anchor
                } else {
                    // Another member of the class: draw among the others.
                    let k = rng.random_range(0..same.len() - 1);
                    let pick = same[k];
                    if pick == anchor { same[same.len() - 1] } else { pick }
                }
            } else {
                rng.random_range(0..n)
            };
            left.set_row(b, &x.row(anchor));
            right.set_row(b, &x.row(positive));
        }
        // Rows of the data checked by the constructor.
        Ok(Batch::from_checked(&self.left, &self.right))
    }

    fn dims(&self) -> (usize, usize) {
        (self.x.ncols(), self.x.ncols())
    }
}

/// Any `f64` source with its batches rounded to the scalar `T` (round to nearest), for training
/// in `f32`: the mixture is sampled in `f64` (the same pairs as an `f64` run with the same seed)
/// and each batch is rounded once into reused buffers. A value beyond `T`'s range rounds to an
/// infinity and is reported as a non-finite entry of the batch, never trained on.
///
/// ```
/// use gmm_core::{MixtureGenerator, seeded};
/// use ssl_losses::{Form, GmmStream, InfoNceLoss, Rounded, Score, TrainConfig, small_random_init, train};
///
/// let gmm = MixtureGenerator::isotropic(3, 6).generate(&mut seeded(1))?;
/// let mut data = Rounded::<_, f32>::new(GmmStream::new(&gmm, 1.0, 64)?);
/// let mut loss = InfoNceLoss::<f32>::new(1.0, Form::OneWay, Score::Dot)?;
/// let init = vec![small_random_init(2, 6, 0.1, 1).map(|v| v as f32)];
/// let out = train(&mut loss, &mut data, init, &TrainConfig { steps: 20, ..TrainConfig::default() }, &mut ())?;
/// assert_eq!(out.params[0].shape(), (2, 6));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rounded<S, T: Real> {
    source: S,
    left: DMatrix<T>,
    right: DMatrix<T>,
}

impl<S, T: Real> Rounded<S, T> {
    /// Wraps `source`.
    pub fn new(source: S) -> Self {
        Self { source, left: DMatrix::zeros(0, 0), right: DMatrix::zeros(0, 0) }
    }

    /// The wrapped source.
    pub fn into_inner(self) -> S {
        self.source
    }
}

/// `dst = src` rounded to `T`, resizing `dst` if needed.
fn round_into<T: Real>(src: &DMatrix<f64>, dst: &mut DMatrix<T>) {
    ensure_shape(dst, src.nrows(), src.ncols());
    for (d, &s) in dst.iter_mut().zip(src.iter()) {
        *d = from_f64(s);
    }
}

impl<S: PairSource<f64>, T: Real> PairSource<T> for Rounded<S, T> {
    fn next_batch(&mut self, rng: &mut SeedRng) -> Result<Batch<'_, T>> {
        let batch = self.source.next_batch(rng)?;
        round_into(batch.left(), &mut self.left);
        round_into(batch.right(), &mut self.right);
        // Finite in f64 (checked by the source) may overflow T: checked again.
        Batch::new(&self.left, &self.right)
    }

    fn dims(&self) -> (usize, usize) {
        self.source.dims()
    }
}
