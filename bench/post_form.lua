-- wrk: POST the client-credentials form read from BENCH_FORM.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_FORM")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
