# The two commands a newcomer needs; both install what is missing first.
.PHONY: dev test build setup bench

dev:            ## run Rollcall locally (wrangler dev, local D1 + Queue)
	./scripts/dev.sh

test:           ## run every test (lints, native, end-to-end, scim2-tester)
	./scripts/test.sh

build:          ## build the Worker (build/index.js + build/index_bg.wasm)
	./scripts/setup.sh && ./scripts/build-worker.sh

setup:          ## install the toolchain only
	./scripts/setup.sh --with-python
