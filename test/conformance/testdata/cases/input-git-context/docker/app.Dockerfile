# A git repository as the context (docker build URL#ref), -f naming a
# Dockerfile inside the repository. The checkout is taken whole: the
# .dockerignore is not applied (BuildKit filters only local directories),
# and .git is not part of it.
FROM busybox:conformance
COPY . /src/
RUN cat /src/app/main.txt > /seen; test ! -e /src/.git && echo no-git > /git-dir
