# libFuzzer harnesses (tests/fuzz/fuzz_*.cc), built with clang, AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer into $(BUILD)/fuzz. Included by the
# Makefile: `make fuzz` fuzzes, `make test` replays the corpora.

FUZZ_CXX     ?= clang++-14
FUZZ_SECONDS ?= 180
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_NAMES   := request records seccomp
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fsanitize-recover=pointer-overflow -fno-omit-frame-pointer
FUZZ_FLAGS   := -std=c++20 -O1 -g -Wall -Wextra -Werror -Isrc $(FUZZ_SAN)
# What the harnesses reach: the protocol module (and the logging it uses) and
# the seccomp compiler. Nothing that forks, mounts or applies a filter.
FUZZ_LIB_SRCS := $(wildcard src/protocol/*.cc) src/common/clock.cc src/common/log.cc src/sandbox/seccomp.cc \
                 src/sandbox/seccomp_json.cc
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.cc=$(FUZZ_BUILD)/obj/%.o)
# Kept between builds (make would delete them as intermediates of the pattern rules).
.SECONDARY: $(FUZZ_LIB_OBJS)

.PHONY: fuzz fuzz-build
fuzz-build: deps
	@$(MAKE) --no-print-directory -j$$(nproc) $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(BUILD) tests/fuzz/run.sh $(FUZZ_NAMES)

# Coverage instrumentation (fuzzer-no-link) for the code under test as well.
$(FUZZ_BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.cc tests/fuzz/fuzz_check.h $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -MMD -MP $< $(FUZZ_LIB_OBJS) -o $@ -lseccomp

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_BINS:=.d)
