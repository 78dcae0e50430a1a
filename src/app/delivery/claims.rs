//! The claim phase of a message: which endpoints it may POST to now and
//! which it defers (the claim batch itself, and why it claims each attempt
//! once, is [`crate::storage::webhooks::claims`]), and what a POST needs.

use super::{requeue, DeliveryOutcome, Handled, QueueMessage, Target};
use crate::app::Services;
use crate::events::envelope;
use crate::storage::webhooks::claims::{claim, ClaimRequest, ClaimedEndpoint};
use crate::storage::Db;
use crate::support::crypto::SecretBox;
use crate::support::time::{parse_rfc3339, Millis};

/// A message after its claim batch.
pub(super) enum Prepared {
    Finished(Handled),
    Ready { body: Vec<u8>, event_pos: i64, targets: Vec<Target>, handled: Handled },
}

/// The claim batch of one message: takes due probes, claims the attempts to
/// endpoints with a closed circuit, defers the others, and reads the event.
pub(super) async fn prepare<D: Db>(svc: &Services<'_, D>, msg: &QueueMessage) -> Prepared {
    if msg.due_ms > svc.now.0 {
        // A wait longer than the Queue's maximum delay, chained.
        return Prepared::Finished(Handled { send: vec![requeue(msg.clone(), Millis(msg.due_ms), svc.now)], ..Handled::acked() });
    }
    let token = svc.ids().make("delivery");
    let now = svc.now_text();
    let lease_seconds = i64::try_from(svc.cfg.webhook_timeout_ms / 1000).unwrap_or(30) + 5;
    let lease = svc.now.plus_seconds(lease_seconds).to_rfc3339();
    let req = ClaimRequest {
        event_id: &msg.event_id,
        endpoint_id: msg.endpoint_id.as_deref(),
        chain: msg.chain(),
        attempt: msg.attempt.max(1),
        token: &token,
        now: &now,
        lease: &lease,
    };
    // The message names an event, not its directory: with one data
    // database that is where the event is.
    let [data] = svc.data_all();
    let claim = match claim(svc.control(), data, &req).await {
        Ok(c) => c,
        Err(e) => return Prepared::Finished(Handled { error: Some(format!("claim: {e}")), ..Handled::default() }),
    };
    let Some(event) = claim.event else {
        // The event was never committed: nothing to deliver.
        return Prepared::Finished(Handled::acked());
    };
    let body = serde_json::to_vec(&envelope(&event)).unwrap_or_default();
    let mut handled = Handled::acked();
    let mut targets = Vec::new();
    for c in claim.targets {
        if c.deferred {
            let due = c.due_at.as_deref().and_then(parse_rfc3339).unwrap_or(svc.now);
            handled.send.push(requeue(QueueMessage { endpoint_id: Some(c.endpoint_id.clone()), due_ms: 0, ..msg.clone() }, due, svc.now));
            handled.outcomes.push(DeliveryOutcome::deferred(c.endpoint_id, msg));
        } else {
            targets.push(Target {
                secrets: secrets(svc, &c, svc.now),
                delivery_id: c.delivery_id,
                claim_token: token.clone(),
                endpoint_id: c.endpoint_id,
                url: c.url,
                probe: c.probe,
                circuit_opens: c.circuit_opens,
                failing_since: c.failing_since,
            });
        }
    }
    Prepared::Ready { body, event_pos: event.pos, targets, handled }
}

/// The live signing secrets of an endpoint: current, and the previous one
/// during a rotation's overlap.
fn secrets<D: Db>(svc: &Services<'_, D>, endpoint: &ClaimedEndpoint, at: Millis) -> Vec<String> {
    let boxed = SecretBox::new(&svc.cfg.encryption_key);
    let id = endpoint.endpoint_id.as_str();
    let open = |sealed: &Option<String>| sealed.as_deref().and_then(|s| boxed.open(s, id)).and_then(|b| String::from_utf8(b).ok());
    let mut out: Vec<String> = open(&endpoint.secret_sealed).into_iter().collect();
    let previous_live = endpoint.previous_secret_expires_at.as_deref().is_some_and(|t| t > at.to_rfc3339().as_str());
    if previous_live {
        out.extend(open(&endpoint.previous_secret_sealed));
    }
    out
}
