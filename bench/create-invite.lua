-- POST /api/invites as a signed-in MSP admin, a distinct email each time.
-- BEARER is the admin's API token, TENANT_ID the client the invites are for, RUN a run id
-- that keeps emails distinct across runs on one database; SEND_EMAIL=true asks for each
-- link to be e-mailed.
local run = os.getenv("RUN")
local send_email = os.getenv("SEND_EMAIL") or "false"
local tenant = os.getenv("TENANT_ID")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
wrk.headers["Content-Type"] = "application/json"

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
end

local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"email": "new-%s-%d-%d@bench.example.com", "role_id": 4, "tenant_id": %s, "send_email": %s}',
    run, id, counter, tenant, send_email)
  return wrk.format(nil, "/api/invites", nil, body)
end
