//! Label-free augmentations of the 8x8 digit images (E8): two views of the same image are a
//! positive pair, with no label used anywhere.
//!
//! The recipe, applied independently to each view: a rotation by an angle uniform in
//! `[-max_degrees, max_degrees]` about the image centre, a shift by a whole number of pixels
//! uniform in `{-max_shift..=max_shift}` along each axis (bilinear sampling, zero outside the
//! image), then Gaussian pixel noise of standard deviation `noise` (pixel values are 0..16).

use gmm_core::nalgebra::DMatrix;
use gmm_core::rand::{Rng, RngExt};
use gmm_core::{GmmError, check_at_least, check_finite, check_non_negative};
use rand_distr::StandardNormal;

use crate::error::Result;

/// Side of the digit images.
pub const SIDE: usize = 8;

/// The augmentation recipe of E8.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Largest rotation, in degrees.
    pub max_degrees: f64,
    /// Largest shift, in pixels.
    pub max_shift: i32,
    /// Standard deviation of the pixel noise.
    pub noise: f64,
}

impl Default for Recipe {
    /// Rotations up to 15 degrees, shifts up to 1 pixel, noise 1 (on the 0..16 pixel scale).
    fn default() -> Self {
        Self::SWEEP[1]
    }
}

impl Recipe {
    /// E8's default sweep: pixel noise alone, then the default (rotations up to 15 degrees,
    /// one-pixel shifts, noise 1). Stronger recipes go in `--config` (`e8_recipes`); rotations up
    /// to 30 degrees with two-pixel shifts cost 5 minutes a seed, whitened SimSiam's epochs
    /// ending uncertified (docs/theory.md 6).
    pub const SWEEP: [Recipe; 2] =
        [Recipe { max_degrees: 0.0, max_shift: 0, noise: 1.0 }, Recipe { max_degrees: 15.0, max_shift: 1, noise: 1.0 }];

    /// The recipe as shown: `rotate 15°, shift 1, noise 1`.
    pub fn label(&self) -> String {
        format!("rotate {}°, shift {}, noise {}", self.max_degrees, self.max_shift, self.noise)
    }

    /// Checks the recipe.
    ///
    /// # Errors
    /// Negative or non-finite angle or noise, a negative shift.
    pub fn validate(&self) -> Result<()> {
        check_non_negative(self.max_degrees, "largest rotation (degrees)")?;
        check_non_negative(self.noise, "pixel noise")?;
        if self.max_shift < 0 {
            return Err(GmmError::out_of_range("largest shift", self.max_shift as f64, ">= 0").into());
        }
        Ok(())
    }

    /// One augmented view of a flattened `SIDE x SIDE` image (row-major, 64 values).
    fn view<R: Rng + ?Sized>(&self, image: &[f64], rng: &mut R, out: &mut [f64]) {
        let theta = (rng.random::<f64>() * 2.0 - 1.0) * self.max_degrees.to_radians();
        let shift = |rng: &mut R| rng.random_range(-self.max_shift..=self.max_shift) as f64;
        let (dy, dx) = (shift(rng), shift(rng));
        let (c, s) = (theta.cos(), theta.sin());
        let centre = (SIDE as f64 - 1.0) / 2.0;
        let at = |i: i64, j: i64| {
            if (0..SIDE as i64).contains(&i) && (0..SIDE as i64).contains(&j) {
                image[i as usize * SIDE + j as usize]
            } else {
                0.0
            }
        };
        for i in 0..SIDE {
            for j in 0..SIDE {
                // Inverse map of the output pixel: undo the shift, then the rotation.
                let (y, x) = (i as f64 - dy - centre, j as f64 - dx - centre);
                let (sy, sx) = (c * y + s * x + centre, -s * y + c * x + centre);
                let (y0, x0) = (sy.floor(), sx.floor());
                let (fy, fx) = (sy - y0, sx - x0);
                let (y0, x0) = (y0 as i64, x0 as i64);
                let value = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                    + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
                let gauss: f64 = rng.sample(StandardNormal);
                out[i * SIDE + j] = value + self.noise * gauss;
            }
        }
    }

    /// `per_image` positive pairs of every row of `images` (`n x 64`, pixel rows): two
    /// independent views each. Returns `(anchors, positives)`, `n * per_image` rows each.
    ///
    /// # Errors
    /// Images that are not 64 pixels wide, non-finite pixels, `per_image = 0`, an invalid
    /// recipe.
    pub fn pairs<R: Rng + ?Sized>(
        &self,
        images: &DMatrix<f64>,
        per_image: usize,
        rng: &mut R,
    ) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
        self.validate()?;
        check_at_least(per_image, 1, "augmented pairs per image")?;
        gmm_core::check_shape(images, images.nrows(), SIDE * SIDE, "pixels per image (8 x 8)")?;
        check_finite(images, "images")?;
        let n = images.nrows() * per_image;
        let (mut left, mut right) = (DMatrix::zeros(n, SIDE * SIDE), DMatrix::zeros(n, SIDE * SIDE));
        let (mut a, mut b) = ([0.0; SIDE * SIDE], [0.0; SIDE * SIDE]);
        for (i, row) in images.row_iter().enumerate() {
            let image: Vec<f64> = row.iter().copied().collect();
            for p in 0..per_image {
                self.view(&image, rng, &mut a);
                self.view(&image, rng, &mut b);
                let r = i * per_image + p;
                for k in 0..SIDE * SIDE {
                    left[(r, k)] = a[k];
                    right[(r, k)] = b[k];
                }
            }
        }
        Ok((left, right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_recipe_keeps_the_image_and_views_differ_otherwise() {
        let image = DMatrix::from_fn(1, 64, |_, k| (k % 7) as f64);
        let none = Recipe { max_degrees: 0.0, max_shift: 0, noise: 0.0 };
        let (a, b) = none.pairs(&image, 2, &mut gmm_core::seeded(1)).unwrap();
        assert!((a.row(0) - image.row(0)).amax() < 1e-12 && (b.row(1) - image.row(0)).amax() < 1e-12);
        let (a, b) = Recipe::default().pairs(&image, 1, &mut gmm_core::seeded(1)).unwrap();
        assert!((a.row(0) - b.row(0)).amax() > 0.1, "two views of one image differ");
        // Mass is roughly kept: rotations and one-pixel shifts move ink, they do not erase it.
        let centre =
            DMatrix::from_fn(
                1,
                64,
                |_, k| if (2..6).contains(&(k / 8)) && (2..6).contains(&(k % 8)) { 16.0 } else { 0.0 },
            );
        let (a, _) = Recipe { noise: 0.0, ..Recipe::default() }.pairs(&centre, 1, &mut gmm_core::seeded(3)).unwrap();
        let (before, after) = (centre.sum(), a.sum());
        assert!((after - before).abs() < 0.35 * before, "{before} -> {after}");
        assert!(Recipe { noise: -1.0, ..Recipe::default() }.pairs(&image, 1, &mut gmm_core::seeded(1)).is_err());
        assert!(Recipe::default().pairs(&DMatrix::zeros(1, 63), 1, &mut gmm_core::seeded(1)).is_err());
    }
}
