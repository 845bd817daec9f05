-- GET /invite/{token} on each invite's own client host, cycling through seeded links.
-- LINKS names a file of "slug token" lines; HOST_SUFFIX is appended to the slug
-- (".localhost:18100" makes the host acme.localhost:18100).
local links = {}
local suffix = os.getenv("HOST_SUFFIX")
for line in io.lines(os.getenv("LINKS")) do
  local slug, token = line:match("^(%S+) (%S+)$")
  if slug then
    links[#links + 1] = { path = "/invite/" .. token, headers = { Host = slug .. suffix } }
  end
end
local next_link = math.random(#links)

request = function()
  next_link = next_link % #links + 1
  local link = links[next_link]
  return wrk.format("GET", link.path, link.headers)
end
