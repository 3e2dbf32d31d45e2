# The two commands a fresh machine needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PHOTOS ?=
STUDIO ?= demo-studio

NPM_CI := npm ci --no-audit --no-fund --loglevel=error
# solc + OpenZeppelin for `make contracts`; Helia + anvil, the real peers some tests compare against.
CONTRACT_DEPS := contracts/node_modules/.installed
TEST_PEERS := tests/node/node_modules/.installed
# A real IPFS node (js-ipfs); its own lockfile keeps the versions that run on Node 20 (see its package.json).
IPFS_PEER := tests/ipfs-node/node_modules/.installed

.PHONY: demo test bench venv contracts clean

venv: $(STAMP)

# CPU torch first (a local wheel here); the package's own range then installs nothing more.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/latentmint demo --studio $(STUDIO) $(if $(PHOTOS),--photos $(PHOTOS),)

$(CONTRACT_DEPS): contracts/package-lock.json
	cd contracts && $(NPM_CI)
	touch $@

$(TEST_PEERS): tests/node/package-lock.json
	cd tests/node && $(NPM_CI)
	touch $@

$(IPFS_PEER): tests/ipfs-node/package-lock.json
	cd tests/ipfs-node && $(NPM_CI) --omit=optional
	touch $@

# Rebuild src/latentmint/chain/artifacts and bench/artifacts; the tests check the committed ones match.
contracts: $(CONTRACT_DEPS)
	node contracts/build.mjs

test: $(STAMP) $(CONTRACT_DEPS) $(TEST_PEERS) $(IPFS_PEER)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo-studio contracts/node_modules tests/node/node_modules tests/ipfs-node/node_modules
