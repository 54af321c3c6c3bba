require("http").get("http://localhost:" + process.env.PORT + "/healthz", r => process.exit(r.statusCode === 200 ? 0 : 1))
