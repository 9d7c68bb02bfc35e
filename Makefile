# The commands that matter. `make test` is the README's test command and what CI runs.
MUSL_TARGET := x86_64-unknown-linux-musl
STATIC_BIN  := target/$(MUSL_TARGET)/release/enf-init

.PHONY: setup test lint static unit

setup:
	scripts/setup

# Everything CI checks: formatting, lints, the static build, the images, then all tests, the
# Docker end-to-end suite included (as root: the tests need namespaces and Docker; they fail, not
# skip, without them).
test: setup lint static images
	cargo test --all-targets --features docker-tests -- --test-threads=2

lint:
	cargo fmt --check
	cargo clippy --all-targets --features docker-tests -- -D warnings

static:
	cargo build --release --target $(MUSL_TARGET) --bins
	@ls -l $(STATIC_BIN) | awk '{print "static binary: " $$5 " bytes"}'

# The main job: the images on a local ENF in Docker (make demo-down removes it).
.PHONY: demo demo-down demo-netns
demo: setup images
	scripts/demo-docker

demo-down:
	scripts/demo-docker down

# The same idea without Docker: enf-router and two endpoints in network namespaces.
demo-netns: setup static
	scripts/demo target/$(MUSL_TARGET)/release

# Every figure of docs/performance.md next to a same-run baseline: the table, then
# target/bench/results.json and target/bench/performance.svg (as root: namespaces, tun).
.PHONY: bench
bench: setup
	scripts/bench

# Every fuzz target for FUZZ_SECONDS (default 30) each from the kept corpus (fuzz/README.md).
.PHONY: fuzz
fuzz:
	scripts/fuzz

# Static aarch64 and armv7 binaries (docs/architectures.md), and their unit, PID 1 and CLI tests
# under qemu-user; ARM images of every service (slow, needs Docker).
.PHONY: cross test-cross images-multiarch
cross: setup
	scripts/cross build
test-cross: setup
	scripts/cross test
images-multiarch: setup
	scripts/images-multiarch aarch64

# Router forwarding throughput against one TLS stream, in one run (issue: enf-router).
.PHONY: bench-router
bench-router:
	cargo build --release --bin enf-router --example router_forwarding
	target/release/examples/router_forwarding

# The images (needs a running Docker engine). enf/base first: every service builds FROM it.
.PHONY: images
images: static
	scripts/docker-up
	scripts/base-image
	docker build -q -f Dockerfile.base -t enf/base .
	docker build -q -f services/router/Dockerfile -t enf/router .
	docker build -q -f services/apt-mirror/Dockerfile -t enf/apt-mirror .
	docker build -q -f services/dns/Dockerfile -t enf/dns .
	docker build -q -f services/ssh/Dockerfile -t enf/ssh .
	docker build -q -f services/demo-server/Dockerfile -t enf/demo-server .

# The Docker end-to-end suite against the images (needs a Docker engine).
.PHONY: test-docker
test-docker: setup images
	cargo test --features docker-tests --test docker_e2e -- --test-threads=2
