//! Splitting independent work (a file's items, its flows) across threads when there is enough of it.

/// Below this much work (source bytes), one thread is faster than starting others.
pub(crate) const MIN_PARALLEL_BYTES: usize = 32 * 1024;

/// Stack for worker threads: parsing and checking recurse on nesting, which the parser bounds at 100
/// levels; this leaves a wide margin in debug builds.
const WORKER_STACK: usize = 16 << 20;

/// Runs `work` on `items` split into contiguous groups of about equal `weight`, one group per available
/// core, and returns the results in item order. Runs inline when the total weight is small, when only
/// one core is available, or when threads cannot be started.
pub(crate) fn map_chunked<T: Sync, R: Send>(
    items: &[T],
    weight: impl Fn(&T) -> usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let total: usize = items.iter().map(&weight).sum();
    if total < MIN_PARALLEL_BYTES || items.len() < 2 {
        return vec![work(items)];
    }
    // Asking is not free (it reads cgroup limits), so it is asked once.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8));
    if cores < 2 {
        return vec![work(items)];
    }
    // Contiguous groups of about total / cores each, so that results stay in source order.
    let mut groups: Vec<&[T]> = Vec::with_capacity(cores);
    let (mut start, mut acc) = (0, 0);
    let per = total.div_ceil(cores);
    for (i, item) in items.iter().enumerate() {
        acc += weight(item);
        if acc >= per && groups.len() + 1 < cores {
            groups.push(&items[start..=i]);
            (start, acc) = (i + 1, 0);
        }
    }
    if start < items.len() {
        groups.push(&items[start..]);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|&g| std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, move || work(g)))
            .collect();
        handles
            .into_iter()
            .zip(&groups)
            .map(|(h, &g)| match h {
                Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // Could not start a thread: do this group here.
                Err(_) => work(g),
            })
            .collect()
    })
}

/// Runs `work` on each item, on all cores (a group of items per core), in item order.
pub(crate) fn map_each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    // Every item counts as enough work to share out.
    map_chunked(items, |_| MIN_PARALLEL_BYTES, |group| group.iter().map(&work).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}
