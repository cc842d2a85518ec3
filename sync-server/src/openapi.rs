//! `/v1/openapi.json`: the API described for client authors and tools. Kept beside the router;
//! a test checks that every path and method here answers, and that nothing routed is missing.

use serde_json::{Value, json};

fn op(summary: &str, auth: bool, body: Option<&str>, ok: (&str, &str), errors: &[&str]) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert(
        ok.0.to_string(),
        json!({ "description": ok.1, "content": { "application/json": {} } }),
    );
    for code in errors {
        responses.insert(
            code.to_string(),
            json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    let mut o = json!({ "summary": summary, "responses": responses });
    if auth {
        o["security"] = json!([{ "bearer": [] }]);
    }
    if let Some(schema) = body {
        o["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    }
    o
}

/// Every (path, method) the server answers.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("/health", "get"),
    ("/metrics", "get"),
    ("/v1/openapi.json", "get"),
    ("/v1/limits", "get"),
    ("/v1/accounts", "post"),
    ("/v1/accounts", "delete"),
    ("/v1/accounts/{user}/kdf", "get"),
    ("/v1/sessions", "post"),
    ("/v1/sessions", "delete"),
    ("/v1/keys", "get"),
    ("/v1/keys", "put"),
    ("/v1/records", "get"),
    ("/v1/records", "post"),
    ("/v1/devices", "get"),
    ("/v1/devices", "post"),
    ("/v1/devices/{id}", "delete"),
];

pub fn document() -> Value {
    let limited = ["400", "401", "413", "429"];
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Strideguard sync",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Stores and orders end-to-end encrypted records. The server never sees plaintext or passphrases."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "message"], "properties": {
                    "error": { "type": "string" }, "message": { "type": "string" },
                    "limit": { "type": "string", "description": "the limit broken (413, 429)" },
                    "max": { "type": "integer" } } },
                "Register": { "type": "object", "required": ["username", "auth_key", "kdf", "wrapped_key"], "properties": {
                    "username": { "type": "string" }, "auth_key": { "type": "string", "format": "byte" },
                    "kdf": { "$ref": "#/components/schemas/Kdf" }, "wrapped_key": { "type": "string", "format": "byte" } } },
                "Kdf": { "type": "object", "required": ["iterations"], "properties": { "iterations": { "type": "integer" } } },
                "Login": { "type": "object", "required": ["username", "auth_key", "device_name"], "properties": {
                    "username": { "type": "string" }, "auth_key": { "type": "string", "format": "byte" }, "device_name": { "type": "string" } } },
                "PutKeys": { "type": "object", "required": ["old_auth_key", "new_auth_key", "kdf", "wrapped_key"], "properties": {
                    "old_auth_key": { "type": "string", "format": "byte" }, "new_auth_key": { "type": "string", "format": "byte" },
                    "kdf": { "$ref": "#/components/schemas/Kdf" }, "wrapped_key": { "type": "string", "format": "byte" } } },
                "Records": { "type": "object", "required": ["records"], "properties": { "records": { "type": "array", "items": {
                    "type": "object", "required": ["collection", "id", "deleted", "payload"], "properties": {
                        "collection": { "type": "string", "description": "HMAC tag of the collection" },
                        "id": { "type": "string", "format": "uuid" },
                        "if_seq": { "type": "integer", "description": "the sequence last seen; a mismatch answers 409" },
                        "deleted": { "type": "boolean" }, "payload": { "type": "string", "format": "byte" } } } } } },
                "DeleteAccount": { "type": "object", "required": ["auth_key"], "properties": {
                    "auth_key": { "type": "string", "format": "byte", "description": "proves the passphrase" } } },
                "NewDevice": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } }
            }
        },
        "paths": {
            "/health": { "get": op("Liveness and storage check", false, None, ("200", "ok"), &["500"]) },
            "/metrics": { "get": op("Prometheus metrics (text)", false, None, ("200", "metrics"), &[]) },
            "/v1/openapi.json": { "get": op("This document", false, None, ("200", "OpenAPI"), &[]) },
            "/v1/limits": { "get": op("The server's limits", false, None, ("200", "limits"), &[]) },
            "/v1/accounts": {
                "post": op("Register an account", false, Some("Register"), ("201", "created"), &["400", "409", "413", "429"]),
                "delete": op("Delete the account for good: every record, device and session (the auth key must come with the session)", true, Some("DeleteAccount"), ("200", "deleted"), &limited) },
            "/v1/accounts/{user}/kdf": { "get": {
                "summary": "Key-derivation parameters for a username (defaults for unknown names)",
                "parameters": [{ "name": "user", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "parameters" } } } },
            "/v1/sessions": {
                "post": op("Log in: a bearer token for a new device", false, Some("Login"), ("201", "session"), &limited),
                "delete": op("Log out this session", true, None, ("200", "ended"), &["401"]) },
            "/v1/keys": {
                "get": op("The wrapped data key and KDF parameters", true, None, ("200", "keys"), &["401"]),
                "put": op("Change the passphrase: re-wrapped key, guarded by the old auth key", true, Some("PutKeys"), ("200", "changed"), &limited) },
            "/v1/records": {
                "get": {
                    "summary": "Records after a cursor, in server order (a page stops at the limit or 10 MB)",
                    "security": [{ "bearer": [] }],
                    "parameters": [
                        { "name": "since", "in": "query", "schema": { "type": "integer" } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer" } },
                        { "name": "collection", "in": "query", "schema": { "type": "string" } }],
                    "responses": { "200": { "description": "records, next and done" },
                        "401": { "description": "error" }, "410": { "description": "cursor older than the kept tombstones: resync from 0" },
                        "429": { "description": "error" } } },
                "post": op("Upload a batch atomically (idempotent for identical records)", true, Some("Records"), ("200", "accepted"), &["400", "401", "409", "413", "429"]) },
            "/v1/devices": {
                "get": op("The account's devices", true, None, ("200", "devices"), &["401"]),
                "post": op("Register another device: a session for it", true, Some("NewDevice"), ("201", "session"), &["400", "401"]) },
            "/v1/devices/{id}": { "delete": {
                "summary": "Revoke a device: its sessions end",
                "security": [{ "bearer": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "revoked" }, "401": { "description": "error" }, "404": { "description": "not this account's" } } } }
        }
    })
}
