// Package buildcheck checks a Dockerfile before it is built, as `docker
// build --check` does: BuildKit's own build checks (run by BuildKit's
// linter, under BuildKit's rule names, so that a Dockerfile passing one
// passes the other), and strata's size rules that predict waste and name the
// fix (apt-get install without --no-install-recommends or without removing
// the lists, later RUNs deleting what earlier ones added, chmod/chown after
// COPY, ADD of an archive then rm, pip/npm caches left, compilers in the final
// stage, COPY . without a .dockerignore).
//
// The `# check=skip=<rules>|all;error=true` directive applies to both sets:
// skipped rules are not reported, and with error=true any violation makes
// Result.Failed true, which fails the build.
package buildcheck
