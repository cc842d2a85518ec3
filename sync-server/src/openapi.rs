//! `/v1/openapi.json`: the API described for client authors and tools such as Schemathesis,
//! which test the server against it. So it states the rules the handlers and `api::validation`
//! enforce (lengths, patterns, ranges, unknown fields refused) and every status an operation
//! can answer, each error with the JSON body every error carries. The limits in it are the
//! running server's ([`document`] takes them), so it never advertises a size the server
//! refuses. A unit test below checks its paths and methods against the router's own list.

use serde_json::{Map, Value, json};
use strideguard_proto::account::{MAX_DEVICE_NAME_CHARS, MAX_ITERATIONS, MAX_USERNAME_CHARS};
use strideguard_proto::wire::Limits;

/// Characters Rust's `str::trim` removes (Unicode `White_Space`), as a regex class body. The
/// server trims usernames and device names with it, so the patterns must use the same set
/// rather than `\s`, which differs between regex engines.
const WHITE_SPACE: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Control characters (`char::is_control`: category Cc), as a regex class body.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// Bidirectional controls and zero-width characters, refused in usernames because they make
/// two different names look alike.
const BIDI_AND_ZERO_WIDTH: &str =
    r"\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff";

/// Upper-case letters a pattern can name cheaply (ASCII and Latin-1); the rest of Unicode's
/// are in the username's description, since the server compares against `to_lowercase`.
const UPPER: &str = r"A-Z\u00c0-\u00d6\u00d8-\u00de";

/// A UUID as record ids must be written: lower-case hex, 8-4-4-4-12, so one record cannot
/// travel under two spellings of its id.
const CANONICAL_UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// The base64 alphabet (standard, not URL-safe), as a regex class.
const B64: &str = "[A-Za-z0-9+/]";

/// Up to this many bytes a base64 pattern bounds the length exactly. A pattern with a bounded
/// repetition in the tens of thousands (a 256 KiB payload) makes generators such as
/// Schemathesis take a minute and gigabytes for one operation, so past it the pattern leaves the
/// upper bound to `maxLength`, which admits up to two bytes more than `max`.
const EXACT_BASE64_BYTES: usize = 4096;

/// A pattern for what the server's base64 decoder (standard alphabet, padding required, no
/// stray bits in the last character) accepts as `min..=max` bytes. Byte lengths cannot be
/// stated with minLength/maxLength alone: 44 characters may hold 31, 32 or 33 bytes.
fn base64_pattern(min: usize, max: usize) -> String {
    // The last group by how many bytes it holds beyond whole groups of three.
    let tails = [
        "",
        "[A-Za-z0-9+/][AQgw]==",
        "[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=",
    ];
    let bounded = max <= EXACT_BASE64_BYTES;
    let mut alternatives = Vec::new();
    for (extra, tail) in tails.iter().enumerate() {
        if max < extra {
            continue;
        }
        let fewest = min.saturating_sub(extra).div_ceil(3);
        let most = (max - extra) / 3;
        if fewest > most {
            continue;
        }
        let groups = match (fewest, most) {
            (_, _) if !bounded => format!("(?:{B64}{{4}}){{{fewest},}}"),
            (0, 0) => String::new(),
            (a, b) if a == b => format!("(?:{B64}{{4}}){{{a}}}"),
            (a, b) => format!("(?:{B64}{{4}}){{{a},{b}}}"),
        };
        alternatives.push(format!("{groups}{tail}"));
    }
    if alternatives.is_empty() {
        // Nothing fits: a class no character is in.
        return r"^[^\s\S]$".to_string();
    }
    format!("^(?:{})$", alternatives.join("|"))
}

/// A base64 field of `min..=max` bytes. The pattern states it exactly, so there is no
/// `format: byte` beside it: generators draw from the format and would then throw away nearly
/// every value for missing the pattern.
fn bytes(min: usize, max: usize, description: &str) -> Value {
    json!({
        "type": "string",
        "minLength": min.div_ceil(3) * 4,
        "maxLength": max.div_ceil(3) * 4,
        "pattern": base64_pattern(min, max),
        "description": format!("{description} Standard base64, padded."),
    })
}

/// The username as the server accepts it at registration (`account::username_problem`).
fn username_schema() -> Value {
    let inner = format!("[^/{UPPER}{CONTROL}{BIDI_AND_ZERO_WIDTH}]");
    let edge = format!("[^/{UPPER}{CONTROL}{BIDI_AND_ZERO_WIDTH}{WHITE_SPACE}]");
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_USERNAME_CHARS,
        "pattern": format!("^{edge}(?:{inner}{{0,{}}}{edge})?$", MAX_USERNAME_CHARS - 2),
        "description": "The username as clients normalise it before deriving keys (trimmed, \
            lower case), compared in Unicode NFC: 1 to 64 characters, lower case (unchanged by \
            Unicode lower-casing, not only ASCII), without white space around it, and without \
            '/' (it is a path segment), control characters, bidirectional controls or \
            zero-width characters. The server refuses a name that breaks this rather than \
            changing it, since a changed name would not match the client's keys.",
    })
}

/// A device name (`account::device_name`): trimmed, then 1 to 100 characters, none a control
/// character. White space around it is allowed and dropped.
fn device_name_schema() -> Value {
    let inner = format!("[^{CONTROL}]");
    let edge = format!("[^{CONTROL}{WHITE_SPACE}]");
    json!({
        "type": "string",
        "pattern": format!(
            "^[{WHITE_SPACE}]*{edge}(?:{inner}{{0,{}}}{edge})?[{WHITE_SPACE}]*$",
            MAX_DEVICE_NAME_CHARS - 2
        ),
        "description": "Shown in the device list on every device (\"Anna's phone\"). Trimmed of \
            white space; then 1 to 100 characters without control characters.",
    })
}

/// An object body the server parses with `deny_unknown_fields`: any other field is a 400.
fn strict_object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// Headers some answers carry: when to retry, and how to authenticate.
fn headers_for(code: &str) -> Option<Value> {
    let retry = json!({ "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": true,
        "schema": { "type": "integer", "minimum": 0 } } });
    match code {
        "429" | "503" | "507" => Some(retry),
        "401" => Some(json!({ "WWW-Authenticate": {
            "description": "`Bearer`: the scheme the API authenticates with.",
            "required": true,
            "schema": { "type": "string", "pattern": "^Bearer" } } })),
        _ => None,
    }
}

/// An error answer: the JSON error body, with the headers its status carries.
fn error(code: &str, description: &str) -> Value {
    let mut r = json!({ "description": description, "content": json_content(schema_ref("Error")) });
    if let Some(h) = headers_for(code) {
        r["headers"] = h;
    }
    r
}

const BAD_BODY: &str = "`bad_request`: the body breaks a rule of its schema (the message names \
    the field), is not JSON, has data after the JSON value, or holds a field the schema does not \
    list.";
const UNAUTHORIZED: &str = "`unauthorized`: no bearer token, or one that is unknown, expired, \
    logged out, or of a revoked device or deleted account.";
const BODY_TOO_LARGE: &str = "`limit_exceeded`: the body is larger than `body_bytes` (`limit` \
    and `max` name the limit).";
const NOT_JSON: &str = "`unsupported_media_type`: the body is not sent as `application/json` (no \
    Content-Type, or another one), or is sent with a Content-Encoding other than `identity`.";
const BUSY: &str = "`unavailable`: the server is at its connection limit (`limit`: \
    `max_connections`), or too many pulls are waiting; retry after Retry-After.";
const SLOW_BODY: &str = "`request_timeout`: the body did not arrive within the body timeout.";
const DISK_FULL: &str = "`insufficient_storage`: the server's disk is full; nothing was written.";
const INTERNAL: &str = "`internal`: the server failed to store or read data.";
const REQUESTS: &str = "`rate_limited`: `requests_per_minute_per_user` is used up (`limit` and \
    `max` name it).";
const DEVICE_LIMIT: &str = "`device_limit`: the account already has `devices_per_account` \
    devices that are not revoked; revoke one first.";

/// One operation. `id`: its operationId, by which tools pick operations; `auth`: it needs a
/// bearer token; `body`: the request body's schema name; `ok`: the success status, its
/// description and its content; `errors`: every other status.
fn op(
    id: &str,
    summary: &str,
    auth: bool,
    body: Option<&str>,
    ok: (&str, &str, Value),
    errors: &[(&str, Value)],
) -> Value {
    let mut responses = Map::new();
    responses.insert(
        ok.0.to_string(),
        json!({ "description": ok.1, "content": ok.2 }),
    );
    for (code, response) in errors {
        responses.insert(code.to_string(), response.clone());
    }
    // Any request can meet the connection limit.
    responses.entry("503").or_insert_with(|| error("503", BUSY));
    let mut o = json!({ "operationId": id, "summary": summary, "responses": responses });
    o["security"] = if auth {
        json!([{ "bearer": [] }])
    } else {
        json!([])
    };
    if let Some(schema) = body {
        o["requestBody"] = json!({
            "required": true,
            "description": "JSON (`Content-Type: application/json`, no Content-Encoding), \
                nothing after the value, at most `body_bytes`.",
            "content": json_content(schema_ref(schema)),
        });
    }
    o
}

/// `base` with `more` added; an entry of `more` replaces the one of `base` for its status.
fn merged(
    base: Vec<(&'static str, Value)>,
    more: &[(&'static str, Value)],
) -> Vec<(&'static str, Value)> {
    let mut all = base;
    for (code, r) in more {
        all.retain(|(c, _)| c != code);
        all.push((*code, r.clone()));
    }
    all
}

/// The errors of an operation that takes a body, besides its own.
fn body_errors(more: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let base = vec![
        ("400", error("400", BAD_BODY)),
        ("413", error("413", BODY_TOO_LARGE)),
        ("408", error("408", SLOW_BODY)),
        ("415", error("415", NOT_JSON)),
        ("500", error("500", INTERNAL)),
    ];
    merged(base, more)
}

/// The errors of an authenticated operation, besides its own.
fn authed_errors(more: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let base = vec![
        ("401", error("401", UNAUTHORIZED)),
        ("429", error("429", REQUESTS)),
        ("500", error("500", INTERNAL)),
    ];
    merged(base, more)
}

/// The `{user}` or `{id}` path parameter.
fn path_param(name: &str, description: &str) -> Value {
    json!([{ "name": name, "in": "path", "required": true, "description": description,
             "schema": { "type": "string", "minLength": 1 } }])
}

fn components(limits: &Limits) -> Value {
    let auth_key = |what: &str| bytes(32, 32, what);
    let wrapped_key = bytes(
        32,
        1024,
        "The account data key wrapped under the passphrase: 32 to 1024 bytes.",
    );
    let int64 = json!({ "type": "integer", "format": "int64" });
    let record_download = json!({
        "type": "object",
        "required": ["collection", "id", "seq", "deleted", "updated_at_ms", "payload"],
        "properties": {
            "collection": { "type": "string" },
            "id": { "type": "string" },
            "seq": { "type": "integer", "format": "int64", "minimum": 1 },
            "deleted": { "type": "boolean" },
            "updated_at_ms": int64,
            "payload": { "type": "string", "format": "byte" } } });
    let limit_fields = [
        "record_payload_bytes",
        "batch_records",
        "batch_bytes",
        "body_bytes",
        "page_records",
        "page_bytes",
        "quota_bytes",
        "logins_per_minute_per_user",
        "logins_per_minute_per_ip",
        "requests_per_minute_per_user",
        "min_kdf_iterations",
        "devices_per_account",
        "kdf_lookups_per_minute_per_ip",
    ];
    let limit_props: Map<String, Value> = limit_fields
        .iter()
        .map(|f| (f.to_string(), json!({ "type": "integer", "minimum": 0 })))
        .chain([(
            "wire_version".to_string(),
            json!({ "type": "integer", "minimum": 1, "maximum": 255,
                "description": "The newest records wire the server speaks: 1 JSON on \
                    `/v1/records`, 2 also frames on `/v2/records`. Absent: 1." }),
        )])
        .collect();
    let schemas: Map<String, Value> = [
        (
            "Error",
            json!({
                "type": "object",
                "required": ["error", "message"],
                "description": "Every error answer. `error` is a stable code (`bad_request`, \
                    `unauthorized`, `device_limit`, `not_found`, `method_not_allowed`, \
                    `username_taken`, `cursor_expired`, `limit_exceeded`, \
                    `unsupported_media_type`, `rate_limited`, `insufficient_storage`, \
                    `internal`), `message` a sentence for people.",
                "properties": {
                    "error": { "type": "string" },
                    "message": { "type": "string" },
                    "limit": { "type": "string", "description": "The limit broken (413, 429), \
                        as named in `GET /v1/limits`." },
                    "max": { "type": "integer", "minimum": 0, "description": "Its value." } } }),
        ),
        ("Username", username_schema()),
        ("DeviceName", device_name_schema()),
        (
            "Kdf",
            json!({
                "type": "object",
                "required": ["iterations"],
                "description": "PBKDF2-HMAC-SHA256 parameters for a new key. Fields the server \
                    does not know are ignored.",
                "properties": { "iterations": { "type": "integer",
                    "minimum": limits.min_kdf_iterations, "maximum": MAX_ITERATIONS,
                    "description": "At least the server's `min_kdf_iterations`." } } }),
        ),
        (
            "KdfParams",
            json!({
                "type": "object",
                "required": ["iterations"],
                "description": "An account's PBKDF2-HMAC-SHA256 parameters as stored (an account \
                    may predate a raised minimum).",
                "properties": { "iterations": { "type": "integer", "minimum": 0,
                    "maximum": MAX_ITERATIONS } } }),
        ),
        (
            "Register",
            strict_object(
                &["username", "auth_key", "kdf", "wrapped_key"],
                json!({
                    "username": schema_ref("Username"),
                    "auth_key":
                        auth_key("What the client derives to prove its passphrase: 32 bytes."),
                    "kdf": schema_ref("Kdf"),
                    "wrapped_key": wrapped_key }),
            ),
        ),
        (
            "DeleteAccount",
            strict_object(
                &["auth_key"],
                json!({
                    "auth_key": auth_key("Proves the passphrase, so a stolen token alone cannot \
                        delete an account: 32 bytes.") }),
            ),
        ),
        (
            "Login",
            strict_object(
                &["username", "auth_key", "device_name"],
                json!({
                    "username": { "type": "string", "description": "An account's username; any \
                        other string, valid or not, is a wrong username (401)." },
                    "auth_key": auth_key("32 bytes."),
                    "device_name": schema_ref("DeviceName") }),
            ),
        ),
        (
            "PutKeys",
            strict_object(
                &["old_auth_key", "new_auth_key", "kdf", "wrapped_key"],
                json!({
                    "old_auth_key": auth_key("Proves the current passphrase: 32 bytes."),
                    "new_auth_key": auth_key("Derived from the new passphrase: 32 bytes."),
                    "kdf": schema_ref("Kdf"),
                    "wrapped_key": bytes(32, 1024,
                        "The data key re-wrapped under the new passphrase: 32 to 1024 bytes."),
                    "sign_out_others": { "type": "boolean", "default": true,
                        "description": "End every other session of the account (its devices log \
                            in again with the new passphrase)." } }),
            ),
        ),
        (
            "RecordUpload",
            strict_object(
                &["collection", "id", "deleted", "payload"],
                json!({
                    "collection": { "type": "string", "pattern": "^[0-9a-f]{64}$",
                        "description": "The collection's tag: an HMAC-SHA256 in lower-case hex, \
                            so the server never learns collection names." },
                    "id": { "type": "string", "format": "uuid",
                        "pattern": CANONICAL_UUID,
                        "description": "A UUID in its canonical form: lower-case hex, \
                            8-4-4-4-12." },
                    "if_seq": { "type": "integer", "format": "int64", "nullable": true,
                        "description": "The sequence the writer last saw this record at (0: \
                            none); when the server holds the record at another sequence the \
                            batch answers 409. Absent or null: no check." },
                    "deleted": { "type": "boolean", "description": "A tombstone." },
                    "payload": bytes(1, limits.record_payload_bytes,
                        "The sealed record: 1 byte to `record_payload_bytes` (413 beyond).") }),
            ),
        ),
        (
            "PostRecords",
            strict_object(
                &["records"],
                json!({
                    "records": { "type": "array", "maxItems": limits.batch_records,
                        "items": schema_ref("RecordUpload"),
                        "description": "The batch: all land or none. At most `batch_records` \
                            records and `batch_bytes` payload bytes (413 beyond); a (collection, \
                            id) at most once (400). Re-sending a record the server holds \
                            unchanged is acknowledged as it is." } }),
            ),
        ),
        (
            "NewDevice",
            strict_object(&["name"], json!({ "name": schema_ref("DeviceName") })),
        ),
        (
            "Created",
            json!({ "type": "object", "required": ["username"],
                "properties": { "username": { "type": "string" } } }),
        ),
        (
            "Deleted",
            json!({ "type": "object", "required": ["deleted", "records", "devices"],
                "properties": { "deleted": { "type": "boolean", "enum": [true] },
                    "records": { "type": "integer", "minimum": 0 },
                    "devices": { "type": "integer", "minimum": 0 } } }),
        ),
        (
            "Empty",
            json!({ "type": "object", "description": "`{}` (fields may come later)." }),
        ),
        (
            "KdfResponse",
            json!({ "type": "object", "required": ["kdf"],
                "properties": { "kdf": schema_ref("KdfParams") } }),
        ),
        (
            "Session",
            json!({ "type": "object", "required": ["token", "device_id", "expires_at_ms"],
                "properties": {
                    "token": { "type": "string", "pattern": "^[0-9a-f]{64}$",
                        "description": "The bearer token: 256 random bits in hex." },
                    "device_id": { "type": "string", "format": "uuid" },
                    "expires_at_ms": int64 } }),
        ),
        (
            "Keys",
            json!({ "type": "object", "required": ["wrapped_key", "kdf"],
                "properties": { "wrapped_key": { "type": "string", "format": "byte" },
                    "kdf": schema_ref("KdfParams") } }),
        ),
        ("RecordDownload", record_download),
        (
            "RecordsPage",
            json!({ "type": "object", "required": ["records", "next", "done"],
                "properties": {
                    "records": { "type": "array", "items": schema_ref("RecordDownload") },
                    "next": { "type": "integer", "format": "int64", "minimum": 0,
                        "description": "The cursor for the next page (`since`)." },
                    "done": { "type": "boolean" } } }),
        ),
        (
            "Accepted",
            json!({ "type": "object", "required": ["accepted"],
                "properties": { "accepted": { "type": "array", "items": {
                    "type": "object", "required": ["collection", "id", "seq"],
                    "properties": { "collection": { "type": "string" }, "id": { "type": "string" },
                        "seq": { "type": "integer", "format": "int64", "minimum": 1 } } } } } }),
        ),
        (
            "Conflict",
            json!({ "type": "object", "required": ["error", "message", "current"],
                "properties": { "error": { "type": "string", "enum": ["conflict"] },
                    "message": { "type": "string" },
                    "current": { "type": "array", "items": schema_ref("RecordDownload"),
                        "description": "The records whose `if_seq` did not match, as the server \
                            holds them." } } }),
        ),
        (
            "Devices",
            json!({ "type": "object", "required": ["devices"],
                "properties": { "devices": { "type": "array", "items": {
                    "type": "object",
                    "required":
                    ["id", "name", "created_at_ms", "last_seen_ms", "revoked", "current"],
                    "properties": {
                        "id": { "type": "string", "format": "uuid" },
                        "name": { "type": "string" },
                        "created_at_ms": int64,
                        "last_seen_ms": { "type": "integer", "format": "int64", "nullable": true },
                        "revoked": { "type": "boolean" },
                        "current": { "type": "boolean",
                        "description": "The device of this request." } } } } } }),
        ),
        (
            "Limits",
            json!({ "type": "object", "required": limit_fields, "properties": limit_props,
                "description": "What this server allows: sizes in bytes, rates per minute, \
                    `devices_per_account` devices not revoked per account." }),
        ),
        (
            "Health",
            json!({ "type": "object", "required": ["status"],
                "properties": { "status": { "type": "string", "enum": ["ok"] } } }),
        ),
    ]
    .into_iter()
    .map(|(name, schema)| (name.to_string(), schema))
    .collect();
    json!({
        "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer",
            "description": "The token of `POST /v1/sessions` or `POST /v1/devices`." } },
        "schemas": schemas,
    })
}

/// A success answer with a JSON body of the schema `schema`.
fn ok<'a>(code: &'a str, description: &'a str, schema: &str) -> (&'a str, &'a str, Value) {
    (code, description, json_content(schema_ref(schema)))
}

/// The document, stating `limits` (the running server's).
pub fn document(limits: &Limits) -> Value {
    let e = error;
    let logins_ip = "`rate_limited`: `logins_per_minute_per_ip` is used up.";
    let logins = "`rate_limited`: `logins_per_minute_per_ip` is used up, or the username failed \
        `logins_per_minute_per_user` times this minute (a request that also carries a live session \
        of the account passes that back-off).";
    let proven = "`rate_limited`: `requests_per_minute_per_user`, or (this tries the auth key) \
        `logins_per_minute_per_ip` or `logins_per_minute_per_user` for this session, is used up.";
    let wrong_key = "`unauthorized`: no valid bearer token (as for every authenticated call), or \
        the auth key is wrong.";

    let mut kdf = op(
        "getKdf",
        "Key-derivation parameters for a username. A name without an account gets parameters \
         picked by an HMAC of the name under the server's secret from the spread real accounts \
         use (the same each time), so the answer does not tell who has one",
        false,
        None,
        ok("200", "The parameters.", "KdfResponse"),
        &[
            (
                "400",
                e(
                    "400",
                    "`bad_request`: the path segment is not UTF-8, or not a username in the \
                     form the apps send (lower case, NFC, no invisible characters).",
                ),
            ),
            (
                "429",
                e(
                    "429",
                    "`rate_limited`: `kdf_lookups_per_minute_per_ip` is used up.",
                ),
            ),
            ("500", e("500", INTERNAL)),
        ],
    );
    kdf["parameters"] = path_param(
        "user",
        "A username as the apps send it; names without an account get stand-in parameters.",
    );

    let mut records_get = op(
        "getRecords",
        "Records after a cursor, in server order; a page stops at `limit` records or \
         `page_bytes`, whichever comes first",
        true,
        None,
        ok("200", "A page of records.", "RecordsPage"),
        &authed_errors(&[
            (
                "400",
                e(
                    "400",
                    "`bad_request`: a query parameter is not a number in its range, or \
                     repeated.",
                ),
            ),
            (
                "410",
                e(
                    "410",
                    "`cursor_expired`: `since` is older than the tombstones the server \
                     keeps; resync from 0.",
                ),
            ),
        ]),
    );
    records_get["parameters"] = json!([
        { "name": "since", "in": "query", "description": "The `next` of the previous page; 0 (the \
            default) from the start.",
          "schema": { "type": "integer", "format": "int64", "minimum": 0, "default": 0 } },
        { "name": "limit", "in": "query", "description": "Most records in the page: 0 counts as \
            1, more than `page_records` (the default) as `page_records`.",
          "schema": { "type": "integer", "minimum": 0, "maximum": u64::MAX } },
        { "name": "collection", "in": "query", "description": "Only this collection's records. \
            A string that is not a tag matches none.",
          "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }
    ]);

    let mut revoke = op(
        "revokeDevice",
        "Revoke a device: its sessions end at once",
        true,
        None,
        ok("200", "Revoked (again, if it was).", "Empty"),
        &authed_errors(&[
            (
                "400",
                e(
                    "400",
                    "`bad_request`: the path segment is not UTF-8, or not a username in the \
                     form the apps send (lower case, NFC, no invisible characters).",
                ),
            ),
            (
                "404",
                e("404", "`not_found`: no such device on this account."),
            ),
            ("507", e("507", DISK_FULL)),
        ]),
    );
    revoke["parameters"] = path_param("id", "The device's `id` from `GET /v1/devices`.");

    let health = op(
        "health",
        "Liveness and storage check",
        false,
        None,
        ok("200", "Serving, and the storage answers.", "Health"),
        &[("500", e("500", INTERNAL))],
    );
    let metrics = op(
        "metrics",
        "Prometheus metrics",
        false,
        None,
        (
            "200",
            "The Prometheus text exposition format (0.0.4).",
            json!({ "text/plain": { "schema": { "type": "string" } } }),
        ),
        &[("500", e("500", INTERNAL))],
    );
    let openapi = op(
        "openapi",
        "This document",
        false,
        None,
        (
            "200",
            "OpenAPI 3.0.",
            json_content(json!({ "type": "object" })),
        ),
        &[],
    );
    let limits_op = op(
        "limits",
        "The server's limits",
        false,
        None,
        ok("200", "The limits.", "Limits"),
        &[],
    );
    let register = op(
        "register",
        "Register an account",
        false,
        Some("Register"),
        ok("201", "Registered.", "Created"),
        &body_errors(&[
            (
                "409",
                e("409", "`username_taken`: the username has an account."),
            ),
            ("429", e("429", logins_ip)),
            ("507", e("507", DISK_FULL)),
        ]),
    );
    let delete_account = op(
        "deleteAccount",
        "Delete the account for good: every record, device and session. The auth key must come \
         with the session",
        true,
        Some("DeleteAccount"),
        ok("200", "Deleted, with what went.", "Deleted"),
        &authed_errors(&body_errors(&[
            ("401", e("401", wrong_key)),
            ("429", e("429", proven)),
            ("507", e("507", DISK_FULL)),
        ])),
    );
    let login = op(
        "login",
        "Log in: a new device of the account, and a bearer token for it",
        false,
        Some("Login"),
        ok("201", "The session.", "Session"),
        &body_errors(&[
            (
                "401",
                e("401", "`unauthorized`: wrong username or auth key."),
            ),
            ("403", e("403", DEVICE_LIMIT)),
            ("429", e("429", logins)),
            ("507", e("507", DISK_FULL)),
        ]),
    );
    let logout = op(
        "logout",
        "Log out this session",
        true,
        None,
        ok("200", "Ended.", "Empty"),
        &authed_errors(&[("507", e("507", DISK_FULL))]),
    );
    let get_keys = op(
        "getKeys",
        "The wrapped data key and the account's KDF parameters",
        true,
        None,
        ok("200", "The keys.", "Keys"),
        &authed_errors(&[]),
    );
    let put_keys = op(
        "changePassphrase",
        "Change the passphrase: the re-wrapped data key and new auth key, guarded by the old \
         auth key",
        true,
        Some("PutKeys"),
        ok("200", "Changed.", "Empty"),
        &authed_errors(&body_errors(&[
            ("401", e("401", wrong_key)),
            ("429", e("429", proven)),
            ("507", e("507", DISK_FULL)),
        ])),
    );
    let conflict = json!({
        "description": "`conflict`: records changed since their writer saw them (`if_seq`); \
            nothing landed. Merge and retry.",
        "content": json_content(schema_ref("Conflict")),
    });
    let post_records = op(
        "postRecords",
        "Upload a batch atomically",
        true,
        Some("PostRecords"),
        ok("200", "Every record of the batch landed.", "Accepted"),
        &authed_errors(&body_errors(&[
            ("409", conflict),
            (
                "413",
                e(
                    "413",
                    "`limit_exceeded`: `body_bytes`, `batch_records`, `record_payload_bytes`, \
                     `batch_bytes` or the account's `quota_bytes` is broken (`limit` and `max` \
                     name it); nothing landed.",
                ),
            ),
            ("507", e("507", DISK_FULL)),
        ])),
    );
    // `/v2/records`: the same operations with frames bodies (strideguard_proto::frames).
    let frames_content = json!({
        strideguard_proto::frames::CONTENT_TYPE: {
            "schema": { "type": "string", "format": "binary" }
        }
    });
    let frames_layout = "Frames (`Content-Type: application/x-strideguard-frames`), \
        big-endian: `\"SGF2\"`, a kind byte (1 upload, 2 page, 3 conflict), a u32 frame \
        count, for a page the i64 `next` and a `done` byte (0 or 1), then per record a u32 \
        length, the frame, and a CRC-32 of the frame. An upload frame: a flags byte (1 \
        deleted, 2 `if_seq` given; `if_seq` is 0 without it), the i64 `if_seq`, the 32 bytes \
        of the collection tag, the 16 bytes of the id, the payload. A page's or a conflict's \
        frame: a flags byte (1 deleted), the i64 `seq`, the i64 `updated_at_ms`, the tag, the \
        id, the payload. The count must match the frames exactly. Errors are JSON.";
    let mut records_get_v2 = records_get.clone();
    records_get_v2["operationId"] = json!("getRecordsV2");
    records_get_v2["summary"] = json!(
        "Records after a cursor, as `getRecords` answers them, the payloads as bytes in frames"
    );
    records_get_v2["description"] = json!(frames_layout);
    records_get_v2["responses"]["200"] = json!({
        "description": "A page of records, as frames.",
        "content": frames_content.clone(),
    });
    let mut post_records_v2 = post_records.clone();
    post_records_v2["operationId"] = json!("postRecordsV2");
    post_records_v2["summary"] = json!("Upload a batch atomically, as frames");
    post_records_v2["description"] = json!(frames_layout);
    post_records_v2["responses"]["400"] = error(
        "400",
        "`bad_request`: the frames body is not sound (not frames, a checksum that fails, a \
         frame cut off, a count that does not match, unknown flags; the message names the \
         frame and the byte), or a record breaks a rule (an empty payload, one named twice).",
    );
    post_records_v2["responses"]["415"] = error(
        "415",
        "`unsupported_media_type`: the body is not sent as \
         `application/x-strideguard-frames` (no Content-Type, another type, or a \
         Content-Encoding).",
    );
    post_records_v2["requestBody"] = json!({
        "required": true,
        "description": "Frames, no Content-Encoding, at most `body_bytes`; at most \
            `batch_records` frames, each payload at most `record_payload_bytes` (413 beyond), \
            every checksum right and the count exact (400 otherwise, naming the frame and the \
            byte).",
        "content": frames_content.clone(),
    });
    post_records_v2["responses"]["409"] = json!({
        "description": "`conflict`: records changed since their writer saw them (`if_seq`); \
            nothing landed. The records as the server holds them, as frames (kind 3).",
        "content": frames_content,
    });
    let list_devices = op(
        "listDevices",
        "The account's devices, revoked ones too",
        true,
        None,
        ok("200", "The devices.", "Devices"),
        &authed_errors(&[]),
    );
    let add_device = op(
        "addDevice",
        "Register another device: a session for it",
        true,
        Some("NewDevice"),
        ok("201", "The new device's session.", "Session"),
        &authed_errors(&body_errors(&[
            ("403", e("403", DEVICE_LIMIT)),
            ("507", e("507", DISK_FULL)),
        ])),
    );

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Strideguard sync",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Stores and orders end-to-end encrypted records; the server never \
                sees plaintext or passphrases. Every error answer, on every status, is the JSON \
                `Error` body: a path the server does not serve answers 404 (`not_found`), a \
                method a path does not serve 405 (`method_not_allowed`, with `Allow`). The \
                limits in this document are this server's, also at `GET /v1/limits`."
        },
        "components": components(limits),
        "paths": {
            "/health": { "get": health },
            "/metrics": { "get": metrics },
            "/v1/openapi.json": { "get": openapi },
            "/v1/limits": { "get": limits_op },
            "/v1/accounts": { "post": register, "delete": delete_account },
            "/v1/accounts/{user}/kdf": { "get": kdf },
            "/v1/sessions": { "post": login, "delete": logout },
            "/v1/keys": { "get": get_keys, "put": put_keys },
            "/v1/records": { "get": records_get, "post": post_records },
            "/v2/records": { "get": records_get_v2, "post": post_records_v2 },
            "/v1/devices": { "get": list_devices, "post": add_device },
            "/v1/devices/{id}": { "delete": revoke }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use strideguard_proto::KdfParams;
    use strideguard_proto::wire::{
        DeleteAccountRequest, LoginRequest, NewDeviceRequest, PostRecordsRequest, PutKeysRequest,
        RecordUpload, RegisterRequest,
    };

    use super::*;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn doc() -> Value {
        document(&Limits::default())
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
                ops.push((path.clone(), method.clone(), op.clone()));
            }
        }
        ops
    }

    #[test]
    fn the_document_lists_exactly_the_routes_the_router_serves() {
        let routed: BTreeSet<(String, String)> = crate::api::endpoints()
            .into_iter()
            .map(|(p, m)| (p.to_string(), m))
            .collect();
        let documented: BTreeSet<(String, String)> = operations(&doc())
            .into_iter()
            .map(|(p, m, _)| (p, m))
            .collect();
        let ids: BTreeSet<String> = operations(&doc())
            .iter()
            .map(|(p, m, op)| {
                op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{m} {p} has no operationId"))
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), documented.len(), "operationIds are unique");
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routed but not documented: {missing:?}; documented but not routed: {extra:?}"
        );
        assert_eq!(
            routed.len(),
            crate::api::endpoints().len(),
            "a route is listed twice"
        );
    }

    /// Every operation says what it can answer: a body can be refused (400, 413, 415), a token
    /// too (401, and the rate limit 429), and every error carries the one error body.
    #[test]
    fn every_operation_documents_its_error_answers() {
        let doc = doc();
        for (path, method, op) in operations(&doc) {
            let at = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let has = |code: &str| responses.contains_key(code);
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "415"] {
                    assert!(has(code), "{at} takes a body but does not document {code}");
                }
            }
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert!(has("401") && has("429"), "{at}: 401 and 429");
            }
            if op.get("parameters").is_some_and(|p| {
                p.as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["in"] == "path" || p["in"] == "query")
            }) {
                assert!(has("400"), "{at} has parameters but no 400");
            }
            for (code, r) in responses {
                assert!(r["description"].is_string(), "{at} {code}");
                if code.starts_with('2') || (path.ends_with("/records") && code == "409") {
                    continue;
                }
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{at} {code}"
                );
                if ["429", "503", "507"].contains(&code.as_str()) {
                    assert!(r["headers"]["Retry-After"].is_object(), "{at} {code}");
                }
                if code == "401" {
                    assert!(r["headers"]["WWW-Authenticate"].is_object(), "{at} {code}");
                }
            }
        }
        let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
        assert!(metrics["text/plain"].is_object() && metrics["application/json"].is_null());
    }

    /// Every `$ref` names a schema that exists.
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, schemas: &Map<String, Value>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let name = r.strip_prefix("#/components/schemas/").unwrap();
                        assert!(schemas.contains_key(name), "{r}");
                    }
                    m.values().for_each(|v| walk(v, schemas));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, schemas)),
                _ => {}
            }
        }
        let doc = doc();
        walk(&doc, doc["components"]["schemas"].as_object().unwrap());
    }

    /// A request schema lists the wire type's fields, and says `additionalProperties: false`
    /// exactly when the server refuses a field it does not know.
    fn matches_wire_type<T: Serialize + DeserializeOwned>(
        name: &str,
        sample: &T,
        optional: &[&str],
    ) {
        let doc = doc();
        let schema = &doc["components"]["schemas"][name];
        let mut json = serde_json::to_value(sample).unwrap();
        let fields: BTreeSet<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let properties: BTreeSet<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .filter(|k| !optional.contains(k))
            .collect();
        assert_eq!(fields, properties, "{name}: the fields the wire type has");
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(required.is_subset(&fields), "{name}: {required:?}");
        json["surely_unknown"] = json!(1);
        let refused = serde_json::from_value::<T>(json).is_err();
        assert_eq!(
            schema["additionalProperties"] == json!(false),
            refused,
            "{name}: additionalProperties against deny_unknown_fields"
        );
    }

    #[test]
    fn request_schemas_match_the_wire_types() {
        let kdf = KdfParams::default();
        let key = vec![1u8; 32];
        matches_wire_type(
            "Register",
            &RegisterRequest {
                username: "anna".into(),
                auth_key: key.clone(),
                kdf,
                wrapped_key: key.clone(),
            },
            &[],
        );
        matches_wire_type(
            "DeleteAccount",
            &DeleteAccountRequest {
                auth_key: key.clone(),
            },
            &[],
        );
        matches_wire_type(
            "Login",
            &LoginRequest {
                username: "anna".into(),
                auth_key: key.clone(),
                device_name: "phone".into(),
            },
            &[],
        );
        matches_wire_type(
            "PutKeys",
            &PutKeysRequest {
                old_auth_key: key.clone(),
                new_auth_key: key.clone(),
                kdf,
                wrapped_key: key.clone(),
                sign_out_others: true,
            },
            &[],
        );
        matches_wire_type(
            "RecordUpload",
            &RecordUpload {
                collection: "a".repeat(64),
                id: "00000000-0000-4000-8000-000000000000".into(),
                if_seq: Some(1),
                deleted: false,
                payload: key.clone(),
            },
            &[],
        );
        matches_wire_type("PostRecords", &PostRecordsRequest { records: vec![] }, &[]);
        matches_wire_type(
            "NewDevice",
            &NewDeviceRequest {
                name: "phone".into(),
            },
            &[],
        );
        matches_wire_type("Kdf", &kdf, &[]);
    }

    #[test]
    fn the_document_states_the_running_servers_limits() {
        let limits = Limits {
            batch_records: 7,
            min_kdf_iterations: 1234,
            ..Limits::default()
        };
        let doc = document(&limits);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["PostRecords"]["properties"]["records"]["maxItems"],
            7
        );
        assert_eq!(schemas["Kdf"]["properties"]["iterations"]["minimum"], 1234);
    }

    #[test]
    fn base64_patterns_count_bytes() {
        assert_eq!(
            base64_pattern(32, 32),
            "^(?:(?:[A-Za-z0-9+/]{4}){10}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$"
        );
        assert_eq!(
            base64_pattern(1, 4),
            "^(?:(?:[A-Za-z0-9+/]{4}){1}|(?:[A-Za-z0-9+/]{4}){0,1}[A-Za-z0-9+/][AQgw]==\
             |[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$"
        );
        assert_eq!(base64_pattern(5, 4), r"^[^\s\S]$");
        assert_eq!(
            base64_pattern(1, 256 * 1024),
            "^(?:(?:[A-Za-z0-9+/]{4}){1,}|(?:[A-Za-z0-9+/]{4}){0,}[A-Za-z0-9+/][AQgw]==\
             |(?:[A-Za-z0-9+/]{4}){0,}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$"
        );
    }
}
