// The master process. Theory of operation:
//
//   master (root)  reads settings, compiles the seccomp profile, prepares the
//                  cgroup subtree (Engine::create), opens the FastCGI socket,
//                  and pre-forks N workers. It then only waits for signals
//                  (signalfd) and acts on them:
//                    SIGCHLD   reap; respawn a worker that died, with back-off
//                              when workers keep dying young
//                    SIGTERM/  stop accepting, let in-flight runs finish for
//                    SIGINT    up to the grace period, SIGKILL what remains,
//                              remove the socket and the cgroup subtree
//                    SIGHUP    re-read settings and the profile, then replace
//                              the workers one by one
//                  and, every 100 ms, the watchdog: a worker whose heartbeat
//                  (shared table) is older than --watchdog-ms is SIGKILLed and
//                  respawned. Workers die with the master (PR_SET_PDEATHSIG),
//                  their zygotes and sandboxes with them.
//   metrics        (root) one more child in the slot after the workers',
//   responder      respawned and watched like them: answers GET /metrics on
//                  --metrics-listen from the shared table (metrics.h), runs
//                  no sandbox, so a scrape never waits for a busy worker. The
//                  master counts worker restarts there (by reason).
//   worker (root)  one request at a time (worker.cc); each run's program lives
//                  in its own sandbox (sandbox/launcher.h) as its slot's uid
//                  (60000 + slot by default: no two concurrent runs share one).
#pragma once

#include <string>
#include <vector>

namespace pyexec::server {

// `pyexecd serve ARGS`: returns the process exit code.
int serve(const std::vector<std::string>& args);

}  // namespace pyexec::server
