# A gzip-compressed tar context on stdin, -f naming a Dockerfile inside it.
FROM busybox:conformance
COPY src/ /app/
WORKDIR /app
RUN ls -1 > /listing
