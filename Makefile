# The two commands of the README's quick start: `make demo` and `make test`.
.PHONY: demo demo-cluster test bootstrap engine unit bench clean

bootstrap:
	bash scripts/bootstrap.sh

engine: bootstrap
	bash scripts/start-dockerd.sh

demo: engine
	bash scripts/demo.sh

demo-cluster: engine
	bash scripts/demo-cluster.sh

test: engine
	bash scripts/test.sh

unit: bootstrap
	.venv/bin/python -m pytest -q tests/unit

bench: engine
	.venv/bin/python bench/run_all.py

clean:
	rm -rf .venv .pytest_cache build *.egg-info
