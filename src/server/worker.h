// A worker: accepts one FastCGI request at a time and answers it. The whole
// life of a request is handleRequest() in worker.cc.
#pragma once

#include "server/engine.h"
#include "server/shared_state.h"

namespace pyexec::server {

// Runs until SIGTERM (finishing the request in flight) or a fatal accept
// error. Worker process; never returns.
[[noreturn]] void workerMain(Engine& engine, int listenFd, SharedState* shared, int slot);

}  // namespace pyexec::server
