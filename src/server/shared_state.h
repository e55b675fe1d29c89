// Counters shared by the master, its workers and the metrics responder
// through one anonymous MAP_SHARED mapping: how many workers exist and how
// many are busy (/health, /metrics), each process's heartbeat for the
// master's watchdog, and the metrics of every request (metrics.h).
#pragma once

#include <atomic>
#include <cstdint>

#include "server/metrics.h"

namespace pyexec::server {

inline constexpr int kMaxWorkers = 256;
// Slots: the workers', then one for the metrics responder.
inline constexpr int kMaxSlots = kMaxWorkers + 1;

struct SharedState {
    std::atomic<int> total{0};
    std::atomic<int> busy[kMaxSlots];  // per slot, 0 or 1
    // Per slot: the process's last heartbeat (common/heartbeat.h), CLOCK_MONOTONIC ms.
    std::atomic<int64_t> heartbeatMs[kMaxSlots];
    MetricsTable metrics;
    int busyCount() const {
        int n = 0;
        for (const auto& b : busy) n += b.load(std::memory_order_relaxed);
        return n;
    }
};

// Maps a zeroed SharedState visible to every process forked afterwards.
SharedState* mapSharedState();

}  // namespace pyexec::server
