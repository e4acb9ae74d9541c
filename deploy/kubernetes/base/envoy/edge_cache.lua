-- The edge cache: public reads answered by Envoy itself (docs/adr/0026-public-reads-answered-at-the-edge.md).
--
-- Contract with the gateway: an answer may be kept only when it is a 200 to a GET that carries the
-- response header X-Mais-Edge-Ttl-Ms (the gateway adds it on the public reads it micro-caches); the header
-- is removed before any client sees it. An entry is keyed by the request's exact X-Tenant-Key, Origin and
-- path with query, so an answer is only ever served again to a request naming the same key from the same
-- origin for the same target (the gateway checked that key and origin when it made the answer). A request
-- without a tenant key, with several of them, or with anything over the size bounds is never looked up.
-- Nothing with Set-Cookie is kept. Every answer carries its own request's X-Request-ID.
--
-- Stale-while-refresh, per worker: a fresh entry is served; the first request in its last
-- REFRESH_AHEAD_MS (when the gateway's own entry, which ends at the same time, is still warm) goes to the
-- gateway to refill it while the others are served the entry; if it runs out before the refill is back,
-- the others are served the old answer for at most STALE_MS past its end; beyond that bound a request
-- goes to the gateway and waits like any miss. At most one request per entry and worker refills at a time. A refill that does
-- not come back as a keepable answer (a revoked key's 401, a 404, an error) drops the entry.
-- Lua state is per Envoy worker: every worker keeps its own bounded table; nothing is shared.

local TTL_HEADER = "x-mais-edge-ttl-ms"
local METADATA = "mais.edge"
local REFRESH_AHEAD_MS = 150   -- an answer asked for this close to its end is refilled by that request
local STALE_MS = 200           -- how long past its end an answer may be served while one refill runs
local REFILL_CLAIM_MS = 2000   -- a refill not back by then (its client went away) is given up
local MAX_TTL_MS = 5000        -- whatever the header says
local MAX_ENTRIES = 4096       -- per worker
local MAX_BYTES = 16 * 1048576 -- per worker, bodies summed
local MAX_BODY = 262144        -- larger answers are not kept
local MAX_KEY = 128
local MAX_ORIGIN = 256
local MAX_PATH = 2048

-- Response headers never kept (per request, per connection, or set by Envoy again on every answer).
local NOT_KEPT = {
  ["x-request-id"] = true, ["date"] = true, ["content-length"] = true, ["server"] = true,
  ["x-envoy-upstream-service-time"] = true, ["x-cache"] = true, ["connection"] = true,
  ["transfer-encoding"] = true, ["set-cookie"] = true, [TTL_HEADER] = true,
}

local entries = {}
local count = 0
local bytes = 0

local function drop(key)
  local entry = entries[key]
  if entry ~= nil then
    entries[key] = nil
    count = count - 1
    bytes = bytes - #entry.body
  end
end

-- Makes room for `size` more bytes and one more entry: first everything past its stale bound, then
-- the entries that run out soonest.
local function make_room(now, size)
  if count < MAX_ENTRIES and bytes + size <= MAX_BYTES then
    return
  end
  for key, entry in pairs(entries) do
    if entry.stale_until <= now then
      drop(key)
    end
  end
  while count > 0 and (count >= MAX_ENTRIES or bytes + size > MAX_BYTES) do
    local soonest, soonest_key = nil, nil
    for key, entry in pairs(entries) do
      if soonest == nil or entry.expires < soonest then
        soonest, soonest_key = entry.expires, key
      end
    end
    drop(soonest_key)
  end
end

-- The one value of a header, or nil when absent; false when it is repeated or too long.
local function single(headers, name, limit)
  local n = headers:getNumValues(name)
  if n == 0 then
    return nil
  end
  if n > 1 then
    return false
  end
  local value = headers:get(name)
  if #value > limit then
    return false
  end
  return value
end

local function serve(handle, entry, request_id, state)
  local headers = { [":status"] = "200" }
  for name, value in pairs(entry.headers) do
    headers[name] = value
  end
  headers["x-request-id"] = request_id
  headers["x-cache"] = state
  handle:streamInfo():dynamicMetadata():set(METADATA, "served", state)
  handle:respond(headers, entry.body)
end

function envoy_on_request(handle)
  local headers = handle:headers()
  if headers:get(":method") ~= "GET" then
    return
  end
  local tenant_key = single(headers, "x-tenant-key", MAX_KEY)
  if not tenant_key or tenant_key == "" then
    return
  end
  local origin = single(headers, "origin", MAX_ORIGIN)
  if origin == false then
    return
  end
  local path = headers:get(":path")
  if path == nil or #path > MAX_PATH then
    return
  end
  local key = tenant_key .. "\n" .. (origin or "") .. "\n" .. path
  local now = handle:timestamp()
  local entry = entries[key]
  if entry ~= nil then
    if now < entry.refresh_at or (now < entry.expires and now < entry.refilling_until) then
      serve(handle, entry, headers:get("x-request-id"), "hit")
      return
    end
    if now < entry.expires then
      -- Near its end: this request refills it while the gateway's own answer is still warm there.
      entry.refilling_until = now + REFILL_CLAIM_MS
      handle:streamInfo():dynamicMetadata():set(METADATA, "key", key)
      return
    end
    if now < entry.stale_until and now < entry.refilling_until then
      serve(handle, entry, headers:get("x-request-id"), "stale")
      return
    end
    if now >= entry.stale_until then
      drop(key)
    else
      entry.refilling_until = now + REFILL_CLAIM_MS -- this request refills; the others get it stale
    end
  end
  handle:streamInfo():dynamicMetadata():set(METADATA, "key", key)
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local ttl = headers:get(TTL_HEADER)
  if ttl ~= nil then
    headers:remove(TTL_HEADER)
  end
  local metadata = handle:streamInfo():dynamicMetadata():get(METADATA)
  if metadata == nil or metadata.key == nil then
    return
  end
  local key = metadata.key
  headers:replace("x-cache", "miss")
  local ttl_ms = tonumber(ttl)
  local length = tonumber(headers:get("content-length") or "")
  local content_type = headers:get("content-type") or ""
  if headers:get(":status") ~= "200" or ttl_ms == nil or ttl_ms < 1
    or headers:get("set-cookie") ~= nil or length == nil or length > MAX_BODY
    or content_type:find("application/json", 1, true) ~= 1 then
    drop(key)
    return
  end
  local kept = {}
  for name, value in pairs(headers) do
    if not NOT_KEPT[name] and name:sub(1, 1) ~= ":" then
      if kept[name] ~= nil then
        drop(key) -- a repeated response header: not worth keeping
        return
      end
      kept[name] = value
    end
  end
  local buffered = handle:body()
  local body = ""
  if buffered ~= nil then
    body = buffered:getBytes(0, buffered:length())
  end
  if #body ~= length then
    drop(key)
    return
  end
  local now = handle:timestamp()
  ttl_ms = math.min(ttl_ms, MAX_TTL_MS)
  drop(key)
  make_room(now, #body)
  -- An answer kept only briefly (the gateway's own entry was near its end, and is being reloaded there)
  -- is not refilled ahead: at its end the gateway has the new one.
  local refresh_at = now + ttl_ms
  if ttl_ms > 2 * REFRESH_AHEAD_MS then
    refresh_at = refresh_at - REFRESH_AHEAD_MS
  end
  entries[key] = {
    refresh_at = refresh_at,
    expires = now + ttl_ms,
    stale_until = now + ttl_ms + STALE_MS,
    refilling_until = 0,
    headers = kept,
    body = body,
  }
  count = count + 1
  bytes = bytes + #body
end
