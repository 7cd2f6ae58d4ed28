-- wrk (bench/refresh.py, bench/peers): refresh-token grants, one rotating chain per thread (as many threads as connections).
-- Thread <id> starts from line <id> of BENCH_TOKENS and always presents the token its last answer gave;
-- BENCH_FORM holds the rest of the form (grant_type, client_id, client_secret), already encoded.
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
  form = os.getenv("BENCH_FORM")
end

function request()
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    form .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    token = body:match('"refresh_token":%s*"([^"]+)"') or token
  end
end
