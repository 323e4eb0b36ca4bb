//! Data parallelism behind the `parallel` feature: the one place where the workspace decides
//! between rayon and a plain loop.
//!
//! Both helpers keep the order of their inputs: the partition into items is the caller's and
//! does not depend on the number of threads, so results are the same bits with the feature on
//! or off and on any thread count.
//!
//! ```
//! let squares = gmm_core::parallel::map(&[1.0, 2.0, 3.0], |x| x * x);
//! assert_eq!(squares, vec![1.0, 4.0, 9.0]);
//! let mut blocks = vec![vec![1.0; 4], vec![2.0; 4]];
//! gmm_core::parallel::for_each_mut(&mut blocks, |b| b.iter_mut().for_each(|v| *v *= 10.0));
//! assert_eq!(blocks[1][0], 20.0);
//! ```

/// `items.iter().map(f).collect()`, over the rayon pool when the `parallel` feature is on; the
/// output is in input order either way.
pub fn map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync + Send) -> Vec<U> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        items.iter().map(f).collect()
    }
}

/// How many items [`map`] works on at once: the rayon pool's threads, or 1 without the feature.
pub fn threads() -> usize {
    #[cfg(feature = "parallel")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "parallel"))]
    {
        1
    }
}

/// Applies `f` to every item, over the rayon pool when the `parallel` feature is on.
pub fn for_each_mut<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync + Send) {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter_mut().for_each(f);
    }
    #[cfg(not(feature = "parallel"))]
    {
        items.iter_mut().for_each(f);
    }
}

/// Part `index` of `count` of a list of independent jobs: the jobs `j` with `j % count == index`,
/// for spreading a long run over processes or machines (an experiment sweep, a calibration
/// campaign). The parts are disjoint and cover every job; a job's result does not depend on the
/// part that ran it.
///
/// ```
/// use gmm_core::parallel::Shard;
/// let second = Shard::new(1, 3).unwrap();
/// assert_eq!((0..7).filter(|&j| second.takes(j)).collect::<Vec<_>>(), vec![1, 4]);
/// assert_eq!(second.share(10), 4);
/// assert!(Shard::new(3, 3).is_err() && Shard::new(0, 0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The whole run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Part `index` of `count`.
    ///
    /// # Errors
    /// [`crate::GmmError::OutOfRange`] for `count = 0` or `index >= count`.
    pub fn new(index: usize, count: usize) -> crate::Result<Self> {
        if count == 0 {
            return Err(crate::GmmError::OutOfRange {
                name: "shard count N",
                value: 0.0,
                expected: "at least 1".into(),
            });
        }
        if index >= count {
            return Err(crate::GmmError::OutOfRange {
                name: "shard index I",
                value: index as f64,
                expected: format!("in 0..{count} (a shard I/N needs 0 <= I < N)").into(),
            });
        }
        Ok(Self { index, count })
    }

    /// This part, `0..count`.
    pub fn index(self) -> usize {
        self.index
    }

    /// The number of parts, at least 1.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether job `j` is this part's.
    pub fn takes(self, j: u64) -> bool {
        j % self.count as u64 == self.index as u64
    }

    /// This part's share of `n` (a total to reach over the parts), rounded up.
    pub fn share(self, n: u64) -> u64 {
        n.div_ceil(self.count as u64)
    }
}
