module.exports = require("http").createServer()
