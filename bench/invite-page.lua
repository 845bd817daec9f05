-- GET /invite/{token} on the client's host, cycling through the seeded tokens.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end
local next_token = math.random(#tokens)
wrk.headers["Host"] = os.getenv("HOST_HEADER")

request = function()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", "/invite/" .. tokens[next_token])
end
