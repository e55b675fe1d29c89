# pyexec — build, run and test.
#   make run    installs what is missing, builds, serves on 127.0.0.1:$(PORT)
#   make test   installs, builds, runs every suite; ends with "N passed, N failed"
#   make bench  latency benchmarks through nginx, then the floor of a warm run
#   make bench-floor  only the floor (tests/bench/floor.py)
#   make install  the binary, seccomp profile, nginx site and systemd unit
#               (PREFIX=/usr/local, DESTDIR honoured)
#   make fuzz   libFuzzer on the parsers, FUZZ_SECONDS (180) each; corpora in tests/fuzz
#   make soak   SOAK_RUNS (1000) abusive and ordinary runs through nginx, then leak checks

PORT     ?= 8080
BUILD    ?= build
PYTHON   ?= /usr/bin/python3
CXX      ?= g++
# Settings added to `pyexecd serve` by `make run`, e.g. "--mode cold --workers 2".
PYEXECD_ARGS ?=
# make install: files under $(DESTDIR)$(PREFIX); the nginx site and the
# systemd unit where nginx and systemd look for a local administrator's.
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   := $(PREFIX)/bin
DATADIR  := $(PREFIX)/share/pyexec
NGINXDIR ?= /etc/nginx/sites-available
UNITDIR  ?= /etc/systemd/system

PY_CFLAGS := $(shell pkg-config --cflags python3-embed 2>/dev/null)
PY_LIBS   := $(shell pkg-config --libs python3-embed 2>/dev/null || echo -lpython3.11)
CXXFLAGS ?= -O2 -g
override CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -Isrc -I$(BUILD)/gen \
            -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection \
            -fPIE -MMD -MP
override LDFLAGS  += -pie -Wl,-z,relro,-z,now
override LDLIBS   += -lseccomp -lcap-ng -lfcgi $(PY_LIBS)

SRCS      := $(filter-out src/main.cc,$(wildcard src/*/*.cc))
OBJS      := $(SRCS:%.cc=$(BUILD)/%.o)
TEST_SRCS := $(wildcard tests/unit/*.cc)
TEST_OBJS := $(TEST_SRCS:%.cc=$(BUILD)/%.o)
HARNESS_H := $(BUILD)/gen/harness_source.h
# The harness's three parts, joined in this order (tests/lib/harness_source.py too).
HARNESS_PY := src/harness/harness.py src/harness/exercise.py src/harness/run.py

# Debian package names from packages.txt (comments and blank lines dropped).
DEB_PKGS  := $(shell sed -e 's/\#.*//' packages.txt)

.PHONY: all deps build binary run install uninstall test unit e2e security bench bench-floor soak sanitize clean
all: build
# deps first, then the binaries in parallel.
build: deps
	@$(MAKE) --no-print-directory -j$$(nproc) $(BUILD)/pyexecd $(BUILD)/unit_tests
# Only the service's binary (make run, make install): not the unit tests.
binary: deps
	@$(MAKE) --no-print-directory -j$$(nproc) $(BUILD)/pyexecd

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "missing packages; run as root:"; echo "  apt-get install -y" $$missing; exit 1; \
	fi

$(HARNESS_H): $(HARNESS_PY) tools/embed.sh
	@mkdir -p $(dir $@)
	tools/embed.sh kHarnessSource $(HARNESS_PY) > $@

$(BUILD)/src/runner/runner.o $(BUILD)/src/runner/embedded_python.o: $(HARNESS_H)

# pytest's warm-up and ready session in the full image's zygote.
PYTEST_WARM_H := $(BUILD)/gen/pytest_warm_source.h
$(PYTEST_WARM_H): src/runner/pytest_warm.py tools/embed.sh
	@mkdir -p $(dir $@)
	tools/embed.sh kPytestWarmSource src/runner/pytest_warm.py > $@

$(BUILD)/src/runner/warm_image.o: $(PYTEST_WARM_H)

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/pyexecd: $(OBJS) $(BUILD)/src/main.o
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/unit_tests: $(OBJS) $(TEST_OBJS)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lCppUTest -lCppUTestExt

$(BUILD)/tests/unit/%.o: CXXFLAGS += -Wno-error=unused-parameter
# Python.h only in the one file that embeds the interpreter.
$(BUILD)/src/runner/embedded_python.o: CXXFLAGS += $(PY_CFLAGS)

run: binary
	tools/serve.sh $(BUILD) $(PORT) $(PYEXECD_ARGS)

# pyexecd finds the profile at $(BINDIR)/../share/pyexec (server/settings.cc),
# and the unit's paths are rewritten to $(PREFIX).
install: binary
	install -D -m 0755 $(BUILD)/pyexecd $(DESTDIR)$(BINDIR)/pyexecd
	install -D -m 0644 seccomp-profiles/python.json $(DESTDIR)$(DATADIR)/seccomp-profiles/python.json
	install -D -m 0644 nginx/pyexec.conf $(DESTDIR)$(NGINXDIR)/pyexec.conf
	mkdir -p $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/|$(PREFIX)/|g' systemd/pyexecd.service > $(DESTDIR)$(UNITDIR)/pyexecd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pyexecd.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pyexecd $(DESTDIR)$(DATADIR)/seccomp-profiles/python.json \
	  $(DESTDIR)$(NGINXDIR)/pyexec.conf $(DESTDIR)$(UNITDIR)/pyexecd.service
	-rmdir $(DESTDIR)$(DATADIR)/seccomp-profiles $(DESTDIR)$(DATADIR)

unit: build
	$(BUILD)/unit_tests

# The fuzz harnesses too: the suite replays their corpora.
test: build fuzz-build
	PYTHON=$(PYTHON) BUILD=$(BUILD) tests/run_all.sh

bench: build
	PYTHON=$(PYTHON) BUILD=$(BUILD) $(PYTHON) tests/bench/bench.py
	PYTHON=$(PYTHON) BUILD=$(BUILD) $(PYTHON) tests/bench/io_flood.py
	PYTHON=$(PYTHON) BUILD=$(BUILD) $(PYTHON) tests/bench/floor.py

bench-floor: build
	PYTHON=$(PYTHON) BUILD=$(BUILD) $(PYTHON) tests/bench/floor.py

# make test runs a 100-run version (tests/run_all.sh).
SOAK_RUNS ?= 1000
soak: binary
	BUILD=$(BUILD) $(PYTHON) tests/soak/soak.py --runs $(SOAK_RUNS)

# The unit suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/sanitize \
	  CXXFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" -j$$(nproc) $(BUILD)/sanitize/unit_tests
	ASAN_OPTIONS=detect_leaks=0 $(BUILD)/sanitize/unit_tests

clean:
	rm -rf $(BUILD)

include tests/fuzz/fuzz.mk

-include $(OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/src/main.d
