// Counters shared by the master and its workers through one anonymous
// MAP_SHARED page: how many workers exist and how many are busy (/health),
// and each worker's heartbeat for the master's watchdog.
#pragma once

#include <atomic>
#include <cstdint>

namespace pyexec::server {

inline constexpr int kMaxWorkers = 256;

struct SharedState {
    std::atomic<int> total{0};
    std::atomic<int> busy[kMaxWorkers];  // per slot, 0 or 1
    // Per slot: the worker's last heartbeat (common/heartbeat.h), CLOCK_MONOTONIC ms.
    std::atomic<int64_t> heartbeatMs[kMaxWorkers];
    int busyCount() const {
        int n = 0;
        for (const auto& b : busy) n += b.load(std::memory_order_relaxed);
        return n;
    }
};

// Maps a zeroed SharedState visible to every process forked afterwards.
SharedState* mapSharedState();

}  // namespace pyexec::server
