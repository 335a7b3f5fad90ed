-- soak.lua: the wrk script of bench/soak.sh (wrk -s bench/soak.lua).
--
-- Cycles every wrk thread over a fixed mix of request targets, each with the
-- bearer token (SOAK_TOKEN in the environment) and a purpose:
--   ok        /ok/<id>/record        the normal record: 200, filtered
--   unknown   /ok/0000000000/record  the back end says 404: 404 not-found
--   deny      /ok/<id>/record        wrong purpose: 403, back end not called
--   slow      /slow/<id>/record      the back end waits 2 s, then answers
--   notjson   /notjson/<id>/record   garbage (text "hello"): 502
--   trailing  /trailing/<id>/record  JSON plus trailing garbage: 502
--   gzip      /gzip/<id>/record      a gzip body: 502
--   error500  /error500/<id>/record  a 500 with a stack trace and the record: 502
-- Only the first thread's connections ask for slow records: they are held by
-- the slow back end much of the time, while the other threads keep the rest
-- of the load going. Meanwhile bench/soak.sh kills, freezes and restarts the
-- back end.
--
-- response() samples every answer and counts, per thread:
--   status[<code>]  answers by status
--   not_problem     answers >= 400 whose body does not start with
--                   {"type":"urn:pds:problem:  (back-end bytes released on failure)
--   leaked_2xx      2xx answers that carry something the agreement does not
--                   release or a back-end header (phone, nhs_number, internal
--                   notes, Set-Cookie, X-Powered-By, X-Backend-Host, Via)
-- done() sums the threads and prints "soak-lua <name> <value>" lines that
-- bench/soak.sh reads.

local token = os.getenv("SOAK_TOKEN") or ""
local purpose = os.getenv("SOAK_PURPOSE") or "soak"

local subjects = { "9836900608", "9384937398", "5627995564", "2297511965",
                   "8636999065", "4773038799", "6598471516", "4017001114" }

-- One cycle of 40 requests: 27 normal, 1 slow (another normal one outside
-- the first thread), and 12 faults or denials.
local cycle = {
    "ok", "ok", "ok", "notjson", "ok", "ok", "ok", "trailing", "ok", "ok",
    "deny", "ok", "ok", "gzip", "ok", "ok", "error500", "ok", "ok", "unknown",
    "ok", "ok", "ok", "notjson", "ok", "ok", "slow", "trailing", "ok", "ok",
    "deny", "ok", "gzip", "ok", "ok", "error500", "ok", "ok", "unknown", "ok",
}

local prefix = '{"type":"urn:pds:problem:'
local leaks = { '"phone"', '"nhs_number"', '"internal"', '"notes"', '"email"',
                "LegacyCare", "care-db-01" }
local leak_headers = { "set-cookie", "x-powered-by", "x-backend-host", "via",
                       "etag", "last-modified" }

local n = 0
tid = 1
status = {}
not_problem = 0
leaked_2xx = 0
samples = {}

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

local auth = "Bearer " .. token

local function target(kind, id)
    if kind == "unknown" then return "/ok/0000000000/record" end
    if kind == "deny" then return "/ok/" .. id .. "/record" end
    return "/" .. kind .. "/" .. id .. "/record"
end

function request()
    n = n + 1
    local kind = cycle[(n - 1) % #cycle + 1]
    if kind == "slow" and tid ~= 1 then kind = "ok" end
    local id = subjects[math.floor((n - 1) / #cycle) % #subjects + 1]
    local p = (kind == "deny") and "marketing" or purpose
    -- wrk.format takes these headers instead of wrk.headers (Host is added).
    return wrk.format("GET", target(kind, id), { ["Authorization"] = auth, ["PDS-Purpose"] = p })
end

local function sample(code, body)
    if #samples < 3 then
        local text = body:sub(1, 120):gsub("%c", " ")
        table.insert(samples, code .. " " .. text)
    end
end

function response(code, headers, body)
    status[code] = (status[code] or 0) + 1
    body = body or ""
    if code >= 400 then
        if body:sub(1, #prefix) ~= prefix then
            not_problem = not_problem + 1
            sample(code, body)
        end
    elseif code >= 200 and code < 300 then
        local bad = false
        for _, s in ipairs(leaks) do
            if body:find(s, 1, true) then bad = true end
        end
        for name, _ in pairs(headers) do
            for _, h in ipairs(leak_headers) do
                if name:lower() == h then bad = true end
            end
        end
        if bad then
            leaked_2xx = leaked_2xx + 1
            sample(code, body)
        end
    end
end

function done(summary, latency, requests)
    local st, np, lk, smp = {}, 0, 0, {}
    for _, t in ipairs(threads) do
        for code, c in pairs(t:get("status") or {}) do
            st[code] = (st[code] or 0) + c
        end
        np = np + (t:get("not_problem") or 0)
        lk = lk + (t:get("leaked_2xx") or 0)
        for _, s in ipairs(t:get("samples") or {}) do table.insert(smp, s) end
    end
    local codes = {}
    for code, _ in pairs(st) do table.insert(codes, code) end
    table.sort(codes)
    for _, code in ipairs(codes) do
        io.write(string.format("soak-lua status %d %d\n", code, st[code]))
    end
    io.write(string.format("soak-lua not_problem %d\n", np))
    io.write(string.format("soak-lua leaked_2xx %d\n", lk))
    for _, s in ipairs(smp) do io.write("soak-lua sample " .. s .. "\n") end
end
