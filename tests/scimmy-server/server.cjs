// A minimal SCIM 2.0 application built on SCIMMY and scimmy-routers (npm, pinned in
// package-lock.json): SCIMMY parses and validates requests, applies PATCH operations, evaluates
// filters and shapes responses; this file only keeps users and groups in memory, as the
// application behind those libraries would keep them in its database. The adsync interop tests
// start it (src/scim/tests/scimmy.rs): `node server.cjs PORT`, bearer token in SCIMMY_TOKEN.
"use strict";

const crypto = require("node:crypto");
const express = require("express");
const SCIMMY = require("scimmy");
const SCIMMYRouters = require("scimmy-routers").default ?? require("scimmy-routers");

const port = Number.parseInt(process.argv[2] ?? "", 10);
const token = process.env.SCIMMY_TOKEN;
if (!Number.isInteger(port) || !token) {
    console.error("usage: SCIMMY_TOKEN=... node server.cjs PORT");
    process.exit(2);
}

// What the service provider advertises. SCIMMY implements filters, PATCH and /Bulk itself; it has
// no ETag support, so none is claimed.
SCIMMY.Config.set({
    documentationUri: "https://scimmyjs.github.io",
    patch: true,
    filter: {supported: true, maxResults: 200},
    bulk: {supported: true, maxOperations: 100, maxPayloadSize: 1048576},
    sort: false,
    changePassword: false,
    etag: false,
});

const users = new Map();
const groups = new Map();
const now = () => new Date().toISOString();
const plain = (value) => JSON.parse(JSON.stringify(value));
const notFound = (kind, id) => new SCIMMY.Types.Error(404, null, `${kind} ${id} not found`);

// RFC 7643 makes userName, emails and displayName case-insensitive (caseExact false), but
// SCIMMY's Filter.match compares strings exactly. Like a database with a case-insensitive
// collation on those columns, the application compares them in lower case.
const CASELESS = new Set(["username", "displayname", "emails.value", "members.display"]);
const fold = (value) => (typeof value === "string" ? value.toLowerCase() : value);

function foldView(resource, prefix = "") {
    if (Array.isArray(resource)) return resource.map((item) => foldView(item, prefix));
    if (resource === null || typeof resource !== "object") return resource;
    return Object.fromEntries(Object.entries(resource).map(([key, value]) => {
        const path = `${prefix}${key.toLowerCase()}`;
        if (value !== null && typeof value === "object") return [key, foldView(value, `${path}.`)];
        return [key, CASELESS.has(path) ? fold(value) : value];
    }));
}

function foldFilter(expression, prefix = "") {
    if (Array.isArray(expression)) {
        // [comparator, expected] or ["not", comparator, expected], or a list of those.
        if (expression.every(Array.isArray)) return expression.map((e) => foldFilter(e, prefix));
        if (expression.some((e) => e !== null && typeof e === "object")) {
            return expression.map((e) => foldFilter(e, prefix));
        }
        const path = prefix.replace(/\.$/, "");
        return CASELESS.has(path) ? expression.map((e, i) => (i === expression.length - 1 ? fold(e) : e)) : expression;
    }
    if (expression === null || typeof expression !== "object") return expression;
    return Object.fromEntries(Object.entries(expression).map(([key, value]) =>
        [key, foldFilter(value, `${prefix}${key.toLowerCase()}.`)]));
}

function matching(filter, resources) {
    if (!filter) return resources;
    const folded = new SCIMMY.Types.Filter([...filter].map((e) => foldFilter(e)));
    const hits = new Set(folded.match(resources.map((r) => foldView(r))).map((r) => r.id));
    return resources.filter((r) => hits.has(r.id));
}

// A user as the API returns it: `groups` is derived from the groups' members, as RFC 7643
// describes it (read-only, kept by the service provider).
function userView(user) {
    const memberOf = [...groups.values()]
        .filter((g) => (g.members ?? []).some((m) => m.value === user.id))
        .map((g) => ({value: g.id, display: g.displayName, type: "direct"}));
    return {...user, groups: memberOf};
}

// The enterprise extension carries department and employeeNumber (adsync maps both).
SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false))
    .egress(async (resource) => {
        if (resource.id) {
            const user = users.get(resource.id);
            if (!user) throw notFound("User", resource.id);
            return userView(user);
        }
        return matching(resource.filter, [...users.values()].map(userView));
    })
    .ingress(async (resource, instance) => {
        const data = plain(instance);
        delete data.groups;
        const existing = resource.id ? users.get(resource.id) : undefined;
        if (resource.id && !existing) throw notFound("User", resource.id);
        const clash = [...users.values()].find((u) =>
            u.id !== resource.id && fold(u.userName) === fold(data.userName));
        if (clash) {
            throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} is already taken`);
        }
        const id = resource.id ?? crypto.randomUUID();
        const stamp = now();
        const user = {
            ...data,
            id,
            meta: {resourceType: "User", created: existing?.meta.created ?? stamp, lastModified: stamp},
        };
        users.set(id, user);
        return userView(user);
    })
    .degress(async (resource) => {
        if (!users.delete(resource.id)) throw notFound("User", resource.id);
        // Deleting a user takes it out of every group, as a foreign key would.
        for (const group of groups.values()) {
            group.members = (group.members ?? []).filter((m) => m.value !== resource.id);
        }
    });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress(async (resource) => {
        if (resource.id) {
            const group = groups.get(resource.id);
            if (!group) throw notFound("Group", resource.id);
            return group;
        }
        return matching(resource.filter, [...groups.values()]);
    })
    .ingress(async (resource, instance) => {
        const data = plain(instance);
        const existing = resource.id ? groups.get(resource.id) : undefined;
        if (resource.id && !existing) throw notFound("Group", resource.id);
        // Members must exist, and each is a member once (a membership table's unique key).
        const members = new Map();
        for (const member of data.members ?? []) {
            const user = users.get(member.value);
            if (!user) {
                throw new SCIMMY.Types.Error(400, "invalidValue", `member ${member.value} is not a known user`);
            }
            // A display the client wrote is kept (RFC 7643 §8.7.1 makes it writable).
            members.set(member.value, {
                ...member,
                display: member.display ?? user.displayName ?? user.userName,
                type: member.type ?? "User",
            });
        }
        const id = resource.id ?? crypto.randomUUID();
        const stamp = now();
        const group = {
            ...data,
            id,
            members: [...members.values()],
            meta: {resourceType: "Group", created: existing?.meta.created ?? stamp, lastModified: stamp},
        };
        groups.set(id, group);
        return group;
    })
    .degress(async (resource) => {
        if (!groups.delete(resource.id)) throw notFound("Group", resource.id);
    });

const app = express();
// SCIMMY 1.3.5 applies `attributes`/`excludedAttributes` to the copy of the resource a PATCH
// starts from, not only to the answer (RFC 7644 §3.9), so `PATCH …?excludedAttributes=members`
// would write the group back without its members. adsync sends exactly that on group PATCHes
// (to keep answers small), so an application on SCIMMY must drop the two parameters on PATCH, as
// this one does; docs/scim-interop.md says more.
app.use((request, response, next) => {
    if (request.method === "PATCH") {
        delete request.query.attributes;
        delete request.query.excludedAttributes;
    }
    next();
});
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    docUri: "https://scimmyjs.github.io",
    handler: (request) => {
        const given = request.header("Authorization") ?? "";
        const expected = `Bearer ${token}`;
        const same = given.length === expected.length
            && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
        if (!same) throw new Error("The bearer token is missing or wrong");
        return "adsync";
    },
}));
app.listen(port, "127.0.0.1", () => console.log(`SCIMMY server on http://127.0.0.1:${port}/scim/v2`));
