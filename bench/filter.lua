-- filter.lua: the benchmark's peer to mod_pds, a mod_lua output filter that
-- does the same field filtering with lua-cjson.
--
--   LuaOutputFilter pds_lua_filter /path/to/bench/filter.lua output_filter
--   <Location /lua/>
--       SetEnv BENCH_RELEASE "name.given name.family dob"
--       SetOutputFilter pds_lua_filter
--       ProxyPass http://127.0.0.1:<backend>/api/citizens/
--   </Location>
--
-- It buffers the whole back-end body, decodes it, copies only the released
-- fields (dotted member paths; no "[*]") into a new table, encodes that and
-- sends it. Semantics follow lib/pds_filter.h for the paths it supports: an
-- absent member or a null on the way releases nothing; objects on the way
-- are created only when something below them is released. Anything
-- unexpected (status other than 200, not JSON, undecodable, top level not an
-- object, a path through a scalar) gives a 502 with an empty JSON object,
-- never the back end's body. It is a benchmark reference, not a gateway:
-- no identity, agreement or audit.

package.cpath = "/usr/lib/x86_64-linux-gnu/lua/5.3/?.so;" .. package.cpath
local cjson = require "cjson"

-- Compiled release list, cached per Lua state (LuaScope thread: per thread).
local cached_spec, cached_paths

local function compile(spec)
    local paths = {}
    for path in spec:gmatch("%S+") do
        local parts = {}
        for seg in path:gmatch("[^.]+") do
            parts[#parts + 1] = seg
        end
        paths[#paths + 1] = parts
    end
    return paths
end

-- Copies the released members of doc into a new table; nil, reason on a
-- path that crosses a value of the wrong kind.
local function release(doc, paths)
    local out = {}
    for _, parts in ipairs(paths) do
        local v = doc
        local n = #parts
        for i = 1, n do
            if v == cjson.null then v = nil; break end
            if type(v) ~= "table" then return nil, "unexpected-type" end
            v = v[parts[i]]
            if v == nil then break end
        end
        if v ~= nil then
            local t = out
            for i = 1, n - 1 do
                local child = t[parts[i]]
                if child == nil then
                    child = {}
                    t[parts[i]] = child
                end
                t = child
            end
            t[parts[n]] = v
        end
    end
    return out
end

function output_filter(r)
    local spec = r.subprocess_env["BENCH_RELEASE"] or ""
    if spec ~= cached_spec then
        cached_paths = compile(spec)
        cached_spec = spec
    end
    local paths = cached_paths
    local ok_status = (r.status == 200)
    local ctype = r.headers_out["Content-Type"] or ""
    local ok_type = (ctype:find("^application/json") ~= nil)

    -- The body changes length: the length the back end sent must go (httpd's
    -- content-length filter sets the right one, as all of the body and EOS
    -- reach it in one brigade). Validators describe the unfiltered body.
    r.headers_out["Content-Length"] = nil
    r.headers_out["ETag"] = nil
    r.headers_out["Last-Modified"] = nil
    coroutine.yield()

    local chunks = {}
    while bucket ~= nil do
        chunks[#chunks + 1] = bucket
        coroutine.yield()
    end

    local out
    if ok_status and ok_type then
        local decoded, doc = pcall(cjson.decode, table.concat(chunks))
        if decoded and type(doc) == "table" then
            out = release(doc, paths)
        end
    end
    if out == nil then
        r.status = 502
        r.content_type = "application/json"
        coroutine.yield("{}")
        return
    end
    coroutine.yield(cjson.encode(out))
end
