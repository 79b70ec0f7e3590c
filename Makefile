# The README's commands: `make demo` and `make test` (each installs what is missing first).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
# -Werror (TRAIL_WERROR): off for a plain `make`/`make demo`, on for `make test` (CI).
WERROR ?= OFF

.PHONY: all deps build demo test test-asan test-builds package bench clean format format-check

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRAIL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

# The suite (RelWithDebInfo), again under ASan, the other release builds, then the format check
# (last: the other steps still run while files are being reformatted).
test: WERROR = ON
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)
	@$(MAKE) --no-print-directory test-asan WERROR=$(WERROR)
	@$(MAKE) --no-print-directory test-builds
	@$(MAKE) --no-print-directory format-check

# Unit and integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DTRAIL_SANITIZE=ON -DTRAIL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ctest --output-on-failure -j$(JOBS) -L 'unit|integration' -LE noasan

# gcc Release (the Debian package: prefix /usr, multiarch libdir) and clang, warnings as errors;
# each installs into a temporary prefix and runs SDK clients against it (install_test), the
# Release one also from its unpacked .deb.
test-builds: WERROR = ON
test-builds: package
	@cd $(BUILD)-release && TRAIL_DEB=$$(ls $$PWD/trail_*.deb) ctest --output-on-failure -R '^install_test$$'
	@CC=clang cmake -S . -B $(BUILD)-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRAIL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD)-clang -j$(JOBS)
	@cd $(BUILD)-clang && ctest --output-on-failure -R '^install_test$$'

# The Debian package: $(BUILD)-release/trail_VERSION_ARCH.deb (`sudo apt install ./...` it).
package: deps
	@cmake -S . -B $(BUILD)-release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DTRAIL_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD)-release -j$(JOBS)
	@cd $(BUILD)-release && rm -f trail_*.deb && cpack -G DEB >/dev/null && ls $$PWD/trail_*.deb

# The benchmark suite (tests/bench/run.sh): BENCH_QUICK=1 for minutes; the table goes to
# stdout and BENCH_OUT (BENCHMARKS.md holds the latest one).
bench: build
	@bash scripts/deps.sh bench
	@BENCH_CMD="make bench$(if $(BENCH_QUICK), BENCH_QUICK=$(BENCH_QUICK))" bash tests/bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# Every tracked C file matches .clang-format (`make format` fixes them).
format-check: deps
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-release $(BUILD)-clang
