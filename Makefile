# make run ARGS="..." passes ARGS on to `dnsgate demo`.

.PHONY: run test lint

run:
	scripts/run $(ARGS)

test:
	scripts/test

lint:
	scripts/lint
