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
