# what git cannot carry in the case directory: a .git directory and a
# node_modules tree (the case's own .gitignore names it)
mkdir -p .git node_modules/express
echo 'ref: refs/heads/main' > .git/HEAD
echo 'module.exports = {}' > node_modules/express/index.js
