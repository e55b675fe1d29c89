# pyexec: nginx + pyexecd in one image. Both stages install from
# packages.txt, the same list `make deps` uses, so they cannot drift.
#
#   docker build -t pyexec .
#   docker run --rm -p 8080:8080 --cap-add SYS_ADMIN --cap-add SETPCAP \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --cgroupns=private pyexec
# (README "Docker" explains each flag and why not --privileged.)

FROM debian:bookworm-slim AS build
COPY packages.txt /src/packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(sed -e 's/#.*//' /src/packages.txt) \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN make -C /src build

FROM debian:bookworm-slim
COPY packages.txt /tmp/packages.txt
# Only the run section of the list (everything between "# run" and the next heading).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(sed -n '/^# run/,/^# /p' /tmp/packages.txt | sed -e 's/#.*//') curl \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt
COPY --from=build /src/build/pyexecd /usr/local/bin/pyexecd
COPY seccomp-profiles /usr/share/pyexec/seccomp-profiles
COPY nginx/pyexec.conf /etc/nginx/pyexec.conf
COPY tools/docker-entrypoint.sh /usr/local/bin/pyexec-entrypoint
RUN sed -i 's|listen 127.0.0.1:8080;|listen 8080;|' /etc/nginx/pyexec.conf \
 && printf 'daemon off;\nuser www-data;\nworker_processes auto;\nerror_log stderr warn;\npid /run/nginx.pid;\nevents { worker_connections 1024; }\nhttp { access_log off; include /etc/nginx/pyexec.conf; }\n' > /etc/nginx/nginx.conf
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=15s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/pyexec-entrypoint"]
