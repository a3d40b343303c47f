//! [`WorkPool`]: a few threads for work too slow or too large for an event loop (hashing a
//! password costs tens of milliseconds and ~19 MiB), bounded in both: at most `workers` jobs
//! run at once, at most `max_queued` wait, and a job may wait for a time before it runs.
//!
//! A job reports its result itself (through a channel and the loop's waker, or to a thread
//! blocked on a channel), so the pool knows nothing about what it runs. Waiting jobs hold no
//! thread: the workers sleep until the earliest one is due. Written once for every service
//! that needs such work (the file server's sign-ins now, chat accounts next).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

/// A bounded pool of worker threads running jobs no earlier than they are due.
pub struct WorkPool {
    shared: Arc<Shared>,
}

/// The queue is full: the job was not taken (it is dropped, unrun).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    max_queued: usize,
}

#[derive(Default)]
struct State {
    queued: BinaryHeap<Queued>,
    next_seq: u64,
    stopping: bool,
}

struct Queued {
    due: Instant,
    seq: u64,
    job: Job,
}

impl WorkPool {
    /// Starts `workers` threads named `name`, taking at most `max_queued` waiting jobs.
    pub fn new(name: &str, workers: usize, max_queued: usize) -> io::Result<WorkPool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            max_queued,
        });
        for _ in 0..workers.max(1) {
            let shared = shared.clone();
            thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || shared.work())?;
        }
        Ok(WorkPool { shared })
    }

    /// Queues `job` to run once `due` has passed, on the first free worker.
    pub fn submit(&self, due: Instant, job: impl FnOnce() + Send + 'static) -> Result<(), Full> {
        let mut state = self.shared.lock();
        if state.queued.len() >= self.shared.max_queued {
            return Err(Full);
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.queued.push(Queued {
            due,
            seq,
            job: Box::new(job),
        });
        drop(state);
        self.shared.changed.notify_one();
        Ok(())
    }

    /// How many jobs wait (not counting the running ones).
    pub fn queued(&self) -> usize {
        self.shared.lock().queued.len()
    }
}

impl Drop for WorkPool {
    fn drop(&mut self) {
        // Waiting jobs are dropped unrun; their reports see their channels close.
        let mut state = self.shared.lock();
        state.stopping = true;
        state.queued.clear();
        drop(state);
        self.shared.changed.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A worker: runs due jobs, earliest first, until the pool stops.
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return;
            }
            let now = Instant::now();
            let wait = match state.queued.peek() {
                None => None,
                Some(first) if first.due <= now => {
                    // Just peeked: the heap is not empty.
                    let Some(queued) = state.queued.pop() else {
                        continue;
                    };
                    drop(state);
                    (queued.job)();
                    state = self.lock();
                    continue;
                }
                Some(first) => Some(first.due - now),
            };
            state = match wait {
                None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(wait) => {
                    self.changed
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

// The heap is a max-heap: the earliest due (then the first submitted) must compare greatest.
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .due
            .cmp(&self.due)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn jobs_run_in_due_order_never_early_and_never_more_than_the_workers_at_once() {
        let pool = WorkPool::new("test-pool", 2, 16).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (sender, results) = mpsc::channel();
        let start = Instant::now();
        for index in 0..6u64 {
            let due = start + Duration::from_millis(60 - index * 10);
            let (running, most, sender) = (running.clone(), most.clone(), sender.clone());
            pool.submit(due, move || {
                let now = running.fetch_add(1, AtomicOrdering::SeqCst) + 1;
                most.fetch_max(now, AtomicOrdering::SeqCst);
                thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, AtomicOrdering::SeqCst);
                let _ = sender.send((index, Instant::now() >= due));
            })
            .unwrap();
        }
        let done: Vec<(u64, bool)> = (0..6)
            .map(|_| results.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert!(done.iter().all(|(_, on_time)| *on_time), "a job ran early");
        assert!(most.load(AtomicOrdering::SeqCst) <= 2);
        // The latest-submitted job was due first.
        assert!(matches!(done.first(), Some((5 | 4, _))), "{done:?}");
    }

    #[test]
    fn a_full_queue_refuses_and_a_dropped_pool_drops_its_jobs() {
        let pool = WorkPool::new("test-pool", 1, 2).unwrap();
        let later = Instant::now() + Duration::from_secs(60);
        let (sender, results) = mpsc::channel::<()>();
        for _ in 0..2 {
            let sender = sender.clone();
            pool.submit(later, move || drop(sender)).unwrap();
        }
        assert_eq!(pool.submit(later, || {}), Err(Full));
        assert_eq!(pool.queued(), 2);
        drop(sender);
        drop(pool);
        // Every sender went with its job: the channel closes instead of hanging.
        assert!(results.recv_timeout(Duration::from_secs(5)).is_err());
    }
}
