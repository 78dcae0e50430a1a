// The set-up steps per identity provider, in our own words (sources: the
// vendors' guides in shared/docs/idp-guides and docs/IDP-QUIRKS.md).
// {SCIM_URL}, {TOKEN_URL} and the names in «» are filled in by app.js.
"use strict";
window.ROLLCALL_GUIDES = {
  okta: {
    name: "Okta",
    oauth: false,
    where: "Okta Admin Console",
    steps: [
      "In the Okta Admin Console, open Applications → Applications and choose your application (for an app you made yourself, first set Provisioning to «SCIM» on its General tab and save).",
      "Open the Provisioning tab → Integration → Edit.",
      "SCIM connector base URL: paste «SCIM base URL». Unique identifier field for users: userName.",
      "Supported provisioning actions: tick Push New Users, Push Profile Updates and Push Groups (and Import New Users and Profile Updates if you want Okta to read users back).",
      "Authentication Mode: HTTP Header. Authorization: paste «bearer token».",
      "Click Test Connector Configuration: Okta lists users and groups here; you will see its requests appear on the Status tab. Then Save.",
      "Provisioning → To App → Edit: enable Create Users, Update User Attributes and Deactivate Users. Save.",
      "Assign people or groups on the Assignments tab. To send groups and their members, add them on the Push Groups tab.",
    ],
    gaps: [
      "Okta never deletes a user: unassigning one deactivates it (the application sees the user become inactive).",
      "Assigning a group to the app sends its people, not the group: a group and its memberships arrive only through Push Groups.",
      "If Okta is set to sync passwords it sends them; Rollcall never stores, logs or returns a password.",
    ],
  },
  entra_id: {
    name: "Microsoft Entra ID",
    oauth: true,
    where: "Microsoft Entra admin center",
    steps: [
      "In the Microsoft Entra admin center, open Enterprise applications → New application → Create your own application, choose «Integrate any other application you don't find in the gallery (Non-gallery)», and create it (or open the application you already use for single sign-on).",
      "Open Provisioning → Get started (or Connect your application) and set Provisioning Mode to Automatic.",
      "Tenant URL: paste «SCIM base URL».",
      "Secret Token: paste «bearer token». (Or choose the OAuth 2.0 client credentials grant and use the token endpoint, client id and client secret below.)",
      "Click Test Connection: Entra looks up a random user name and must get an empty answer; you will see the request on the Status tab. Save.",
      "Under Mappings, keep userName mapped (userPrincipalName or mail) and set Scope to «Sync only assigned users and groups».",
      "Assign users and groups under Users and groups, then set Provisioning Status to On and save. Use Provision on demand to send one user at once.",
    ],
    gaps: [
      "Entra ID provisions in cycles of about 40 minutes: changes arrive on the next cycle, not at once (Provision on demand sends one user now).",
      "Disabling a user sends it as inactive; Entra deletes it only after its 30-day soft delete.",
      "A failed request is retried on a later cycle; the Status tab shows what failed and why.",
    ],
  },
  cyberark: {
    name: "CyberArk Identity",
    oauth: false,
    where: "CyberArk Identity Admin Portal",
    steps: [
      "In the CyberArk Identity Admin Portal, open Apps & Widgets → Web Apps and choose your application's SAML app (set up single sign-on first if you have not).",
      "Open the Provisioning tab and tick «Enable provisioning for this application»; confirm with Yes.",
      "SCIM Service URL: paste «SCIM base URL». Bearer Token: paste «bearer token». Click Verify.",
      "Once verified, clear «Do not de-provision (deactivate or delete) users in target application», so that removed users are deactivated here.",
      "Under Role Mappings click Add: choose a role and type a destination group name; every user in that role becomes a member of that group here. Click Done, then Save.",
      "Open Settings → Users → Outbound Provisioning and, under Synchronizations, start a sync (or schedule one).",
    ],
    gaps: [
      "Users reach the application only through roles: each mapped role becomes a group.",
      "When a role is removed from the app, CyberArk sends nothing: its members keep access here. Remove the users from the role first and sync, then remove the role.",
      "The application can close that gap with pull reconciliation, which reads CyberArk's own SCIM API on a schedule: in Apps & Widgets → Web Apps add an «OAuth2 Client» app, allow the Client Credentials grant for a service user, add a scope whose REST regex is «scim*», and give the application its token endpoint (your tenant's /oauth2/token/<app id>), client id, secret and scope.",
      "Updates and deactivations arrive as whole replacements (PUT), not as partial changes.",
    ],
  },
  pingfederate: {
    name: "PingFederate",
    oauth: true,
    where: "PingFederate administrative console",
    steps: [
      "Install and deploy PingFederate's SCIM Connector, and enable provisioning, as PingFederate's documentation describes.",
      "In the administrative console open Applications → SP Connections → Create Connection; choose «Use a template for this connection» → SCIM Connector. Next.",
      "Connection Type: keep Outbound Provisioning checked. General Info: give the connection a name. Next.",
      "Outbound Provisioning → Configure Provisioning. On the Target page: SCIM URL: paste «SCIM base URL»; SCIM Version: 2.0; Authentication Method: OAuth 2 Bearer Token; Access Token: paste «bearer token».",
      "Users are matched on userName by default; matching on emails (an «emails eq» filter) also works here.",
      "Manage Channels → Create: name the channel, choose the active data store, the source location (base DN and group or filter) and the attribute mapping.",
      "On Activation & Summary set Channel Status to Active, then turn provisioning on and Save. PingFederate starts sending within a few minutes.",
    ],
    gaps: [
      "Removing a user from the source disables it by default (the application sees it inactive); the connector can be set to delete instead.",
      "Updates come as PATCH, or as PUT when «supports patch» is cleared; both work.",
      "Provisioning starts a few minutes after activation, not at once.",
    ],
  },
  onelogin: {
    name: "OneLogin",
    oauth: false,
    where: "OneLogin administration",
    steps: [
      "In OneLogin administration open Applications → Add App and choose «SCIM Provisioner with SAML (SCIM v2 Enterprise)» (or open your application).",
      "On the Configuration tab: SCIM Base URL: paste «SCIM base URL»; SCIM Bearer Token: paste «bearer token». Under API Connection click Enable.",
      "On the Provisioning tab tick Enable provisioning, and choose what deleting or suspending a user does (Delete or Suspend). Save.",
      "Clear «Require admin approval before this action is performed» for create, delete and update, or approve each change in the provisioning queue.",
      "On the Parameters tab, include Groups in provisioning if the application needs them. Assign users (by role or one by one).",
    ],
    gaps: [
      "OneLogin sends some values as text (\"true\" for active); Rollcall reads them correctly.",
      "With admin approval left on, nothing is sent until someone approves it in OneLogin.",
    ],
  },
  jumpcloud: {
    name: "JumpCloud",
    oauth: false,
    where: "JumpCloud Admin Portal",
    steps: [
      "In the JumpCloud Admin Portal open SSO Applications and choose your application (or add a custom SAML application).",
      "Open the Identity Management tab and choose SCIM 2.0.",
      "Base URL: paste «SCIM base URL». Token Key: paste «bearer token».",
      "Click Test Connection, then Activate, then Save.",
      "On the User Groups tab, bind the groups whose members should reach the application.",
    ],
    gaps: [
      "Test Connection creates a test user and a test group and deletes them at once: the application sees them come and go.",
      "A group that already exists here with the same name is adopted, not duplicated.",
    ],
  },
  rippling: {
    name: "Rippling",
    oauth: false,
    where: "Rippling",
    steps: [
      "In Rippling, open the App Shop and install your application (or its custom SCIM app).",
      "When Rippling asks for the SCIM details: SCIM base URL: paste «SCIM base URL»; bearer token (API key): paste «bearer token».",
      "Choose who gets access (rules or groups) and which groups to push, and finish the install. Rippling starts sending at once.",
    ],
    gaps: [
      "Depending on the app's settings, Rippling may use the work email as userName, and send group changes as PATCH or PUT; both work.",
    ],
  },
  generic: {
    name: "Another SCIM 2.0 provider",
    oauth: true,
    where: "your identity provider",
    steps: [
      "In your identity provider, add a SCIM 2.0 (outbound provisioning) connection for your application.",
      "SCIM base URL (also called endpoint or tenant URL): paste «SCIM base URL».",
      "Authentication: «Authorization: Bearer» with «bearer token», or OAuth 2.0 client credentials with the token endpoint, client id and client secret below.",
      "Match users on userName (externalId and emails filters also work), turn provisioning on, and assign users and groups.",
    ],
    gaps: [
      "Rollcall accepts SCIM 2.0 (RFC 7643/7644): filters, paging, PATCH in the forms real IdPs send, and /Users, /Groups and the discovery endpoints.",
    ],
  },
};
