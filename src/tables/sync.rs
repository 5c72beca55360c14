//! The bounded lock-free queues between the management thread and one worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use super::update::{Event, Update};
use crate::pipeline::policy::FlowNote;

/// Flow notes (session started/ended, flow denied) one worker may have queued.
pub const FLOW_NOTE_CAPACITY: usize = 16_384;

/// Updates for one worker, and that worker's events.
#[derive(Debug)]
pub struct SyncChannel {
    updates: ArrayQueue<Update>,
    events: ArrayQueue<Event>,
    /// The policy stage's notes for the connection log and the session view: apart from
    /// `events`, so a burst of new flows cannot crowd out learning.
    flows: ArrayQueue<FlowNote>,
    /// Flow notes the worker could not queue (the management thread fell behind).
    pub flows_dropped: AtomicU64,
    /// Times the management thread found the update queue full (it keeps a backlog).
    pub update_queue_full: AtomicU64,
    /// Events the worker could not queue (learning is re-reported by later traffic).
    pub events_dropped: AtomicU64,
    /// Updates the worker has applied.
    pub updates_applied: AtomicU64,
}

impl SyncChannel {
    pub fn new(update_capacity: usize, event_capacity: usize) -> Arc<SyncChannel> {
        Arc::new(SyncChannel {
            updates: ArrayQueue::new(update_capacity.max(1)),
            events: ArrayQueue::new(event_capacity.max(1)),
            flows: ArrayQueue::new(FLOW_NOTE_CAPACITY),
            flows_dropped: AtomicU64::new(0),
            update_queue_full: AtomicU64::new(0),
            events_dropped: AtomicU64::new(0),
            updates_applied: AtomicU64::new(0),
        })
    }

    /// Management side: queues an update, or hands it back when the queue is full.
    pub fn send(&self, u: Update) -> Result<(), Update> {
        self.updates.push(u).inspect_err(|_| {
            self.update_queue_full.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Worker side: the next update, if any.
    #[inline(always)]
    pub fn next_update(&self) -> Option<Update> {
        self.updates.pop()
    }

    /// Worker side: queues an event; counts and drops it when the queue is full.
    #[inline(always)]
    pub fn emit(&self, e: Event) -> bool {
        match self.events.push(e) {
            Ok(()) => true,
            Err(_) => {
                // Single writer (this worker): a relaxed load/store is enough.
                let n = self.events_dropped.load(Ordering::Relaxed);
                self.events_dropped
                    .store(n.wrapping_add(1), Ordering::Relaxed);
                false
            }
        }
    }

    /// Worker side: queues a flow note; counts and drops it when the queue is full.
    #[inline]
    pub fn note_flow(&self, n: FlowNote) {
        if self.flows.push(n).is_err() {
            let d = self.flows_dropped.load(Ordering::Relaxed);
            self.flows_dropped
                .store(d.wrapping_add(1), Ordering::Relaxed);
        }
    }

    /// Management side: the next flow note, if any.
    pub fn next_flow(&self) -> Option<FlowNote> {
        self.flows.pop()
    }

    /// Management side: the next event, if any.
    pub fn next_event(&self) -> Option<Event> {
        self.events.pop()
    }

    pub fn pending_updates(&self) -> usize {
        self.updates.len()
    }

    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    pub fn update_capacity(&self) -> usize {
        self.updates.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{FdbKey, VniIndex};
    use crate::wire::MacAddr;

    #[test]
    fn full_queues_are_counted_not_blocking() {
        let ch = SyncChannel::new(1, 1);
        let key = FdbKey::new(VniIndex(0), MacAddr([2, 0, 0, 0, 0, 1]));
        assert!(ch.send(Update::FdbDel(key)).is_ok());
        assert!(ch.send(Update::FdbDel(key)).is_err());
        assert_eq!(ch.update_queue_full.load(Ordering::Relaxed), 1);
        assert!(ch.emit(Event::Refreshed(key)));
        assert!(!ch.emit(Event::Refreshed(key)));
        assert_eq!(ch.events_dropped.load(Ordering::Relaxed), 1);
        assert!(ch.next_update().is_some());
        assert!(ch.next_event().is_some());
    }
}
