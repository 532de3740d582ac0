# `sam build` (template.yaml: BuildMethod makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR
# set to that function's output directory. Each target is scripts/build-function.mjs, the one build
# `npm run build`, the tests (test/support/sam-build.ts) and `npm run bench:functions` use too.
# samconfig.toml sets build_in_source: esbuild reads the checkout (node_modules included) in place
# and writes only to ARTIFACTS_DIR.

.PHONY: build-ReconcileFunction build-AdmissionFunction build-RotateFunction

build-ReconcileFunction:
	node scripts/build-function.mjs reconcile "$(ARTIFACTS_DIR)"

build-AdmissionFunction:
	node scripts/build-function.mjs admission "$(ARTIFACTS_DIR)"

build-RotateFunction:
	node scripts/build-function.mjs rotate "$(ARTIFACTS_DIR)"
