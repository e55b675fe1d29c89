#include "common/heartbeat.h"

#include "common/clock.h"

namespace pyexec::heartbeat {
namespace {
std::atomic<int64_t>* gSlot = nullptr;
}  // namespace

void attach(std::atomic<int64_t>* slot) {
    gSlot = slot;
    beat();
}

void beat() {
    if (gSlot != nullptr) gSlot->store(static_cast<int64_t>(clock::monotonicMs()), std::memory_order_relaxed);
}

}  // namespace pyexec::heartbeat
