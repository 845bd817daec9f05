-- The Django peer's invite page: GET /invitations/accept-invite/<key>/, cycling through the
-- keys seed.py wrote to the file named by KEYS. A valid key answers 200 (the page); a bad,
-- used or expired one 410, which wrk counts under "Non-2xx or 3xx responses".
local keys = {}
for line in io.lines(os.getenv("KEYS")) do
  keys[#keys + 1] = line
end
local next_key = math.random(#keys)

request = function()
  next_key = next_key % #keys + 1
  return wrk.format("GET", "/invitations/accept-invite/" .. keys[next_key] .. "/")
end
