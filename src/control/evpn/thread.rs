//! The EVPN side threads (netlink, exception path) start the same way: pinned to the
//! management core, they set themselves up (inside the namespace) before the caller goes on,
//! and a failure there is the caller's error.

use std::io;
use std::thread::JoinHandle;

/// Starts thread `name` pinned to `cpu`: `open` runs on it first and `spawn_ready` returns
/// its error, or the handle once it succeeded; `run` then gets what `open` made.
pub fn spawn_ready<T: 'static>(
    name: &str,
    cpu: Option<usize>,
    open: impl FnOnce() -> io::Result<T> + Send + 'static,
    run: impl FnOnce(T) + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    let (ready_tx, ready_rx) = crossbeam::channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Some(cpu) = cpu {
                core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
            }
            match open() {
                Ok(opened) => {
                    let _ = ready_tx.send(Ok(()));
                    run(opened);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
    let ready = ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other(format!("thread {name} ended at start"))));
    match ready {
        Ok(()) => Ok(thread),
        Err(e) => {
            let _ = thread.join();
            Err(e)
        }
    }
}
