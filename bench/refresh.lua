-- wrk: refresh-token grants, one rotating chain per thread (run with as many threads as connections).
-- Each thread starts from line <id> of BENCH_TOKENS and always presents the token its last answer gave.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    i = i + 1
    if i == id then token = line end
  end
  client_id = os.getenv("BENCH_CLIENT")
end

function request()
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    token = body:match('"refresh_token":"([^"]+)"') or token
  end
end
