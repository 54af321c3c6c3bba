require("./lib/app").listen(3000)
