//! The `concurrency` places for segments talking to the server, handed out in the order the
//! runner started the segments. The runner starts more segments than there are places, so
//! the next ones have read and encoded their records when a place frees up; the order keeps
//! a segment that was read faster from overtaking an earlier one (operators read the grid,
//! and the refresh of a resumed run, front to back).
//!
//! The number of places can change while the run goes (`sync.concurrency = "auto"`, the
//! operator's `+`/`-`): a raise adds places at once; a cut takes free places away now and
//! the rest as their holders give them back, so no request in flight is disturbed.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

pub(crate) struct Slots {
    places: Semaphore,
    /// Places as last set, and how many of them are taken.
    size: AtomicUsize,
    taken: AtomicUsize,
    /// Places still to take away when their holders give them back (after a cut).
    owed: Mutex<usize>,
    line: Mutex<Line>,
    /// Someone left the line (queued for a place or gave up).
    moved: Notify,
}

#[derive(Default)]
struct Line {
    waiting: VecDeque<u64>,
    next: u64,
}

/// A segment's place in the line for a slot; it leaves the line when it queues for a slot
/// or is dropped (the segment needed no request, failed to read, or was abandoned).
pub(crate) struct Ticket {
    slots: Arc<Slots>,
    seq: u64,
}

impl Slots {
    pub(crate) fn new(size: usize) -> Arc<Self> {
        let size = size.max(1);
        Arc::new(Self {
            places: Semaphore::new(size),
            size: AtomicUsize::new(size),
            taken: AtomicUsize::new(0),
            owed: Mutex::new(0),
            line: Mutex::new(Line::default()),
            moved: Notify::new(),
        })
    }

    /// Joins the line behind every ticket handed out before.
    pub(crate) fn ticket(self: &Arc<Self>) -> Ticket {
        let mut line = self.line();
        let seq = line.next;
        line.next += 1;
        line.waiting.push_back(seq);
        Ticket {
            slots: Arc::clone(self),
            seq,
        }
    }

    /// Slots taken: segments talking to the server, not those waiting for a slot.
    pub(crate) fn in_use(&self) -> usize {
        self.taken.load(Ordering::SeqCst)
    }

    /// Places as last set.
    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::SeqCst)
    }

    /// Sets the number of places (at least one).
    pub(crate) fn resize(&self, size: usize) {
        let size = size.max(1);
        let old = self.size.swap(size, Ordering::SeqCst);
        let mut owed = self.owed.lock().unwrap_or_else(PoisonError::into_inner);
        if size > old {
            // Places still owed from a cut are simply not taken away.
            let mut add = size - old;
            let cancel = add.min(*owed);
            *owed -= cancel;
            add -= cancel;
            self.places.add_permits(add);
        } else if size < old {
            let cut = old - size;
            let now = self.places.forget_permits(cut);
            *owed += cut - now;
        }
    }

    /// A holder gives its place back: kept out of use when a cut still owes one.
    fn give_back(&self, permit: SemaphorePermit<'_>) {
        self.taken.fetch_sub(1, Ordering::SeqCst);
        let mut owed = self.owed.lock().unwrap_or_else(PoisonError::into_inner);
        if *owed > 0 {
            *owed -= 1;
            permit.forget();
        }
    }

    // The line is only ever changed whole under the lock: a poisoned lock still holds a
    // consistent line.
    fn line(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn leave(&self, seq: u64) {
        {
            let mut line = self.line();
            if let Some(at) = line.waiting.iter().position(|&s| s == seq) {
                line.waiting.remove(at);
            }
        }
        self.moved.notify_waiters();
    }
}

impl Ticket {
    /// Waits until every earlier ticket has queued for a slot (or left the line), queues
    /// behind them, and waits for the slot. `None` only if the slots were closed (they
    /// never are while a run lives).
    pub(crate) async fn take(&self) -> Option<Slot<'_>> {
        loop {
            // Registered before the check, so a leave between the two is not missed.
            let moved = self.slots.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.my_turn() {
                break;
            }
            moved.await;
        }
        // The first poll takes a free slot or queues for one; the semaphore serves its
        // queue in order, so the next ticket may queue right behind. (Leaving the line
        // only once the slot is ours would chain one wake-up per segment when several
        // slots free up together.)
        let acquire = self.slots.places.acquire();
        tokio::pin!(acquire);
        let first = std::future::poll_fn(|cx| Poll::Ready(acquire.as_mut().poll(cx))).await;
        self.slots.leave(self.seq);
        let permit = match first {
            Poll::Ready(permit) => permit,
            Poll::Pending => acquire.await,
        };
        let permit = permit.ok()?;
        self.slots.taken.fetch_add(1, Ordering::SeqCst);
        Some(Slot {
            slots: &self.slots,
            permit: Some(permit),
        })
    }

    /// At the front of the line, or out of it already (an earlier `take` was cancelled).
    fn my_turn(&self) -> bool {
        let line = self.slots.line();
        line.waiting.front() == Some(&self.seq) || !line.waiting.contains(&self.seq)
    }
}

/// A place at the server; dropping it gives it back.
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
    permit: Option<SemaphorePermit<'a>>,
}

impl Slot<'_> {
    /// Gives the place back while its request waits off the server (refused at a limit
    /// `auto` was probing); [`Self::retake`] queues for one again.
    pub(crate) fn step_aside(&mut self) {
        if let Some(p) = self.permit.take() {
            self.slots.give_back(p);
        }
    }

    /// Takes a place again after [`Self::step_aside`], behind the segments already waiting
    /// for one. False only if the slots were closed (they never are while a run lives).
    pub(crate) async fn retake(&mut self) -> bool {
        if self.permit.is_none() {
            let Ok(permit) = self.slots.places.acquire().await else {
                return false;
            };
            self.slots.taken.fetch_add(1, Ordering::SeqCst);
            self.permit = Some(permit);
        }
        true
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            self.slots.give_back(p);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.slots.leave(self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn slots_go_in_ticket_order_and_a_dropped_ticket_lets_the_next_through() {
        let slots = Slots::new(1);
        let (a, b, c) = (slots.ticket(), slots.ticket(), slots.ticket());
        // c asks first but waits behind a and b.
        let c_task = tokio::spawn(async move {
            let _slot = c.take().await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!c_task.is_finished(), "c overtook a and b");
        assert_eq!(slots.in_use(), 0);
        let a_slot = a.take().await.expect("a's turn");
        assert_eq!(slots.in_use(), 1);
        drop(b); // b never needed a slot (no valid records)
        drop(a_slot);
        tokio::time::timeout(Duration::from_secs(5), c_task)
            .await
            .expect("c went after a, with b gone")
            .unwrap();
        assert_eq!(slots.in_use(), 0);
    }

    #[tokio::test]
    async fn at_most_size_slots_at_once() {
        let slots = Slots::new(2);
        let tickets: Vec<_> = (0..3).map(|_| slots.ticket()).collect();
        let first = tickets[0].take().await.unwrap();
        let _second = tickets[1].take().await.unwrap();
        assert_eq!(slots.in_use(), 2);
        let third = tokio::time::timeout(Duration::from_millis(50), tickets[2].take()).await;
        assert!(third.is_err(), "a third slot was handed out");
        drop(first);
        assert!(tickets[2].take().await.is_some());
    }

    #[tokio::test]
    async fn a_cut_waits_for_holders_and_a_raise_lets_more_in() {
        let slots = Slots::new(3);
        let tickets: Vec<_> = (0..6).map(|_| slots.ticket()).collect();
        let a = tickets[0].take().await.unwrap();
        let b = tickets[1].take().await.unwrap();
        slots.resize(1);
        assert_eq!((slots.size(), slots.in_use()), (1, 2));
        drop(a);
        let c = tokio::time::timeout(Duration::from_millis(50), tickets[2].take()).await;
        assert!(c.is_err(), "a place was handed out above the cut");
        drop(b);
        let c = tickets[2].take().await.unwrap();
        assert_eq!(slots.in_use(), 1);
        slots.resize(3);
        let d = tickets[3].take().await.unwrap();
        let _e = tickets[4].take().await.unwrap();
        assert_eq!(slots.in_use(), 3);
        let f = tokio::time::timeout(Duration::from_millis(50), tickets[5].take()).await;
        assert!(f.is_err(), "more than three places");
        drop((c, d));
    }

    #[tokio::test]
    async fn a_slot_stepping_aside_lets_another_in_and_queues_behind_it() {
        let slots = Slots::new(1);
        let tickets: Vec<_> = (0..2).map(|_| slots.ticket()).collect();
        let mut a = tickets[0].take().await.unwrap();
        a.step_aside();
        assert_eq!(slots.in_use(), 0);
        let b = tickets[1].take().await.expect("the place a gave up");
        let back = tokio::time::timeout(Duration::from_millis(50), a.retake()).await;
        assert!(back.is_err(), "a took a second place");
        drop(b);
        assert!(a.retake().await);
        assert_eq!(slots.in_use(), 1);
        drop(a);
        assert_eq!(slots.in_use(), 0);
    }
}
