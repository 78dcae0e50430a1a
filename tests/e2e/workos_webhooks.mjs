// The official WorkOS Node SDK's webhooks module against Rollcall, run by
// test_workos_sdk.py: node workos_webhooks.mjs '<json>' with {url, key,
// receiverUrl, delivery: {payload, sigHeader, secret}}. Manages an endpoint
// through the SDK (create, list, update, delete) and verifies a delivery
// Rollcall made with constructEvent; prints one JSON object of what it got.
import { WorkOS } from '@workos-inc/node';

const input = JSON.parse(process.argv[2]);
const url = new URL(input.url);
const workos = new WorkOS(input.key, { apiHostname: url.hostname, port: Number(url.port), https: false });
const out = {};

// null if the call succeeds, else the SDK's error.
const failure = (call) => call().then(() => null, (e) => ({ name: e.name, status: e.status, message: e.message }));

const made = await workos.webhooks.createWebhookEndpoint({ endpointUrl: input.receiverUrl, events: ['dsync.group.created'] });
out.created = { object: made.object, id: made.id, endpointUrl: made.endpointUrl, status: made.status, events: made.events,
  secretPrefix: made.secret.slice(0, 6), datesValid: !isNaN(made.createdAt) && !isNaN(made.updatedAt) };
const listed = await workos.webhooks.listWebhookEndpoints({ limit: 100 });
out.listed = listed.data.filter((e) => e.id === made.id).map((e) => ({ id: e.id, secret: e.secret, status: e.status }));
const updated = await workos.webhooks.updateWebhookEndpoint({ id: made.id, status: 'disabled', events: ['dsync.group.updated'] });
out.updated = { status: updated.status, events: updated.events, endpointUrl: updated.endpointUrl };
await workos.webhooks.deleteWebhookEndpoint({ id: made.id });
out.afterDelete = await failure(() => workos.webhooks.updateWebhookEndpoint({ id: made.id, status: 'enabled' }));

const { payload, sigHeader, secret } = input.delivery;
const event = await workos.webhooks.constructEvent({ payload: JSON.parse(payload), sigHeader, secret });
out.event = { id: event.id, event: event.event, userId: event.data.id, directoryId: event.data.directoryId };
// The raw body as a string verifies too; a changed body does not.
out.rawVerified = (await workos.webhooks.constructEvent({ payload, sigHeader, secret })).id;
out.tampered = await failure(() => workos.webhooks.constructEvent({ payload: payload.replace('"dsync.', '"dsynx.'), sigHeader, secret }));

process.stdout.write(JSON.stringify(out));
