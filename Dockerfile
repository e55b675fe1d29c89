# pyexec: nginx + pyexecd in one image. Both stages install from
# packages.txt, the same list `make deps` uses, so they cannot drift.
#
#   docker build -t pyexec .
#   docker run --rm -p 8080:8080 --cap-add SYS_ADMIN --cap-add SETPCAP \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --cgroupns=private pyexec
# (README "Docker" explains each flag and why not --privileged, and says what
# of this file has been run and what has not.)

FROM debian:bookworm-slim AS build
COPY packages.txt /src/packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(sed -e 's/#.*//' /src/packages.txt) \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
# The same `make install` as on a host: the binary and, beside it, the
# seccomp profile it finds on its own; the nginx site. No systemd here.
RUN make -C /src install DESTDIR=/staging PREFIX=/usr/local NGINXDIR=/etc/nginx \
 && rm -rf /staging/etc/systemd

FROM debian:bookworm-slim
COPY packages.txt /tmp/packages.txt
# Only the run section of the list (everything between "# run" and the next heading).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(sed -n '/^# run/,/^# /p' /tmp/packages.txt | sed -e 's/#.*//') \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt
COPY --from=build /staging/ /
COPY tools/docker-entrypoint.sh /usr/local/bin/pyexec-entrypoint
COPY nginx/container.conf /etc/nginx/nginx.conf
RUN sed -i 's|listen 127.0.0.1:8080;|listen 8080;|' /etc/nginx/pyexec.conf
EXPOSE 8080
# HEAD: the same sandboxed probe as GET, without a body.
HEALTHCHECK --interval=30s --timeout=15s --start-period=10s --retries=3 \
  CMD curl -fsS --head http://127.0.0.1:8080/health >/dev/null || exit 1
# tini is pid 1: it reaps orphans and forwards docker stop's SIGTERM to the
# entry point, which stops the container when nginx or pyexecd exits.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/pyexec-entrypoint"]
