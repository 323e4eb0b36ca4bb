//! Labelled data: the label column of a table, compact labels, standardisation, same-class
//! pairs, and the real data sets embedded in the crate (wine and digits, with their provenance
//! in the repository's `data/`).

use gmm_core::nalgebra::DMatrix;

use crate::error::{ExperimentError, Result};
use crate::io::{Header, read_csv};

/// Splits the label column off a table: `spec` is a 1-based column number, `last`, or a name of
/// the header row `names` ([`column_index`]).
///
/// # Errors
/// [`ExperimentError::Data`] for a bad `spec`, a table without a feature column, or a label that
/// is not a non-negative integer (naming its row).
pub fn split_labels(values: DMatrix<f64>, names: Option<&[String]>, spec: &str) -> Result<(DMatrix<f64>, Vec<usize>)> {
    if values.ncols() < 2 {
        return Err(ExperimentError::Data("the data needs at least one feature column besides the labels".into()));
    }
    let col = column_index(values.ncols(), names, spec)?;
    let labels = labels_in(&values, col)?;
    Ok((values.remove_column(col), labels))
}

/// The column `spec` of a table of `m` columns: a 1-based number, `last`, or a name of the
/// header row `names`.
///
/// # Errors
/// [`ExperimentError::Data`] for a number outside `1..=m` or a name the header does not have (or
/// a name without a header).
pub fn column_index(m: usize, names: Option<&[String]>, spec: &str) -> Result<usize> {
    if spec == "last" {
        return m.checked_sub(1).ok_or_else(|| ExperimentError::Data("the table has no columns".into()));
    }
    if let Ok(k) = spec.parse::<usize>() {
        return if k == 0 || k > m {
            Err(ExperimentError::Data(format!("column {k} is outside the {m} columns")))
        } else {
            Ok(k - 1)
        };
    }
    names.and_then(|n| n.iter().position(|c| c == spec)).ok_or_else(|| {
        ExperimentError::Data(match names {
            Some(_) => format!("no column named {spec:?} in the header row"),
            None => format!("a column must be a number or `last` (the file has no header row to name {spec:?})"),
        })
    })
}

/// The labels in column `col`: non-negative integers.
///
/// # Errors
/// [`ExperimentError::Data`] naming the first row whose value is not a non-negative integer.
pub fn labels_in(values: &DMatrix<f64>, col: usize) -> Result<Vec<usize>> {
    let column = values.column(col);
    let mut labels = Vec::with_capacity(values.nrows());
    for (i, &v) in column.iter().enumerate() {
        // Below 2^53 every integer is exact and fits usize on 64-bit targets.
        if !(0.0..9.007_199_254_740_992e15).contains(&v) || v.fract() != 0.0 {
            return Err(ExperimentError::Data(format!("row {}: label {v} is not a non-negative integer", i + 1)));
        }
        labels.push(v as usize);
    }
    Ok(labels)
}

/// The columns named `prefix` followed by a number (`x0`, `x1`, ...), in file order: the layout
/// that `ssl-gmm sample` writes (`x*` anchors, `xp*` positives).
///
/// # Errors
/// [`ExperimentError::Data`] when the table has no header row or no such column.
pub fn columns_named(values: &DMatrix<f64>, names: Option<&[String]>, prefix: &str) -> Result<DMatrix<f64>> {
    let names = names.ok_or_else(|| {
        ExperimentError::Data(format!("selecting the columns {prefix}0, {prefix}1, ... needs a header row"))
    })?;
    let picked: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            n.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(i, _)| i)
        .collect();
    if picked.is_empty() {
        return Err(ExperimentError::Data(format!("no columns named {prefix}0, {prefix}1, ... in the header row")));
    }
    Ok(values.select_columns(picked.iter()))
}

/// Relabels to `0..c` in increasing order of the distinct values.
pub fn compact_labels(labels: &[usize]) -> Vec<usize> {
    let mut distinct: Vec<usize> = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    labels.iter().map(|l| distinct.partition_point(|d| d < l)).collect()
}

/// Standardises columns in place: zero mean, unit variance (constant columns are only centred).
pub fn standardize(x: &mut DMatrix<f64>) {
    for mut col in x.column_iter_mut() {
        let mean = col.mean();
        let sd = col.variance().sqrt();
        col.add_scalar_mut(-mean);
        if sd > 0.0 {
            col /= sd;
        }
    }
}

/// Same-class pairs: every sample (in a seeded random order) with another sample of its class,
/// as ssl-losses' labelled pair source makes them with `delta = 1` (supervised pairing).
#[derive(Clone, Debug)]
pub struct SameClassPairs {
    /// Anchors, `n x d`: the samples in a seeded random order.
    pub anchors: DMatrix<f64>,
    /// Partners: row `i` another sample of the class of anchor `i`.
    pub partners: DMatrix<f64>,
    /// The class of each pair.
    pub labels: Vec<usize>,
}

/// Pairs from labels ([`SameClassPairs`]).
///
/// # Errors
/// Fewer than 2 samples, labels not one per row, non-finite data.
pub fn same_class_pairs(x: &DMatrix<f64>, labels: &[usize], seed: u64) -> Result<SameClassPairs> {
    // The label rides along as a last column, copied with its row (labels below 2^53 are exact
    // in f64), so the pairs' classes come out in the source's order.
    let (n, d) = x.shape();
    let mut tagged = x.clone().insert_column(d, 0.0);
    for (i, &z) in labels.iter().enumerate().take(n) {
        tagged[(i, d)] = z as f64;
    }
    let mut source = ssl_losses::LabelledPairs::new(tagged, labels.to_vec(), 1.0, n)?;
    let batch = ssl_losses::PairSource::next_batch(&mut source, &mut gmm_core::seeded(seed))?;
    Ok(SameClassPairs {
        anchors: batch.left().columns(0, d).into_owned(),
        partners: batch.right().columns(0, d).into_owned(),
        labels: batch.left().column(d).iter().map(|&z| z as usize).collect(),
    })
}

/// A real data set embedded in the crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// UCI wine: 178 samples, 13 features, 3 cultivars.
    Wine,
    /// UCI optical digits (scikit-learn's `load_digits`): 1797 images of 8x8 pixels, 10 classes.
    Digits,
}

const WINE: &[u8] = include_bytes!("../data/wine.csv");
const DIGITS: &[u8] = include_bytes!("../data/digits.csv.gz");

impl Dataset {
    /// Every embedded data set.
    pub const ALL: [Dataset; 2] = [Dataset::Wine, Dataset::Digits];

    /// Its name (`wine`, `digits`).
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Wine => "wine",
            Dataset::Digits => "digits",
        }
    }

    /// Its number of samples (rows).
    pub fn rows(self) -> usize {
        match self {
            Dataset::Wine => 178,
            Dataset::Digits => 1797,
        }
    }

    /// The features as stored (digits: pixel values 0..16) and the compact labels `0..c`.
    ///
    /// # Errors
    /// Never for the embedded files (an error would mean a corrupted build).
    pub fn load_raw(self) -> Result<(DMatrix<f64>, Vec<usize>)> {
        let table = match self {
            Dataset::Wine => read_csv(WINE, false, "embedded wine.csv", Header::Present)?,
            Dataset::Digits => read_csv(DIGITS, true, "embedded digits.csv.gz", Header::Absent)?,
        };
        let (x, labels) = split_labels(table, None, "last")?;
        Ok((x, compact_labels(&labels)))
    }

    /// The features standardised (zero mean, unit variance per feature) and the compact labels.
    ///
    /// # Errors
    /// As [`Dataset::load_raw`].
    pub fn load(self) -> Result<(DMatrix<f64>, Vec<usize>)> {
        let (mut x, labels) = self.load_raw()?;
        standardize(&mut x);
        Ok((x, labels))
    }
}

impl std::str::FromStr for Dataset {
    type Err = gmm_core::GmmError;

    /// `wine` or `digits`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        gmm_core::parse_name("data set", s, &[("wine", Dataset::Wine), ("digits", Dataset::Digits)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_sets_load_with_their_shapes() {
        let (x, z) = Dataset::Wine.load().unwrap();
        assert_eq!((x.shape(), z.iter().max().copied()), ((Dataset::Wine.rows(), 13), Some(2)));
        let (x, z) = Dataset::Digits.load().unwrap();
        assert_eq!((x.shape(), z.iter().max().copied()), ((Dataset::Digits.rows(), 64), Some(9)));
    }

    #[test]
    fn labels_split_and_compact() {
        let t = DMatrix::from_row_slice(3, 2, &[0.5, 7.0, 1.5, 3.0, 2.5, 7.0]);
        let (x, l) = split_labels(t.clone(), None, "last").unwrap();
        assert_eq!((x.ncols(), compact_labels(&l)), (1, vec![1, 0, 1]));
        assert!(split_labels(t.clone(), None, "0").is_err());
        assert!(split_labels(t.clone(), None, "x").is_err());
        assert!(split_labels(t.clone(), None, "1").is_err(), "0.5 is not an integer label");
        assert!(split_labels(DMatrix::zeros(2, 1), None, "last").is_err());
        // By name, and the columns of `sample`'s layout.
        let names: Vec<String> = ["x0", "x1", "xp0", "xp1", "z"].map(String::from).into();
        let t = DMatrix::from_row_slice(2, 5, &[1.0, 2.0, 3.0, 4.0, 0.0, 5.0, 6.0, 7.0, 8.0, 1.0]);
        let (x, l) = split_labels(t.clone(), Some(&names), "z").unwrap();
        assert_eq!((x.ncols(), l), (4, vec![0, 1]));
        assert_eq!(columns_named(&t, Some(&names), "x").unwrap(), DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 5.0, 6.0]));
        assert_eq!(
            columns_named(&t, Some(&names), "xp").unwrap(),
            DMatrix::from_row_slice(2, 2, &[3.0, 4.0, 7.0, 8.0])
        );
        assert!(columns_named(&t, Some(&names), "y").is_err());
        assert!(columns_named(&t, None, "x").is_err());
        assert!(split_labels(t.clone(), Some(&names), "w").is_err());
        // Labels too large for an exact integer are refused, not wrapped.
        assert!(labels_in(&DMatrix::from_element(1, 1, 1e300), 0).is_err());
    }
}
