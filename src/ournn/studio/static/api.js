// Talking to the studio server (docs/studio.md): one small wrapper around fetch.
"use strict";

/** An answer the server refused (4xx/5xx), or a request that never got an answer. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.name = "ApiError";
    this.status = status;   // HTTP status, 0 when the server could not be reached
    this.field = field ?? null;
  }
}

/** A URL relative to the page, so the studio also works behind a path prefix. */
export function apiUrl(path) {
  return new URL(path.replace(/^\//, ""), document.baseURI).toString();
}

/**
 * Call the API. Options:
 *   json:        an object sent as the JSON body (method defaults to POST)
 *   body, type:  a raw body and its content type
 *   as:          "json" (default), "text" or "blob": how to read the answer
 * Throws ApiError with the server's {"error", "field"} message.
 */
export async function api(path, { method, json, body, type, as = "json" } = {}) {
  const init = { method: method || (json !== undefined || body !== undefined ? "POST" : "GET"),
                 headers: {}, credentials: "same-origin" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
    if (type) init.headers["Content-Type"] = type;
  }
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${init.method} ${path}): is ournn studio still running?`);
  }
  if (!response.ok) throw await errorOf(response, path);
  if (as === "text") return response.text();
  if (as === "blob") return response.blob();
  return response.json();
}

/** The ApiError for a failed response: the JSON {"error", "field"} when there is one. */
async function errorOf(response, path) {
  let message = `${response.status} ${response.statusText} (${path})`;
  let field = null;
  try {
    const data = await response.json();
    if (data && data.error) {
      message = data.error;
      field = data.field ?? null;
    }
  } catch (_) { /* not JSON: keep the status line */ }
  return new ApiError(response.status, message, field);
}
