//! Runs one invocation's webhook POSTs concurrently within a budget, fairly
//! across endpoints, so that no endpoint's attempt waits behind another
//! endpoint's timeout (issue 9).
//!
//! Workers allow six simultaneous outbound connections per invocation: at
//! most [`BUDGET`] POSTs are in flight, at most [`PER_ENDPOINT`] to one
//! endpoint, and free slots go to endpoints in turn. An endpoint whose POST
//! ended without an answer (a timeout, a refused connection) gets no more
//! POSTs in this invocation: its remaining jobs come back as `None`, to be
//! deferred without using an attempt.

use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;

/// POSTs in flight per invocation (the Workers limit on simultaneous
/// outbound connections).
pub const BUDGET: usize = 6;
/// POSTs in flight to one endpoint: two hung endpoints leave two slots for
/// every other endpoint.
pub const PER_ENDPOINT: usize = 2;

/// Runs `run(i)` for every job `i` (`lanes[i]` names its endpoint) and
/// returns the outputs in job order; `None` for a job skipped because its
/// endpoint `gave_up` earlier in this invocation.
pub async fn run_fair<T, F, Fut>(lanes: &[String], budget: usize, per_lane: usize, run: F, gave_up: impl Fn(&T) -> bool) -> Vec<Option<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T>,
{
    let mut waiting: BTreeMap<&str, VecDeque<usize>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, lane) in lanes.iter().enumerate() {
        let q = waiting.entry(lane.as_str()).or_default();
        if q.is_empty() && !order.contains(&lane.as_str()) {
            order.push(lane.as_str());
        }
        q.push_back(i);
    }
    let mut out: Vec<Option<T>> = lanes.iter().map(|_| None).collect();
    let mut in_flight: BTreeMap<&str, usize> = BTreeMap::new();
    let mut struggling: BTreeSet<&str> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    let mut turn = 0usize;
    loop {
        // Fill free slots, one job per endpoint per round.
        let mut progressed = true;
        while running.len() < budget.max(1) && progressed {
            progressed = false;
            for k in 0..order.len() {
                if running.len() >= budget.max(1) {
                    break;
                }
                let Some(&lane) = order.get((turn + k) % order.len()) else { continue };
                let busy = in_flight.get(lane).copied().unwrap_or(0);
                if struggling.contains(lane) || busy >= per_lane.max(1) {
                    continue;
                }
                if let Some(i) = waiting.get_mut(lane).and_then(VecDeque::pop_front) {
                    in_flight.insert(lane, busy + 1);
                    let fut = run(i);
                    running.push(async move { (i, lane, fut.await) });
                    progressed = true;
                }
            }
            turn = turn.wrapping_add(1);
        }
        let Some((i, lane, result)) = running.next().await else { break };
        if let Some(n) = in_flight.get_mut(lane) {
            *n = n.saturating_sub(1);
        }
        if gave_up(&result) {
            struggling.insert(lane);
        }
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(result);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::block_on;
    use std::cell::RefCell;

    fn lanes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_job_runs_once_and_results_keep_job_order() {
        let l = lanes(&["a", "b", "a", "c", "a"]);
        let out = block_on(run_fair(&l, 6, 2, |i| async move { i * 10 }, |_| false));
        assert_eq!(out, vec![Some(0), Some(10), Some(20), Some(30), Some(40)]);
    }

    #[test]
    fn the_first_round_gives_every_endpoint_a_slot_before_any_gets_a_second() {
        let started = RefCell::new(Vec::new());
        let l = lanes(&["hung", "hung", "hung", "hung", "ok", "ok", "other"]);
        block_on(run_fair(
            &l,
            3,
            2,
            |i| {
                started.borrow_mut().push(l[i].clone());
                async move { i }
            },
            |_| false,
        ));
        let s = started.borrow();
        assert_eq!(&s[..3], &["hung".to_string(), "ok".to_string(), "other".to_string()]);
        assert_eq!(s.len(), 7);
    }

    #[test]
    fn an_endpoint_that_gave_up_gets_no_more_posts_in_this_invocation() {
        let l = lanes(&["dead", "dead", "dead", "ok", "ok"]);
        // Each job answers whether it "timed out"; per-endpoint 1 so the
        // dead endpoint's jobs run one after another.
        let dead = l[0].clone();
        let out = block_on(run_fair(
            &l,
            6,
            1,
            |i| {
                let d = l[i] == dead;
                async move { d }
            },
            |timed_out| *timed_out,
        ));
        assert_eq!(out, vec![Some(true), None, None, Some(false), Some(false)]);
    }

    #[test]
    fn no_more_than_the_budget_runs_at_once() {
        use std::cell::Cell;
        use std::task::Poll;
        let live = Cell::new(0usize);
        let peak = Cell::new(0usize);
        let l = lanes(&["a", "b", "c", "d", "e", "f", "g", "h", "a", "b"]);
        block_on(run_fair(
            &l,
            6,
            2,
            |_| {
                live.set(live.get() + 1);
                peak.set(peak.get().max(live.get()));
                let mut yielded = false;
                let live = &live;
                std::future::poll_fn(move |cx| {
                    if yielded {
                        live.set(live.get() - 1);
                        Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
            },
            |_| false,
        ));
        assert_eq!(peak.get(), 6);
    }
}
