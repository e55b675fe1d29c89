// A worker: accepts one FastCGI request at a time and answers it. The whole
// life of a request is handleRequest() in worker.cc. Also the metrics
// responder, the process that answers GET /metrics on a socket of its own.
#pragma once

#include "server/engine.h"
#include "server/shared_state.h"

namespace pyexec::server {

// Runs until SIGTERM (finishing the request in flight) or a fatal accept
// error. Worker process; never returns.
[[noreturn]] void workerMain(Engine& engine, int listenFd, SharedState* shared, int slot);

// The metrics responder (metrics.h): answers GET /metrics on its own socket
// from the shared table, one connection at a time, until SIGTERM. It never
// runs a sandbox, so it is never busy when a scrape comes. Its own process,
// in the slot after the workers'; never returns.
[[noreturn]] void metricsMain(const Settings& settings, int listenFd, SharedState* shared, int slot);

}  // namespace pyexec::server
