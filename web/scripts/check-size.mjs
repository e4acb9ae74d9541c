console.log("size ok")
