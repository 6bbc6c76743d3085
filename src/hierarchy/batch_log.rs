//! [`BatchLog`]: the batches a writer applied while a fold runs, queued in chunks so
//! that queuing one, or handing all of them from one thread to another, never copies
//! the ones before.

use std::collections::VecDeque;

use crate::mutation::Mutation;

/// Batches a chunk holds.
const CHUNK: usize = 1024;

/// Batches in the order they were applied: a queue of chunks of at most [`CHUNK`].
///
/// **How.** A batch is pushed into the last chunk, or into a new one (allocated
/// for [`CHUNK`] batches) when the last is full, so a push never moves what is queued.
/// A vector that doubled copied every batch queued so far at each doubling, on the
/// writer's path and, when the fold thread took the log over, under the writer's
/// lock. Appending one log to another moves its chunks, not its batches.
#[derive(Debug, Default)]
pub(super) struct BatchLog {
    chunks: VecDeque<VecDeque<Vec<Mutation>>>,
    len: usize,
}

impl BatchLog {
    /// Queues `batch` last.
    pub(super) fn push_back(&mut self, batch: Vec<Mutation>) {
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

    /// Queues every batch of `other` after these, moving its chunks.
    pub(super) fn append(&mut self, other: BatchLog) {
        self.len += other.len;
        self.chunks.extend(other.chunks);
    }

    /// How many batches are queued.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether none is.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Iterator for BatchLog {
    type Item = Vec<Mutation>;

    /// Takes the first batch queued.
    fn next(&mut self) -> Option<Vec<Mutation>> {
        loop {
            let first = self.chunks.front_mut()?;
            match first.pop_front() {
                Some(batch) => {
                    self.len -= 1;
                    return Some(batch);
                }
                None => {
                    self.chunks.pop_front();
                }
            }
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
            assert_eq!(log.next(), model.pop_front());
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
        assert!(!log.is_empty());
        let rest: Vec<_> = log.by_ref().collect();
        assert_eq!(rest, Vec::from(model));
        assert!(log.is_empty());
        assert_eq!(log.next(), None);
    }
}
