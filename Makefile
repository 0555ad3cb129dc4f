# dock — build, test, demo. Every target works on a fresh Debian machine with Rust.
CARGO ?= cargo

.PHONY: build release test lint demo bench fmt clean

build:
	$(CARGO) build

release:
	$(CARGO) build --release --bins --examples

# Unit tests, integration tests (as root: dock as PID 1 under unshare), fuzz seed corpora.
test:
	$(CARGO) test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

demo: release
	sh examples/demo.sh

bench: release
	$(CARGO) bench

clean:
	$(CARGO) clean
