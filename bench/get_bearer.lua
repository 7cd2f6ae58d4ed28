-- wrk: GET with the bearer token read from BENCH_TOKEN.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
