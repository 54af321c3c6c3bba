console.log("hooks")
