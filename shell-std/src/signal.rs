//! SIGINT/SIGTERM: turned into one shutdown request that the servers wait on, and that threads
//! blocked on a socket can wait for too (a descriptor that becomes readable).

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// A flag every thread can check and the main thread can wait on.
#[derive(Clone, Default)]
pub struct Shutdown {
    state: Arc<(Mutex<bool>, Condvar)>,
    /// A connected pair: a byte written to the first makes the second readable for good, so
    /// any number of threads polling it wake once shutdown is requested. `None` when the pair
    /// could not be made; threads then notice the request at their next deadline.
    wake: Option<Arc<(UnixStream, UnixStream)>>,
}

impl Shutdown {
    /// A request not made yet, that threads can also wait for on [`Shutdown::wake_fd`].
    pub fn new() -> Shutdown {
        Shutdown {
            wake: UnixStream::pair().ok().map(Arc::new),
            ..Shutdown::default()
        }
    }

    /// Starts a thread that requests shutdown on the first SIGINT or SIGTERM.
    pub fn on_signals() -> io::Result<Shutdown> {
        let shutdown = Shutdown::new();
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let trigger = shutdown.clone();
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    trigger.request();
                }
            })?;
        Ok(shutdown)
    }

    /// Asks every server to stop.
    pub fn request(&self) {
        let (lock, condvar) = &*self.state;
        let mut requested = lock.lock().unwrap_or_else(|e| e.into_inner());
        if !*requested {
            if let Some(wake) = &self.wake {
                // Never read, so the other end stays readable; one byte always fits.
                let _ = (&wake.0).write_all(b"!");
            }
        }
        *requested = true;
        condvar.notify_all();
    }

    /// A descriptor that becomes readable (and stays so) once shutdown is requested.
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(|wake| wake.1.as_fd())
    }

    /// Whether shutdown was requested.
    pub fn is_requested(&self) -> bool {
        *self.state.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until shutdown is requested.
    pub fn wait(&self) {
        let (lock, condvar) = &*self.state;
        let mut requested = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*requested {
            requested = condvar.wait(requested).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Counts live workers so shutdown can wait for them, up to a deadline.
#[derive(Clone, Default)]
pub struct WorkerCount {
    state: Arc<(Mutex<usize>, Condvar)>,
}

impl WorkerCount {
    /// Counts one more worker unless `limit` already run; false when it did not.
    pub fn try_acquire(&self, limit: usize) -> bool {
        let mut count = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        if *count >= limit {
            return false;
        }
        *count += 1;
        true
    }

    /// One worker ended.
    pub fn release(&self) {
        let (lock, condvar) = &*self.state;
        let mut count = lock.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        condvar.notify_all();
    }

    /// Waits until no worker runs or `deadline` passes; returns how many still run.
    pub fn wait_idle(&self, deadline: Instant) -> usize {
        let (lock, condvar) = &*self.state;
        let mut count = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            count = condvar
                .wait_timeout(count, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *count
    }
}

/// Starts a thread that reloads the certificate and key of every TLS port on SIGHUP, printing
/// one line per port (an error keeps the pair in use). Nothing without a TLS port.
pub fn reload_on_sighup(ports: Vec<ferry_shell::tls::ServerTls>) -> io::Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let mut signals = Signals::new([signal_hook::consts::SIGHUP])?;
    thread::Builder::new()
        .name("sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                for port in &ports {
                    match port.reload() {
                        Ok(line) => println!("{line}"),
                        Err(line) => eprintln!("ferry-std: {line}"),
                    }
                }
            }
        })?;
    Ok(())
}
