//! Clustering metrics against true labels: adjusted Rand index, normalised mutual information
//! (arithmetic mean normalisation, scikit-learn's default) and accuracy under the best matching
//! of clusters to classes (Hungarian algorithm).

use pathfinding::prelude::{Matrix, kuhn_munkres};

use gmm_core::{GmmError, check_at_least};

use crate::error::Result;

/// Contingency table `n_{ij}` = number of samples with true class `i` and cluster `j`.
fn contingency(truth: &[usize], pred: &[usize]) -> Result<Vec<Vec<u64>>> {
    if truth.len() != pred.len() {
        return Err(GmmError::Shape {
            what: "predicted labels against true labels",
            expected: truth.len(),
            got: pred.len(),
        }
        .into());
    }
    check_at_least(truth.len(), 1, "labelled samples")?;
    // Labels are names: any values, compacted to 0..m (no table sized by the largest label).
    let (truth, rows) = compact(truth);
    let (pred, cols) = compact(pred);
    let mut table = vec![vec![0u64; cols]; rows];
    for (&t, &p) in truth.iter().zip(&pred) {
        table[t][p] += 1;
    }
    Ok(table)
}

/// The labels renamed to `0..m` in increasing order of their values, and `m`.
fn compact(labels: &[usize]) -> (Vec<usize>, usize) {
    let mut distinct = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let renamed = labels.iter().map(|l| distinct.partition_point(|d| d < l)).collect();
    (renamed, distinct.len())
}

fn comb2(x: u64) -> f64 {
    let x = x as f64;
    x * (x - 1.0) / 2.0
}

/// Adjusted Rand index (Hubert & Arabie): 1 for identical partitions, ~0 for independent ones.
pub fn adjusted_rand_index(truth: &[usize], pred: &[usize]) -> Result<f64> {
    let table = contingency(truth, pred)?;
    let n = truth.len() as u64;
    if n < 2 {
        return Ok(1.0); // no pairs to disagree on (scikit-learn's convention)
    }
    let sum_cells: f64 = table.iter().flatten().map(|&v| comb2(v)).sum();
    let sum_rows: f64 = table.iter().map(|r| comb2(r.iter().sum())).sum();
    let cols = table.first().map_or(0, Vec::len);
    let sum_cols: f64 = (0..cols).map(|j| comb2(table.iter().map(|r| r[j]).sum())).sum();
    let expected = sum_rows * sum_cols / comb2(n);
    let max = 0.5 * (sum_rows + sum_cols);
    if max == expected {
        return Ok(1.0); // both partitions trivial (scikit-learn's convention)
    }
    Ok((sum_cells - expected) / (max - expected))
}

/// Normalised mutual information `I(T; P) / ((H(T) + H(P)) / 2)` (natural logarithms).
pub fn normalized_mutual_info(truth: &[usize], pred: &[usize]) -> Result<f64> {
    let table = contingency(truth, pred)?;
    let n = truth.len() as f64;
    let entropy =
        |counts: &[f64]| -> f64 { counts.iter().filter(|&&c| c > 0.0).map(|&c| -(c / n) * (c / n).ln()).sum() };
    let rows: Vec<f64> = table.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let cols_n = table.first().map_or(0, Vec::len);
    let cols: Vec<f64> = (0..cols_n).map(|j| table.iter().map(|r| r[j]).sum::<u64>() as f64).collect();
    let (ht, hp) = (entropy(&rows), entropy(&cols));
    if ht == 0.0 && hp == 0.0 {
        return Ok(1.0);
    }
    let mut mi = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            if c > 0 {
                let c = c as f64;
                mi += c / n * (c * n / (rows[i] * cols[j])).ln();
            }
        }
    }
    let denom = 0.5 * (ht + hp);
    Ok(if denom > 0.0 { (mi / denom).clamp(0.0, 1.0) } else { 0.0 })
}

/// Accuracy under the best one-to-one matching of clusters to classes (Hungarian algorithm on
/// the contingency table; extra clusters or classes stay unmatched).
pub fn clustering_accuracy(truth: &[usize], pred: &[usize]) -> Result<f64> {
    let table = contingency(truth, pred)?;
    let size = table.len().max(table.first().map_or(0, Vec::len));
    let mut weights = Matrix::new(size, size, 0i64);
    for (i, row) in table.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            weights[(i, j)] = c as i64;
        }
    }
    let (total, _) = kuhn_munkres(&weights);
    Ok(total as f64 / truth.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_permuted_partitions() {
        let t = [0, 0, 1, 1, 2, 2];
        let p = [2, 2, 0, 0, 1, 1];
        assert!((adjusted_rand_index(&t, &p).unwrap() - 1.0).abs() < 1e-15);
        assert!((normalized_mutual_info(&t, &p).unwrap() - 1.0).abs() < 1e-15);
        assert_eq!(clustering_accuracy(&t, &p).unwrap(), 1.0);
        let q = [0, 1, 0, 1, 0, 1];
        assert!(adjusted_rand_index(&t, &q).unwrap() < 0.0);
        // Each class splits 1 + 1 over the two clusters: the best matching keeps 2 of 6.
        assert!((clustering_accuracy(&t, &q).unwrap() - 2.0 / 6.0).abs() < 1e-15);
        assert!(adjusted_rand_index(&t, &p[..3]).is_err());
    }
}
