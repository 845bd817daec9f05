-- The Django peer's invite creation: the signed-in admin POSTs django-invitations' SendInvite
-- form (/invitations/send-invite/) with a distinct email each time, as a browser would:
-- form-encoded, session and CSRF cookies (COOKIE), the CSRF token in csrfmiddlewaretoken
-- (CSRF), and an Origin matching the target (Django checks it when present).
--
-- SendInvite answers 200 whether or not it created the invitation (a refused email re-renders
-- the form with an error), so each response is checked for django-invitations' success
-- message "... has been invited"; a 302 (to the login page) means the session is not valid.
-- done() prints "send-invite: N created, M failed"; the bench should require M = 0 and may
-- cross-check N against the rows added to invitations_invitation.
local cookie = os.getenv("COOKIE") or error("COOKIE is not set")
local csrf = os.getenv("CSRF") or error("CSRF is not set")
-- A run id keeps emails distinct across runs on the same database.
local run = os.getenv("RUN") or string.format("%x", os.time())

wrk.method = "POST"
wrk.headers["Cookie"] = cookie
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Origin"] = wrk.scheme .. "://" .. wrk.host .. (wrk.port and (":" .. wrk.port) or "")

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  threads[#threads + 1] = thread
end

local counter = 0
created = 0
failed = 0

function request()
  counter = counter + 1
  local email = string.format("wrk-%s-t%d-%d%%40bench.example.com", run, id, counter)
  return wrk.format(nil, "/invitations/send-invite/", nil,
    "email=" .. email .. "&csrfmiddlewaretoken=" .. csrf)
end

function response(status, headers, body)
  if status == 200 and body:find("has been invited", 1, true) then
    created = created + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("created")
    bad = bad + thread:get("failed")
  end
  io.write(string.format("send-invite: %d created, %d failed\n", ok, bad))
end
