// The official WorkOS Node SDK (@workos-inc/node, pinned in package.json)
// against Rollcall, configured only with where Rollcall listens. Run by
// test_workos_sdk.py: node workos_sdk.mjs '<json>' with
// {url, key, org, directory, group, user}; prints one JSON object of what the
// SDK returned, which the test asserts on. Every loop is bounded.
import { WorkOS } from '@workos-inc/node';

const input = JSON.parse(process.argv[2]);
const url = new URL(input.url);
const settings = { apiHostname: url.hostname, port: Number(url.port), https: false };
const workos = new WorkOS(input.key, settings);
const MAX_PAGES = 20;

// Follows listMetadata.after by hand; returns each page's items.
async function pages(fetch) {
  const out = [];
  let after;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await fetch(after);
    out.push(page.data);
    after = page.listMetadata.after;
    if (!after) return out;
  }
  throw new Error(`more than ${MAX_PAGES} pages`);
}

async function error(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return { name: e.name, status: e.status, message: e.message };
  }
}

const ds = workos.directorySync;
const out = {};

const dirs = await ds.listDirectories({ organizationId: input.org });
out.directories = dirs.data.map((d) => ({ id: d.id, organizationId: d.organizationId, name: d.name, state: d.state, type: d.type }));
out.directoriesAfter = dirs.listMetadata.after ?? null;
const dir = await ds.getDirectory(input.directory);
out.directory = { id: dir.id, organizationId: dir.organizationId, name: dir.name, state: dir.state, type: dir.type };

out.userPages = (await pages((after) => ds.listUsers({ directory: input.directory, limit: 2, order: 'asc', after })))
  .map((p) => p.map((u) => u.id));
// The SDK's own auto-pagination (no limit: it asks 100 at a time, newest first).
out.usersAuto = (await (await ds.listUsers({ directory: input.directory })).autoPagination()).map((u) => u.id);
out.groupUserPages = (await pages((after) => ds.listUsers({ group: input.group, limit: 2, order: 'asc', after })))
  .map((p) => p.map((u) => u.id));

const user = await ds.getUser(input.user);
out.user = {
  id: user.id, directoryId: user.directoryId, organizationId: user.organizationId, idpId: user.idpId,
  email: user.email, firstName: user.firstName, lastName: user.lastName, state: user.state,
  customAttributes: user.customAttributes, groups: user.groups.map((g) => g.id),
};

out.directoryGroups = (await ds.listGroups({ directory: input.directory, order: 'asc' })).data
  .map((g) => ({ id: g.id, name: g.name, idpId: g.idpId }));
out.userGroups = (await ds.listGroups({ user: input.user, order: 'asc' })).data.map((g) => g.id);
const group = await ds.getGroup(input.group);
out.group = { id: group.id, name: group.name, idpId: group.idpId, directoryId: group.directoryId };

const created = (after, limit = 2) => workos.events.listEvents({
  events: ['dsync.user.created'], organizationId: input.org, order: 'asc', limit, after,
});
const eventPages = await pages((after) => created(after));
out.eventPages = eventPages.map((p) => p.map((e) => ({ id: e.id, event: e.event, userId: e.data.id, idpId: e.data.idpId })));
const second = eventPages.flat()[1];
out.eventsResumed = (await created(second.id, 10)).data.map((e) => e.id);

out.notFound = {
  user: await error(() => ds.getUser(input.user.replace(/_[0-9a-f]+$/, '_' + '0'.repeat(32)))),
  directory: await error(() => ds.getDirectory('nothing_here')),
  group: await error(() => ds.getGroup('nothing_here')),
};
// The set-up portal: a link through the SDK's portal module.
const portal = await workos.adminPortal.generateLink({ intent: 'dsync', organization: input.org });
out.portalLink = portal.link;
out.portalBadIntent = await error(() => workos.adminPortal.generateLink({ intent: 'sso', organization: input.org }));

out.wrongKey = await error(() => new WorkOS('sk_test_wrong', settings).directorySync.listDirectories({ organizationId: input.org }));

process.stdout.write(JSON.stringify(out));
