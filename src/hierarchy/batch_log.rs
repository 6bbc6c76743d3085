//! [`BatchLog`]: the batches a writer applied while a fold runs, queued in chunks so
//! that queuing one, or handing all of them from one thread to another, never copies
//! the ones before; taken out by the mutation, so that a replay can stop inside a
//! large batch.

use std::collections::VecDeque;

use crate::mutation::Mutation;

/// Batches a chunk holds.
const CHUNK: usize = 1024;

/// Batches in the order they were applied: a queue of chunks of at most [`CHUNK`],
/// and how many mutations of the first one were already taken.
///
/// **How.** A batch is pushed into the last chunk, or into a new one (allocated
/// for [`CHUNK`] batches) when the last is full, so a push never moves what is queued.
/// A vector that doubled copied every batch queued so far at each doubling, on the
/// writer's path and, when the fold thread took the log over, under the writer's
/// lock. Appending one log to another moves its chunks, not its batches.
///
/// **Work.** What a replay costs is counted in mutations, not batches (a batch of
/// 100,000 mutations is not one unit of work), and an empty batch counts as one, since
/// replaying it still makes a version: [`work`](BatchLog::work) is that count for what
/// is queued. [`front`](BatchLog::front) hands out the first batch's next mutations up
/// to a budget and [`consume`](BatchLog::consume) takes them, so a replay bounded by
/// work stops inside a batch and the next one goes on from there.
#[derive(Debug, Default)]
pub(super) struct BatchLog {
    chunks: VecDeque<VecDeque<Vec<Mutation>>>,
    /// Batches queued, the first one counted until all of it is taken.
    len: usize,
    /// Work left: mutations queued (at least one a batch), less those taken.
    work: usize,
    /// Mutations of the first batch already taken.
    done: usize,
}

/// The work of replaying `batch` (or a part of one).
pub(super) fn work_of(batch: &[Mutation]) -> usize {
    batch.len().max(1)
}

impl BatchLog {
    /// Queues `batch` last.
    pub(super) fn push_back(&mut self, batch: Vec<Mutation>) {
        self.work += work_of(&batch);
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push_back(batch),
            _ => {
                let mut chunk = VecDeque::with_capacity(CHUNK);
                chunk.push_back(batch);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    /// Queues every batch of `other` after these, moving its chunks. `other` must have
    /// had nothing taken yet (a log the writer filled).
    pub(super) fn append(&mut self, other: BatchLog) {
        debug_assert_eq!(other.done, 0, "appended a log partly taken");
        self.len += other.len;
        self.work += other.work;
        self.chunks.extend(other.chunks);
    }

    /// How many batches are queued (one partly taken included).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether none is.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The work left (see the type's docs).
    pub(super) fn work(&self) -> usize {
        self.work
    }

    /// The first batch queued.
    fn first(&self) -> Option<&Vec<Mutation>> {
        self.chunks.iter().find_map(|c| c.front())
    }

    /// The first batch's next mutations, at most `budget` of them (at least one when
    /// any is left), and whether they are the last of it; `None` when nothing is
    /// queued. An empty batch is an empty slice that ends it.
    pub(super) fn front(&self, budget: usize) -> Option<(&[Mutation], bool)> {
        let rest = &self.first()?[self.done..];
        let k = rest.len().min(budget.max(1));
        Some((&rest[..k], k == rest.len()))
    }

    /// Takes the `k` mutations [`front`](BatchLog::front) handed out; the first batch
    /// leaves the queue once all of it is taken.
    pub(super) fn consume(&mut self, k: usize) {
        let Some(first) = self.first() else {
            return;
        };
        let (total, cost) = (first.len(), work_of(first));
        if self.done + k < total {
            self.done += k;
            self.work -= k;
            return;
        }
        self.work -= cost - self.done;
        self.done = 0;
        self.len -= 1;
        while let Some(chunk) = self.chunks.front_mut() {
            if chunk.pop_front().is_some() {
                if chunk.is_empty() {
                    self.chunks.pop_front();
                }
                break;
            }
            self.chunks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    fn batch(i: usize) -> Vec<Mutation> {
        vec![Mutation::Add(Record::new(i.to_string(), None::<&str>))]
    }

    /// Takes the first batch whole.
    fn pop(log: &mut BatchLog) -> Option<Vec<Mutation>> {
        let (part, ends) = log.front(usize::MAX)?;
        assert!(ends);
        let batch = part.to_vec();
        log.consume(batch.len());
        Some(batch)
    }

    #[test]
    fn batches_come_out_in_the_order_they_went_in_across_chunks_and_appends() {
        let mut model: VecDeque<Vec<Mutation>> = VecDeque::new();
        let mut log = BatchLog::default();
        let mut next = 0;
        let mut push = |log: &mut BatchLog, model: &mut VecDeque<Vec<Mutation>>| {
            log.push_back(batch(next));
            model.push_back(batch(next));
            next += 1;
        };
        for _ in 0..CHUNK + 3 {
            push(&mut log, &mut model);
        }
        // Take some out, so that the first chunk is part used.
        for _ in 0..5 {
            assert_eq!(pop(&mut log), model.pop_front());
        }
        // Append a log of its own, itself over a chunk, after a part-full chunk.
        let mut other = BatchLog::default();
        let mut other_model = VecDeque::new();
        for _ in 0..CHUNK + 1 {
            push(&mut other, &mut other_model);
        }
        log.append(other);
        model.extend(other_model);
        push(&mut log, &mut model);
        assert_eq!(log.len(), model.len());
        assert_eq!(log.work(), model.len(), "one mutation a batch");
        assert!(!log.is_empty());
        let rest: Vec<_> = std::iter::from_fn(|| pop(&mut log)).collect();
        assert_eq!(rest, Vec::from(model));
        assert!(log.is_empty());
        assert_eq!(log.work(), 0);
        assert_eq!(log.front(1), None);
    }

    #[test]
    fn work_counts_mutations_and_a_budget_stops_inside_a_batch() {
        let adds =
            |from: usize, n: usize| -> Vec<Mutation> { (from..from + n).flat_map(batch).collect() };
        let mut log = BatchLog::default();
        log.push_back(adds(0, 3));
        log.push_back(Vec::new());
        log.push_back(adds(3, 5));
        // Three mutations, an empty batch (one unit: it still makes a version), five.
        assert_eq!((log.len(), log.work()), (3, 9));

        let (part, ends) = log.front(2).unwrap();
        assert_eq!((part, ends), (&adds(0, 2)[..], false));
        log.consume(2);
        assert_eq!((log.len(), log.work()), (3, 7));

        // The rest of the first batch, however large the budget.
        let (part, ends) = log.front(100).unwrap();
        assert_eq!((part, ends), (&adds(2, 1)[..], true));
        log.consume(1);
        assert_eq!((log.len(), log.work()), (2, 6));

        // A budget of nothing still hands out something: the empty batch, whole.
        let (part, ends) = log.front(0).unwrap();
        assert_eq!((part.len(), ends), (0, true));
        log.consume(0);
        assert_eq!((log.len(), log.work()), (1, 5));

        let (part, ends) = log.front(0).unwrap();
        assert_eq!((part, ends), (&adds(3, 1)[..], false));
        log.consume(1);
        let (part, ends) = log.front(4).unwrap();
        assert_eq!((part, ends), (&adds(4, 4)[..], true));
        log.consume(4);
        assert!(log.is_empty());
        assert_eq!(log.work(), 0);
    }
}
