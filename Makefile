# dock — build, test, demo, ship. Every target works on a fresh Debian machine with Rust.
CARGO ?= cargo

# The static binary: musl, release profile (opt-level z, LTO, one codegen unit, panic=abort, stripped),
# rustflags in .cargo/config.toml. Both builds share one target dir; the copies under target/static are
# what `make size`, `make test` (runc tests) and `make bench` use.
#   STATIC_STD=nightly (default): std rebuilt with dock (-Zbuild-std) with panic=immediate-abort, which
#   drops the panic message and std's backtrace printer (gimli, addr2line, demangler, libunwind), and
#   with std's optimize_for_size feature (smaller sort and formatting code): meets the size budgets.
#   NIGHTLY names the toolchain (default `nightly`; the Dockerfile pins a date). Its rust-src component
#   and musl target are added when missing.
#   STATIC_STD=stable: the stable toolchain's prebuilt std: works anywhere, but over both budgets.
MUSL := x86_64-unknown-linux-musl
STATIC_STD ?= nightly
NIGHTLY ?= nightly
ifeq ($(STATIC_STD),nightly)
STATIC_CARGO = $(CARGO) +$(NIGHTLY)
STATIC_FLAGS = -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
	--target-dir target/nightly \
	--config 'target.$(MUSL).rustflags=["-Zunstable-options", "-Cpanic=immediate-abort"]'
STATIC_OUT = target/nightly/$(MUSL)/release/dock
STATIC_TOOLCHAIN = --toolchain $(NIGHTLY)
else ifeq ($(STATIC_STD),stable)
STATIC_CARGO = $(CARGO)
STATIC_FLAGS =
STATIC_OUT = target/$(MUSL)/release/dock
STATIC_TOOLCHAIN =
else
$(error STATIC_STD must be nightly or stable, not '$(STATIC_STD)')
endif
STATIC := target/static/dock
STATIC_NOTLS := target/static/dock-notls
# Size budgets in bytes (1 kB = 1000 B). Debian 12's tini-static is 708080 B, catatonit 699160 B.
SIZE_TLS_MAX := 1200000
SIZE_NOTLS_MAX := 690000
# Whether this machine can build the static binary: musl-gcc (ring compiles C) and, in the toolchain
# STATIC_STD names, the musl target (and rust-src for nightly).
HAVE_MUSL := $(shell command -v musl-gcc >/dev/null \
	&& rustup target list $(STATIC_TOOLCHAIN) --installed 2>/dev/null | grep -qx $(MUSL) \
	&& { [ $(STATIC_STD) = stable ] || rustup component list $(STATIC_TOOLCHAIN) --installed 2>/dev/null | grep -q '^rust-src'; } \
	&& echo yes)

FUZZ_SECONDS ?= 60

.PHONY: build release static static-one image image-only size test lint demo bench fuzz fmt clean

build:
	$(CARGO) build

release:
	$(CARGO) build --release --bins --examples

static:
	@$(MAKE) --no-print-directory static-one STATIC_FEATURES=--no-default-features STATIC_ONE=$(STATIC_NOTLS)
	@$(MAKE) --no-print-directory static-one STATIC_FEATURES= STATIC_ONE=$(STATIC)

# One static build, copied to STATIC_ONE (the Dockerfile uses this).
STATIC_FEATURES ?=
STATIC_ONE ?= $(STATIC)
static-one:
	@command -v musl-gcc >/dev/null || { echo "make static: musl-gcc is missing: apt-get install musl-tools"; exit 1; }
ifeq ($(STATIC_STD),nightly)
	@RUSTUP_AUTO_INSTALL=0 rustup run $(NIGHTLY) rustc --version >/dev/null 2>&1 || { echo "make static: no $(NIGHTLY) toolchain: \
	rustup toolchain install $(NIGHTLY) --profile minimal --component rust-src --target $(MUSL), \
	or build with the stable toolchain (over the size budgets): make static STATIC_STD=stable"; exit 1; }
	@rustup component list $(STATIC_TOOLCHAIN) --installed | grep -q '^rust-src' || rustup component add $(STATIC_TOOLCHAIN) rust-src
endif
	@rustup target list $(STATIC_TOOLCHAIN) --installed | grep -qx $(MUSL) || rustup target add $(STATIC_TOOLCHAIN) $(MUSL)
	$(STATIC_CARGO) build --release --target $(MUSL) --bin dock $(STATIC_FLAGS) $(STATIC_FEATURES)
	@mkdir -p $(dir $(STATIC_ONE)) && cp $(STATIC_OUT) $(STATIC_ONE)

# The image: FROM scratch, only /dock (IMAGE_BIN, the TLS build by default), ENTRYPOINT ["/dock"]: the
# layout the Dockerfile's last stage makes, but from the binary built here, so nothing is pulled.
# DOCKER is the engine's command (DOCKER=podman works; so does DOCKER='docker -H unix:///path'); IMAGE
# the tag. `make image IMAGE_BIN=target/static/dock-notls IMAGE=dock:notls` for the TLS-less one.
DOCKER ?= docker
IMAGE ?= dock
IMAGE_BIN ?= $(STATIC)
IMAGE_CTX ?= target/image
image: static
	@$(MAKE) --no-print-directory image-only

# The same from an IMAGE_BIN that is already built (the engine tests use it on DOCK_STATIC_BIN).
image-only:
	@command -v $(firstword $(DOCKER)) >/dev/null || { echo "make image: no '$(firstword $(DOCKER))' here: \
	apt-get install docker.io (or podman, with DOCKER=podman)"; exit 1; }
	@test -x $(IMAGE_BIN) || { echo "make image: no $(IMAGE_BIN): run make static"; exit 1; }
	@rm -rf $(IMAGE_CTX) && mkdir -p $(IMAGE_CTX)
	@cp $(IMAGE_BIN) $(IMAGE_CTX)/dock
	@printf 'FROM scratch\nCOPY dock /dock\nENTRYPOINT ["/dock"]\n' > $(IMAGE_CTX)/Dockerfile
	$(DOCKER) build -t $(IMAGE) $(IMAGE_CTX)

size: static
	@r=0; \
	check() { n=$$(stat -c %s "$$1"); \
	  printf '%-24s %8d bytes  (budget %d, %s)\n' "$$1" "$$n" "$$2" "$$3"; \
	  [ "$$n" -le "$$2" ] || { echo "make size: $$1 is $$((n - $$2)) bytes over budget"; r=1; }; }; \
	check $(STATIC) $(SIZE_TLS_MAX) "with TLS"; \
	check $(STATIC_NOTLS) $(SIZE_NOTLS_MAX) "without TLS"; \
	exit $$r

# Unit tests, integration tests (as root: dock as PID 1 under unshare), fuzz seed corpora. When musl-gcc
# and the STATIC_STD toolchain are there, the static binaries are built first and run in a runc container,
# and in Docker and Podman containers when those are installed (tests/it/engines.rs starts and stops the
# engines; DOCK_REQUIRE_ENGINES=1 makes a missing engine fail instead of skip, as in .ci/run).
test:
ifeq ($(HAVE_MUSL),yes)
	$(MAKE) --no-print-directory static
	DOCK_STATIC_BIN=$(CURDIR)/$(STATIC) DOCK_STATIC_NOTLS_BIN=$(CURDIR)/$(STATIC_NOTLS) $(CARGO) test
else
	@echo "note: no musl-gcc, or no musl target$(if $(STATIC_TOOLCHAIN), or rust-src) for $(if $(STATIC_TOOLCHAIN),$(NIGHTLY),stable) here: the static binary's runc tests will be skipped"
	$(CARGO) test
endif

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

demo: release
	sh examples/demo.sh

# dock beside tini-static, dumb-init and catatonit (installed by the script), plus every other
# benches/*.rs; writes BENCHMARKS.md. Needs root. About 5 minutes after the builds. dock's column is the
# STATIC_STD build; with STATIC_STD=stable, a "dock, nightly std" column is added when the nightly
# toolchain can build std for musl.
HAVE_NIGHTLY_MUSL := $(shell rustup component list --toolchain $(NIGHTLY) --installed 2>/dev/null | grep -q rust-src && rustup target list --toolchain $(NIGHTLY) --installed 2>/dev/null | grep -qx $(MUSL) && echo yes)
BENCH_ENV := DOCK_STATIC_BIN=$(CURDIR)/$(STATIC) DOCK_STATIC_NOTLS_BIN=$(CURDIR)/$(STATIC_NOTLS)
ifeq ($(HAVE_NIGHTLY_MUSL)$(STATIC_STD),yesstable)
BENCH_ENV += DOCK_NIGHTLY_BIN=$(CURDIR)/target/static/dock-nightly DOCK_NIGHTLY_NOTLS_BIN=$(CURDIR)/target/static/dock-nightly-notls
endif
bench: release static
ifeq ($(HAVE_NIGHTLY_MUSL)$(STATIC_STD),yesstable)
	@$(MAKE) --no-print-directory static-one STATIC_STD=nightly STATIC_FEATURES=--no-default-features STATIC_ONE=target/static/dock-nightly-notls
	@$(MAKE) --no-print-directory static-one STATIC_STD=nightly STATIC_FEATURES= STATIC_ONE=target/static/dock-nightly
endif
	$(BENCH_ENV) CARGO="$(CARGO)" sh benches/bench.sh

# Every cargo-fuzz target (or those in FUZZ_TARGETS) for FUZZ_SECONDS each (nightly). New inputs go to fuzz/target/corpus/<t>
# (not committed); fuzz/corpus/<t> holds the seeds that `make test` replays on stable.
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	@for t in $${FUZZ_TARGETS:-$$($(CARGO) +nightly fuzz list)}; do \
	  mkdir -p fuzz/target/corpus/$$t fuzz/corpus/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  $(CARGO) +nightly fuzz run $$t fuzz/target/corpus/$$t fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 || exit 1; \
	done

clean:
	$(CARGO) clean
